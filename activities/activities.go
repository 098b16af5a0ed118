// Package activities is the contract of the control plane's activities:
// their names, params and results. Workflows depend on this package only;
// the implementations live in activities/db (they touch the store), and the
// host agent's contract in activities/hostapi.
package activities

import (
	"encoding/json"
	"time"

	"github.com/zcloud/zcloud/activities/hostapi"
)

// TaskQueue is the control plane's queue.
const TaskQueue = "zcloud"

// SimQueue is polled by the process that hosts simulated host agents.
const SimQueue = "zcloud-sim"

// ErrType is the ApplicationError type of ZCloud business errors; their
// details carry a models.Error.
const ErrType = "ZCloudError"

// Activity names.
const (
	RunOp = "db.RunOp"

	VMCreateRecord    = "db.VMCreateRecord"
	VMDeleteRecord    = "db.VMDeleteRecord"
	VMAllocateHost    = "db.VMAllocateHost"
	VMReleaseHost     = "db.VMReleaseHost"
	VMAllocateVolumes = "db.VMAllocateVolumes"
	VMReleaseVolumes  = "db.VMReleaseVolumes"
	VMAllocateNICs    = "db.VMAllocateNICs"
	VMReleaseNICs     = "db.VMReleaseNICs"
	VMAllocateIPs     = "db.VMAllocateIPs"
	VMReleaseIPs      = "db.VMReleaseIPs"
	VMSpec            = "db.VMSpec"
	VMSetState        = "db.VMSetState"
	VMTransition      = "db.VMTransition"
	VMExpungeRecord   = "db.VMExpungeRecord"
	DeletePolicy      = "db.DeletePolicy"

	HostRecordConnect = "db.HostRecordConnect"
	HostRecordPing    = "db.HostRecordPing"
	HostInfo          = "db.HostInfo"

	// KVMDeployAgent and KVMUndeployAgent install and remove the agent of
	// a KVM host over SSH. They are regular activities (minutes, network)
	// that read the host's SSH credentials from the store themselves, so
	// that no password is ever in a workflow history.
	KVMDeployAgent   = "kvm.DeployAgent"
	KVMUndeployAgent = "kvm.UndeployAgent"

	// BSDeployAgent and BSUndeployAgent do the same for the agent of an
	// ImageStore backup storage.
	BSDeployAgent   = "bs.DeployAgent"
	BSUndeployAgent = "bs.UndeployAgent"
	// BSRecordConnect records what a backup storage agent reported.
	BSRecordConnect = "db.BSRecordConnect"
	// ImageAddRecord, ImageRecordDownloaded and ImageDeleteRecord keep an
	// image's record while its backup storages download it.
	ImageAddRecord        = "db.ImageAddRecord"
	ImageRecordDownloaded = "db.ImageRecordDownloaded"
	ImageDeleteRecord     = "db.ImageDeleteRecord"

	// Render renders a value as a job's result (JSON is no workflow code's
	// business).
	Render = "db.Render"

	// HostVMs lists the VMs on a host.
	HostVMs = "db.HostVMs"

	SimEnsureAgent = "sim.EnsureAgent"
	SimStopAgent   = "sim.StopAgent"
)

// Result is what a job returns to its poller: the body of a 200 reply, as
// {Key: Value}, or {} when Key is empty (delete, expunge).
type Result struct {
	Key   string          `json:"key,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// OpParams asks RunOp for one named database operation: the generic
// single-step job behind creates, updates, deletes and attaches of
// resources that have no host-side work.
type OpParams struct {
	Op          string          `json:"op"`
	Args        json.RawMessage `json:"args"`
	AccountUUID string          `json:"accountUuid"`
	SystemTags  []string        `json:"systemTags,omitempty"`
	UserTags    []string        `json:"userTags,omitempty"`
}

// CreateVMParams are CreateVmInstance's params, resolved by the API.
type CreateVMParams struct {
	VMUUID               string            `json:"vmUuid"`
	Name                 string            `json:"name"`
	Description          string            `json:"description"`
	InstanceOfferingUUID string            `json:"instanceOfferingUuid"`
	CPUNum               int               `json:"cpuNum"`
	MemorySize           int64             `json:"memorySize"`
	ImageUUID            string            `json:"imageUuid"`
	L3NetworkUUIDs       []string          `json:"l3NetworkUuids"`
	DefaultL3NetworkUUID string            `json:"defaultL3NetworkUuid"`
	RootDiskSize         int64             `json:"rootDiskSize"`
	DataDiskSizes        []int64           `json:"dataDiskSizes"`
	ZoneUUID             string            `json:"zoneUuid"`
	ClusterUUID          string            `json:"clusterUuid"`
	HostUUID             string            `json:"hostUuid"`
	PSUUID               string            `json:"primaryStorageUuidForRootVolume"`
	Strategy             string            `json:"strategy"`
	Platform             string            `json:"platform"`
	AccountUUID          string            `json:"accountUuid"`
	SystemTags           []string          `json:"systemTags"`
	UserTags             []string          `json:"userTags"`
	StaticIPs            map[string]string `json:"staticIps"` // L3 UUID -> IP, from staticIp:: tags
}

// HostAllocation is where a VM was placed.
type HostAllocation struct {
	VMUUID      string `json:"vmUuid"`
	HostUUID    string `json:"hostUuid"`
	ClusterUUID string `json:"clusterUuid"`
	ZoneUUID    string `json:"zoneUuid"`
	PSUUID      string `json:"psUuid"`
	CPU         int64  `json:"cpu"`
	Memory      int64  `json:"memory"`
	DiskSize    int64  `json:"diskSize"`
}

// VMRef names a VM in simple activity params.
type VMRef struct {
	VMUUID string `json:"vmUuid"`
}

// VMStateParams sets a VM's state (and host, when SetHost).
type VMStateParams struct {
	VMUUID   string `json:"vmUuid"`
	State    string `json:"state"`
	SetHost  bool   `json:"setHost"`
	HostUUID string `json:"hostUuid"`
}

// VMTransitionParams moves a VM through its state machine.
type VMTransitionParams struct {
	VMUUID string `json:"vmUuid"`
	Event  string `json:"event"`
}

// VMTransitionResult tells what the VM was before.
type VMTransitionResult struct {
	Prev string `json:"prev"`
}

// VMSpecResult is the host-side description of a VM and where it lives.
type VMSpecResult struct {
	Spec     hostapi.VMSpec `json:"spec"`
	HostUUID string         `json:"hostUuid"`
	CPU      int64          `json:"cpu"`
	Memory   int64          `json:"memory"`
	State    string         `json:"state"`
	// VolumeHosts maps each instantiated volume to the host it lives on.
	VolumeHosts map[string]string `json:"volumeHosts"`
}

// HostRef names a host.
type HostRef struct {
	HostUUID string `json:"hostUuid"`
}

// HostInfoResult is what host workflows need to know about a host.
type HostInfoResult struct {
	HostUUID       string `json:"hostUuid"`
	HypervisorType string `json:"hypervisorType"`
	State          string `json:"state,omitempty"`
	CPUCapacity    int64  `json:"cpuCapacity"`
	MemoryCapacity int64  `json:"memoryCapacity"`
}

// HostConnectParams records the facts of a freshly connected host.
type HostConnectParams struct {
	HostUUID string            `json:"hostUuid"`
	Facts    hostapi.HostFacts `json:"facts"`
}

// HostPingParams records a ping: its result, or its failure.
type HostPingParams struct {
	HostUUID string             `json:"hostUuid"`
	OK       bool               `json:"ok"`
	Result   hostapi.PingResult `json:"result"`
	Error    string             `json:"error"`
}

// HostPingRecord says what the control plane concluded from a ping.
type HostPingRecord struct {
	Reconnect bool `json:"reconnect"`
	Exists    bool `json:"exists"`
	// Interval is the current ping interval (global config host.ping.interval).
	Interval time.Duration `json:"interval"`
	// ReconcileRouters asks for the host's routers to be realised again:
	// the host answers after routers on it were marked Unknown.
	ReconcileRouters bool `json:"reconcileRouters,omitempty"`
}

// SimAgentParams starts (or ensures running) a simulated host agent.
type SimAgentParams struct {
	HostUUID    string `json:"hostUuid"`
	CPUNum      int    `json:"cpuNum"`
	MemoryBytes int64  `json:"memoryBytes"`
}

// Inventory renders a resource as a job result.
const Inventory = "db.Inventory"

// InventoryParams names the resource to render and the reply key.
type InventoryParams struct {
	Resource string `json:"resource"`
	UUID     string `json:"uuid"`
	Key      string `json:"key"`
}

// VMAllocParams carries a create request and its placement to the
// allocation steps.
type VMAllocParams struct {
	P     CreateVMParams `json:"p"`
	Alloc HostAllocation `json:"alloc"`
}

// VMStartAllocParams asks for a host for an existing (stopped) VM.
type VMStartAllocParams struct {
	VMUUID      string `json:"vmUuid"`
	HostUUID    string `json:"hostUuid"`
	ClusterUUID string `json:"clusterUuid"`
}

// VolumeHostParams records which host a volume was instantiated on.
const VolumeSetHost = "db.VolumeSetHost"

// VolumeHost pairs a volume with the host it lives on.
type VolumeHost struct {
	VolumeUUID  string `json:"volumeUuid"`
	HostUUID    string `json:"hostUuid"`
	InstallPath string `json:"installPath"`
	ActualSize  int64  `json:"actualSize"`
}

// VMAllocateHostForStart picks a host for a stopped VM.
const VMAllocateHostForStart = "db.VMAllocateHostForStart"

// BSRef names a backup storage.
type BSRef struct {
	BSUUID string `json:"backupStorageUuid"`
}

// BSConnectParams records what a backup storage agent reported on connect.
type BSConnectParams struct {
	BSUUID            string `json:"backupStorageUuid"`
	AgentVersion      string `json:"agentVersion"`
	URL               string `json:"url"`
	TotalCapacity     int64  `json:"totalCapacity"`
	AvailableCapacity int64  `json:"availableCapacity"`
}

// AddImageParams adds an image: the API's params, as RunOp takes them.
type AddImageParams struct {
	Op        OpParams `json:"op"`
	ImageUUID string   `json:"imageUuid"`
}

// ImageAddRecordResult says which backup storages still have to fetch the
// image (those with an agent); the others hold it already.
type ImageAddRecordResult struct {
	AgentBSes []string `json:"agentBackupStorages"`
	URL       string   `json:"url"`
	Format    string   `json:"format"`
}

// ImageDownloadedParams records one backup storage's copy of an image.
type ImageDownloadedParams struct {
	ImageUUID  string `json:"imageUuid"`
	BSUUID     string `json:"backupStorageUuid"`
	InstallURL string `json:"installUrl"`
	// InstallPath is the copy's file on the backup storage host, what an
	// Sftp backup storage records.
	InstallPath string `json:"installPath,omitempty"`
	Format      string `json:"format"`
	Size        int64  `json:"size"`
	ActualSize  int64  `json:"actualSize"`
	MD5Sum      string `json:"md5Sum"`
}

// HostVM is a VM on a host and its state.
type HostVM struct {
	UUID  string `db:"uuid" json:"uuid"`
	State string `db:"state" json:"state"`
}

// RenderParams is a value to render as {Key: Value}.
type RenderParams struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}
