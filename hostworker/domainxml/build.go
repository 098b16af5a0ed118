package domainxml

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/models"
)

// ZStack's lifecycle defaults: a guest that powers off or crashes stays off
// (the control plane decides what happens next, e.g. HA); a reboot reboots.
const (
	onPoweroff = "destroy"
	onReboot   = "restart"
	onCrash    = "destroy"
)

// memorySlots is the number of DIMM slots offered for online memory
// increase (ZStack uses the same).
const memorySlots = 16

// hotplugRootPorts is how many spare pcie-root-ports a q35 domain gets for
// hot-plugged disks and NICs; libvirt fills explicit ports with its own
// devices first, so these come on top of the ones the devices need.
const hotplugRootPorts = 4

// Build checks s and returns the domain it describes. It is pure: the same
// Spec always gives the same domain. Every error it returns for a bad Spec
// matches models.ErrInvalid, so the driver can report it as non-retryable.
func Build(s Spec) (*libvirtxml.Domain, error) {
	b := &builder{s: s, d: &libvirtxml.Domain{Devices: &libvirtxml.DomainDeviceList{}}}
	steps := []func() error{
		b.identity,
		b.platform,
		b.compute,
		b.disks,
		b.cdroms,
		b.nics,
		b.boot,
		b.console,
		b.guestAgent,
		b.hostDevices,
		b.controllers,
		b.metadata,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("domain xml: %w", err)
		}
	}
	return b.d, nil
}

// Marshal builds the domain described by s and returns its XML.
func Marshal(s Spec) (string, error) {
	d, err := Build(s)
	if err != nil {
		return "", err
	}
	out, err := d.Marshal()
	if err != nil {
		return "", fmt.Errorf("domain xml: marshal: %w", err)
	}
	return out, nil
}

// LibvirtUUID turns a 32-hex ZStack uuid into the dashed 8-4-4-4-12 form
// that libvirt uses for <uuid> and lookups.
func LibvirtUUID(zstackUUID string) (string, error) {
	if !models.IsUUID(zstackUUID) {
		return "", invalid("uuid %q is not 32 hex characters", zstackUUID)
	}
	u := strings.ToLower(zstackUUID)
	return u[0:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:32], nil
}

// builder holds what one Build has worked out so far; each step checks its
// part of the Spec and fills its part of the domain.
type builder struct {
	s Spec
	d *libvirtxml.Domain

	uuid    string
	q35     bool
	virtio  bool // the platform has virtio drivers
	windows bool
	maxCPU  uint

	// disk and cdrom targets taken, per name prefix (vd, hd, sd).
	targets map[string]map[int]bool
	// rootDisk is the index in Devices.Disks of the disk with DeviceID 0.
	rootDisk int
	scsi     bool
	// pcieDevices counts the devices that need a PCIe slot on q35.
	pcieDevices int
}

func invalid(format string, args ...any) error {
	return models.Invalid(format, args...)
}

func (b *builder) identity() error {
	s := b.s
	dashed, err := LibvirtUUID(s.UUID)
	if err != nil {
		return fmt.Errorf("vm: %w", err)
	}
	if err := checkText(s.Name); err != nil {
		return fmt.Errorf("vm name: %w", err)
	}
	switch s.DomainType {
	case DomainKVM, DomainQEMU:
	default:
		return invalid("domain type %q is not %s or %s", s.DomainType, DomainKVM, DomainQEMU)
	}
	b.uuid = strings.ToLower(s.UUID)
	b.d.Type = s.DomainType
	b.d.Name = b.uuid
	b.d.UUID = dashed
	b.d.Title = s.Name
	b.d.Description = s.Name
	b.d.OnPoweroff = onPoweroff
	b.d.OnReboot = onReboot
	b.d.OnCrash = onCrash
	return nil
}

// checkText refuses what libvirt cannot keep in a title or what XML cannot
// carry: invalid UTF-8 and control characters (newlines included).
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return invalid("%q is not valid utf-8", s)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return invalid("%q contains a control character", s)
		}
	}
	return nil
}

func (b *builder) platform() error {
	s := b.s
	machine := s.Machine
	switch {
	case machine == "":
		machine = MachinePC
	case machine == MachinePC, machine == MachineQ35:
	case versioned(machine, "pc-i440fx-"):
	case versioned(machine, "pc-q35-"):
	default:
		return invalid("machine %q is not pc, q35, pc-i440fx-<version> or pc-q35-<version>", machine)
	}
	b.q35 = machine == MachineQ35 || strings.HasPrefix(machine, "pc-q35-")

	switch s.Platform {
	case PlatformLinux, PlatformParavirtualization:
		b.virtio = true
	case PlatformWindowsVirtio:
		b.virtio, b.windows = true, true
	case PlatformWindows:
		b.windows = true
	case PlatformOther:
	default:
		return invalid("platform %q is not one of %s, %s, %s, %s, %s", s.Platform,
			PlatformLinux, PlatformWindows, PlatformWindowsVirtio, PlatformOther, PlatformParavirtualization)
	}

	b.d.OS = &libvirtxml.DomainOS{
		Type: &libvirtxml.DomainOSType{Arch: "x86_64", Machine: machine, Type: "hvm"},
	}
	features := &libvirtxml.DomainFeatureList{
		ACPI: &libvirtxml.DomainFeature{},
		APIC: &libvirtxml.DomainFeatureAPIC{},
	}
	if !b.q35 {
		features.PAE = &libvirtxml.DomainFeature{}
	}
	clock := &libvirtxml.DomainClock{Offset: "utc"}
	if b.windows {
		// Windows keeps its RTC in local time. Hyper-V enlightenments and
		// the hypervclock are KVM features; TCG has none of them.
		clock.Offset = "localtime"
		clock.Timer = []libvirtxml.DomainTimer{
			{Name: "rtc", TickPolicy: "catchup"},
			{Name: "pit", TickPolicy: "delay"},
			{Name: "hpet", Present: "no"},
		}
		if s.DomainType == DomainKVM {
			clock.Timer = append(clock.Timer, libvirtxml.DomainTimer{Name: "hypervclock", Present: "yes"})
			on := &libvirtxml.DomainFeatureState{State: "on"}
			features.HyperV = &libvirtxml.DomainFeatureHyperV{
				Relaxed: on,
				VAPIC:   on,
				Spinlocks: &libvirtxml.DomainFeatureHyperVSpinlocks{
					DomainFeatureState: libvirtxml.DomainFeatureState{State: "on"},
					Retries:            8191,
				},
			}
		}
	}
	b.d.Features = features
	b.d.Clock = clock
	return nil
}

// versioned reports whether machine is prefix followed by a version such
// as 7.2.
func versioned(machine, prefix string) bool {
	v, ok := strings.CutPrefix(machine, prefix)
	if !ok || v == "" {
		return false
	}
	for _, r := range v {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}

func (b *builder) compute() error {
	s := b.s
	if s.CPUNum <= 0 {
		return invalid("cpu number %d must be positive", s.CPUNum)
	}
	maxCPU := s.MaxCPUNum
	if maxCPU == 0 {
		maxCPU = s.CPUNum
	}
	if maxCPU < s.CPUNum {
		return invalid("max cpu number %d is less than cpu number %d", maxCPU, s.CPUNum)
	}
	if s.MemoryBytes <= 0 {
		return invalid("memory %d bytes must be positive", s.MemoryBytes)
	}
	if s.MemoryBytes%1024 != 0 {
		return invalid("memory %d bytes is not a whole number of KiB", s.MemoryBytes)
	}
	maxMem := s.MaxMemoryBytes
	if maxMem == 0 {
		maxMem = s.MemoryBytes
	}
	if maxMem < s.MemoryBytes {
		return invalid("max memory %d bytes is less than memory %d bytes", maxMem, s.MemoryBytes)
	}
	if maxMem%1024 != 0 {
		return invalid("max memory %d bytes is not a whole number of KiB", maxMem)
	}
	cpuMode, cpuModel, err := cpuModel(s)
	if err != nil {
		return err
	}

	b.maxCPU = uint(maxCPU)
	vcpu := &libvirtxml.DomainVCPU{Placement: "static", Value: uint(maxCPU)}
	if maxCPU > s.CPUNum {
		vcpu.Current = uint(s.CPUNum)
	}
	b.d.VCPU = vcpu

	memKiB := uint(s.MemoryBytes / 1024)
	b.d.Memory = &libvirtxml.DomainMemory{Value: memKiB, Unit: "KiB"}
	b.d.CurrentMemory = &libvirtxml.DomainCurrentMemory{Value: memKiB, Unit: "KiB"}

	// One socket of maxCPU cores: vCPU hot-plug works per core, and
	// Windows client editions use at most two sockets.
	cpu := &libvirtxml.DomainCPU{
		Mode:     cpuMode,
		Match:    cpuMatch(cpuModel),
		Model:    cpuModel,
		Topology: &libvirtxml.DomainCPUTopology{Sockets: 1, Cores: maxCPU, Threads: 1},
	}
	if maxMem > s.MemoryBytes {
		b.d.MaximumMemory = &libvirtxml.DomainMaxMemory{Value: uint(maxMem / 1024), Unit: "KiB", Slots: memorySlots}
		// Memory hot-plug needs a guest NUMA node holding the boot memory.
		id := uint(0)
		cpus := "0"
		if maxCPU > 1 {
			cpus = fmt.Sprintf("0-%d", maxCPU-1)
		}
		cpu.Numa = &libvirtxml.DomainNuma{Cell: []libvirtxml.DomainCell{
			{ID: &id, CPUs: cpus, Memory: memKiB, Unit: "KiB"},
		}}
	}
	b.d.CPU = cpu
	return nil
}
