package activities

import "github.com/zcloud/zcloud/activities/hostapi"

// VM NIC activities (AttachL3NetworkToVm, DetachL3NetworkFromVm).
const (
	// VMNICAttach records a NIC of a VM on an L3 network and reserves its
	// address; a retried call finds the NIC and address it made.
	VMNICAttach = "db.VMNICAttach"
	// VMNICRelease frees a NIC's addresses and deletes its record; a NIC
	// that is gone is fine.
	VMNICRelease = "db.VMNICRelease"
	// VMNICGet describes a NIC with its VM's state and host.
	VMNICGet = "db.VMNICGet"
)

// StaticIPTag is the system tag prefix of a static address:
// "staticIp::<l3Uuid>::<ip>".
const StaticIPTag = "staticIp::"

// NICAttachParams adds a NIC to a VM. NICUUID is chosen by the caller so
// that a retried step finds its own rows; StaticIP, when set, is the
// address it must get; DeviceID, when set, is the device it takes (else
// the next free one).
type NICAttachParams struct {
	VMUUID   string `json:"vmUuid"`
	L3UUID   string `json:"l3NetworkUuid"`
	NICUUID  string `json:"nicUuid"`
	StaticIP string `json:"staticIp,omitempty"`
	DeviceID *int   `json:"deviceId,omitempty"`
}

// NICRef names a VM NIC.
type NICRef struct {
	NICUUID string `json:"nicUuid"`
}

// NICResult is a NIC as its host needs it, with its VM's state and host.
type NICResult struct {
	VMUUID   string          `json:"vmUuid"`
	NIC      hostapi.NICSpec `json:"nic"`
	State    string          `json:"state"`
	HostUUID string          `json:"hostUuid"`
}
