package activities

import "github.com/zcloud/zcloud/activities/hostapi"

// Activities of CloneVmInstance and ReimageVmInstance.
const (
	VMClonePlan     = "db.VMClonePlan"
	VMCloneSetImage = "db.VMCloneSetImage"
	VMCloneResult   = "db.VMCloneResult"
	VMReimageCheck  = "db.VMReimageCheck"
)

// CloneVMParams are CloneVmInstance's params, resolved by the API: one new
// VM per name, its UUID made by the API.
type CloneVMParams struct {
	SourceVMUUID string   `json:"vmInstanceUuid"`
	VMUUIDs      []string `json:"vmUuids"`
	Names        []string `json:"names"`
	Strategy     string   `json:"strategy"`
	// Full also copies the data volumes; otherwise only the root volume.
	Full        bool   `json:"full"`
	PSUUID      string `json:"primaryStorageUuidForRootVolume"`
	DataPSUUID  string `json:"primaryStorageUuidForDataVolume"`
	ClusterUUID string `json:"clusterUuid"`
	HostUUID    string `json:"hostUuid"`
	AccountUUID string `json:"accountUuid"`
}

// CloneVMPlan is how the clones are made: the create request of each (the
// VM creation saga runs it), and the source volume each clone volume
// copies, indexed by the clone volume's device ID (0 is the root volume),
// on the host that holds them.
type CloneVMPlan struct {
	Creates  []CreateVMParams     `json:"creates"`
	Sources  []hostapi.VolumeSpec `json:"sources"`
	CopyHost string               `json:"copyHost"`
}

// CloneImageParams gives a clone its source's image: the VM's image,
// architecture and guest OS type and its root volume's image.
type CloneImageParams struct {
	VMUUID       string `json:"vmUuid"`
	SourceVMUUID string `json:"sourceVmUuid"`
}

// CloneError is ZStack's ErrorCode of a clone that failed.
type CloneError struct {
	Code        string `json:"code"`
	Description string `json:"description"`
	Details     string `json:"details,omitempty"`
}

// CloneOutcome is one clone: the VM made, or why it was not.
type CloneOutcome struct {
	VMUUID string      `json:"vmUuid,omitempty"`
	Error  *CloneError `json:"error,omitempty"`
}

// CloneResultParams renders CloneVmInstance's reply (ZStack's
// CloneVmInstanceResults) from the outcome of each clone, in name order.
type CloneResultParams struct {
	Outcomes []CloneOutcome `json:"outcomes"`
}
