package activities

import "github.com/zcloud/zcloud/activities/hostapi"

// VM device activities: the console (VNC address and password).
const (
	// VMConsolePasswordSet records a VM's console password (empty: none)
	// and returns the one it replaced, for the compensation.
	VMConsolePasswordSet = "db.VMConsolePasswordSet"
	// VMConsoleTarget says which host runs a VM's console and at what
	// management address; a VM that is not running is VM.1010.
	VMConsoleTarget = "db.VMConsoleTarget"
)

// ConsolePasswordTag starts the system tag that holds a VM's console
// password, as in ZStack (VmSystemTags.CONSOLE_PASSWORD,
// "consolePassword::<password>").
const ConsolePasswordTag = "consolePassword::"

// ConsolePasswordParams sets a VM's console password; empty removes it.
type ConsolePasswordParams struct {
	VMUUID   string `json:"vmUuid"`
	Password string `json:"password"`
}

// ConsolePasswordResult is the password a set replaced and the VM's
// state and host when it was set.
type ConsolePasswordResult struct {
	Prev     string `json:"prev"`
	State    string `json:"state"`
	HostUUID string `json:"hostUuid"`
}

// ConsoleTargetResult names the host of a running VM and its management
// address.
type ConsoleTargetResult struct {
	HostUUID     string `json:"hostUuid"`
	ManagementIP string `json:"managementIp"`
}

// VMConsoleAddress is GetVmConsoleAddress's reply (ZStack's
// APIGetVmConsoleAddressReply).
type VMConsoleAddress struct {
	HostIP   string `json:"hostIp"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
}

// ISO and boot order activities.
const (
	// VMISOSet records the ISO in a VM's CD-ROM (none when ISOUUID is
	// empty) and returns what it replaced.
	VMISOSet = "db.VMISOSet"
	// VMBootOrderSet records a VM's boot order and returns the one it
	// replaced.
	VMBootOrderSet = "db.VMBootOrderSet"
)

// ISOTag and BootOrderTag start the system tags that hold a VM's ISO and
// boot order, as in ZStack ("iso::<imageUuid>",
// "bootOrder::CdRom,HardDisk").
const (
	ISOTag       = "iso::"
	BootOrderTag = "bootOrder::"
)

// ISOParams puts an ISO image into a VM's CD-ROM; an empty ISOUUID ejects.
// ExpectUUID, when set, is the ISO a detach expects to find.
type ISOParams struct {
	VMUUID     string `json:"vmUuid"`
	ISOUUID    string `json:"isoUuid"`
	ExpectUUID string `json:"expectUuid,omitempty"`
}

// ISOResult is what an ISO change replaced, with the VM's state and host,
// and where the hosts fetch the new and the previous ISO.
type ISOResult struct {
	Prev     string           `json:"prev"`
	PrevISO  *hostapi.ISOSpec `json:"prevIso,omitempty"`
	ISO      *hostapi.ISOSpec `json:"iso,omitempty"`
	State    string           `json:"state"`
	HostUUID string           `json:"hostUuid"`
}

// BootOrderParams sets a VM's boot order (hostapi.Boot* names); empty
// removes it (hard disk, then CD-ROM).
type BootOrderParams struct {
	VMUUID string   `json:"vmUuid"`
	Order  []string `json:"order"`
}

// VMComputeSet changes a VM's CPUs and memory (and, with them, its name,
// description or offering) in its record, and what it holds on its host,
// atomically; it returns the values it replaced.
const VMComputeSet = "db.VMComputeSet"

// ComputeParams are a VM's new CPUs and memory; zero values and empty
// strings keep what the VM has. An offering without CPUs and memory gives
// its own (ChangeInstanceOffering); with them, it is only recorded.
type ComputeParams struct {
	VMUUID       string `json:"vmUuid"`
	CPUNum       int    `json:"cpuNum,omitempty"`
	MemorySize   int64  `json:"memorySize,omitempty"`
	OfferingUUID string `json:"instanceOfferingUuid,omitempty"`
	Name         string `json:"name,omitempty"`
	Description  string `json:"description,omitempty"`
}

// ComputeResult holds a VM's values before (Prev) and after (New) a
// change, and its state and host.
type ComputeResult struct {
	Prev     ComputeParams `json:"prev"`
	New      ComputeParams `json:"new"`
	State    string        `json:"state"`
	HostUUID string        `json:"hostUuid"`
}
