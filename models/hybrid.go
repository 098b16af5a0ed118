package models

// Hybrid cloud (FEATURES.md §6): Alibaba Cloud resources mirrored in the
// inventory. Each entity keeps ZStack's inventory field names; the remote
// identifier (ecsInstanceId, ecsVpcId...) ties a row to its Alibaba resource.

// HybridTypeAliyun is the only hybrid type ZCloud drives.
const HybridTypeAliyun = "aliyun"

// ECS instance states as Alibaba reports them, plus the local transitional
// ones ZCloud sets while an operation runs (per-resource serialization).
const (
	EcsPending  = "Pending"
	EcsStarting = "Starting"
	EcsRunning  = "Running"
	EcsStopping = "Stopping"
	EcsStopped  = "Stopped"
	EcsDeleting = "Deleting"
	EcsCreating = "Creating"
)

// HybridAccount is an Alibaba AccessKey (HybridAccountInventory). The
// secret is sealed at rest and never leaves the store through the API.
type HybridAccount struct {
	UUID           string `db:"uuid" json:"uuid"`
	Name           string `db:"name" json:"name"`
	Description    Ref    `db:"description" json:"description,omitempty"`
	AccountUUID    string `db:"account_uuid" json:"accountUuid"`
	UserUUID       Ref    `db:"user_uuid" json:"userUuid,omitempty"`
	Type           string `db:"type" json:"type"`
	AKey           string `db:"akey" json:"akey"`
	Secret         string `db:"secret" json:"-"`
	HybridAcctID   string `db:"hybrid_account_id" json:"hybridAccountId"`
	HybridUserID   string `db:"hybrid_user_id" json:"hybridUserId"`
	HybridUserName string `db:"hybrid_user_name" json:"hybridUserName"`
	Current        string `db:"is_current" json:"current"` // "true" or "false", as ZStack
	CreateDate     Time   `db:"create_date" json:"createDate"`
	LastOpDate     Time   `db:"last_op_date" json:"lastOpDate"`
}

// DataCenter is an Alibaba region added to the inventory (DataCenterInventory).
type DataCenter struct {
	UUID        string `db:"uuid" json:"uuid"`
	Deleted     string `db:"deleted" json:"deleted"`
	RegionName  string `db:"region_name" json:"regionName"`
	DCType      string `db:"dc_type" json:"dcType"`
	RegionID    string `db:"region_id" json:"regionId"`
	Description Ref    `db:"description" json:"description,omitempty"`
	Endpoint    string `db:"endpoint" json:"endpoint"`
	CreateDate  Time   `db:"create_date" json:"createDate"`
	LastOpDate  Time   `db:"last_op_date" json:"lastOpDate"`
}

// IdentityZone is an Alibaba zone of a data center (IdentityZoneInventory).
type IdentityZone struct {
	UUID           string `db:"uuid" json:"uuid"`
	Closed         string `db:"closed" json:"closed"`
	DataCenterUUID string `db:"data_center_uuid" json:"dataCenterUuid"`
	ZoneID         string `db:"zone_id" json:"zoneId"`
	Type           string `db:"type" json:"type"`
	ZoneName       string `db:"zone_name" json:"zoneName"`
	Description    Ref    `db:"description" json:"description,omitempty"`
	CreateDate     Time   `db:"create_date" json:"createDate"`
	LastOpDate     Time   `db:"last_op_date" json:"lastOpDate"`
}

// EcsVpc is an Alibaba VPC (EcsVpcInventory).
type EcsVpc struct {
	UUID           string `db:"uuid" json:"uuid"`
	EcsVpcID       string `db:"ecs_vpc_id" json:"ecsVpcId"`
	DataCenterUUID string `db:"data_center_uuid" json:"dataCenterUuid"`
	Status         string `db:"status" json:"status"`
	Deleted        string `db:"deleted" json:"deleted"`
	Name           string `db:"name" json:"name"`
	CidrBlock      string `db:"cidr_block" json:"cidrBlock"`
	VRouterID      string `db:"v_router_id" json:"vRouterId"`
	Description    Ref    `db:"description" json:"description,omitempty"`
	CreateDate     Time   `db:"create_date" json:"createDate"`
	LastOpDate     Time   `db:"last_op_date" json:"lastOpDate"`
}

// EcsVSwitch is an Alibaba VSwitch (EcsVSwitchInventory).
type EcsVSwitch struct {
	UUID                    string `db:"uuid" json:"uuid"`
	VSwitchID               string `db:"v_switch_id" json:"vSwitchId"`
	Status                  string `db:"status" json:"status"`
	CidrBlock               string `db:"cidr_block" json:"cidrBlock"`
	AvailableIPAddressCount int64  `db:"available_ip_address_count" json:"availableIpAddressCount"`
	Description             Ref    `db:"description" json:"description,omitempty"`
	Name                    string `db:"name" json:"name"`
	EcsVpcUUID              string `db:"ecs_vpc_uuid" json:"ecsVpcUuid"`
	IdentityZoneUUID        string `db:"identity_zone_uuid" json:"identityZoneUuid"`
	CreateDate              Time   `db:"create_date" json:"createDate"`
	LastOpDate              Time   `db:"last_op_date" json:"lastOpDate"`
}

// EcsSecurityGroup is an Alibaba security group (EcsSecurityGroupInventory).
type EcsSecurityGroup struct {
	UUID            string `db:"uuid" json:"uuid"`
	EcsVpcUUID      string `db:"ecs_vpc_uuid" json:"ecsVpcUuid"`
	SecurityGroupID string `db:"security_group_id" json:"securityGroupId"`
	Name            string `db:"name" json:"name"`
	Description     Ref    `db:"description" json:"description,omitempty"`
	CreateDate      Time   `db:"create_date" json:"createDate"`
	LastOpDate      Time   `db:"last_op_date" json:"lastOpDate"`
}

// EcsSecurityGroupRule is one rule of a security group
// (EcsSecurityGroupRuleInventory).
type EcsSecurityGroupRule struct {
	UUID                 string `db:"uuid" json:"uuid"`
	EcsSecurityGroupUUID string `db:"ecs_security_group_uuid" json:"ecsSecurityGroupUuid"`
	Protocol             string `db:"protocol" json:"protocol"`
	PortRange            string `db:"port_range" json:"portRange"`
	CidrIP               string `db:"cidr_ip" json:"cidrIp"`
	Priority             string `db:"priority" json:"priority"`
	Direction            string `db:"direction" json:"direction"`
	NicType              string `db:"nic_type" json:"nicType"`
	Policy               string `db:"policy" json:"policy"`
	Description          Ref    `db:"description" json:"description,omitempty"`
	CreateDate           Time   `db:"create_date" json:"createDate"`
	LastOpDate           Time   `db:"last_op_date" json:"lastOpDate"`
}

// EcsImage is an Alibaba image (EcsImageInventory).
type EcsImage struct {
	UUID           string `db:"uuid" json:"uuid"`
	LocalImageUUID Ref    `db:"local_image_uuid" json:"localImageUuid,omitempty"`
	EcsImageID     string `db:"ecs_image_id" json:"ecsImageId"`
	Name           string `db:"name" json:"name"`
	EcsImageSize   int64  `db:"ecs_image_size" json:"ecsImageSize"`
	Description    Ref    `db:"description" json:"description,omitempty"`
	DataCenterUUID string `db:"data_center_uuid" json:"dataCenterUuid"`
	Platform       string `db:"platform" json:"platform"`
	Type           string `db:"type" json:"type"` // system (public) or self (custom)
	OssMd5Sum      Ref    `db:"oss_md5_sum" json:"ossMd5Sum,omitempty"`
	Format         string `db:"format" json:"format"`
	OSName         string `db:"os_name" json:"osName"`
	CreateDate     Time   `db:"create_date" json:"createDate"`
	LastOpDate     Time   `db:"last_op_date" json:"lastOpDate"`
}

// EcsInstance is an Alibaba ECS instance (EcsInstanceInventory).
type EcsInstance struct {
	UUID                  string `db:"uuid" json:"uuid"`
	LocalVMInstanceUUID   Ref    `db:"local_vm_instance_uuid" json:"localVmInstanceUuid,omitempty"`
	EcsInstanceID         string `db:"ecs_instance_id" json:"ecsInstanceId"`
	Name                  string `db:"name" json:"name"`
	EcsStatus             string `db:"ecs_status" json:"ecsStatus"`
	CPUCores              int64  `db:"cpu_cores" json:"cpuCores"`
	MemorySize            int64  `db:"memory_size" json:"memorySize"`
	EcsInstanceType       string `db:"ecs_instance_type" json:"ecsInstanceType"`
	EcsBandWidth          int64  `db:"ecs_band_width" json:"ecsBandWidth"`
	EcsRootVolumeID       string `db:"ecs_root_volume_id" json:"ecsRootVolumeId"`
	EcsRootVolumeCategory string `db:"ecs_root_volume_category" json:"ecsRootVolumeCategory"`
	EcsRootVolumeSize     int64  `db:"ecs_root_volume_size" json:"ecsRootVolumeSize"`
	PrivateIPAddress      string `db:"private_ip_address" json:"privateIpAddress"`
	PublicIPAddress       string `db:"public_ip_address" json:"publicIpAddress"`
	EcsVSwitchUUID        string `db:"ecs_vswitch_uuid" json:"ecsVSwitchUuid"`
	EcsImageUUID          string `db:"ecs_image_uuid" json:"ecsImageUuid"`
	EcsSecurityGroupUUID  string `db:"ecs_security_group_uuid" json:"ecsSecurityGroupUuid"`
	IdentityZoneUUID      string `db:"identity_zone_uuid" json:"identityZoneUuid"`
	DataCenterUUID        string `db:"data_center_uuid" json:"-"`
	ChargeType            string `db:"charge_type" json:"chargeType"`
	ExpireDate            Time   `db:"expire_date" json:"expireDate,omitempty"`
	Description           Ref    `db:"description" json:"description,omitempty"`
	CreateDate            Time   `db:"create_date" json:"createDate"`
	LastOpDate            Time   `db:"last_op_date" json:"lastOpDate"`
}

// HybridEip is an Alibaba elastic IP (HybridEipAddressInventory).
type HybridEip struct {
	UUID                 string `db:"uuid" json:"uuid"`
	EipID                string `db:"eip_id" json:"eipId"`
	BandWidth            string `db:"band_width" json:"bandWidth"`
	DataCenterUUID       string `db:"data_center_uuid" json:"dataCenterUuid"`
	AllocateResourceUUID Ref    `db:"allocate_resource_uuid" json:"allocateResourceUuid,omitempty"`
	AllocateResourceType Ref    `db:"allocate_resource_type" json:"allocateResourceType,omitempty"`
	Status               string `db:"status" json:"status"`
	EipAddress           string `db:"eip_address" json:"eipAddress"`
	EipType              string `db:"eip_type" json:"eipType"`
	Name                 string `db:"name" json:"name"`
	ChargeType           string `db:"charge_type" json:"chargeType"`
	Description          Ref    `db:"description" json:"description,omitempty"`
	AllocateTime         Time   `db:"allocate_time" json:"allocateTime,omitempty"`
	CreateDate           Time   `db:"create_date" json:"createDate"`
	LastOpDate           Time   `db:"last_op_date" json:"lastOpDate"`
}

// OssBucket is an OSS bucket of a data center (OssBucketInventory).
type OssBucket struct {
	UUID           string `db:"uuid" json:"uuid"`
	BucketName     string `db:"bucket_name" json:"bucketName"`
	DataCenterUUID string `db:"data_center_uuid" json:"dataCenterUuid"`
	Current        string `db:"is_current" json:"current"` // "true": the data center's image-upload bucket
	RegionName     string `db:"region_name" json:"regionName"`
	Description    Ref    `db:"description" json:"description,omitempty"`
	CreateDate     Time   `db:"create_date" json:"createDate"`
	LastOpDate     Time   `db:"last_op_date" json:"lastOpDate"`
}

// VpcVpnGateway is an Alibaba VPN gateway (VpcVpnGatewayInventory); they
// are bought at Alibaba and synced here.
type VpcVpnGateway struct {
	UUID           string `db:"uuid" json:"uuid"`
	Type           string `db:"type" json:"type"`
	GatewayID      string `db:"gateway_id" json:"gatewayId"`
	VSwitchUUID    Ref    `db:"v_switch_uuid" json:"vSwitchUuid,omitempty"`
	DataCenterUUID string `db:"data_center_uuid" json:"dataCenterUuid"`
	PublicIP       string `db:"public_ip" json:"publicIp"`
	Spec           string `db:"spec" json:"spec"`
	Name           string `db:"name" json:"name"`
	Description    Ref    `db:"description" json:"description,omitempty"`
	Status         string `db:"status" json:"status"`
	BusinessStatus string `db:"business_status" json:"businessStatus"`
	EndDate        Time   `db:"end_date" json:"endDate,omitempty"`
	CreateDate     Time   `db:"create_date" json:"createDate"`
	LastOpDate     Time   `db:"last_op_date" json:"lastOpDate"`
}

// VpcUserVpnGateway is an Alibaba customer gateway: the local end of a VPN
// (VpcUserVpnGatewayInventory).
type VpcUserVpnGateway struct {
	UUID           string `db:"uuid" json:"uuid"`
	DataCenterUUID string `db:"data_center_uuid" json:"dataCenterUuid"`
	Type           string `db:"type" json:"type"`
	GatewayID      string `db:"gateway_id" json:"gatewayId"`
	IP             string `db:"ip" json:"ip"`
	Name           string `db:"name" json:"name"`
	Description    Ref    `db:"description" json:"description,omitempty"`
	CreateDate     Time   `db:"create_date" json:"createDate"`
	LastOpDate     Time   `db:"last_op_date" json:"lastOpDate"`
}

// VpcVpnIkeConfig is an IKE (phase 1) configuration
// (VpcVpnIkeConfigInventory). Its pre-shared key is encrypted at rest and
// never returned.
type VpcVpnIkeConfig struct {
	UUID            string `db:"uuid" json:"uuid"`
	Name            string `db:"name" json:"name"`
	Psk             string `db:"psk" json:"-"`
	Version         string `db:"version" json:"version"`
	Mode            string `db:"mode" json:"mode"`
	EncodeAlgorithm string `db:"encode_algorithm" json:"encodeAlgorithm"`
	AuthAlgorithm   string `db:"auth_algorithm" json:"authAlgorithm"`
	Pfs             string `db:"pfs" json:"pfs"`
	Lifetime        int64  `db:"lifetime" json:"lifetime"`
	LocalIP         Ref    `db:"local_ip" json:"localIp,omitempty"`
	RemoteIP        Ref    `db:"remote_ip" json:"remoteIp,omitempty"`
	Description     Ref    `db:"description" json:"description,omitempty"`
	CreateDate      Time   `db:"create_date" json:"createDate"`
	LastOpDate      Time   `db:"last_op_date" json:"lastOpDate"`
}

// VpcVpnIPSecConfig is an IPsec (phase 2) configuration
// (VpcVpnIpSecConfigInventory).
type VpcVpnIPSecConfig struct {
	UUID            string `db:"uuid" json:"uuid"`
	Name            string `db:"name" json:"name"`
	EncodeAlgorithm string `db:"encode_algorithm" json:"encodeAlgorithm"`
	AuthAlgorithm   string `db:"auth_algorithm" json:"authAlgorithm"`
	Pfs             string `db:"pfs" json:"pfs"`
	Lifetime        int64  `db:"lifetime" json:"lifetime"`
	Description     Ref    `db:"description" json:"description,omitempty"`
	CreateDate      Time   `db:"create_date" json:"createDate"`
	LastOpDate      Time   `db:"last_op_date" json:"lastOpDate"`
}

// VpcVpnConnection is an IPsec connection between a VPN gateway and a
// customer gateway (VpcVpnConnectionInventory).
type VpcVpnConnection struct {
	UUID            string `db:"uuid" json:"uuid"`
	Type            string `db:"type" json:"type"`
	Name            string `db:"name" json:"name"`
	Status          string `db:"status" json:"status"`
	Description     Ref    `db:"description" json:"description,omitempty"`
	ConnectionID    string `db:"connection_id" json:"connectionId"`
	DataCenterUUID  string `db:"data_center_uuid" json:"dataCenterUuid"`
	UserGatewayUUID Ref    `db:"user_gateway_uuid" json:"userGatewayUuid,omitempty"`
	VpnGatewayUUID  Ref    `db:"vpn_gateway_uuid" json:"vpnGatewayUuid,omitempty"`
	LocalSubnet     string `db:"local_subnet" json:"localSubnet"`
	RemoteSubnet    string `db:"remote_subnet" json:"remoteSubnet"`
	IkeConfigUUID   Ref    `db:"ike_config_uuid" json:"ikeConfigUuid,omitempty"`
	IpsecConfigUUID Ref    `db:"ipsec_config_uuid" json:"ipsecConfigUuid,omitempty"`
	CreateDate      Time   `db:"create_date" json:"createDate"`
	LastOpDate      Time   `db:"last_op_date" json:"lastOpDate"`
}

// VpcVirtualRouter is the VRouter of an Alibaba VPC (VpcVirtualRouterInventory).
type VpcVirtualRouter struct {
	UUID         string `db:"uuid" json:"uuid"`
	VrID         string `db:"vr_id" json:"vrId"`
	VpcUUID      string `db:"vpc_uuid" json:"vpcUuid"`
	RouteTableID string `db:"route_table_id" json:"-"`
	Name         string `db:"name" json:"name"`
	Description  Ref    `db:"description" json:"description,omitempty"`
	CreateDate   Time   `db:"create_date" json:"createDate"`
	LastOpDate   Time   `db:"last_op_date" json:"lastOpDate"`
}

// VpcVirtualRouteEntry is a route of a VRouter's route table
// (VpcVirtualRouteEntryInventory).
type VpcVirtualRouteEntry struct {
	UUID                 string `db:"uuid" json:"uuid"`
	RouteEntryID         string `db:"route_entry_id" json:"-"`
	Type                 string `db:"type" json:"type"` // System or Custom
	VRouterType          string `db:"v_router_type" json:"vRouterType"`
	Status               string `db:"status" json:"status"`
	DestinationCidrBlock string `db:"destination_cidr_block" json:"destinationCidrBlock"`
	NextHopID            string `db:"next_hop_id" json:"nextHopId"`
	VirtualRouterUUID    string `db:"virtual_router_uuid" json:"virtualRouterUuid"`
	NextHopType          string `db:"next_hop_type" json:"nextHopType"`
	CreateDate           Time   `db:"create_date" json:"createDate"`
	LastOpDate           Time   `db:"last_op_date" json:"lastOpDate"`
}
