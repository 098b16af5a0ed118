// Package domainxml turns a VM description into libvirt domain XML. It is a
// pure function over typed libvirtxml structs (no templates, no I/O), so
// that the libvirt host driver can define, redefine and compare domains
// deterministically and golden tests can pin every element it writes.
package domainxml

// Domain types: kvm when the host can run KVM guests, otherwise qemu (TCG).
const (
	DomainKVM  = "kvm"
	DomainQEMU = "qemu"
)

// Machine types. Versioned names (pc-i440fx-7.2, pc-q35-7.2) are accepted too.
const (
	MachinePC  = "pc"
	MachineQ35 = "q35"
)

// CPU modes. The empty mode leaves the model to libvirt (qemu64 for TCG).
const (
	CPUHostPassthrough = "host-passthrough"
	CPUHostModel       = "host-model"
)

// Image platforms as ZStack names them; they decide virtio versus emulated
// devices and the guest clock.
const (
	PlatformLinux              = "Linux"
	PlatformWindows            = "Windows"
	PlatformWindowsVirtio      = "WindowsVirtio"
	PlatformOther              = "Other"
	PlatformParavirtualization = "Paravirtualization"
)

// Disk buses.
const (
	BusVirtio = "virtio"
	BusIDE    = "ide"
	BusSATA   = "sata"
	BusSCSI   = "scsi"
)

// Disk formats.
const (
	FormatQCOW2 = "qcow2"
	FormatRaw   = "raw"
)

// NIC models.
const (
	NICVirtio  = "virtio"
	NICE1000   = "e1000"
	NICE1000E  = "e1000e"
	NICRTL8139 = "rtl8139"
)

// Video models.
const (
	VideoVGA    = "vga"
	VideoCirrus = "cirrus"
	VideoQXL    = "qxl"
	VideoVirtio = "virtio"
)

// Boot device classes for Spec.BootOrder.
const (
	BootHD      = "hd"
	BootCDROM   = "cdrom"
	BootNetwork = "network"
)

// Host device kinds for HostDev.Type.
const (
	HostDevPCI = "pci"
	HostDevUSB = "usb"
)

// GuestAgentChannel is the virtio-serial port name qemu-guest-agent listens on.
const GuestAgentChannel = "org.qemu.guest_agent.0"

// Spec describes one VM as the host needs it to define a domain. The driver
// fills it from hostapi.VMSpec and the host's facts; Build checks it.
type Spec struct {
	// UUID is the VM's 32-hex ZStack uuid. It names the domain (<name>, as
	// ZStack does) and, dashed, becomes the domain <uuid>.
	UUID string
	// Name is the VM's display name, written to <title> and <description>.
	// It may be empty; it may not contain control characters.
	Name string
	// DomainType is DomainKVM or DomainQEMU (TCG).
	DomainType string
	// Machine is MachinePC (default), MachineQ35 or a versioned name.
	Machine string

	CPUNum      int
	MemoryBytes int64
	// MaxCPUNum and MaxMemoryBytes allow online CPU and memory increase: the
	// domain starts with CPUNum vCPUs out of MaxCPUNum and MemoryBytes with
	// DIMM slots up to MaxMemoryBytes. Zero means the same as the current.
	MaxCPUNum      int
	MaxMemoryBytes int64
	// CPUMode is "", CPUHostPassthrough (needs KVM), CPUHostModel or
	// CPUMaximum; CPUModel names a CPU model instead (cpu.go).
	CPUMode  string
	CPUModel string

	// Platform is one of the Platform constants.
	Platform string

	Disks  []Disk
	CDROMs []CDROM
	// NICs appear in the guest in this order.
	NICs []NIC
	// BootOrder lists device classes (BootHD, BootCDROM, BootNetwork) in
	// boot order; nil means hd then cdrom. It becomes per-device <boot order>.
	BootOrder []string

	Console    Console
	GuestAgent bool

	HostDevices []HostDev

	// Metadata is stored under the zcloud namespace with the VM uuid, so
	// that the agent recognises its own domains (see ParseOwner).
	Metadata map[string]string
}

// Disk is a volume attached to the VM.
type Disk struct {
	// VolumeUUID is the volume's 32-hex uuid; it is the disk's default serial
	// and its user alias (ua-<uuid>), by which the driver finds it later.
	VolumeUUID string
	// Path is an absolute file path, or a block device under /dev.
	Path string
	// Format is FormatQCOW2 or FormatRaw.
	Format string
	// Bus overrides the platform's default bus (BusVirtio, BusIDE, BusSATA,
	// BusSCSI).
	Bus string
	// DeviceID orders the disks (root volume = 0) and picks the target
	// letter: DeviceID 1 on virtio is vdb whatever other disks exist, so a
	// disk keeps its name when another is detached.
	DeviceID int
	// Shareable marks a volume attached to several VMs; it must be raw and
	// gets cache=none.
	Shareable bool
	// Cache is the libvirt cache mode; empty leaves libvirt's default
	// (none for shareable disks).
	Cache string
	// Serial is what the guest sees as the disk serial; empty means
	// VolumeUUID (virtio-blk shows its first 20 characters).
	Serial string
	IOTune *IOTune
}

// IOTune limits a disk. Zero fields are unlimited. Totals exclude the read and
// write limits of the same unit, as in libvirt.
type IOTune struct {
	TotalBytesSec int64
	ReadBytesSec  int64
	WriteBytesSec int64
	TotalIOPSSec  int64
	ReadIOPSSec   int64
	WriteIOPSSec  int64
}

// CDROM is a read-only optical drive; an empty Path is an empty drive that an
// ISO can be inserted into later. It also carries NoCloud config drives.
type CDROM struct {
	Path string
}

// NIC is a VM network interface plugged into a Linux bridge.
type NIC struct {
	// UUID, when set, becomes the interface's user alias (ua-<uuid>).
	UUID string
	// MAC is a unicast address, aa:bb:cc:dd:ee:ff.
	MAC    string
	Bridge string
	// Model overrides the platform's default (NICVirtio or NICE1000).
	Model string
	// TargetDev names the tap device (e.g. vnic12.0); empty lets libvirt
	// pick vnetN.
	TargetDev string
	// MTU of the guest NIC; 0 keeps the default.
	MTU int
	// InboundBytesSec and OutboundBytesSec shape the NIC's traffic (into
	// and out of the guest); 0 is unlimited. libvirt counts in KiB/s, so
	// they are rounded up to whole KiB.
	InboundBytesSec  int64
	OutboundBytesSec int64
}

// Console is the VM's serial console and graphical display.
type Console struct {
	// SerialLogPath sends the serial console to this file; empty gives a pty
	// (virsh console).
	SerialLogPath string
	VNC           bool
	// VNCListen is the address VNC listens on; empty means 0.0.0.0, which
	// the console proxy on the management node needs.
	VNCListen string
	// VNCPassword has at most 8 characters (the VNC protocol's limit).
	VNCPassword string
	// VNCPort is a fixed port from 5900; -1 or 0 lets libvirt pick one.
	VNCPort int
	// Video is the display adapter; empty means vga when VNC is on and none
	// otherwise.
	Video string
}

// HostDev is a host device passed through to the VM.
type HostDev struct {
	// Type is HostDevPCI or HostDevUSB.
	Type string
	// Address is, for pci, domain:bus:slot.function ("0000:65:00.0", domain
	// optional); for usb, vendor:product in hex ("046d:c52b") or
	// bus/device in decimal ("001/004", as in /dev/bus/usb).
	Address string
}
