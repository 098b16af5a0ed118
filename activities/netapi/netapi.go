// Package netapi is the contract between the control plane and the host
// agent for the router appliance: activity names, their params and results.
// They are served on the host's own queue (hostapi.Queue) next to the
// hostapi activities. The Spec types mirror hostworker/router's, so that
// workflows never import the host agent; every address is in text form on
// the wire.
package netapi

import (
	"net/netip"
	"time"
)

// Activity names served on a host queue; each converges or removes, so
// calling it twice has the effect of calling it once.
const (
	// EnsureRouter converges the router namespace to a Spec.
	EnsureRouter = "net.EnsureRouter"
	// DeleteRouter removes a router namespace and everything it started;
	// deleting a router that is gone succeeds.
	DeleteRouter = "net.DeleteRouter"
	// RouterStatus reports whether a router namespace exists and the state
	// of an IPsec connection.
	RouterStatus = "net.RouterStatus"
)

// Spec is the full desired state of one router (hostworker/router.Spec).
type Spec struct {
	UUID string `json:"uuid"`
	// Generation orders specs: the agent ignores a spec (or a delete) older
	// than the newest it applied to the router. 0 is unordered.
	Generation    int64             `json:"generation"`
	Public        PublicNetwork     `json:"public"`
	Networks      []Network         `json:"networks"`
	Routes        []Route           `json:"routes,omitempty"`
	UpstreamDNS   []netip.Addr      `json:"upstreamDns,omitempty"`
	EIPs          []EIP             `json:"eips,omitempty"`
	PortForwards  []PortForward     `json:"portForwards,omitempty"`
	LoadBalancers []LoadBalancer    `json:"loadBalancers,omitempty"`
	IPsec         []IPsecConnection `json:"ipsec,omitempty"`
}

// PublicNetwork is the router's uplink; Bridge is the host bridge of the
// public L3's L2 (ZStack's naming: br_<physicalInterface> for NoVlan).
type PublicNetwork struct {
	NetworkUUID string       `json:"networkUuid"`
	Bridge      string       `json:"bridge"`
	MTU         int          `json:"mtu,omitempty"`
	MAC         string       `json:"mac,omitempty"`
	Address     netip.Prefix `json:"address"`
	Gateway     netip.Addr   `json:"gateway"`
	VIPs        []netip.Addr `json:"vips,omitempty"`
}

// Network is a VPC network the router is the gateway of.
type Network struct {
	NetworkUUID string       `json:"networkUuid"`
	Bridge      string       `json:"bridge"`
	MTU         int          `json:"mtu,omitempty"`
	MAC         string       `json:"mac,omitempty"`
	Gateway     netip.Prefix `json:"gateway"`
	SNAT        bool         `json:"snat"`
	DHCP        bool         `json:"dhcp"`
	Hosts       []DHCPHost   `json:"hosts,omitempty"`
}

// DHCPHost is one static DHCP lease.
type DHCPHost struct {
	MAC      string     `json:"mac"`
	IP       netip.Addr `json:"ip"`
	Hostname string     `json:"hostname,omitempty"`
}

// Route is a custom route entry; an invalid NextHop makes a blackhole.
type Route struct {
	Destination netip.Prefix `json:"destination"`
	NextHop     netip.Addr   `json:"nextHop"`
	Distance    int          `json:"distance"`
}

// EIP is a 1:1 NAT between a VIP and a guest IP.
type EIP struct {
	VIP     netip.Addr `json:"vip"`
	GuestIP netip.Addr `json:"guestIp"`
}

// PortForward maps a VIP port range to a guest port range.
type PortForward struct {
	VIP            netip.Addr   `json:"vip"`
	Protocol       string       `json:"protocol"` // tcp or udp
	VIPPortStart   uint16       `json:"vipPortStart"`
	VIPPortEnd     uint16       `json:"vipPortEnd"`
	GuestIP        netip.Addr   `json:"guestIp"`
	GuestPortStart uint16       `json:"guestPortStart"`
	GuestPortEnd   uint16       `json:"guestPortEnd"`
	AllowedCIDR    netip.Prefix `json:"allowedCidr"`
}

// LoadBalancer is a load balancer on a VIP.
type LoadBalancer struct {
	UUID      string     `json:"uuid"`
	VIP       netip.Addr `json:"vip"`
	Listeners []Listener `json:"listeners"`
}

// Listener forwards a VIP port to the backends' instance port.
type Listener struct {
	UUID             string       `json:"uuid"`
	Protocol         string       `json:"protocol"` // tcp or http
	LoadBalancerPort uint16       `json:"loadBalancerPort"`
	InstancePort     uint16       `json:"instancePort"`
	Algorithm        string       `json:"algorithm,omitempty"`
	HealthCheck      HealthCheck  `json:"healthCheck"`
	Backends         []netip.Addr `json:"backends"`
}

// HealthCheck configures backend checks; zero fields take the defaults.
type HealthCheck struct {
	Interval           time.Duration `json:"interval,omitempty"`
	Timeout            time.Duration `json:"timeout,omitempty"`
	HealthyThreshold   int           `json:"healthyThreshold,omitempty"`
	UnhealthyThreshold int           `json:"unhealthyThreshold,omitempty"`
	HTTPPath           string        `json:"httpPath,omitempty"`
}

// IPsecConnection is a site-to-site tunnel from a VIP.
type IPsecConnection struct {
	UUID        string     `json:"uuid"`
	VIP         netip.Addr `json:"vip"`
	PeerAddress netip.Addr `json:"peerAddress"`
	// SealedAuthKey is the pre-shared key sealed to the host's sealing key
	// (hostapi.HostFacts.SealingKey; secret.Seal with secret.HostSealInfo):
	// a spec, and so a workflow history, never holds the key in clear.
	SealedAuthKey             string         `json:"sealedAuthKey"`
	LocalCIDRs                []netip.Prefix `json:"localCidrs"`
	PeerCIDRs                 []netip.Prefix `json:"peerCidrs"`
	IKEVersion                string         `json:"ikeVersion,omitempty"`
	IKEEncryptionAlgorithm    string         `json:"ikeEncryptionAlgorithm,omitempty"`
	IKEAuthAlgorithm          string         `json:"ikeAuthAlgorithm,omitempty"`
	IKEDHGroup                int            `json:"ikeDhGroup,omitempty"`
	PolicyEncryptionAlgorithm string         `json:"policyEncryptionAlgorithm,omitempty"`
	PolicyAuthAlgorithm       string         `json:"policyAuthAlgorithm,omitempty"`
	PFS                       string         `json:"pfs,omitempty"`
	IKELifeTime               time.Duration  `json:"ikeLifeTime,omitempty"`
	LifeTime                  time.Duration  `json:"lifeTime,omitempty"`
}

// EnsureRouterParams asks the agent to converge a router.
type EnsureRouterParams struct {
	HostUUID string `json:"hostUuid"`
	Spec     Spec   `json:"spec"`
}

// EnsureRouterResult is what the agent converged.
type EnsureRouterResult struct {
	Namespace      string      `json:"namespace"`
	Interfaces     []Interface `json:"interfaces"`
	DnsmasqPID     int         `json:"dnsmasqPid"`
	HAProxyPID     int         `json:"haproxyPid"`
	CharonPID      int         `json:"charonPid"`
	IPsecDataPlane string      `json:"ipsecDataPlane,omitempty"`
	// Stale is set when the spec was older than one already applied and
	// the agent left the router as it was.
	Stale bool `json:"stale,omitempty"`
}

// Interface names the two ends of one network's veth pair.
type Interface struct {
	NetworkUUID string `json:"networkUuid"`
	HostName    string `json:"hostName"`
	RouterName  string `json:"routerName"`
	MAC         string `json:"mac"`
}

// DeleteRouterParams names the router to remove.
type DeleteRouterParams struct {
	HostUUID   string `json:"hostUuid"`
	RouterUUID string `json:"routerUuid"`
	Generation int64  `json:"generation"` // as in Spec
}

// RouterStatusParams asks about a router and, optionally, one of its IPsec
// connections.
type RouterStatusParams struct {
	HostUUID            string `json:"hostUuid"`
	RouterUUID          string `json:"routerUuid"`
	IPsecConnectionUUID string `json:"ipsecConnectionUuid,omitempty"`
}

// RouterStatusResult reports a router's namespace and IPsec state.
type RouterStatusResult struct {
	Namespace string `json:"namespace"`
	Exists    bool   `json:"exists"`
	// IKEState and ChildState are strongSwan's (e.g. ESTABLISHED and
	// INSTALLED); empty when no SA exists or no connection was asked for.
	IKEState   string `json:"ikeState,omitempty"`
	ChildState string `json:"childState,omitempty"`
}
