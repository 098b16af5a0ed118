//go:build libvirt

package libvirt

import (
	"context"
	"errors"
	"fmt"

	virt "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/models"
)

// How far a domain can grow online: every domain is defined with
// MaxCPUNum vCPUs (those beyond the VM's offline) and DIMM slots up to
// MaxMemoryFactor times its memory, like ZStack's vm.cpu/memory hotplug.
const (
	MaxCPUNum       = 16
	MaxMemoryFactor = 4
)

// SetVMCompute grows a running domain online: vCPUs brought online up to
// the defined maximum, memory by hot-plugging one DIMM of the difference
// on guest NUMA node 0; both reach the definition too. Shrinking is not
// supported online (as in ZStack): the VM must stop.
func (d *Driver) SetVMCompute(_ context.Context, vmUUID string, cpuNum int, memorySize int64) error {
	if cpuNum <= 0 || memorySize <= 0 || memorySize%(1<<20) != 0 {
		return fail("set vm compute", models.Invalid("cpu number %d and memory %d must be positive, memory whole MiB", cpuNum, memorySize))
	}
	_, err := d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		return "", grow(dom, vmUUID, cpuNum, memorySize)
	})
	if err != nil {
		return fail("set vm compute", err)
	}
	return nil
}

func grow(dom *virt.Domain, vmUUID string, cpuNum int, memorySize int64) error {
	active, err := dom.IsActive()
	if err != nil {
		return fmt.Errorf("domain active: %w", err)
	}
	if !active {
		return models.Conflict("vm %s is stopped: change its record and start it", vmUUID)
	}
	x, err := domainXML(dom, 0)
	if err != nil {
		return err
	}
	if x.VCPU == nil || x.Memory == nil {
		return fmt.Errorf("domain of vm %s has no vcpu or memory element", vmUUID)
	}
	maxCPU := int(x.VCPU.Value)
	curCPU := maxCPU
	if x.VCPU.Current != 0 {
		curCPU = int(x.VCPU.Current)
	}
	curMem := int64(x.Memory.Value) * 1024 // total, boot memory and DIMMs
	var maxMem int64
	if x.MaximumMemory != nil {
		maxMem = int64(x.MaximumMemory.Value) * 1024
	}
	switch {
	case cpuNum < curCPU || memorySize < curMem:
		return fmt.Errorf("online decrease of vm %s (cpus %d→%d, memory %d→%d): %w", vmUUID, curCPU, cpuNum, curMem, memorySize, errors.ErrUnsupported)
	case cpuNum > maxCPU:
		return models.Invalid("vm %s can have at most %d cpus online (defined so); stop it to go further", vmUUID, maxCPU)
	case memorySize > curMem && memorySize > maxMem:
		return models.Invalid("vm %s can have at most %d bytes of memory online (defined so); stop it to go further", vmUUID, maxMem)
	}
	if cpuNum > curCPU {
		if err := dom.SetVcpusFlags(uint(cpuNum), virt.DOMAIN_VCPU_LIVE|virt.DOMAIN_VCPU_CONFIG); err != nil {
			return fmt.Errorf("set vcpus: %w", err)
		}
	}
	if memorySize > curMem {
		kib := uint(memorySize-curMem) / 1024
		node := uint(0)
		dimm := libvirtxml.DomainMemorydev{Model: "dimm",
			Target: &libvirtxml.DomainMemorydevTarget{Size: &libvirtxml.DomainMemorydevTargetSize{Value: kib, Unit: "KiB"},
				Node: &libvirtxml.DomainMemorydevTargetNode{Value: node}}}
		doc, err := dimm.Marshal()
		if err != nil {
			return fmt.Errorf("marshal dimm: %w", err)
		}
		if err := dom.AttachDeviceFlags(doc, virt.DOMAIN_DEVICE_MODIFY_LIVE|virt.DOMAIN_DEVICE_MODIFY_CONFIG); err != nil {
			return fmt.Errorf("hot-plug memory: %w", err)
		}
	}
	return nil
}
