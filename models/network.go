package models

// L2 network types (L2NetworkInventory.type).
const (
	L2NoVlan    = "L2NoVlanNetwork"
	L2Vlan      = "L2VlanNetwork"
	L2VxlanPool = "VxlanNetworkPool"
	L2Vxlan     = "VxlanNetwork"
)

// VniRange (VniRangeInventory): the VNIs a VXLAN pool hands out.
type VniRange struct {
	Base
	L2NetworkUUID string `db:"l2_network_uuid" json:"l2NetworkUuid"`
	StartVni      int    `db:"start_vni" json:"startVni"`
	EndVni        int    `db:"end_vni" json:"endVni"`
}

// VtepCIDR is the CIDR in which a VXLAN pool finds each host's VTEP address
// in one cluster (ZStack's attach system tag `cidr::{...}`).
type VtepCIDR struct {
	UUID        string `db:"uuid" json:"-"`
	PoolUUID    string `db:"pool_uuid" json:"poolUuid"`
	ClusterUUID string `db:"cluster_uuid" json:"clusterUuid"`
	CIDR        string `db:"cidr" json:"cidr"`
	CreateDate  Time   `db:"create_date" json:"createDate"`
}

// Network service provider types and service types (ZStack's names).
const (
	ProviderFlat          = "Flat"
	ProviderVirtualRouter = "VirtualRouter"
	ProviderVrouter       = "vrouter"
	ProviderSecurityGroup = "SecurityGroup"

	ServiceDHCP           = "DHCP"
	ServiceDNS            = "DNS"
	ServiceUserdata       = "Userdata"
	ServiceEip            = "Eip"
	ServiceSNAT           = "SNAT"
	ServicePortForward    = "PortForwarding"
	ServiceLoadBalancer   = "LoadBalancer"
	ServiceIPsec          = "IPsec"
	ServiceVipQos         = "VipQos"
	ServiceHostRoute      = "HostRoute"
	ServiceSecurityGroup  = "SecurityGroup"
	ServiceCentralizedDNS = "CentralizedDNS"
)

// NetworkServiceProvider (NetworkServiceProviderInventory).
type NetworkServiceProvider struct {
	Base
	Type                   string   `db:"type" json:"type"`
	NetworkServiceTypes    []string `db:"-" json:"networkServiceTypes"`
	AttachedL2NetworkUUIDs []string `db:"-" json:"attachedL2NetworkUuids"`
}

// NetworkServiceL3NetworkRef (NetworkServiceL3NetworkRefInventory): a service
// an L3 network gets from a provider.
type NetworkServiceL3NetworkRef struct {
	UUID                       string `db:"uuid" json:"-"`
	L3NetworkUUID              string `db:"l3_network_uuid" json:"l3NetworkUuid"`
	NetworkServiceProviderUUID string `db:"provider_uuid" json:"networkServiceProviderUuid"`
	NetworkServiceType         string `db:"service_type" json:"networkServiceType"`
	CreateDate                 Time   `db:"create_date" json:"-"`
}

// SecurityGroup (SecurityGroupInventory).
type SecurityGroup struct {
	Base
	State                  string              `db:"state" json:"state"`
	IPVersion              int                 `db:"ip_version" json:"ipVersion"`
	Rules                  []SecurityGroupRule `db:"-" json:"rules"`
	AttachedL3NetworkUUIDs []string            `db:"-" json:"attachedL3NetworkUuids"`
}

// Security group rule directions, protocols and actions.
const (
	RuleIngress  = "Ingress"
	RuleEgress   = "Egress"
	ProtoAll     = "ALL"
	ProtoTCP     = "TCP"
	ProtoUDP     = "UDP"
	ProtoICMP    = "ICMP"
	ActionAccept = "ACCEPT"
	ActionDrop   = "DROP"
)

// SecurityGroupRule (SecurityGroupRuleInventory).
type SecurityGroupRule struct {
	UUID                    string `db:"uuid" json:"uuid"`
	SecurityGroupUUID       string `db:"security_group_uuid" json:"securityGroupUuid"`
	Type                    string `db:"type" json:"type"`
	IPVersion               int    `db:"ip_version" json:"ipVersion"`
	Protocol                string `db:"protocol" json:"protocol"`
	State                   string `db:"state" json:"state"`
	Priority                int    `db:"priority" json:"priority"`
	Description             Ref    `db:"description" json:"description,omitempty"`
	AllowedCIDR             string `db:"allowed_cidr" json:"allowedCidr"`
	StartPort               int    `db:"start_port" json:"startPort"`
	EndPort                 int    `db:"end_port" json:"endPort"`
	Action                  string `db:"action" json:"action"`
	RemoteSecurityGroupUUID Ref    `db:"remote_security_group_uuid" json:"remoteSecurityGroupUuid,omitempty"`
	CreateDate              Time   `db:"create_date" json:"createDate"`
	LastOpDate              Time   `db:"last_op_date" json:"lastOpDate"`
}

// VMNicSecurityGroupRef (VmNicSecurityGroupRefInventory).
type VMNicSecurityGroupRef struct {
	UUID              string `db:"uuid" json:"-"`
	VMNicUUID         string `db:"vm_nic_uuid" json:"vmNicUuid"`
	SecurityGroupUUID string `db:"security_group_uuid" json:"securityGroupUuid"`
	VMInstanceUUID    string `db:"vm_instance_uuid" json:"vmInstanceUuid"`
	Priority          int    `db:"priority" json:"priority"`
	CreateDate        Time   `db:"create_date" json:"createDate"`
	LastOpDate        Time   `db:"last_op_date" json:"lastOpDate"`
}
