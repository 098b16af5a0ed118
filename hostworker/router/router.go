// Package router runs ZCloud's virtual router (vRouter / VPC router) appliance on a host as a
// Linux network namespace, the way Neutron's L3 agent runs qrouter-<id>: one veth pair per
// attached L3 network (host end enslaved to the network's bridge, router end holding the
// network's gateway or the router's public IP), nftables for SNAT/EIP/port forwarding, dnsmasq for
// DHCP and DNS, haproxy for load balancers and strongSwan for IPsec.
//
// Every operation takes the router's full desired state (Spec) and converges the host to it, so
// each one is idempotent and safe to retry after a crash; Delete removes everything the router
// made and succeeds when it is already gone.
package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Config configures a Manager.
type Config struct {
	// StateDir holds one directory per router: daemon configuration, PID files, leases, logs.
	StateDir string
	// HostNetNS is the path of the network namespace holding the L2 bridges (for example
	// /run/netns/host1). Empty means the namespace of the agent process.
	HostNetNS string
	// Logger receives operational logs; nil means slog.Default().
	Logger *slog.Logger
	// Paths of the programs used; empty ones default to the Debian locations.
	IPPath, DnsmasqPath, HAProxyPath, CharonPath, SwanctlPath string
}

// Manager creates, converges and deletes router namespaces on one host.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// New returns a Manager; it checks that the state directory can be created.
func New(cfg Config) (*Manager, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("router: state dir is required")
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("router: create state dir: %w", err)
	}
	defaults := []struct {
		p   *string
		def string
	}{
		{&cfg.IPPath, "/usr/sbin/ip"},
		{&cfg.DnsmasqPath, "/usr/sbin/dnsmasq"},
		{&cfg.HAProxyPath, "/usr/sbin/haproxy"},
		{&cfg.CharonPath, "/usr/lib/ipsec/charon"},
		{&cfg.SwanctlPath, "/usr/sbin/swanctl"},
	}
	for _, d := range defaults {
		if *d.p == "" {
			*d.p = d.def
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Manager{cfg: cfg, log: log, locks: map[string]*sync.Mutex{}}, nil
}

// Spec is the full desired state of one router.
type Spec struct {
	// UUID identifies the router (ZStack's VirtualRouterVm uuid).
	UUID string
	// Public is the router's public network (publicNetworkUuid); its gateway is the default route.
	Public PublicNetwork
	// Networks are the private (vRouter) and VPC networks the router serves as gateway.
	Networks []Network
	// Routes are custom route entries (VRouterRouteEntry).
	Routes []Route
	// UpstreamDNS are the servers dnsmasq forwards queries to.
	UpstreamDNS []netip.Addr
	// EIPs, PortForwards, LoadBalancers and IPsec are the network services on the router's VIPs.
	EIPs          []EIP
	PortForwards  []PortForward
	LoadBalancers []LoadBalancer
	IPsec         []IPsecConnection
}

// PublicNetwork is the router's uplink.
type PublicNetwork struct {
	NetworkUUID string
	Bridge      string       // host bridge of the public L2 network
	MTU         int          // 0 keeps the kernel default (1500)
	MAC         string       // optional fixed MAC of the router end
	Address     netip.Prefix // the router's public IP with the network's prefix length
	Gateway     netip.Addr   // default route next hop; invalid means no default route
	// VIPs are extra public addresses; VIPs used by EIPs, port forwards, load balancers and
	// IPsec connections are added automatically.
	VIPs []netip.Addr
}

// Network is a private or VPC network attached to the router.
type Network struct {
	NetworkUUID string
	Bridge      string       // host bridge of the network's L2 (VLAN, VXLAN or plain bridge)
	MTU         int          // 0 keeps the kernel default (1500)
	MAC         string       // optional fixed MAC of the router end
	Gateway     netip.Prefix // the network's gateway IP with the network's prefix length
	SNAT        bool         // masquerade outbound traffic to the router's public IP
	DHCP        bool         // serve DHCP (static leases in Hosts) and DNS on the gateway
	Hosts       []DHCPHost   // static DHCP leases (ZStack's IPAM chooses every address)
}

// DHCPHost is one static DHCP lease.
type DHCPHost struct {
	MAC      string
	IP       netip.Addr
	Hostname string
}

// Route is a custom route entry; an invalid NextHop makes a blackhole route.
type Route struct {
	Destination netip.Prefix
	NextHop     netip.Addr
	Distance    int // route metric
}

// Status describes what Ensure converged.
type Status struct {
	Namespace  string
	Interfaces []InterfaceStatus
	// PIDs of the router's daemons; 0 when the daemon is not needed.
	DnsmasqPID, HAProxyPID, CharonPID int
	// IPsecDataPlane is "kernel" (XFRM ESP) or "userspace" (strongSwan kernel-libipsec over
	// TUN) when IPsec connections exist.
	IPsecDataPlane string
}

// InterfaceStatus names the two ends of one network's veth pair.
type InterfaceStatus struct {
	NetworkUUID string
	HostName    string // in the host namespace, enslaved to the bridge
	RouterName  string // in the router namespace
	MAC         string // of the router end
}

// Namespace returns the name of the router's network namespace.
func Namespace(routerUUID string) string { return "zr-" + shortID(routerUUID, 8) }

func shortID(uuid string, n int) string {
	s := strings.ToLower(strings.ReplaceAll(uuid, "-", ""))
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// routerIfName is the router end's name for a network, unique inside the router namespace.
func routerIfName(networkUUID string) string { return "n-" + shortID(networkUUID, 12) }

// hostIfPrefix is the prefix shared by a router's host ends (all routers share one host ns).
func hostIfPrefix(routerUUID string) string { return "zr" + shortID(routerUUID, 6) }

// hostIfName is the host end's name for a network: 15 characters, the kernel's limit.
func hostIfName(routerUUID, networkUUID string) string {
	return hostIfPrefix(routerUUID) + shortID(networkUUID, 7)
}

func (m *Manager) routerDir(routerUUID string) string {
	return filepath.Join(m.cfg.StateDir, shortID(routerUUID, 32))
}

// lock serializes operations on one router.
func (m *Manager) lock(routerUUID string) func() {
	m.mu.Lock()
	l, ok := m.locks[routerUUID]
	if !ok {
		l = &sync.Mutex{}
		m.locks[routerUUID] = l
	}
	m.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// isUUID accepts ZStack's 32-hex UUIDs with or without dashes; names of namespaces,
// interfaces and state directories derive from them.
func isUUID(s string) bool {
	h := strings.ReplaceAll(s, "-", "")
	if len(h) < 12 || len(h) > 32 {
		return false
	}
	for _, c := range strings.ToLower(h) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (s *Spec) validate() error {
	if !isUUID(s.UUID) {
		return fmt.Errorf("router uuid %q: want hex uuid", s.UUID)
	}
	if !isUUID(s.Public.NetworkUUID) {
		return fmt.Errorf("public network uuid %q: want hex uuid", s.Public.NetworkUUID)
	}
	if s.Public.Bridge == "" || !s.Public.Address.IsValid() || !s.Public.Address.Addr().Is4() {
		return errors.New("public network needs a bridge and an IPv4 address")
	}
	seen := map[string]bool{routerIfName(s.Public.NetworkUUID): true}
	for _, n := range s.Networks {
		if !isUUID(n.NetworkUUID) {
			return fmt.Errorf("network uuid %q: want hex uuid", n.NetworkUUID)
		}
		if n.Bridge == "" || !n.Gateway.IsValid() || !n.Gateway.Addr().Is4() {
			return fmt.Errorf("network %s needs a bridge and an IPv4 gateway", n.NetworkUUID)
		}
		name := routerIfName(n.NetworkUUID)
		if seen[name] {
			return fmt.Errorf("network %s: duplicate network", n.NetworkUUID)
		}
		seen[name] = true
	}
	return nil
}

// Ensure converges every part of the router to spec: namespace, interfaces, routes, NAT,
// DHCP/DNS, load balancers and IPsec.
func (m *Manager) Ensure(ctx context.Context, spec Spec) (Status, error) {
	if err := spec.validate(); err != nil {
		return Status{}, fmt.Errorf("ensure router: %w", err)
	}
	unlock := m.lock(spec.UUID)
	defer unlock()
	st, err := m.ensureNetworks(ctx, spec)
	if err != nil {
		return st, err
	}
	if err := m.ensureNAT(ctx, spec); err != nil {
		return st, err
	}
	if st.DnsmasqPID, err = m.ensureDNS(ctx, spec); err != nil {
		return st, err
	}
	if st.HAProxyPID, err = m.ensureLoadBalancers(ctx, spec); err != nil {
		return st, err
	}
	if st.CharonPID, st.IPsecDataPlane, err = m.ensureIPsec(ctx, spec); err != nil {
		return st, err
	}
	// Converged: bridges learn where the router is (it may have moved).
	if err := m.announce(spec.UUID); err != nil {
		m.log.Warn("router not announced", "router_uuid", spec.UUID, "error", err)
	}
	return st, nil
}

// EnsureNetworks converges the namespace, interfaces, forwarding and routes only: attaching or
// detaching a network at runtime is a call with Networks changed. Prefer Ensure, which also
// updates SNAT and DHCP for the changed networks.
func (m *Manager) EnsureNetworks(ctx context.Context, spec Spec) (Status, error) {
	if err := spec.validate(); err != nil {
		return Status{}, fmt.Errorf("ensure router networks: %w", err)
	}
	unlock := m.lock(spec.UUID)
	defer unlock()
	return m.ensureNetworks(ctx, spec)
}

// AttachNetwork adds (or updates) network n on the router described by spec and converges the
// whole router. Other networks' interfaces, addresses and conntrack entries are untouched;
// dnsmasq restarts because its interface list changes (leases persist in its lease file).
func (m *Manager) AttachNetwork(ctx context.Context, spec Spec, n Network) (Status, error) {
	spec.Networks = slices.DeleteFunc(slices.Clone(spec.Networks), func(x Network) bool { return x.NetworkUUID == n.NetworkUUID })
	spec.Networks = append(spec.Networks, n)
	return m.Ensure(ctx, spec)
}

// DetachNetwork removes the network from the router described by spec and converges the rest.
func (m *Manager) DetachNetwork(ctx context.Context, spec Spec, networkUUID string) (Status, error) {
	spec.Networks = slices.DeleteFunc(slices.Clone(spec.Networks), func(x Network) bool { return x.NetworkUUID == networkUUID })
	return m.Ensure(ctx, spec)
}

// Delete stops the router's daemons, removes its interfaces (both veth ends), its namespace and
// its state directory. A router that is already gone is success.
func (m *Manager) Delete(ctx context.Context, routerUUID string) error {
	if !isUUID(routerUUID) {
		return fmt.Errorf("delete router: uuid %q: want hex uuid", routerUUID)
	}
	unlock := m.lock(routerUUID)
	defer unlock()
	dir := m.routerDir(routerUUID)
	var errs []error
	errs = append(errs, m.stopIPsec(ctx, routerUUID), m.stopLoadBalancers(ctx, routerUUID), m.stopDNS(ctx, routerUUID))
	name := Namespace(routerUUID)
	if ns, err := netns.GetFromName(name); err == nil {
		if h, err := handleAt(ns); err == nil {
			links, err := h.LinkList()
			if err == nil {
				for _, l := range links {
					if l.Type() == "veth" {
						if err := h.LinkDel(l); err != nil && !isLinkNotFound(err) {
							errs = append(errs, fmt.Errorf("delete %s: %w", l.Attrs().Name, err))
						}
					}
				}
			} else {
				errs = append(errs, fmt.Errorf("list router links: %w", err))
			}
			h.Close()
		} else {
			errs = append(errs, err)
		}
		ns.Close()
	}
	errs = append(errs, deleteNamedNetNS(name))
	// Host ends left behind by a namespace deleted elsewhere.
	errs = append(errs, m.deleteHostEnds(routerUUID, nil))
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("remove state dir: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete router %s: %w", routerUUID, err)
	}
	m.log.Info("router deleted", "router_uuid", routerUUID)
	return nil
}

// deleteHostEnds removes the router's host-side interfaces except those named in keep.
func (m *Manager) deleteHostEnds(routerUUID string, keep map[string]bool) error {
	hostNS, err := openNetNS(m.cfg.HostNetNS)
	if err != nil {
		return fmt.Errorf("open host netns: %w", err)
	}
	defer hostNS.Close()
	h, err := handleAt(hostNS)
	if err != nil {
		return err
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return fmt.Errorf("list host links: %w", err)
	}
	prefix := hostIfPrefix(routerUUID)
	for _, l := range links {
		name := l.Attrs().Name
		if strings.HasPrefix(name, prefix) && len(name) == 15 && !keep[name] {
			if err := h.LinkDel(l); err != nil && !isLinkNotFound(err) {
				return fmt.Errorf("delete host link %s: %w", name, err)
			}
		}
	}
	return nil
}

// ifaceSpec is one veth pair to converge.
type ifaceSpec struct {
	networkUUID string
	bridge      string
	mtu         int
	mac         string
	addrs       []netip.Prefix
}

func (s *Spec) ifaceSpecs() []ifaceSpec {
	pub := ifaceSpec{networkUUID: s.Public.NetworkUUID, bridge: s.Public.Bridge, mtu: s.Public.MTU, mac: s.Public.MAC,
		addrs: []netip.Prefix{s.Public.Address}}
	for _, v := range s.vips() {
		if v != s.Public.Address.Addr() {
			pub.addrs = append(pub.addrs, netip.PrefixFrom(v, 32))
		}
	}
	out := []ifaceSpec{pub}
	for _, n := range s.Networks {
		out = append(out, ifaceSpec{networkUUID: n.NetworkUUID, bridge: n.Bridge, mtu: n.MTU, mac: n.MAC, addrs: []netip.Prefix{n.Gateway}})
	}
	return out
}

// vips returns every public VIP the spec uses, sorted and without duplicates.
func (s *Spec) vips() []netip.Addr {
	v := slices.Clone(s.Public.VIPs)
	for _, e := range s.EIPs {
		v = append(v, e.VIP)
	}
	for _, p := range s.PortForwards {
		v = append(v, p.VIP)
	}
	for _, lb := range s.LoadBalancers {
		v = append(v, lb.VIP)
	}
	for _, c := range s.IPsec {
		v = append(v, c.VIP)
	}
	v = slices.DeleteFunc(v, func(a netip.Addr) bool { return !a.IsValid() })
	slices.SortFunc(v, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(v)
}

func (m *Manager) ensureNetworks(_ context.Context, spec Spec) (Status, error) {
	st := Status{Namespace: Namespace(spec.UUID)}
	if err := os.MkdirAll(m.routerDir(spec.UUID), 0o700); err != nil {
		return st, fmt.Errorf("create router dir: %w", err)
	}
	routerNS, err := ensureNamedNetNS(st.Namespace)
	if err != nil {
		return st, err
	}
	defer routerNS.Close()
	hostNS, err := openNetNS(m.cfg.HostNetNS)
	if err != nil {
		return st, fmt.Errorf("open host netns: %w", err)
	}
	defer hostNS.Close()
	rh, err := handleAt(routerNS)
	if err != nil {
		return st, err
	}
	defer rh.Close()
	hh, err := handleAt(hostNS)
	if err != nil {
		return st, err
	}
	defer hh.Close()

	if err := setLinkUp(rh, "lo"); err != nil {
		return st, err
	}
	if err := inNetNS(routerNS, func() error {
		return errors.Join(
			os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644),
			// Router ends answer ARP only for their own addresses.
			os.WriteFile("/proc/sys/net/ipv4/conf/all/arp_ignore", []byte("1"), 0o644),
		)
	}); err != nil {
		return st, fmt.Errorf("enable forwarding: %w", err)
	}

	specs := spec.ifaceSpecs()
	keepRouter := map[string]bool{}
	keepHost := map[string]bool{}
	for _, is := range specs {
		ifs, err := m.ensureIface(rh, hh, routerNS, spec.UUID, is)
		if err != nil {
			return st, fmt.Errorf("network %s: %w", is.networkUUID, err)
		}
		keepRouter[ifs.RouterName] = true
		keepHost[ifs.HostName] = true
		st.Interfaces = append(st.Interfaces, ifs)
	}
	// Detach networks no longer in the spec.
	links, err := rh.LinkList()
	if err != nil {
		return st, fmt.Errorf("list router links: %w", err)
	}
	for _, l := range links {
		if name := l.Attrs().Name; strings.HasPrefix(name, "n-") && !keepRouter[name] {
			if err := rh.LinkDel(l); err != nil && !isLinkNotFound(err) {
				return st, fmt.Errorf("detach %s: %w", name, err)
			}
			m.log.Info("router network detached", "router_uuid", spec.UUID, "interface", name)
		}
	}
	if err := m.deleteHostEnds(spec.UUID, keepHost); err != nil {
		return st, err
	}
	if err := ensureRoutes(rh, spec); err != nil {
		return st, err
	}
	return st, nil
}

func setLinkUp(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if l.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// ensureIface converges one veth pair: creation, MTU, MAC, bridge port, addresses, link state.
func (m *Manager) ensureIface(rh, hh *netlink.Handle, routerNS netns.NsHandle, routerUUID string, is ifaceSpec) (InterfaceStatus, error) {
	ifs := InterfaceStatus{NetworkUUID: is.networkUUID, HostName: hostIfName(routerUUID, is.networkUUID), RouterName: routerIfName(is.networkUUID)}
	bridge, err := hh.LinkByName(is.bridge)
	if err != nil {
		return ifs, fmt.Errorf("bridge %s: %w", is.bridge, err)
	}
	var mac net.HardwareAddr
	if is.mac != "" {
		if mac, err = net.ParseMAC(is.mac); err != nil {
			return ifs, fmt.Errorf("mac %q: %w", is.mac, err)
		}
	}
	rl, rerr := rh.LinkByName(ifs.RouterName)
	hl, herr := hh.LinkByName(ifs.HostName)
	if rerr != nil && !isLinkNotFound(rerr) {
		return ifs, fmt.Errorf("look up %s: %w", ifs.RouterName, rerr)
	}
	if herr != nil && !isLinkNotFound(herr) {
		return ifs, fmt.Errorf("look up %s: %w", ifs.HostName, herr)
	}
	if rerr != nil || herr != nil {
		// A half pair (crash between steps, namespace recreated) is replaced.
		if rerr == nil {
			_ = rh.LinkDel(rl)
		}
		if herr == nil {
			_ = hh.LinkDel(hl)
		}
		veth := &netlink.Veth{
			LinkAttrs:        netlink.LinkAttrs{Name: ifs.HostName, MTU: is.mtu},
			PeerName:         ifs.RouterName,
			PeerNamespace:    netlink.NsFd(routerNS),
			PeerHardwareAddr: mac,
		}
		if is.mtu > 0 {
			veth.PeerMTU = uint32(is.mtu)
		}
		if err := hh.LinkAdd(veth); err != nil {
			return ifs, fmt.Errorf("create veth %s: %w", ifs.HostName, err)
		}
		if hl, err = hh.LinkByName(ifs.HostName); err != nil {
			return ifs, fmt.Errorf("look up %s: %w", ifs.HostName, err)
		}
		if rl, err = rh.LinkByName(ifs.RouterName); err != nil {
			return ifs, fmt.Errorf("look up %s: %w", ifs.RouterName, err)
		}
	}
	if is.mtu > 0 {
		for _, p := range []struct {
			h *netlink.Handle
			l netlink.Link
		}{{hh, hl}, {rh, rl}} {
			if p.l.Attrs().MTU != is.mtu {
				if err := p.h.LinkSetMTU(p.l, is.mtu); err != nil {
					return ifs, fmt.Errorf("set mtu of %s: %w", p.l.Attrs().Name, err)
				}
			}
		}
	}
	if mac != nil && rl.Attrs().HardwareAddr.String() != mac.String() {
		if err := rh.LinkSetHardwareAddr(rl, mac); err != nil {
			return ifs, fmt.Errorf("set mac of %s: %w", ifs.RouterName, err)
		}
	}
	if hl.Attrs().MasterIndex != bridge.Attrs().Index {
		if err := hh.LinkSetMasterByIndex(hl, bridge.Attrs().Index); err != nil {
			return ifs, fmt.Errorf("enslave %s to %s: %w", ifs.HostName, is.bridge, err)
		}
	}
	if err := ensureAddrs(rh, rl, is.addrs); err != nil {
		return ifs, err
	}
	if err := setLinkUp(hh, ifs.HostName); err != nil {
		return ifs, err
	}
	if err := setLinkUp(rh, ifs.RouterName); err != nil {
		return ifs, err
	}
	if rl, err = rh.LinkByName(ifs.RouterName); err == nil {
		ifs.MAC = rl.Attrs().HardwareAddr.String()
	}
	return ifs, nil
}

// ensureAddrs makes the IPv4 addresses of l exactly want.
func ensureAddrs(h *netlink.Handle, l netlink.Link, want []netip.Prefix) error {
	have, err := h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", l.Attrs().Name, err)
	}
	wantSet := map[netip.Prefix]bool{}
	for _, p := range want {
		wantSet[p] = true
	}
	haveSet := map[netip.Prefix]bool{}
	for _, a := range have {
		p, ok := prefixOf(a.IPNet)
		if ok && wantSet[p] {
			haveSet[p] = true
			continue
		}
		if err := h.AddrDel(l, &a); err != nil {
			return fmt.Errorf("remove address %s from %s: %w", a.IPNet, l.Attrs().Name, err)
		}
	}
	for _, p := range want {
		if haveSet[p] {
			continue
		}
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
		if err := h.AddrReplace(l, a); err != nil {
			return fmt.Errorf("add address %s to %s: %w", p, l.Attrs().Name, err)
		}
	}
	return nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}
