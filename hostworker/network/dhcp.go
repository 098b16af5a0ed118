package network

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// DHCPHost is one static lease: the VM NIC's MAC gets IP and hostname.
type DHCPHost struct {
	MAC      net.HardwareAddr
	IP       netip.Addr
	Hostname string
	// Metadata is what the L3's metadata service answers this NIC (with DHCPSpec.Metadata).
	Metadata *Metadata
}

// DHCPSpec is the DHCP service of one L3 network on one host (ZStack's flat network: every host
// runs its own server with the same IP, fenced off the wire so it answers only local VMs).
type DHCPSpec struct {
	L3UUID string
	// Bridge is the L2 bridge of the L3 (L2.BridgeName()).
	Bridge string
	// Uplink is the bridge's port leaving the host (L2.UplinkName()); DHCP traffic from and to
	// the local server never crosses it. Empty means no fencing.
	Uplink string
	// ServerIP is the L3's DHCP server address with the L3's prefix length.
	ServerIP netip.Prefix
	Gateway  netip.Addr
	DNS      []netip.Addr
	Domain   string
	MTU      int
	// ServeDNS makes dnsmasq a DNS server on ServerIP (port 53) for the L3's guests, who get
	// ServerIP as their DNS server: the hosts' names (and name.Domain) are answered from its
	// hosts file, the Domain is never forwarded, everything else goes to DNS. Without it dnsmasq
	// serves DHCP only and hands out DNS.
	ServeDNS bool
	// Metadata runs the L3's metadata service (ensureMetadata): guests get a route to
	// MetadataAddr through ServerIP and fetch their hosts' Metadata there.
	Metadata bool
	// LeaseTime defaults to 24h.
	LeaseTime time.Duration
	Hosts     []DHCPHost
}

// dhcpNames are the per-L3 object names on a host.
type dhcpNames struct {
	ns, outer, inner, dir, key string
}

func (h *Host) dhcpNames(l3UUID string) dhcpNames {
	id := shortID(l3UUID)
	return dhcpNames{
		ns:    "zd-" + id,
		outer: "zdo" + id,
		inner: "zdi" + id,
		dir:   filepath.Join(h.runDir, "dhcp-"+strings.ReplaceAll(l3UUID, "/", "_")),
		key:   "dhcp:" + l3UUID,
	}
}

// shortID is the first 8 characters of a UUID without dashes, used in interface names.
func shortID(uuid string) string {
	id := strings.ReplaceAll(uuid, "-", "")
	if len(id) > 8 {
		id = id[:8]
	}
	return id
}

func (s DHCPSpec) validate() error {
	if s.L3UUID == "" || len(shortID(s.L3UUID)) < 8 {
		return errors.New("dhcp needs an l3 uuid")
	}
	if s.Bridge == "" {
		return errors.New("dhcp needs a bridge")
	}
	if !s.ServerIP.IsValid() || !s.ServerIP.Addr().Is4() {
		return fmt.Errorf("dhcp server ip %v must be an ipv4 prefix", s.ServerIP)
	}
	if s.Gateway.IsValid() && !s.ServerIP.Masked().Contains(s.Gateway) {
		return fmt.Errorf("gateway %s outside %s", s.Gateway, s.ServerIP.Masked())
	}
	for _, e := range s.Hosts {
		if err := e.validate(s.ServerIP.Masked()); err != nil {
			return err
		}
	}
	return nil
}

func (e DHCPHost) validate(net netip.Prefix) error {
	if len(e.MAC) != 6 {
		return fmt.Errorf("dhcp host %v: bad mac", e.MAC)
	}
	if !net.Contains(e.IP) {
		return fmt.Errorf("dhcp host %s: ip %s outside %s", e.MAC, e.IP, net)
	}
	if strings.IndexFunc(e.Hostname, notHostnameRune) >= 0 {
		return fmt.Errorf("dhcp host %s: bad hostname %q", e.MAC, e.Hostname)
	}
	return nil
}

// notHostnameRune reports runes that may not appear in a DHCP hostname (dnsmasq's host file is
// comma-separated, so anything beyond letters, digits, '-' and '.' is refused).
func notHostnameRune(r rune) bool {
	return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '.'
}

// EnsureDHCP builds the L3's DHCP namespace (zd-<l3uuid8>) with a veth into the bridge holding the
// server IP, fences it from the uplink, writes dnsmasq's configuration and host file, and starts
// dnsmasq, or restarts it when the configuration changed. Only the listed hosts get leases.
func (h *Host) EnsureDHCP(ctx context.Context, s DHCPSpec) error {
	if err := s.validate(); err != nil {
		return err
	}
	n := h.dhcpNames(s.L3UUID)
	ns, err := h.ensureNamedNS(n.ns)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := h.ensureVethIntoNS(ctx, n.outer, n.inner, ns, s.Bridge, s.ServerIP, s.MTU); err != nil {
		return err
	}
	if err := h.fenceDHCP(n, s.Uplink); err != nil {
		return err
	}
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return fmt.Errorf("dhcp state dir: %w", err)
	}
	hostsChanged, err := writeIfChanged(filepath.Join(n.dir, "hosts"), hostsFile(s.Hosts))
	if err != nil {
		return err
	}
	dnsChanged, err := writeDNSHosts(n, s.ServeDNS, s.Domain, s.Hosts)
	if err != nil {
		return err
	}
	hostsChanged = hostsChanged || dnsChanged
	confChanged, err := writeIfChanged(filepath.Join(n.dir, "dnsmasq.conf"), dnsmasqConf(n, s))
	if err != nil {
		return err
	}
	if err := h.ensureMetadata(ctx, ns, n, s); err != nil {
		return err
	}
	pidFile := filepath.Join(n.dir, "dnsmasq.pid")
	pid, err := pidFromFile(pidFile, n.dir)
	if err != nil {
		return err
	}
	switch {
	case pid != 0 && !confChanged && hostsChanged:
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			return fmt.Errorf("reload dnsmasq %d: %w", pid, err)
		}
		return nil
	case pid != 0 && !confChanged:
		return nil
	case pid != 0:
		if err := stopByPIDFile(ctx, pidFile, n.dir); err != nil {
			return err
		}
	}
	return h.startDnsmasq(ctx, ns, n)
}

// SetHostEntries replaces the L3's static leases and makes dnsmasq re-read them (SIGHUP).
func (h *Host) SetHostEntries(ctx context.Context, l3UUID string, entries []DHCPHost) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := h.dhcpNames(l3UUID)
	pid, err := pidFromFile(filepath.Join(n.dir, "dnsmasq.pid"), n.dir)
	if err != nil {
		return err
	}
	if pid == 0 {
		return fmt.Errorf("dhcp of l3 %s is not running on this host", l3UUID)
	}
	changed, err := writeIfChanged(filepath.Join(n.dir, "hosts"), hostsFile(entries))
	if err != nil {
		return err
	}
	if dom, err := os.ReadFile(filepath.Join(n.dir, "dns-domain")); err == nil {
		dnsChanged, err := writeDNSHosts(n, true, strings.TrimSpace(string(dom)), entries)
		if err != nil {
			return err
		}
		changed = changed || dnsChanged
	}
	if !changed {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("reload dnsmasq %d: %w", pid, err)
	}
	return nil
}

// DeleteDHCP stops dnsmasq and the metadata server, removes the fence rules, the veth, the namespace and the state
// directory. Deleting a DHCP service that is gone succeeds.
func (h *Host) DeleteDHCP(ctx context.Context, l3UUID string) error {
	n := h.dhcpNames(l3UUID)
	if err := stopByPIDFile(ctx, filepath.Join(n.dir, metadataPID), n.dir); err != nil {
		return err
	}
	if err := stopByPIDFile(ctx, filepath.Join(n.dir, "dnsmasq.pid"), n.dir); err != nil {
		return err
	}
	if err := h.fenceDHCP(n, ""); err != nil {
		return err
	}
	if err := deleteLink(h.nl, n.outer); err != nil {
		return err
	}
	if err := h.deleteNamedNS(n.ns); err != nil {
		return err
	}
	if err := os.RemoveAll(n.dir); err != nil {
		return fmt.Errorf("remove dhcp state: %w", err)
	}
	return nil
}

func (h *Host) startDnsmasq(ctx context.Context, ns netns.NsHandle, n dhcpNames) error {
	conf := filepath.Join(n.dir, "dnsmasq.conf")
	var out []byte
	err := inNetNS(ns, func() error {
		// dnsmasq forks into the background; the parent exits once the daemon is set up, so its
		// exit status reports configuration errors. The child inherits this thread's namespace.
		var err error
		out, err = exec.CommandContext(ctx, h.dnsmasq, "--conf-file="+conf).CombinedOutput()
		return err
	})
	if err != nil {
		return fmt.Errorf("start dnsmasq for %s: %w: %s", n.ns, err, bytes.TrimSpace(out))
	}
	pid, err := pidFromFile(filepath.Join(n.dir, "dnsmasq.pid"), n.dir)
	if err != nil {
		return fmt.Errorf("dnsmasq for %s did not stay up (pid file): %w", n.ns, err)
	}
	if pid == 0 {
		return fmt.Errorf("dnsmasq for %s did not stay up: no pid file, or no dnsmasq behind it", n.ns)
	}
	h.log.Info("started dnsmasq", "netns", n.ns, "conf", conf)
	return nil
}

func dnsmasqConf(n dhcpNames, s DHCPSpec) []byte {
	lease := s.LeaseTime
	if lease <= 0 {
		lease = 24 * time.Hour
	}
	mask := net.IP(net.CIDRMask(s.ServerIP.Bits(), 32)).String()
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# written by zcloud for l3 %s; do not edit", s.L3UUID)
	w("interface=%s", n.inner)
	w("bind-interfaces")
	w("except-interface=lo")
	if !s.ServeDNS {
		w("port=0")
	}
	w("user=root")
	w("pid-file=%s", filepath.Join(n.dir, "dnsmasq.pid"))
	w("dhcp-leasefile=%s", filepath.Join(n.dir, "leases"))
	w("log-facility=%s", filepath.Join(n.dir, "dnsmasq.log"))
	w("dhcp-hostsfile=%s", filepath.Join(n.dir, "hosts"))
	w("dhcp-authoritative")
	w("dhcp-range=%s,static,%s,%ds", s.ServerIP.Masked().Addr(), mask, int(lease.Seconds()))
	if s.Gateway.IsValid() {
		w("dhcp-option=option:router,%s", s.Gateway)
	}
	switch {
	case s.ServeDNS:
		w("no-resolv")
		w("no-hosts")
		w("no-negcache")
		w("addn-hosts=%s", filepath.Join(n.dir, "dns-hosts"))
		for _, d := range s.DNS {
			w("server=%s", d)
		}
		if s.Domain != "" {
			w("local=/%s/", s.Domain)
		}
		w("dhcp-option=option:dns-server,%s", s.ServerIP.Addr())
	case len(s.DNS) > 0:
		var dns []string
		for _, d := range s.DNS {
			dns = append(dns, d.String())
		}
		w("dhcp-option=option:dns-server,%s", strings.Join(dns, ","))
	}
	if s.Domain != "" {
		w("domain=%s", s.Domain)
		w("dhcp-option=option:domain-name,%s", s.Domain)
	}
	if s.MTU > 0 {
		w("dhcp-option=option:mtu,%d", s.MTU)
	}
	if s.Metadata {
		w("%s", metadataRoute(s))
	}
	return []byte(b.String())
}

// writeDNSHosts writes (serve) or removes the DNS hosts file (`ip name name.domain` lines, which
// dnsmasq answers from) and the domain it was written for, which SetHostEntries reuses.
func writeDNSHosts(n dhcpNames, serve bool, domain string, entries []DHCPHost) (bool, error) {
	file, dom := filepath.Join(n.dir, "dns-hosts"), filepath.Join(n.dir, "dns-domain")
	if !serve {
		for _, f := range []string{file, dom} {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				return false, fmt.Errorf("remove %s: %w", f, err)
			}
		}
		return false, nil
	}
	if _, err := writeIfChanged(dom, []byte(domain+"\n")); err != nil {
		return false, err
	}
	lines := []string{}
	for _, e := range entries {
		if e.Hostname == "" {
			continue
		}
		line := e.IP.String() + " " + e.Hostname
		if domain != "" {
			line += " " + e.Hostname + "." + domain
		}
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return writeIfChanged(file, []byte(strings.Join(lines, "\n")+"\n"))
}

// hostsFile renders dnsmasq's dhcp-hostsfile (mac,ip[,hostname]), sorted for stable content.
func hostsFile(entries []DHCPHost) []byte {
	lines := make([]string, 0, len(entries))
	for _, e := range entries {
		line := strings.ToLower(e.MAC.String()) + "," + e.IP.String()
		if e.Hostname != "" {
			line += "," + e.Hostname
		}
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return []byte(strings.Join(lines, "\n") + "\n")
}

// writeIfChanged writes data atomically unless the file already holds it.
func writeIfChanged(path string, data []byte) (bool, error) {
	return writeFileIfChanged(path, data, 0o644)
}

// writeFileIfChanged is writeIfChanged with the file's permissions.
func writeFileIfChanged(path string, data []byte, perm os.FileMode) (bool, error) {
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data) {
		return false, nil
	}
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}

// ensureVethIntoNS creates outer (host side, plugged into bridge) <-> inner (inside ns, holding
// addr, up), repairing a half-built pair.
func (h *Host) ensureVethIntoNS(ctx context.Context, outer, inner string, ns netns.NsHandle, bridge string,
	addr netip.Prefix, mtu int) error {
	inNL, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in namespace: %w", err)
	}
	defer inNL.Close()
	out, err := linkByName(h.nl, outer)
	if err != nil {
		return err
	}
	in, err := linkByName(inNL, inner)
	if err != nil {
		return err
	}
	if out == nil || in == nil {
		if err := deleteLink(h.nl, outer); err != nil {
			return err
		}
		if err := deleteLink(inNL, inner); err != nil {
			return err
		}
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: outer}, PeerName: inner,
			PeerNamespace: netlink.NsFd(int(ns))}
		if err := h.nl.LinkAdd(v); err != nil {
			return fmt.Errorf("create veth %s<->%s: %w", outer, inner, err)
		}
		if in, err = inNL.LinkByName(inner); err != nil {
			return fmt.Errorf("find %s in namespace: %w", inner, err)
		}
	}
	if err := h.AttachPort(ctx, bridge, outer); err != nil {
		return err
	}
	if lo, err := inNL.LinkByName("lo"); err == nil {
		if err := inNL.LinkSetUp(lo); err != nil {
			return fmt.Errorf("set lo up: %w", err)
		}
	}
	if mtu == 0 {
		if br, err := h.nl.LinkByName(bridge); err == nil {
			mtu = br.Attrs().MTU
		}
	}
	if mtu > 0 && in.Attrs().MTU != mtu {
		if err := inNL.LinkSetMTU(in, mtu); err != nil {
			return fmt.Errorf("set mtu on %s: %w", inner, err)
		}
	}
	if err := setOnlyAddr(inNL, in, addr); err != nil {
		return err
	}
	if err := inNL.LinkSetUp(in); err != nil {
		return fmt.Errorf("set %s up: %w", inner, err)
	}
	return nil
}

// setOnlyAddr makes addr the link's only IPv4 address.
func setOnlyAddr(nl *netlink.Handle, l netlink.Link, addr netip.Prefix) error {
	have, err := nl.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", l.Attrs().Name, err)
	}
	found := false
	for _, a := range have {
		p, _ := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		if netip.PrefixFrom(p.Unmap(), ones) == addr {
			found = true
			continue
		}
		if err := nl.AddrDel(l, &a); err != nil {
			return fmt.Errorf("remove stale address %s from %s: %w", a.IPNet, l.Attrs().Name, err)
		}
	}
	if found {
		return nil
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(addr.Addr().AsSlice()), Mask: net.CIDRMask(addr.Bits(), 32)}}
	if err := nl.AddrAdd(l, a); err != nil {
		return fmt.Errorf("add %s to %s: %w", addr, l.Attrs().Name, err)
	}
	return nil
}

// The bridge-family table holding the DHCP fences.
var dhcpTable = &nftables.Table{Name: "zcloud_dhcp", Family: nftables.TableFamilyBridge}

// fenceDHCP replaces the L3's fence rules: nothing passes between the DHCP veth and the uplink,
// so each host's server answers only its own VMs and the shared server IP never clashes on the
// wire. An empty uplink removes the rules.
func (h *Host) fenceDHCP(n dhcpNames, uplink string) error {
	h.nftMu.Lock()
	defer h.nftMu.Unlock()
	c, err := h.nft()
	if err != nil {
		return err
	}
	all, err := rulesTagged(c, dhcpTable, "forward", "")
	if err != nil {
		return err
	}
	old, err := rulesTagged(c, dhcpTable, "forward", n.key)
	if err != nil {
		return err
	}
	if uplink == "" && len(old) == 0 {
		return nil
	}
	if uplink == "" && len(old) == len(all) {
		// The last user goes: remove the table rather than leave it empty.
		c.DelTable(dhcpTable)
		if err := c.Flush(); err != nil {
			return fmt.Errorf("remove table zcloud_dhcp: %w", err)
		}
		return nil
	}
	c.AddTable(dhcpTable)
	ch := c.AddChain(&nftables.Chain{Name: "forward", Table: dhcpTable, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
	for _, r := range old {
		if err := c.DelRule(r); err != nil {
			return fmt.Errorf("delete dhcp fence rule: %w", err)
		}
	}
	if uplink != "" {
		c.AddRule(&nftables.Rule{Table: dhcpTable, Chain: ch, UserData: tag(n.key),
			Exprs: exprs(iif(n.outer), oif(uplink), []expr.Any{counter(), verdict(expr.VerdictDrop)})})
		c.AddRule(&nftables.Rule{Table: dhcpTable, Chain: ch, UserData: tag(n.key),
			Exprs: exprs(iif(uplink), oif(n.outer), []expr.Any{counter(), verdict(expr.VerdictDrop)})})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("apply dhcp fence for %s: %w", n.ns, err)
	}
	return nil
}
