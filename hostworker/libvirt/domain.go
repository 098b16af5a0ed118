//go:build libvirt

package libvirt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	virt "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/domainxml"
	"github.com/zcloud/zcloud/hostworker/driver"
	"github.com/zcloud/zcloud/models"
)

// specDigestKey is the metadata entry holding the digest of the Spec a
// domain was defined from; an equal digest means the same definition.
const specDigestKey = "spec-sha256"

// Polling of a graceful stop: start fast, back off to stopPollLongest.
const (
	stopPollFirst   = 50 * time.Millisecond
	stopPollLongest = 500 * time.Millisecond
)

// domain is a libvirt domain with what ZCloud wrote into it.
type domain struct {
	dom   *virt.Domain
	owner domainxml.Owner
	// ours is set when the domain's metadata names the VM looked up.
	ours bool
}

func (d *domain) free() { _ = d.dom.Free() }

// findDomain looks up the domain of vmUUID; it returns nil and no error when
// libvirt has none.
func findDomain(c *virt.Connect, vmUUID string) (*domain, error) {
	dashed, err := domainxml.LibvirtUUID(vmUUID)
	if err != nil {
		return nil, err
	}
	dom, err := c.LookupDomainByUUIDString(dashed)
	if isCode(err, virt.ERR_NO_DOMAIN) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up domain %s: %w", dashed, err)
	}
	owner, ok, err := readOwner(dom, virt.DOMAIN_XML_INACTIVE)
	if isCode(err, virt.ERR_NO_DOMAIN) { // undefined meanwhile
		_ = dom.Free()
		return nil, nil
	}
	if err != nil {
		_ = dom.Free()
		return nil, err
	}
	return &domain{dom: dom, owner: owner, ours: ok && owner.VMUUID == strings.ToLower(vmUUID)}, nil
}

// readOwner reads ZCloud's metadata from dom's XML.
func readOwner(dom *virt.Domain, flags virt.DomainXMLFlags) (domainxml.Owner, bool, error) {
	doc, err := dom.GetXMLDesc(flags)
	if err != nil {
		return domainxml.Owner{}, false, fmt.Errorf("domain xml: %w", err)
	}
	var x libvirtxml.Domain
	if err := x.Unmarshal(doc); err != nil {
		return domainxml.Owner{}, false, fmt.Errorf("parse domain xml: %w", err)
	}
	return domainxml.ParseOwner(&x)
}

// powerState maps libvirt's state to the hostapi one.
func powerState(s virt.DomainState) string {
	switch s {
	case virt.DOMAIN_RUNNING, virt.DOMAIN_BLOCKED, virt.DOMAIN_SHUTDOWN:
		// DOMAIN_SHUTDOWN is "being shut down": the guest still runs.
		return hostapi.PowerRunning
	case virt.DOMAIN_PAUSED, virt.DOMAIN_PMSUSPENDED:
		return hostapi.PowerPaused
	case virt.DOMAIN_SHUTOFF, virt.DOMAIN_CRASHED:
		return hostapi.PowerStopped
	default:
		return hostapi.PowerUnknown
	}
}

func state(dom *virt.Domain) (virt.DomainState, error) {
	s, _, err := dom.GetState()
	if err != nil {
		return 0, fmt.Errorf("domain state: %w", err)
	}
	return s, nil
}

// ListVMs reports every domain whose metadata marks it ZCloud's, sorted by
// VM UUID; foreign domains are left out.
func (d *Driver) ListVMs(context.Context) ([]hostapi.VMState, error) {
	vms, err := with(d, func(c *virt.Connect) ([]hostapi.VMState, error) {
		doms, err := c.ListAllDomains(0)
		if err != nil {
			return nil, fmt.Errorf("list domains: %w", err)
		}
		defer func() {
			for i := range doms {
				_ = doms[i].Free()
			}
		}()
		out := []hostapi.VMState{}
		for i := range doms {
			owner, ours, err := readOwner(&doms[i], 0)
			if isCode(err, virt.ERR_NO_DOMAIN) {
				continue // gone since the listing
			}
			if err != nil {
				return nil, err
			}
			if !ours || !models.IsUUID(owner.VMUUID) {
				continue
			}
			s, err := state(&doms[i])
			if isCode(err, virt.ERR_NO_DOMAIN) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, hostapi.VMState{UUID: owner.VMUUID, State: powerState(s)})
		}
		slices.SortFunc(out, func(a, b hostapi.VMState) int { return strings.Compare(a.UUID, b.UUID) })
		return out, nil
	})
	if err != nil {
		return nil, fail("list vms", err)
	}
	return vms, nil
}

func validateVM(vm hostapi.VMSpec) error {
	if !models.IsUUID(vm.UUID) {
		return models.Invalid("vm uuid %q is not 32 hex characters", vm.UUID)
	}
	return driver.ValidateVM(vm)
}

func checkVMUUID(vmUUID string) error {
	if !models.IsUUID(vmUUID) {
		return models.Invalid("vm uuid %q is not 32 hex characters", vmUUID)
	}
	return nil
}

// consolePath is where a VM's serial console is written, beside the storage
// directory, so that tests and operators can read a guest's boot output.
func (d *Driver) consolePath(vmUUID string) string {
	return filepath.Join(filepath.Dir(d.cfg.StorageDir), "console", strings.ToLower(vmUUID)+".log")
}

// domainSpec maps a VM to the domain that runs it. An empty platform is
// Linux. A NIC without a bridge gets no interface yet: plugging NICs into L2
// networks is the network driver's job, still to come. The domain's metadata
// carries the digest of vm, so that a later call can tell the same VM from
// another one. The digest is of the hostapi spec, which changes only with
// the AgentVersion, rather than of the domain, which changes whenever
// domainxml learns something new.
func (d *Driver) domainSpec(vm hostapi.VMSpec, domainType string) (domainxml.Spec, error) {
	platform := vm.Platform
	if platform == "" {
		platform = domainxml.PlatformLinux
	}
	s := domainxml.Spec{
		UUID:        strings.ToLower(vm.UUID),
		Name:        vm.Name,
		CPUNum:      vm.CPUNum,
		MemoryBytes: vm.MemorySize,
		Platform:    platform,
		Console: domainxml.Console{SerialLogPath: d.consolePath(vm.UUID),
			VNC: true, VNCListen: d.cfg.VNCListen, VNCPassword: vm.ConsolePassword},
	}
	root := vm.RootVolume
	root.DeviceID = 0
	for _, vol := range append([]hostapi.VolumeSpec{root}, vm.DataVolumes...) {
		disk, err := d.volumeDisk(vol)
		if err != nil {
			return domainxml.Spec{}, err
		}
		s.Disks = append(s.Disks, disk)
	}
	// Headroom for online growth (SetVMCompute): vCPUs defined but offline,
	// and DIMM slots up to a multiple of the memory.
	s.MaxCPUNum = max(MaxCPUNum, vm.CPUNum)
	s.MaxMemoryBytes = MaxMemoryFactor * vm.MemorySize
	// One CD-ROM drive always, so that an ISO can be inserted into a
	// running domain (IDE and SATA drives cannot be hot-plugged); defineXML
	// puts the cached ISO in.
	s.CDROMs = []domainxml.CDROM{{}}
	for _, dev := range vm.BootOrder {
		switch dev {
		case hostapi.BootCdRom:
			s.BootOrder = append(s.BootOrder, domainxml.BootCDROM)
		case hostapi.BootHardDisk:
			s.BootOrder = append(s.BootOrder, domainxml.BootHD)
		case hostapi.BootNetwork:
			s.BootOrder = append(s.BootOrder, domainxml.BootNetwork)
		default:
			return domainxml.Spec{}, models.Invalid("boot device %q is not %s, %s or %s", dev, hostapi.BootCdRom, hostapi.BootHardDisk, hostapi.BootNetwork)
		}
	}
	for _, nic := range vm.NICs {
		if nic.Bridge == "" {
			continue
		}
		s.NICs = append(s.NICs, domainxml.NIC{UUID: nic.UUID, MAC: nic.MAC, Bridge: nic.Bridge, Model: nic.Driver})
	}
	if err := d.guestSpec(&s, vm); err != nil {
		return domainxml.Spec{}, err
	}
	b, err := json.Marshal(vm)
	if err != nil {
		return domainxml.Spec{}, fmt.Errorf("digest of vm %s: %w", vm.UUID, err)
	}
	sum := sha256.Sum256(b)
	s.DomainType = domainType
	s.Metadata = map[string]string{specDigestKey: hex.EncodeToString(sum[:])}
	return s, nil
}

// defineXML is the domain XML of vm and the digest it carries.
func (d *Driver) defineXML(ctx context.Context, vm hostapi.VMSpec) (domXML string, spec domainxml.Spec, err error) {
	if err := validateVM(vm); err != nil {
		return "", spec, err
	}
	probed, err := d.Probed(ctx)
	if err != nil {
		return "", spec, err
	}
	spec, err = d.domainSpec(vm, probed.DomainType)
	if err != nil {
		return "", spec, err
	}
	if spec.CPUMode, spec.CPUModel, err = d.cpuFor(vm.CPU, probed.DomainType); err != nil {
		return "", spec, err
	}
	if vm.ISO != nil {
		iso, err := d.cachedImage(ctx, vm.ISO.ImageUUID, vm.ISO.URL)
		if err != nil {
			return "", spec, fmt.Errorf("iso %s: %w", vm.ISO.ImageUUID, err)
		}
		spec.CDROMs[0].Path = iso.path
	}
	domXML, err = domainxml.Marshal(spec)
	if err != nil {
		return "", spec, err
	}
	return domXML, spec, nil
}

// checkDisks reports a volume of spec that is not on this host.
func checkDisks(vmUUID string, spec domainxml.Spec) error {
	for _, disk := range spec.Disks {
		if _, err := os.Stat(disk.Path); err != nil {
			return models.Invalid("volume %s of vm %s is not instantiated on this host: %v", disk.VolumeUUID, vmUUID, err)
		}
	}
	return nil
}

// notOurs is the error for a domain with a VM's UUID that ZCloud did not
// define: it is never redefined, stopped or removed.
func notOurs(vmUUID string) error {
	return models.Conflict("domain of vm %s exists but is not zcloud's", vmUUID)
}

// CreateVM defines the domain and starts it when start is set. A domain
// defined from the same spec is taken as is (and started if asked); one
// defined from another spec is a conflict, as in the simulator.
func (d *Driver) CreateVM(ctx context.Context, vm hostapi.VMSpec, start bool) (string, error) {
	domXML, spec, err := d.defineXML(ctx, vm)
	if err != nil {
		return "", fail("create vm", err)
	}
	st, err := with(d, func(c *virt.Connect) (string, error) {
		have, err := findDomain(c, vm.UUID)
		if err != nil {
			return "", err
		}
		if have != nil {
			defer have.free()
			switch {
			case !have.ours:
				return "", notOurs(vm.UUID)
			case have.owner.Entries[specDigestKey] != spec.Metadata[specDigestKey]:
				return "", models.Conflict("vm %s exists with another spec", vm.UUID)
			case start:
				return ensureRunning(have.dom)
			}
			s, err := state(have.dom)
			return powerState(s), err
		}
		if err := d.writeConfigDrive(ctx, vm); err != nil {
			return "", err
		}
		if err := checkDisks(vm.UUID, spec); err != nil {
			return "", err
		}
		if err := os.MkdirAll(filepath.Dir(spec.Console.SerialLogPath), 0o750); err != nil {
			return "", fmt.Errorf("console directory: %w", err)
		}
		dom, err := c.DomainDefineXML(domXML)
		if err != nil {
			return "", fmt.Errorf("define domain: %w", err)
		}
		defer func() { _ = dom.Free() }()
		if !start {
			return hostapi.PowerStopped, nil
		}
		return ensureRunning(dom)
	})
	if err != nil {
		return "", fail("create vm", err)
	}
	return st, nil
}

// StartVM redefines a known domain from vm when its spec changed and runs
// it; starting a running domain succeeds, resuming a paused one.
func (d *Driver) StartVM(ctx context.Context, vm hostapi.VMSpec) (string, error) {
	domXML, spec, err := d.defineXML(ctx, vm)
	if err != nil {
		return "", fail("start vm", err)
	}
	st, err := with(d, func(c *virt.Connect) (string, error) {
		have, err := findDomain(c, vm.UUID)
		if err != nil {
			return "", err
		}
		if have == nil {
			return "", models.NotFound("vm %s is not defined on this host", vm.UUID)
		}
		defer have.free()
		if !have.ours {
			return "", notOurs(vm.UUID)
		}
		if err := d.writeConfigDrive(ctx, vm); err != nil {
			return "", err
		}
		if err := checkDisks(vm.UUID, spec); err != nil {
			return "", err
		}
		if have.owner.Entries[specDigestKey] != spec.Metadata[specDigestKey] {
			dom, err := c.DomainDefineXML(domXML)
			if err != nil {
				return "", fmt.Errorf("redefine domain: %w", err)
			}
			_ = dom.Free()
		}
		return ensureRunning(have.dom)
	})
	if err != nil {
		return "", fail("start vm", err)
	}
	return st, nil
}

// ensureRunning starts a stopped domain and resumes a paused one.
func ensureRunning(dom *virt.Domain) (string, error) {
	s, err := state(dom)
	if err != nil {
		return "", err
	}
	switch s {
	case virt.DOMAIN_SHUTOFF, virt.DOMAIN_CRASHED:
		if err := dom.Create(); err != nil {
			// Started by someone else meanwhile: as good.
			if active, aerr := dom.IsActive(); aerr != nil || !active {
				return "", fmt.Errorf("start domain: %w", err)
			}
		}
	case virt.DOMAIN_PAUSED:
		if err := dom.Resume(); err != nil {
			return "", fmt.Errorf("resume domain: %w", err)
		}
	}
	return hostapi.PowerRunning, nil
}

// StopVM stops the domain: StopGrace (or empty) asks the guest through ACPI
// and destroys it when it is still running after grace (zero means
// Config.Grace); StopCold destroys at once, as does any stop of a paused
// domain, whose guest cannot answer. A stopped or missing domain is stopped.
func (d *Driver) StopVM(ctx context.Context, vmUUID, typ string, grace time.Duration) (string, error) {
	switch {
	case typ != "" && typ != driver.StopGrace && typ != driver.StopCold:
		return "", fail("stop vm", models.Invalid("stop type %q, want %s or %s", typ, driver.StopGrace, driver.StopCold))
	case grace < 0:
		return "", fail("stop vm", models.Invalid("grace timeout %s is negative", grace))
	}
	if err := checkVMUUID(vmUUID); err != nil {
		return "", fail("stop vm", err)
	}
	if grace == 0 {
		grace = d.cfg.Grace
	}
	if typ == driver.StopCold {
		grace = 0
	}
	st, err := with(d, func(c *virt.Connect) (string, error) {
		have, err := findDomain(c, vmUUID)
		if err != nil || have == nil {
			return hostapi.PowerStopped, err
		}
		defer have.free()
		if !have.ours {
			return "", notOurs(vmUUID)
		}
		return hostapi.PowerStopped, stopDomain(ctx, have.dom, grace)
	})
	if err != nil {
		return "", fail("stop vm", err)
	}
	return st, nil
}

// stopDomain shuts dom down within grace, then destroys it; grace 0 destroys
// at once.
func stopDomain(ctx context.Context, dom *virt.Domain, grace time.Duration) error {
	s, err := state(dom)
	if err != nil {
		return err
	}
	switch s {
	case virt.DOMAIN_SHUTOFF, virt.DOMAIN_CRASHED:
		return nil
	case virt.DOMAIN_PAUSED, virt.DOMAIN_PMSUSPENDED:
		grace = 0
	}
	if grace > 0 {
		stopped, err := shutdown(ctx, dom, grace)
		if err != nil || stopped {
			return err
		}
	}
	if err := dom.Destroy(); err != nil {
		if active, aerr := dom.IsActive(); aerr != nil || active {
			return fmt.Errorf("destroy domain: %w", err)
		}
	}
	return nil
}

// shutdown asks the guest to power off and polls until it has or grace
// ends; it reports whether the domain stopped.
func shutdown(ctx context.Context, dom *virt.Domain, grace time.Duration) (bool, error) {
	if err := dom.Shutdown(); err != nil {
		if active, aerr := dom.IsActive(); aerr == nil && !active {
			return true, nil
		}
		return false, fmt.Errorf("shut down domain: %w", err)
	}
	deadline := time.Now().Add(grace)
	for wait := stopPollFirst; ; wait = min(2*wait, stopPollLongest) {
		active, err := dom.IsActive()
		if err != nil {
			return false, fmt.Errorf("domain state: %w", err)
		}
		if !active {
			return true, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false, fmt.Errorf("waiting for the guest to shut down: %w", ctx.Err())
		}
	}
}

// RebootVM stops the domain (gracefully within Config.Grace, then forced)
// and starts it again, so that a stopped domain ends up running too.
func (d *Driver) RebootVM(ctx context.Context, vmUUID string) (string, error) {
	if err := checkVMUUID(vmUUID); err != nil {
		return "", fail("reboot vm", err)
	}
	st, err := with(d, func(c *virt.Connect) (string, error) {
		have, err := findDomain(c, vmUUID)
		if err != nil {
			return "", err
		}
		if have == nil {
			return "", models.NotFound("vm %s is not defined on this host", vmUUID)
		}
		defer have.free()
		if !have.ours {
			return "", notOurs(vmUUID)
		}
		if err := stopDomain(ctx, have.dom, d.cfg.Grace); err != nil {
			return "", err
		}
		return ensureRunning(have.dom)
	})
	if err != nil {
		return "", fail("reboot vm", err)
	}
	return st, nil
}

// DestroyVM destroys the domain if it runs and undefines it with its
// managed save, snapshot metadata and NVRAM; volumes stay. A missing domain
// is fine.
func (d *Driver) DestroyVM(ctx context.Context, vmUUID string) error {
	if err := checkVMUUID(vmUUID); err != nil {
		return fail("destroy vm", err)
	}
	_, err := with(d, func(c *virt.Connect) (struct{}, error) {
		have, err := findDomain(c, vmUUID)
		if err != nil || have == nil {
			return struct{}{}, err
		}
		defer have.free()
		if !have.ours {
			return struct{}{}, notOurs(vmUUID)
		}
		if err := stopDomain(ctx, have.dom, 0); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, undefine(have.dom)
	})
	if err == nil {
		err = d.removeConfigDrives(vmUUID)
	}
	if err != nil {
		return fail("destroy vm", err)
	}
	return nil
}

// undefine removes a stopped domain's definition. Drivers without NVRAM
// support (the test driver) refuse the NVRAM flag, so it is dropped on a
// second try.
func undefine(dom *virt.Domain) error {
	persistent, err := dom.IsPersistent()
	if isCode(err, virt.ERR_NO_DOMAIN) || (err == nil && !persistent) {
		return nil // a transient domain is gone once destroyed
	}
	if err != nil {
		return fmt.Errorf("domain persistence: %w", err)
	}
	base := virt.DOMAIN_UNDEFINE_MANAGED_SAVE | virt.DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
	err = dom.UndefineFlags(base | virt.DOMAIN_UNDEFINE_NVRAM)
	if isCode(err, virt.ERR_INVALID_ARG, virt.ERR_NO_SUPPORT, virt.ERR_ARGUMENT_UNSUPPORTED) {
		err = dom.UndefineFlags(base)
	}
	if err != nil && !isCode(err, virt.ERR_NO_DOMAIN) {
		return fmt.Errorf("undefine domain: %w", err)
	}
	return nil
}
