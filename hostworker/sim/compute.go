package sim

import (
	"context"
	"errors"
	"fmt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// Online maximums of a simulated domain, as the libvirt driver defines them
// (MaxCPUNum, MaxMemoryFactor there).
const (
	maxOnlineCPUs    = 16
	maxOnlineMemFact = 4
)

// SetVMCompute grows a running domain's vCPUs and memory, up to 16 vCPUs
// and four times the memory it was created with.
func (d *Driver) SetVMCompute(ctx context.Context, vmUUID string, cpuNum int, memorySize int64) error {
	if vmUUID == "" || cpuNum <= 0 || memorySize <= 0 {
		return fmt.Errorf("sim: %w", models.Invalid("vm uuid, a positive cpu number and memory size are required"))
	}
	if err := d.begin(ctx, hostapi.ActSetVMCompute); err != nil {
		return err
	}
	defer d.mu.Unlock()
	vm, ok := d.domains[vmUUID]
	switch {
	case !ok:
		return fmt.Errorf("sim: %w", models.NotFound("vm %s is not defined on this host", vmUUID))
	case vm.State == hostapi.PowerStopped:
		return fmt.Errorf("sim: %w", models.Conflict("vm %s is stopped", vmUUID))
	case cpuNum < vm.Spec.CPUNum || memorySize < vm.Spec.MemorySize:
		return fmt.Errorf("sim: online decrease of cpu or memory: %w", errors.ErrUnsupported)
	case cpuNum > vm.MaxCPUNum || memorySize > vm.MaxMemorySize:
		return fmt.Errorf("sim: %w", models.Invalid("vm %s can grow online to %d cpus and %d bytes", vmUUID, vm.MaxCPUNum, vm.MaxMemorySize))
	}
	vm.Spec.CPUNum, vm.Spec.MemorySize = cpuNum, memorySize
	d.domains[vmUUID] = vm
	return nil
}
