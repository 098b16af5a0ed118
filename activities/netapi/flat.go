package netapi

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Flat networking (FEATURES.md items 49, 51, 52, 57): the activities a host
// agent serves to realise L2 bridges, the distributed DHCP of flat L3
// networks and the security groups of VM NICs. They mirror
// hostworker/network's operations; every one converges or removes, so a
// retry or a replay after a crash is harmless.
const (
	// ActHostAddresses lists the host's IPv4 addresses, from which the
	// control plane picks each host's VTEP inside a pool's VTEP CIDR.
	ActHostAddresses = "net.HostAddresses"
	// ActEnsureL2 creates (or finds) an L2 network's bridge and uplink and,
	// for VXLAN, sets its flood list to exactly the given peers.
	ActEnsureL2 = "net.EnsureL2"
	// ActDeleteL2 removes an L2 network's bridge and the uplink made for
	// it; a bridge still carrying other ports is kept (InUse).
	ActDeleteL2 = "net.DeleteL2"
	// ActSetDHCP converges an L3 network's DHCP server on the host: its
	// namespace, dnsmasq and the static leases of the host's NICs.
	ActSetDHCP = "net.SetDHCP"
	// ActDeleteDHCP stops an L3 network's DHCP server on the host and
	// removes its namespace and state.
	ActDeleteDHCP = "net.DeleteDHCP"
	// ActApplySecurityGroups makes a NIC's firewall match its groups.
	ActApplySecurityGroups = "net.ApplySecurityGroups"
	// ActRemoveNIC removes a NIC's firewall.
	ActRemoveNIC = "net.RemoveNIC"
)

// L2 network types as the host realises them (ZStack's type names).
const (
	L2NoVlan = "L2NoVlanNetwork"
	L2Vlan   = "L2VlanNetwork"
	L2VXLAN  = "VxlanNetwork"
)

// L2Spec is the part of an L2 network one host needs (hostworker/network.L2).
type L2Spec struct {
	UUID              string       `json:"uuid"`
	Type              string       `json:"type"`
	PhysicalInterface string       `json:"physicalInterface,omitempty"`
	VLAN              int          `json:"vlan,omitempty"`
	VNI               int          `json:"vni,omitempty"`
	VTEPIP            netip.Addr   `json:"vtepIp,omitzero"`
	Peers             []netip.Addr `json:"peers,omitempty"`
	MTU               int          `json:"mtu,omitempty"`
}

// BridgeName is the bridge's name on every host (ZStack's): br_<phys>,
// br_<phys>_<vlan>, br_vx_<vni>. It must equal hostworker/network's
// L2.BridgeName, which a test of the agent checks.
func (l L2Spec) BridgeName() string {
	switch l.Type {
	case L2Vlan:
		return "br_" + l.PhysicalInterface + "_" + strconv.Itoa(l.VLAN)
	case L2VXLAN:
		return "br_vx_" + strconv.Itoa(l.VNI)
	default:
		return "br_" + l.PhysicalInterface
	}
}

// UplinkName is the bridge's port that leaves the host.
func (l L2Spec) UplinkName() string {
	switch l.Type {
	case L2Vlan:
		return l.PhysicalInterface + "." + strconv.Itoa(l.VLAN)
	case L2VXLAN:
		return "vxlan" + strconv.Itoa(l.VNI)
	default:
		return l.PhysicalInterface
	}
}

// HostAddressesParams asks a host for its addresses.
type HostAddressesParams struct {
	HostUUID string `json:"hostUuid"`
}

// HostAddressesResult is every global IPv4 address of the host with its
// prefix length, sorted.
type HostAddressesResult struct {
	Addresses []netip.Prefix `json:"addresses"`
}

// PickVTEP returns the first of addrs inside cidr: the host's VTEP for a
// VXLAN pool in its cluster. Pure, so workflows may call it.
func PickVTEP(addrs []netip.Prefix, cidr netip.Prefix) (netip.Addr, bool) {
	sorted := slices.Clone(addrs)
	slices.SortFunc(sorted, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	for _, a := range sorted {
		if cidr.Masked().Contains(a.Addr()) {
			return a.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// EnsureL2Params realises an L2 network on a host.
type EnsureL2Params struct {
	HostUUID string `json:"hostUuid"`
	L2       L2Spec `json:"l2"`
}

// EnsureL2Result names the bridge made or found.
type EnsureL2Result struct {
	Bridge string `json:"bridge"`
}

// DeleteL2Params removes an L2 network from a host.
type DeleteL2Params struct {
	HostUUID string `json:"hostUuid"`
	L2       L2Spec `json:"l2"`
}

// DeleteL2Result says whether the bridge is gone, or why it was kept.
type DeleteL2Result struct {
	Deleted bool `json:"deleted"`
	// InUse explains why a bridge still carrying ports was kept.
	InUse string `json:"inUse,omitempty"`
}

// FlatDHCPHost is one static lease.
type FlatDHCPHost struct {
	MAC      string     `json:"mac"`
	IP       netip.Addr `json:"ip"`
	Hostname string     `json:"hostname,omitempty"`
	// Metadata is served to the NIC when the L3 has FlatDHCP.Metadata.
	Metadata *FlatMetadata `json:"metadata,omitempty"`
}

// FlatDHCP is one L3 network's DHCP server on one host
// (hostworker/network.DHCPSpec).
type FlatDHCP struct {
	L3UUID   string         `json:"l3NetworkUuid"`
	Bridge   string         `json:"bridge"`
	Uplink   string         `json:"uplink,omitempty"`
	ServerIP netip.Prefix   `json:"serverIp"`
	Gateway  netip.Addr     `json:"gateway,omitzero"`
	DNS      []netip.Addr   `json:"dns,omitempty"`
	Domain   string         `json:"domain,omitempty"`
	MTU      int            `json:"mtu,omitempty"`
	Hosts    []FlatDHCPHost `json:"hosts"`
	// ServeDNS (the L3 has the Flat DNS service): the server answers DNS
	// on ServerIP, forwarding to DNS, and guests get ServerIP as DNS.
	ServeDNS bool `json:"serveDns,omitempty"`
	// Metadata (the L3 has the Flat Userdata service): the host serves its
	// hosts' Metadata at 169.254.169.254, routed through ServerIP.
	Metadata bool `json:"metadata,omitempty"`
}

// SetDHCPParams converges an L3's DHCP server on a host.
type SetDHCPParams struct {
	HostUUID string   `json:"hostUuid"`
	DHCP     FlatDHCP `json:"dhcp"`
}

// DeleteDHCPParams removes an L3's DHCP server from a host.
type DeleteDHCPParams struct {
	HostUUID string `json:"hostUuid"`
	L3UUID   string `json:"l3NetworkUuid"`
}

// SecurityGroupRuleSpec is one enabled rule (hostworker/network.SecurityGroupRule).
type SecurityGroupRuleSpec struct {
	Type                    string `json:"type"`
	Protocol                string `json:"protocol"`
	StartPort               int    `json:"startPort"`
	EndPort                 int    `json:"endPort"`
	AllowedCIDR             string `json:"allowedCidr,omitempty"`
	RemoteSecurityGroupUUID string `json:"remoteSecurityGroupUuid,omitempty"`
}

// SecurityGroupSpec is an enabled group with its enabled rules.
type SecurityGroupSpec struct {
	UUID  string                  `json:"uuid"`
	Rules []SecurityGroupRuleSpec `json:"rules"`
}

// ApplySecurityGroupsParams sets the firewall of one VM NIC on a host.
type ApplySecurityGroupsParams struct {
	HostUUID string `json:"hostUuid"`
	NICUUID  string `json:"nicUuid"`
	// Device is the NIC's tap (TapName of the NIC).
	Device string              `json:"device"`
	Groups []SecurityGroupSpec `json:"groups"`
	// GroupMembers holds the member IPs of every group a rule names as
	// its remote group.
	GroupMembers map[string][]netip.Addr `json:"groupMembers,omitempty"`
}

// RemoveNICParams removes a VM NIC's firewall from a host.
type RemoveNICParams struct {
	HostUUID string `json:"hostUuid"`
	NICUUID  string `json:"nicUuid"`
	Device   string `json:"device"`
}

// TapName is the tap device of a VM NIC on its host: "vnic" and the first
// 11 hex digits of the NIC UUID (15 characters, Linux's limit). The
// domain XML names the tap so, and security groups match on it, so the
// name must not depend on which host or which start created it.
func TapName(nicUUID string) string {
	id := strings.ToLower(strings.ReplaceAll(nicUUID, "-", ""))
	if len(id) > 11 {
		id = id[:11]
	}
	return "vnic" + id
}

// Control-plane side of flat networking: the local activities (served by
// activities/db, network_host.go) that compute what each host must realise
// from the database. Their types live here, beside the host contract they
// produce, because workflows may not import activities/db.
const (
	// NetClusterL2s lists the L2 networks to realise in a cluster and the
	// hosts to realise them on.
	NetClusterL2s = "db.NetClusterL2s"
	// NetL2Clusters lists the clusters an L2 network is attached to.
	NetL2Clusters = "db.NetL2Clusters"
	// NetHostPlan computes the DHCP servers and NIC firewalls one host must
	// run for one VM's NICs (the VM counted on or off the host).
	NetHostPlan = "db.NetHostPlan"
	// NetNICsPlan computes the firewalls of NICs wherever their VMs run.
	NetNICsPlan = "db.NetNICsPlan"
	// NetSGPrepare names the security groups an API changes, the NICs
	// whose firewalls depend on them, and a snapshot of their rows.
	NetSGPrepare = "db.NetSGPrepare"
	// NetSGRestore puts security groups back as a snapshot recorded them.
	NetSGRestore = "db.NetSGRestore"
)

// ClusterL2sParams selects L2 networks of a cluster. ClusterUUID or
// HostUUID (its cluster) names the cluster; L2UUIDs empty means every L2
// attached to it; a VXLAN pool stands for its VXLAN networks.
type ClusterL2sParams struct {
	ClusterUUID string   `json:"clusterUuid,omitempty"`
	HostUUID    string   `json:"hostUuid,omitempty"`
	L2UUIDs     []string `json:"l2NetworkUuids,omitempty"`
	// Attached limits the list to L2s attached to the cluster now.
	Attached bool `json:"attached"`
}

// ClusterL2 is one L2 to realise, with the pool's VTEP CIDR in the cluster
// for a VXLAN network.
type ClusterL2 struct {
	Spec     L2Spec       `json:"spec"`
	VTEPCIDR netip.Prefix `json:"vtepCidr,omitzero"`
}

// ClusterL2sResult is the L2s and the cluster's connected hosts that
// realise networks (KVM hosts; simulated ones have no host networking).
type ClusterL2sResult struct {
	ClusterUUID string      `json:"clusterUuid"`
	Hosts       []string    `json:"hosts"`
	L2s         []ClusterL2 `json:"l2s"`
	// Lost are the cluster's KVM hosts that do not answer now, with the
	// addresses they last reported: they stay VXLAN peers of the others.
	Lost []LostHost `json:"lost,omitempty"`
}

// LostHost is a host that does not answer, with its last known addresses.
type LostHost struct {
	UUID      string         `json:"uuid"`
	Addresses []netip.Prefix `json:"addresses"`
}

// HostPlanParams asks what a host runs for a VM's NICs, with the VM counted
// on the host (Include) or off it (!Include), whatever its state says.
type HostPlanParams struct {
	HostUUID string `json:"hostUuid"`
	VMUUID   string `json:"vmUuid"`
	Include  bool   `json:"include"`
}

// HostPlan is the desired network state of one host for the L3s and NICs
// concerned. Networked is false for hosts without host networking.
type HostPlan struct {
	Networked  bool                        `json:"networked"`
	DHCP       []FlatDHCP                  `json:"dhcp,omitempty"`
	DeleteDHCP []string                    `json:"deleteDhcp,omitempty"`
	Firewalls  []ApplySecurityGroupsParams `json:"firewalls,omitempty"`
	Remove     []RemoveNICParams           `json:"remove,omitempty"`
	// EIPs are the flat EIPs of the VM's NICs to ensure on the host,
	// DeleteEIPs those to remove from it.
	EIPs       []EnsureEIPParams `json:"eips,omitempty"`
	DeleteEIPs []DeleteEIPParams `json:"deleteEips,omitempty"`
}

// NICsPlanParams asks for the firewalls of NICs; ExcludeGroup computes them
// as if that group were deleted.
type NICsPlanParams struct {
	NICUUIDs     []string `json:"nicUuids"`
	ExcludeGroup string   `json:"excludeGroup,omitempty"`
}

// SGSnapshot is the rows of security groups before a change.
type SGSnapshot struct {
	Groups []string `json:"groups"`
	// Rows is opaque to workflows: the store's JSON of the rows.
	Rows []byte `json:"rows"`
}

// SGPrepareResult is what a security group API touches.
type SGPrepareResult struct {
	Groups   []string   `json:"groups"`
	NICs     []string   `json:"nics"`
	Snapshot SGSnapshot `json:"snapshot"`
}

// Flat EIP (FEATURES.md item 56, ZStack's flat EIP): realised on the host
// running the VM as a namespace holding the VIP and the private gateway
// (hostworker/network.EnsureEIP).
const (
	// ActEnsureEIP converges one flat EIP on a host.
	ActEnsureEIP = "net.EnsureEIP"
	// ActDeleteEIP removes one flat EIP from a host; deleting what is gone
	// succeeds.
	ActDeleteEIP = "net.DeleteEIP"
	// NetEIPPlan computes where the flat EIPs a router change touched must
	// be (and must no longer be).
	NetEIPPlan = "db.NetEIPPlan"
)

// FlatEIP is one flat EIP on the host of its VM (hostworker/network.EIPSpec).
type FlatEIP struct {
	UUID           string       `json:"uuid"`
	VIP            netip.Prefix `json:"vip"`
	PublicBridge   string       `json:"publicBridge"`
	PublicGateway  netip.Addr   `json:"publicGateway,omitzero"`
	PrivateBridge  string       `json:"privateBridge"`
	PrivateGateway netip.Prefix `json:"privateGateway"`
	GuestIP        netip.Addr   `json:"guestIp"`
	GuestMAC       string       `json:"guestMac"`
	// GuestDevice is the NIC's tap (TapName of the NIC).
	GuestDevice string `json:"guestDevice"`
	// InboundBandwidth and OutboundBandwidth are bits per second (0:
	// unlimited), from the VIP's QoS.
	InboundBandwidth  uint64 `json:"inboundBandwidth,omitempty"`
	OutboundBandwidth uint64 `json:"outboundBandwidth,omitempty"`
}

// EnsureEIPParams converges a flat EIP on a host.
type EnsureEIPParams struct {
	HostUUID string  `json:"hostUuid"`
	EIP      FlatEIP `json:"eip"`
}

// DeleteEIPParams removes a flat EIP from a host.
type DeleteEIPParams struct {
	HostUUID string `json:"hostUuid"`
	EIPUUID  string `json:"eipUuid"`
}

// EIPPlanParams names the flat EIPs to place: those a router change (its
// journal Key) touched, plus EIPs; NICs are VM NICs they were or are
// attached to, whose hosts may hold them.
type EIPPlanParams struct {
	Key  string   `json:"key,omitempty"`
	EIPs []string `json:"eips,omitempty"`
	NICs []string `json:"nics,omitempty"`
}

// EIPPlan is the desired placement: every EIP ensured on the host of its
// running VM and deleted from every other host it may be on. EIPs and NICs
// are everything considered, for planning again after an undo.
type EIPPlan struct {
	EIPs   []string          `json:"eips"`
	NICs   []string          `json:"nics"`
	Ensure []EnsureEIPParams `json:"ensure,omitempty"`
	Delete []DeleteEIPParams `json:"delete,omitempty"`
}
