package models

// Router appliance types and states. A VPC router is ZStack's
// VirtualRouterVm of applianceVmType "vpcvrouter"; ZCloud runs it as a
// network namespace on a host (see DESIGN.md, "Router appliance").
const (
	ApplianceVpcRouter   = "vpcvrouter"
	ApplianceVMType      = "ApplianceVm"
	VirtualRouterOffType = "VirtualRouter"

	// RouterConnected and RouterDisconnected are an appliance's status:
	// whether its host agent realized it the last time it was asked.
	RouterConnected    = "Connected"
	RouterDisconnected = "Disconnected"
)

// Router lifecycle actions (the VM APIs that reach a router, and
// ReconnectVirtualRouter).
const (
	RouterActStart     = "start"
	RouterActStop      = "stop"
	RouterActReboot    = "reboot"
	RouterActReconnect = "reconnect"
	RouterActDestroy   = "destroy"
	// RouterActMigrate moves a running router to another host (MigrateVm).
	RouterActMigrate = "migrate"
)

// VirtualRouterOffering (VirtualRouterOfferingInventory, an
// InstanceOfferingInventory with the router's networks and image).
type VirtualRouterOffering struct {
	Base
	CPUNum                int    `db:"cpu_num" json:"cpuNum"`
	MemorySize            int64  `db:"memory_size" json:"memorySize"`
	ReservedMemorySize    int64  `db:"reserved_memory_size" json:"reservedMemorySize"`
	Type                  string `db:"type" json:"type"`
	State                 string `db:"state" json:"state"`
	AllocatorStrategy     Ref    `db:"allocator_strategy" json:"allocatorStrategy,omitempty"`
	SortKey               int    `db:"sort_key" json:"sortKey"`
	ZoneUUID              string `db:"zone_uuid" json:"zoneUuid"`
	ManagementNetworkUUID string `db:"management_network_uuid" json:"managementNetworkUuid"`
	PublicNetworkUUID     string `db:"public_network_uuid" json:"publicNetworkUuid"`
	ImageUUID             string `db:"image_uuid" json:"imageUuid"`
	IsDefault             bool   `db:"is_default" json:"isDefault"`
}

// VirtualRouter (VpcRouterVmInventory ⊂ VirtualRouterVmInventory ⊂
// ApplianceVmInventory ⊂ VmInstanceInventory).
type VirtualRouter struct {
	Base
	ZoneUUID                  string `db:"zone_uuid" json:"zoneUuid"`
	ClusterUUID               string `db:"cluster_uuid" json:"clusterUuid"`
	HostUUID                  Ref    `db:"host_uuid" json:"hostUuid,omitempty"`
	LastHostUUID              Ref    `db:"last_host_uuid" json:"lastHostUuid,omitempty"`
	ImageUUID                 string `db:"image_uuid" json:"imageUuid"`
	InstanceOfferingUUID      string `db:"instance_offering_uuid" json:"instanceOfferingUuid"`
	ApplianceVMType           string `db:"appliance_vm_type" json:"applianceVmType"`
	ManagementNetworkUUID     string `db:"management_network_uuid" json:"managementNetworkUuid"`
	PublicNetworkUUID         string `db:"public_network_uuid" json:"publicNetworkUuid"`
	DefaultRouteL3NetworkUUID string `db:"default_route_l3_network_uuid" json:"defaultRouteL3NetworkUuid"`
	Type                      string `db:"type" json:"type"`
	HypervisorType            string `db:"hypervisor_type" json:"hypervisorType"`
	State                     string `db:"state" json:"state"`
	Status                    string `db:"status" json:"status"`
	CPUNum                    int    `db:"cpu_num" json:"cpuNum"`
	MemorySize                int64  `db:"memory_size" json:"memorySize"`
	Platform                  string `db:"platform" json:"platform"`
	Architecture              string `db:"architecture" json:"architecture"`
	// Generation orders the specs sent to the host: each spec read takes
	// the next one, and the agent ignores a spec older than one it applied.
	Generation                int64       `db:"generation" json:"-"`
	VirtualRouterOfferingUUID string      `db:"-" json:"virtualRouterOfferingUuid"`
	VMNics                    []RouterNic `db:"-" json:"vmNics"`
	AllVolumes                []any       `db:"-" json:"allVolumes"`
	VirtualRouterVips         []string    `db:"-" json:"virtualRouterVips"`
	DNS                       []string    `db:"-" json:"dns"`
	HARef                     []any       `db:"-" json:"haRef"`
	AgentPort                 int         `db:"-" json:"agentPort"`
}

// RouterNic is one NIC of a router (VmNicInventory): the public NIC holds
// the router's public IP, each VPC L3's NIC holds that L3's gateway.
type RouterNic struct {
	UUID           string `db:"uuid" json:"uuid"`
	VMInstanceUUID string `db:"vm_instance_uuid" json:"vmInstanceUuid"`
	L3NetworkUUID  string `db:"l3_network_uuid" json:"l3NetworkUuid"`
	IP             string `db:"ip" json:"ip"`
	MAC            string `db:"mac" json:"mac"`
	Netmask        string `db:"netmask" json:"netmask"`
	Gateway        string `db:"gateway" json:"gateway"`
	IPVersion      int    `db:"ip_version" json:"ipVersion"`
	DeviceID       int    `db:"device_id" json:"deviceId"`
	Type           string `db:"type" json:"type"`
	State          string `db:"state" json:"state"`
	HypervisorType string `db:"hypervisor_type" json:"hypervisorType"`
	DriverType     string `db:"driver_type" json:"driverType"`
	InternalName   string `db:"internal_name" json:"internalName"`
	MetaData       string `db:"-" json:"metaData"`
	CreateDate     Time   `db:"create_date" json:"createDate"`
	LastOpDate     Time   `db:"last_op_date" json:"lastOpDate"`
}

// Meta data of router NICs (ZStack's VmNicInventory.metaData).
const (
	NicMetaPublic = "1" // public NIC
	NicMetaVPC    = "4" // guest (VPC) NIC
)

// Vip (VipInventory): an address of a public L3 that services use.
type Vip struct {
	Base
	L3NetworkUUID      string   `db:"l3_network_uuid" json:"l3NetworkUuid"`
	IP                 string   `db:"ip" json:"ip"`
	Gateway            string   `db:"gateway" json:"gateway"`
	Netmask            string   `db:"netmask" json:"netmask"`
	PrefixLen          int      `db:"prefix_len" json:"prefixLen"`
	State              string   `db:"state" json:"state"`
	ServiceProvider    Ref      `db:"service_provider" json:"serviceProvider,omitempty"`
	UseFor             Ref      `db:"use_for" json:"useFor,omitempty"`
	System             bool     `db:"is_system" json:"system"`
	UsedIPUUID         string   `db:"used_ip_uuid" json:"usedIpUuid"`
	PeerL3NetworkUUIDs []string `db:"-" json:"peerL3NetworkUuids"`
	ServicesRefs       []any    `db:"-" json:"servicesRefs"`
}

// Services a VIP is used for (VipInventory.useFor).
const (
	VipUseEip   = "Eip"
	VipUsePF    = "PortForwarding"
	VipUseLB    = "LoadBalancer"
	VipUseIPsec = "IPsec"
	VipUseSNAT  = "SNAT"
)

// Eip (EipInventory).
type Eip struct {
	Base
	VipUUID   string `db:"vip_uuid" json:"vipUuid"`
	VipIP     string `db:"vip_ip" json:"vipIp"`
	VMNicUUID Ref    `db:"vm_nic_uuid" json:"vmNicUuid,omitempty"`
	GuestIP   Ref    `db:"guest_ip" json:"guestIp,omitempty"`
	State     string `db:"state" json:"state"`
}

// PortForwardingRule (PortForwardingRuleInventory).
type PortForwardingRule struct {
	Base
	VipUUID          string `db:"vip_uuid" json:"vipUuid"`
	VipIP            string `db:"vip_ip" json:"vipIp"`
	VipPortStart     int    `db:"vip_port_start" json:"vipPortStart"`
	VipPortEnd       int    `db:"vip_port_end" json:"vipPortEnd"`
	PrivatePortStart int    `db:"private_port_start" json:"privatePortStart"`
	PrivatePortEnd   int    `db:"private_port_end" json:"privatePortEnd"`
	ProtocolType     string `db:"protocol_type" json:"protocolType"`
	VMNicUUID        Ref    `db:"vm_nic_uuid" json:"vmNicUuid,omitempty"`
	GuestIP          Ref    `db:"guest_ip" json:"guestIp,omitempty"`
	AllowedCIDR      Ref    `db:"allowed_cidr" json:"allowedCidr,omitempty"`
	State            string `db:"state" json:"state"`
}

// LoadBalancer (LoadBalancerInventory).
type LoadBalancer struct {
	Base
	VipUUID   string                 `db:"vip_uuid" json:"vipUuid"`
	State     string                 `db:"state" json:"state"`
	Type      string                 `db:"type" json:"type"`
	Listeners []LoadBalancerListener `db:"-" json:"listeners"`
}

// LoadBalancerListener (LoadBalancerListenerInventory).
type LoadBalancerListener struct {
	Base
	LoadBalancerUUID    string                       `db:"load_balancer_uuid" json:"loadBalancerUuid"`
	InstancePort        int                          `db:"instance_port" json:"instancePort"`
	LoadBalancerPort    int                          `db:"load_balancer_port" json:"loadBalancerPort"`
	Protocol            string                       `db:"protocol" json:"protocol"`
	HealthCheckProtocol string                       `db:"health_check_protocol" json:"healthCheckProtocol"`
	HealthCheckURI      Ref                          `db:"health_check_uri" json:"healthCheckURI,omitempty"`
	VMNicRefs           []LoadBalancerListenerNicRef `db:"-" json:"vmNicRefs"`
	ACLRefs             []any                        `db:"-" json:"aclRefs"`
	CertificateRefs     []any                        `db:"-" json:"certificateRefs"`
	ServerGroupRefs     []any                        `db:"-" json:"serverGroupRefs"`
}

// LoadBalancerListenerNicRef (LoadBalancerListenerVmNicRefInventory).
type LoadBalancerListenerNicRef struct {
	UUID         string `db:"uuid" json:"-"`
	ListenerUUID string `db:"listener_uuid" json:"listenerUuid"`
	VMNicUUID    string `db:"vm_nic_uuid" json:"vmNicUuid"`
	Status       string `db:"status" json:"status"`
	CreateDate   Time   `db:"create_date" json:"createDate"`
	LastOpDate   Time   `db:"last_op_date" json:"lastOpDate"`
}

// IPsecConnection (IPsecConnectionInventory). The pre-shared key is kept
// for the router and never returned.
type IPsecConnection struct {
	Base
	PeerAddress               string              `db:"peer_address" json:"peerAddress"`
	AuthMode                  string              `db:"auth_mode" json:"authMode"`
	AuthKey                   string              `db:"auth_key" json:"-"`
	VipUUID                   string              `db:"vip_uuid" json:"vipUuid"`
	L3NetworkUUID             string              `db:"l3_network_uuid" json:"-"`
	IKEAuthAlgorithm          string              `db:"ike_auth_algorithm" json:"ikeAuthAlgorithm"`
	IKEEncryptionAlgorithm    string              `db:"ike_encryption_algorithm" json:"ikeEncryptionAlgorithm"`
	IKEDHGroup                int                 `db:"ike_dh_group" json:"ikeDhGroup"`
	PolicyAuthAlgorithm       string              `db:"policy_auth_algorithm" json:"policyAuthAlgorithm"`
	PolicyEncryptionAlgorithm string              `db:"policy_encryption_algorithm" json:"policyEncryptionAlgorithm"`
	PFS                       string              `db:"pfs" json:"pfs"`
	PolicyMode                string              `db:"policy_mode" json:"policyMode"`
	TransformProtocol         string              `db:"transform_protocol" json:"transformProtocol"`
	IKEVersion                string              `db:"ike_version" json:"ikeVersion"`
	IDType                    string              `db:"id_type" json:"idType"`
	LocalID                   Ref                 `db:"local_id" json:"localId,omitempty"`
	RemoteID                  Ref                 `db:"remote_id" json:"remoteId,omitempty"`
	State                     string              `db:"state" json:"state"`
	Status                    string              `db:"status" json:"status"`
	IKELifeTime               int                 `db:"ike_life_time" json:"ikeLifeTime"`
	LifeTime                  int                 `db:"life_time" json:"lifeTime"`
	PeerCIDRs                 []IPsecPeerCIDR     `db:"-" json:"peerCidrs"`
	L3NetworkRefs             []map[string]string `db:"-" json:"l3NetworkRefs"`
}

// IPsecPeerCIDR (IPsecPeerCidrInventory).
type IPsecPeerCIDR struct {
	UUID           string `db:"uuid" json:"uuid"`
	CIDR           string `db:"cidr" json:"cidr"`
	ConnectionUUID string `db:"connection_uuid" json:"connectionUuid"`
	CreateDate     Time   `db:"create_date" json:"createDate"`
	LastOpDate     Time   `db:"last_op_date" json:"lastOpDate"`
}

// VRouterRouteTable (VRouterRouteTableInventory).
type VRouterRouteTable struct {
	Base
	AttachedRouterRefs []map[string]string `db:"-" json:"attachedRouterRefs"`
	RouteEntries       []VRouterRouteEntry `db:"-" json:"routeEntries"`
}

// VRouterRouteEntry (VRouterRouteEntryInventory). Type is UserStatic (a
// next hop) or UserBlackHole.
type VRouterRouteEntry struct {
	UUID           string `db:"uuid" json:"uuid"`
	Description    Ref    `db:"description" json:"description,omitempty"`
	Type           string `db:"type" json:"type"`
	RouteTableUUID string `db:"route_table_uuid" json:"routeTableUuid"`
	Destination    string `db:"destination" json:"destination"`
	Target         Ref    `db:"target" json:"target,omitempty"`
	Distance       int    `db:"distance" json:"distance"`
	CreateDate     Time   `db:"create_date" json:"createDate"`
	LastOpDate     Time   `db:"last_op_date" json:"lastOpDate"`
}

// Route entry types.
const (
	RouteUserStatic    = "UserStatic"
	RouteUserBlackHole = "UserBlackHole"
)

// RouterDesired is everything the control plane knows that decides what a
// router does: the router, its NICs with their L3s and L2 bridges, and the
// services on its VIPs. The activities turn it into the host's spec.
type RouterDesired struct {
	Router        VirtualRouter
	Networks      []RouterNetwork
	EIPs          []Eip
	PortForwards  []PortForwardingRule
	LoadBalancers []RouterLB
	IPsec         []RouterIPsec
	Routes        []VRouterRouteEntry
	DNS           []string
}

// RouterNetwork is one attached L3 of a router as the host needs it.
type RouterNetwork struct {
	Nic       RouterNic
	Public    bool
	CIDR      string // the L3's network CIDR
	Gateway   string // the L3's gateway (the router's default route for the public L3)
	Bridge    string // the bridge of the L3's L2 on the host
	DHCPHosts []RouterDHCPHost
}

// RouterDHCPHost is a VM NIC on a router's L3 that gets a static lease.
type RouterDHCPHost struct {
	MAC, IP, Hostname string
}

// RouterLB is a load balancer with its VIP address and listeners' backends.
type RouterLB struct {
	LB        LoadBalancer
	VipIP     string
	Listeners []RouterListener
}

// RouterListener is a listener with its backends' guest IPs.
type RouterListener struct {
	Listener LoadBalancerListener
	Backends []string
}

// RouterIPsec is an IPsec connection with its VIP address, local and peer
// CIDRs.
type RouterIPsec struct {
	Conn       IPsecConnection
	VipIP      string
	LocalCIDRs []string
	PeerCIDRs  []string
}
