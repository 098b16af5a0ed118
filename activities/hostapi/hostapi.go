// Package hostapi is the contract between the control plane and the host
// agent (zcloud-hostworker): activity names, their params and results, and
// the task queue of each host. Both sides import it; it imports nothing of
// ZCloud's but models.
package hostapi

import (
	"net/netip"
	"time"

	"github.com/zcloud/zcloud/models"
)

// QueuePrefix starts the name of every host's task queue.
const QueuePrefix = "host-"

// Queue is the task queue that only the agent of hostUUID polls.
func Queue(hostUUID string) string { return QueuePrefix + hostUUID }

// AgentVersion is the version of the activity contract. The control plane
// compares it on connect and ping; an agent of another version is redeployed
// (real hosts) or refused.
const AgentVersion = "1"

// Activity names served on a host queue. Every one of them is idempotent:
// calling it twice with the same params has the effect of calling it once.
const (
	ActConnect           = "host.Connect"
	ActPing              = "host.Ping"
	ActInstantiateVolume = "host.InstantiateVolume"
	ActDeleteVolume      = "host.DeleteVolume"
	ActCreateVM          = "host.CreateVM"
	ActStartVM           = "host.StartVM"
	ActStopVM            = "host.StopVM"
	ActRebootVM          = "host.RebootVM"
	ActDestroyVM         = "host.DestroyVM"

	ActPauseVM                  = "host.PauseVM"
	ActResumeVM                 = "host.ResumeVM"
	ActMigrateVM                = "host.MigrateVM"
	ActAttachVolume             = "host.AttachVolume"
	ActDetachVolume             = "host.DetachVolume"
	ActResizeVolume             = "host.ResizeVolume"
	ActCreateVolumeSnapshot     = "host.CreateVolumeSnapshot"
	ActRevertVolumeSnapshot     = "host.RevertVolumeSnapshot"
	ActDeleteVolumeSnapshot     = "host.DeleteVolumeSnapshot"
	ActCreateVolumeFromSnapshot = "host.CreateVolumeFromSnapshot"

	ActGetVMConsole         = "host.GetVMConsole"
	ActSetVMConsolePassword = "host.SetVMConsolePassword"
	ActAttachISO            = "host.AttachISO"
	ActSetVMCompute         = "host.SetVMCompute"
	ActDetachISO            = "host.DetachISO"
	ActAttachNIC            = "host.AttachNIC"
	ActDetachNIC            = "host.DetachNIC"
)

// Timeouts that every caller of a host activity uses. ScheduleToStart is
// short so that work aimed at a dead host fails fast and the saga rolls back.
const (
	ScheduleToStart = 10 * time.Second
	StartToClose    = 5 * time.Minute
)

// Error types carried by ApplicationErrors from the agent.
const (
	ErrTypeNotFound    = "NotFound"
	ErrTypeInvalid     = "Invalid"
	ErrTypeUnsupported = "NotSupported"
	ErrTypeFailed      = "HostOperationFailed"
	ErrTypeInjected    = "InjectedFailure"
)

// VM power states as the hypervisor reports them.
const (
	PowerRunning = "Running"
	PowerStopped = "Stopped"
	PowerPaused  = "Paused"
	PowerUnknown = "Unknown"
)

// ConnectParams asks the agent to identify itself and report its facts.
type ConnectParams struct {
	HostUUID string `json:"hostUuid"`
}

// HostFacts is what an agent knows about its host.
type HostFacts struct {
	HostUUID      string `json:"hostUuid"`
	AgentVersion  string `json:"agentVersion"`
	Driver        string `json:"driver"`
	DomainType    string `json:"domainType"` // kvm, qemu, sim
	CPUNum        int    `json:"cpuNum"`
	CPUSockets    int    `json:"cpuSockets"`
	MemoryBytes   int64  `json:"memoryBytes"`
	Architecture  string `json:"architecture"`
	OSDistro      string `json:"osDistribution"`
	OSRelease     string `json:"osRelease"`
	OSVersion     string `json:"osVersion"`
	HypervisorVer string `json:"hypervisorVersion"`
	// SealingKey is the agent's public key (base64 X25519, package
	// models/secret, use secret.HostSealInfo): secrets sent to the host,
	// such as IPsec pre-shared keys, are sealed to it. Empty: the agent
	// can receive no secret.
	SealingKey string `json:"sealingKey,omitempty"`
	// Addresses are the host's IPv4 addresses when its agent runs host
	// networking (VTEP candidates), kept for when the host does not answer.
	Addresses []netip.Prefix `json:"addresses,omitempty"`
}

// PingParams checks an agent is alive and asks what runs on it.
type PingParams struct {
	HostUUID string `json:"hostUuid"`
}

// VMState is one domain as the host sees it.
type VMState struct {
	UUID  string `json:"uuid"`
	State string `json:"state"`
}

// PingResult answers a ping: the agent's identity and every domain it has,
// so that the control plane can sync VM states (the host is the truth).
type PingResult struct {
	HostUUID     string    `json:"hostUuid"`
	AgentVersion string    `json:"agentVersion"`
	VMs          []VMState `json:"vms"`
	// Incarnation changes whenever the agent restarts: what an agent
	// realised in memory or in child processes (routers' daemons) may be
	// gone, and the control plane realises it again.
	Incarnation string `json:"incarnation,omitempty"`
}

// VolumeSpec describes a volume on a primary storage as the host needs it.
type VolumeSpec struct {
	UUID               string `json:"uuid"`
	Type               string `json:"type"` // Root, Data
	PrimaryStorageUUID string `json:"primaryStorageUuid"`
	InstallPath        string `json:"installPath"`
	Format             string `json:"format"`
	Size               int64  `json:"size"`
	DeviceID           int    `json:"deviceId"`
	ImageUUID          string `json:"imageUuid,omitempty"`
	ImageURL           string `json:"imageUrl,omitempty"`
	// Shareable marks a raw volume that several VMs attach at once
	// (volume_qos.go); QoS limits its I/O in every domain that has it.
	Shareable bool       `json:"shareable,omitempty"`
	QoS       *VolumeQoS `json:"qos,omitempty"`
}

// InstantiateVolumeParams creates a volume's file or device on the host.
type InstantiateVolumeParams struct {
	Volume VolumeSpec `json:"volume"`
}

// InstantiateVolumeResult reports where the volume now lives.
type InstantiateVolumeResult struct {
	InstallPath string `json:"installPath"`
	ActualSize  int64  `json:"actualSize"`
}

// DeleteVolumeParams removes a volume from the host; a missing volume is not
// an error.
type DeleteVolumeParams struct {
	Volume VolumeSpec `json:"volume"`
}

// NICSpec describes a VM NIC.
type NICSpec struct {
	UUID     string `json:"uuid"`
	MAC      string `json:"mac"`
	IP       string `json:"ip"`
	Netmask  string `json:"netmask"`
	Gateway  string `json:"gateway"`
	L3UUID   string `json:"l3NetworkUuid"`
	Bridge   string `json:"bridge"`
	DeviceID int    `json:"deviceId"`
	Driver   string `json:"driver"` // virtio, e1000
}

// VMSpec is everything the host needs to define a domain.
type VMSpec struct {
	UUID        string       `json:"uuid"`
	Name        string       `json:"name"`
	CPUNum      int          `json:"cpuNum"`
	MemorySize  int64        `json:"memorySize"`
	Platform    string       `json:"platform"`
	RootVolume  VolumeSpec   `json:"rootVolume"`
	DataVolumes []VolumeSpec `json:"dataVolumes"`
	NICs        []NICSpec    `json:"nics"`
	// ConsolePassword protects the VNC console (at most 8 printable ASCII
	// characters, the VNC limit); empty leaves it open.
	ConsolePassword string `json:"consolePassword,omitempty"`
	// ISO is the image in the VM's CD-ROM drive; nil leaves it empty.
	ISO *ISOSpec `json:"iso,omitempty"`
	// BootOrder lists ZStack's boot devices (BootCdRom, BootHardDisk,
	// BootNetwork) in order; empty is hard disk then CD-ROM.
	BootOrder []string `json:"bootOrder,omitempty"`
	// Guest is the guest's NoCloud configuration (guest.go); nil gives no
	// config drive. CPU is its vCPU model; nil is the hypervisor's default.
	Guest *GuestSpec `json:"guest,omitempty"`
	CPU   *CPUSpec   `json:"cpu,omitempty"`
}

// ZStack's boot devices (VmBootDevice).
const (
	BootCdRom    = "CdRom"
	BootHardDisk = "HardDisk"
	BootNetwork  = "Network"
)

// ISOSpec is an ISO image the host fetches into its image cache, as it does
// a root volume's image.
type ISOSpec struct {
	ImageUUID string `json:"imageUuid"`
	URL       string `json:"url"`
}

// AttachISOParams inserts an ISO into a domain's CD-ROM drive: live when it
// runs and in its definition. Inserting the ISO that is in succeeds.
type AttachISOParams struct {
	VMUUID string  `json:"vmUuid"`
	ISO    ISOSpec `json:"iso"`
}

// SetVMComputeParams changes a running domain's vCPUs and memory online,
// up to the maximums it was defined with, and in its definition. Online
// change only grows, as in ZStack; a running domain that already has them
// succeeds.
type SetVMComputeParams struct {
	VMUUID     string `json:"vmUuid"`
	CPUNum     int    `json:"cpuNum"`
	MemorySize int64  `json:"memorySize"`
}

// AttachNICParams plugs a NIC into a domain: into the running guest when it
// runs (hot-plug) and into its definition. A NIC already there succeeds.
type AttachNICParams struct {
	VMUUID string  `json:"vmUuid"`
	NIC    NICSpec `json:"nic"`
}

// DetachNICParams unplugs a NIC from a domain, live and from its
// definition; a NIC not there, or a missing domain, is fine.
type DetachNICParams struct {
	VMUUID string  `json:"vmUuid"`
	NIC    NICSpec `json:"nic"`
}

// DetachISOParams ejects the ISO from a domain's CD-ROM drive; an empty
// drive, or a missing domain, is fine.
type DetachISOParams struct {
	VMUUID string `json:"vmUuid"`
}

// CreateVMParams defines a domain and, when Start is set, starts it.
type CreateVMParams struct {
	VM    VMSpec `json:"vm"`
	Start bool   `json:"start"`
}

// VMOpResult is the state a VM operation left the domain in.
type VMOpResult struct {
	State string `json:"state"`
}

// StartVMParams starts a defined (or redefines and starts a) domain.
type StartVMParams struct {
	VM VMSpec `json:"vm"`
}

// StopVMParams stops a domain: "grace" asks the guest and falls back to a
// forced stop after GraceTimeout; "cold" forces at once.
type StopVMParams struct {
	VMUUID       string        `json:"vmUuid"`
	Type         string        `json:"type"`
	GraceTimeout time.Duration `json:"graceTimeout"`
}

// RebootVMParams reboots a running domain.
type RebootVMParams struct {
	VMUUID string `json:"vmUuid"`
}

// DestroyVMParams stops and undefines a domain; a missing domain is not an
// error.
type DestroyVMParams struct {
	VMUUID string `json:"vmUuid"`
}

// PauseVMParams freezes a running domain's vCPUs; pausing a paused domain
// succeeds, pausing a stopped or missing one is an error.
type PauseVMParams struct {
	VMUUID string `json:"vmUuid"`
}

// ResumeVMParams unfreezes a paused domain; resuming a running domain
// succeeds, resuming a stopped or missing one is an error.
type ResumeVMParams struct {
	VMUUID string `json:"vmUuid"`
}

// MigrateVMParams moves a running domain to another host while it runs
// (live migration), leaving it defined there and undefined here.
type MigrateVMParams struct {
	VMUUID string `json:"vmUuid"`
	// DestinationURI is how this host's hypervisor reaches the destination's
	// (libvirt: "qemu+tcp://10.0.0.2/system"); the migration is
	// peer-to-peer, so it is the source host that connects.
	DestinationURI string `json:"destinationUri"`
	// MigrationURI optionally names the address the memory stream goes to
	// ("tcp://10.99.0.2"), for a dedicated migration network; empty lets the
	// hypervisor pick the destination's hostname.
	MigrationURI string `json:"migrationUri,omitempty"`
	// SharedStorage says the VM's volumes are at the same paths on both
	// hosts (NFS, SharedMountPoint, Ceph), so only memory moves. Copying
	// local volumes along is not supported yet.
	SharedStorage bool `json:"sharedStorage"`
}

// AttachVolumeParams plugs an instantiated volume into a VM: into the
// running domain (hot-plug) and into its definition, so that it stays after
// a restart. Attaching an attached volume succeeds. Volume.DeviceID picks the
// device name (1 = vdb on virtio).
type AttachVolumeParams struct {
	VMUUID string     `json:"vmUuid"`
	Volume VolumeSpec `json:"volume"`
}

// AttachVolumeResult names the device the volume got in the domain (vdb).
type AttachVolumeResult struct {
	Device string `json:"device"`
}

// DetachVolumeParams unplugs a volume from the running domain and from its
// definition; detaching a detached volume, or from a missing domain,
// succeeds.
type DetachVolumeParams struct {
	VMUUID string     `json:"vmUuid"`
	Volume VolumeSpec `json:"volume"`
}

// ResizeVolumeParams grows a volume to Size bytes: online when a running
// domain uses it (the guest sees the new size), offline otherwise. Growing
// to the current size succeeds; shrinking is refused.
type ResizeVolumeParams struct {
	Volume VolumeSpec `json:"volume"`
	Size   int64      `json:"size"`
}

// ResizeVolumeResult is the volume's virtual size after the resize.
type ResizeVolumeResult struct {
	Size int64 `json:"size"`
}

// CreateVolumeSnapshotParams takes a snapshot of a volume named by
// SnapshotUUID. Taking it again returns the one taken.
type CreateVolumeSnapshotParams struct {
	Volume       VolumeSpec `json:"volume"`
	SnapshotUUID string     `json:"snapshotUuid"`
}

// VolumeSnapshotResult says where a snapshot lives: on qcow2 volumes it is
// an internal snapshot named SnapshotUUID inside the volume's file.
type VolumeSnapshotResult struct {
	SnapshotUUID string `json:"snapshotUuid"`
	InstallPath  string `json:"installPath"`
	// VirtualSize is the volume's size when the snapshot was taken.
	VirtualSize int64 `json:"virtualSize"`
}

// RevertVolumeSnapshotParams puts a volume back to a snapshot; the VM that
// uses it must be stopped.
type RevertVolumeSnapshotParams struct {
	Volume       VolumeSpec `json:"volume"`
	SnapshotUUID string     `json:"snapshotUuid"`
}

// DeleteVolumeSnapshotParams removes a snapshot; a missing one (or a missing
// volume) is not an error.
type DeleteVolumeSnapshotParams struct {
	Volume       VolumeSpec `json:"volume"`
	SnapshotUUID string     `json:"snapshotUuid"`
}

// CreateVolumeFromSnapshotParams makes Target a full, standalone copy (no
// backing file) of Volume as it was at SnapshotUUID, or as it is now when
// SnapshotUUID is empty (a volume or an image from a volume, which needs the
// volume out of any running domain). Making it again returns the one made.
type CreateVolumeFromSnapshotParams struct {
	Volume       VolumeSpec `json:"volume"`
	SnapshotUUID string     `json:"snapshotUuid,omitempty"`
	Target       VolumeSpec `json:"target"`
}

// ConsoleVNC is the only console protocol hosts serve.
const ConsoleVNC = "vnc"

// GetVMConsoleParams asks where a running domain's console listens.
type GetVMConsoleParams struct {
	VMUUID string `json:"vmUuid"`
}

// VMConsole is where a running domain's console listens, read from the live
// domain. Host is the listen address; "0.0.0.0" (or "::") means every
// address of the host, and the control plane answers with the host's
// management IP.
type VMConsole struct {
	Protocol string `json:"protocol"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
}

// SetVMConsolePasswordParams sets (or, when Password is empty, removes) the
// console password in a domain's definition, and of its running display
// when the hypervisor can change it there. Setting the password it has
// succeeds; a missing domain is models.ErrNotFound.
type SetVMConsolePasswordParams struct {
	VMUUID   string `json:"vmUuid"`
	Password string `json:"password"`
}

// SetVMConsolePasswordResult says whether the running display took the
// password at once (Live); otherwise it takes effect on the next start,
// as with ZStack. QEMU can change a display's password but neither add one
// to an open display nor remove one.
type SetVMConsolePasswordResult struct {
	Live bool `json:"live"`
}

// ValidateConsolePassword checks a VNC password: at most 8 printable ASCII
// characters without spaces (8 is the VNC protocol's limit); empty means
// none.
func ValidateConsolePassword(pw string) error {
	if len(pw) > 8 {
		return models.Invalid("console password has %d characters; vnc allows at most 8", len(pw))
	}
	for _, r := range pw {
		if r < 0x21 || r > 0x7e {
			return models.Invalid("console password may hold only printable ascii without spaces")
		}
	}
	return nil
}
