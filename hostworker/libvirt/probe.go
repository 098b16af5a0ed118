//go:build libvirt

package libvirt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	virt "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/hostworker/domainxml"
)

// kvmDevice is the KVM device node; without it QEMU cannot use KVM.
const kvmDevice = "/dev/kvm"

// probeSettle is how long a KVM probe domain must stay running after its
// start to count as working.
const probeSettle = 300 * time.Millisecond

// ProbeInput is what the domain type decision looks at, gathered from the
// host by the driver and made up by tests.
type ProbeInput struct {
	// KVMDevice reports whether /dev/kvm exists.
	KVMDevice bool
	// Capabilities is the connection's capabilities XML.
	Capabilities string
	// TryKVM runs a real KVM guest and returns nil when it ran; nil means
	// no way to try, which counts as a failure.
	TryKVM func(ctx context.Context) error
}

// ProbeResult is the domain type new domains get and why, for the host
// inventory and the logs.
type ProbeResult struct {
	DomainType string
	Reason     string
}

// Probe decides between KVM and TCG. A /dev/kvm that exists and a libvirt
// that lists kvm do not prove that KVM guests run: on nested hypervisors
// (e.g. PVM) KVM starts but guests hang. So kvm is chosen only when all three
// hold: the device exists, the capabilities offer kvm for x86_64, and a real
// KVM guest starts. Anything else, including a probe that times out, gives
// qemu (TCG), which runs everywhere, only slower.
func Probe(ctx context.Context, in ProbeInput) ProbeResult {
	qemu := func(format string, args ...any) ProbeResult {
		return ProbeResult{DomainType: domainxml.DomainQEMU, Reason: fmt.Sprintf(format, args...)}
	}
	if !in.KVMDevice {
		return qemu("%s does not exist", kvmDevice)
	}
	var caps libvirtxml.Caps
	if err := caps.Unmarshal(in.Capabilities); err != nil {
		return qemu("capabilities: %v", err)
	}
	if !offersKVM(caps) {
		return qemu("libvirt offers no kvm domain for x86_64 hvm guests")
	}
	if in.TryKVM == nil {
		return qemu("no way to try a kvm guest")
	}
	if err := in.TryKVM(ctx); err != nil {
		return qemu("kvm guest failed: %v", err)
	}
	return ProbeResult{DomainType: domainxml.DomainKVM, Reason: "kvm guest started"}
}

func offersKVM(caps libvirtxml.Caps) bool {
	for _, g := range caps.Guests {
		if g.OSType != "hvm" || g.Arch.Name != "x86_64" {
			continue
		}
		for _, dom := range g.Arch.Domains {
			if dom.Type == domainxml.DomainKVM {
				return true
			}
		}
	}
	return false
}

// probeDomainXML is a transient diskless KVM guest with the host's own CPU
// (host-passthrough). A default-CPU KVM guest is not enough: under nested
// PVM it reaches "running" and then never boots a kernel, whereas
// host-passthrough fails at start there (QEMU cannot set the host's MSRs)
// and works on every real KVM host. It carries no ZCloud metadata, so that
// ListVMs never reports it.
func probeDomainXML(name string) (string, error) {
	one := uint(1)
	d := libvirtxml.Domain{
		Type:   domainxml.DomainKVM,
		Name:   name,
		Memory: &libvirtxml.DomainMemory{Value: 16, Unit: "MiB"},
		VCPU:   &libvirtxml.DomainVCPU{Value: one},
		CPU:    &libvirtxml.DomainCPU{Mode: domainxml.CPUHostPassthrough},
		OS:     &libvirtxml.DomainOS{Type: &libvirtxml.DomainOSType{Arch: "x86_64", Type: "hvm"}},
		Devices: &libvirtxml.DomainDeviceList{
			MemBalloon: &libvirtxml.DomainMemBalloon{Model: "none"},
		},
		OnPoweroff: "destroy",
		OnCrash:    "destroy",
	}
	return d.Marshal()
}

// tryKVM starts the probe domain, checks it is still running a moment later
// and destroys it. libvirt calls cannot be cancelled: when ctx ends first,
// tryKVM returns and the starting goroutine destroys the domain once
// libvirt answers.
func (d *Driver) tryKVM(ctx context.Context) error {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix) // never fails (crypto/rand)
	domXML, err := probeDomainXML("zcloud-kvm-probe-" + hex.EncodeToString(suffix))
	if err != nil {
		return fmt.Errorf("probe domain xml: %w", err)
	}
	c, release, err := d.acquire()
	if err != nil {
		return err
	}
	type started struct {
		dom *virt.Domain
		err error
	}
	done := make(chan started, 1)
	abandoned := make(chan struct{})
	go func() {
		defer release()
		dom, err := c.DomainCreateXML(domXML, virt.DOMAIN_NONE)
		select {
		case done <- started{dom, err}:
		case <-abandoned:
			if err == nil {
				_ = dom.Destroy() // transient: destroying removes it
				_ = dom.Free()
			}
		}
	}()
	var s started
	select {
	case s = <-done:
	case <-ctx.Done():
		close(abandoned)
		return fmt.Errorf("starting a kvm guest: %w", ctx.Err())
	}
	if s.err != nil {
		return fmt.Errorf("starting a kvm guest: %w", s.err)
	}
	defer func() {
		_ = s.dom.Destroy()
		_ = s.dom.Free()
	}()
	t := time.NewTimer(probeSettle)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the kvm guest: %w", ctx.Err())
	}
	state, _, err := s.dom.GetState()
	if err != nil {
		return fmt.Errorf("kvm guest state: %w", err)
	}
	if state != virt.DOMAIN_RUNNING {
		return fmt.Errorf("kvm guest is in state %d, not running", state)
	}
	return nil
}
