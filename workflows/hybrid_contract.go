package workflows

import "github.com/zcloud/zcloud/activities"

// The hybrid cloud's activity contract: names, params and results of the
// activities that call Alibaba Cloud (implemented by activities/aliyun). It
// lives here, beside the workflows that use it, so that workflows import no
// I/O package; activities/aliyun imports it.

// Hybrid workflow names (stable: they are in every history).
const (
	HybridAddKey          = "zcloud.HybridAddKey"
	HybridRead            = "zcloud.HybridRead"
	HybridSync            = "zcloud.HybridSync"
	HybridAddDataCenter   = "zcloud.HybridAddDataCenter"
	HybridAddIdentityZone = "zcloud.HybridAddIdentityZone"
	HybridCreate          = "zcloud.HybridCreate"
	HybridDeleteRemote    = "zcloud.HybridDeleteRemote"
	HybridCreateEcs       = "zcloud.HybridCreateEcs"
	HybridEcsOp           = "zcloud.HybridEcsOp"
	HybridEipOp           = "zcloud.HybridEipOp"
)

// Hybrid activity names.
const (
	ActAliyunAddKey          = "aliyun.AddKey"
	ActAliyunRead            = "aliyun.Read"
	ActAliyunSync            = "aliyun.Sync"
	ActAliyunAddDataCenter   = "aliyun.AddDataCenter"
	ActAliyunAddIdentityZone = "aliyun.AddIdentityZone"
	ActAliyunCreate          = "aliyun.Create"
	ActAliyunDelete          = "aliyun.Delete"
	ActAliyunWait            = "aliyun.Wait"
	ActAliyunRecord          = "aliyun.Record"
	ActAliyunAction          = "aliyun.Action"
	ActAliyunLookup          = "aliyun.Lookup"
	ActHybridDeleteLocal     = "aliyun.DeleteLocal"
	ActHybridEcsTransition   = "aliyun.EcsTransition"
	ActAliyunUploadImage     = "aliyun.UploadImage"
	ActAliyunDeleteObject    = "aliyun.DeleteObject"
	ActHybridAddVpnConfig    = "aliyun.AddVpnConfig"
)

// Kinds of remote resources the generic steps handle.
const (
	KindVpc               = "vpc"
	KindVSwitch           = "vswitch"
	KindSecurityGroup     = "securityGroup"
	KindSecurityGroupRule = "securityGroupRule"
	KindEip               = "eip"
	KindInstance          = "instance"
	KindImage             = "image"
	KindOssBucket         = "ossBucket"
	KindVpnGateway        = "vpnGateway"
	KindUserGateway       = "userGateway"
	KindVpnConnection     = "vpnConnection"
	KindIkeConfig         = "ikeConfig"
	KindIpsecConfig       = "ipsecConfig"
	KindVirtualRouter     = "virtualRouter"
	KindRouteEntry        = "routeEntry"
)

// Things a Read or Sync names.
const (
	ReadRegions      = "regions"
	ReadZones        = "zones"
	ReadInstanceType = "instanceTypes"
	ReadVncURL       = "vncUrl"
	ReadOssBuckets   = "ossBuckets"
	// ReadVpnConfiguration is a VPN connection's configuration for the
	// peer device (GetVpcVpnConfigurationFromRemote).
	ReadVpnConfiguration = "vpnConfiguration"

	SyncDataCenter    = "dataCenter"
	SyncIdentityZones = "identityZones"
)

// AddKeyParams adds an AccessKey: its secret arrives sealed to the control
// plane's public key, never in clear.
type AddKeyParams struct {
	UUID         string   `json:"uuid"`
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Type         string   `json:"type"`
	AKey         string   `json:"akey"`
	SealedSecret string   `json:"sealedSecret"`
	AccountUUID  string   `json:"accountUuid"`
	SystemTags   []string `json:"systemTags,omitempty"`
	UserTags     []string `json:"userTags,omitempty"`
}

// HybridParams is what most hybrid workflows and activities take: the
// caller's account (whose current AccessKey is used), the thing to act on
// and the API's params.
type HybridParams struct {
	What        string         `json:"what"` // a Kind, Read* or Sync* constant
	UUID        string         `json:"uuid,omitempty"`
	AccountUUID string         `json:"accountUuid"`
	Args        map[string]any `json:"args,omitempty"`
	SystemTags  []string       `json:"systemTags,omitempty"`
	UserTags    []string       `json:"userTags,omitempty"`
}

// RemoteRef names one remote resource: enough to call Alibaba about it.
type RemoteRef struct {
	Kind        string `json:"kind"`
	UUID        string `json:"uuid,omitempty"` // the local row, when there is one
	ID          string `json:"id"`             // Alibaba's id (i-..., vpc-...)
	Region      string `json:"region"`
	AccountUUID string `json:"accountUuid"`
	// Extra carries what a delete needs beyond the id (a rule's fields, an
	// EIP's instance).
	Extra map[string]string `json:"extra,omitempty"`
}

// WaitParams waits for a remote resource to reach one of the states, or
// to be gone.
type WaitParams struct {
	Ref  RemoteRef `json:"ref"`
	Want []string  `json:"want,omitempty"`
	Gone bool      `json:"gone,omitempty"`
}

// RecordParams records a remote resource in the inventory under UUID.
type RecordParams struct {
	Ref        RemoteRef      `json:"ref"`
	Args       map[string]any `json:"args,omitempty"`
	SystemTags []string       `json:"systemTags,omitempty"`
	UserTags   []string       `json:"userTags,omitempty"`
}

// ActionParams runs one remote action on a resource: start, stop, reboot,
// modify (instances), associate, unassociate (EIPs).
type ActionParams struct {
	Ref    RemoteRef      `json:"ref"`
	Action string         `json:"action"`
	Args   map[string]any `json:"args,omitempty"`
}

// Remote actions.
const (
	ActionStart       = "start"
	ActionStop        = "stop"
	ActionReboot      = "reboot"
	ActionModify      = "modify"
	ActionAssociate   = "associate"
	ActionUnassociate = "unassociate"
)

// LocalRef names a local row of a hybrid resource.
type LocalRef struct {
	Resource string `json:"resource"`
	UUID     string `json:"uuid"`
	// Optional makes a lookup of a missing row answer an empty reference
	// instead of NotFound (deleting what is gone succeeds).
	Optional bool `json:"optional,omitempty"`
}

// EcsTransitionParams moves an instance's local status from one of From to
// To with one conditional update (per-resource serialization).
type EcsTransitionParams struct {
	UUID string   `json:"uuid"`
	From []string `json:"from,omitempty"`
	To   string   `json:"to"`
}

// EcsOpParams asks for an instance operation (start, stop, reboot, delete,
// modify).
type EcsOpParams struct {
	UUID        string         `json:"uuid"`
	Op          string         `json:"op"`
	AccountUUID string         `json:"accountUuid"`
	Args        map[string]any `json:"args,omitempty"`
}

// EipOpParams attaches an EIP to an ECS instance or detaches it.
type EipOpParams struct {
	EipUUID     string `json:"eipUuid"`
	EcsUUID     string `json:"ecsUuid,omitempty"`
	Attach      bool   `json:"attach"`
	AccountUUID string `json:"accountUuid"`
}

// HybridResult is the result of the hybrid workflows: the job result of
// activities.Result under a name that reads naturally in this package.
type HybridResult = activities.Result

// UploadParams uploads a local image into the current OSS bucket of a data
// center.
type UploadParams struct {
	ImageUUID      string `json:"imageUuid"`
	DataCenterUUID string `json:"dataCenterUuid"`
	AccountUUID    string `json:"accountUuid"`
}

// ObjectRef names an OSS object.
type ObjectRef struct {
	AccountUUID string `json:"accountUuid"`
	Region      string `json:"region"`
	Bucket      string `json:"bucket"`
	Object      string `json:"object"`
	Size        int64  `json:"size,omitempty"`
	MD5         string `json:"md5,omitempty"`
	Format      string `json:"format,omitempty"`
	Platform    string `json:"platform,omitempty"`
	Arch        string `json:"arch,omitempty"`
}
