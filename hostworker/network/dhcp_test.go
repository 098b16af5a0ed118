package network

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// udhcpc runs busybox udhcpc (from busybox-static) in the guest and returns the options of the
// lease it bound; the script also configures eth0 with the leased address.
func udhcpc(t *testing.T, g *guest) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "lease.env")
	script := filepath.Join(dir, "script.sh")
	body := fmt.Sprintf(`#!/bin/sh
[ "$1" = bound ] || exit 0
busybox ifconfig "$interface" "$ip" netmask "$subnet" up
for k in ip subnet router dns domain hostname mtu serverid lease; do eval "echo $k=\$$k"; done > %s
`, out)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := inNS(t.Context(), g.ns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f",
		"-t", "5", "-T", "1", "-O", "mtu", "-s", script)
	if err != nil {
		t.Fatalf("udhcpc in %s: %v: %s", g.ns, err, res)
	}
	t.Logf("udhcpc got a lease in %s", time.Since(start))
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("udhcpc bound nothing: %v: %s", err, res)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = strings.TrimSpace(v)
	}
	g.ip = netip.MustParseAddr(env["ip"])
	return env
}

// TestDHCPDistributed runs the L3's DHCP on both hosts of a VXLAN network with the same server
// IP. The fence keeps hostA's server from answering hostB's guest; each guest gets its static
// lease (IP, gateway, DNS, domain, hostname, MTU) from its own host via busybox udhcpc; an unknown
// MAC gets none; host entries are replaced with a SIGHUP; a guest behind a closed security group
// still gets DHCP; deletion leaves no process, link, rule, namespace or file.
func TestDHCPDistributed(t *testing.T) {
	l := newLab(t)
	ctx := t.Context()
	const l3 = "8f5c1a2e-0000-4000-8000-000000000001"
	l2A := L2{Type: L2VXLAN, VNI: 5001, VTEPIP: l.vtepA, Peers: []netip.Addr{l.vtepB}}
	l2B := L2{Type: L2VXLAN, VNI: 5001, VTEPIP: l.vtepB, Peers: []netip.Addr{l.vtepA}}
	macA, _ := net.ParseMAC("fa:16:3e:00:01:01")
	macB, _ := net.ParseMAC("fa:16:3e:00:01:02")
	entries := []DHCPHost{
		{MAC: macA, IP: netip.MustParseAddr("10.51.0.21"), Hostname: "vm-a"},
		{MAC: macB, IP: netip.MustParseAddr("10.51.0.22"), Hostname: "vm-b"},
	}
	spec := func(l2 L2) DHCPSpec {
		return DHCPSpec{L3UUID: l3, Bridge: l2.BridgeName(), Uplink: l2.UplinkName(),
			ServerIP: netip.MustParsePrefix("10.51.0.2/24"), Gateway: netip.MustParseAddr("10.51.0.1"),
			DNS: []netip.Addr{netip.MustParseAddr("10.51.0.53")}, Domain: "zcloud.test", MTU: 1450,
			LeaseTime: time.Hour, Hosts: entries}
	}
	ensure := func(h *Host, l2 L2) {
		t.Helper()
		start := time.Now()
		if err := h.EnsureDHCP(ctx, spec(l2)); err != nil {
			t.Fatal(err)
		}
		t.Logf("EnsureDHCP (namespace, veth, fence, dnsmasq start): %s", time.Since(start))
		t.Cleanup(func() { _ = h.DeleteDHCP(ctx, l3) })
	}
	if _, err := l.hostA.EnsureBridge(ctx, l2A); err != nil {
		t.Fatal(err)
	}
	if _, err := l.hostB.EnsureBridge(ctx, l2B); err != nil {
		t.Fatal(err)
	}
	ensure(l.hostA, l2A)
	pidBefore := dnsmasqPID(t, l.hostA, l3)
	if err := l.hostA.EnsureDHCP(ctx, spec(l2A)); err != nil {
		t.Fatal(err)
	}
	if pid := dnsmasqPID(t, l.hostA, l3); pid != pidBefore {
		t.Fatalf("unchanged EnsureDHCP restarted dnsmasq: pid %d -> %d", pidBefore, pid)
	}

	gA := l.addGuest(t, l.hostA, l.nsA, "gA", "vnic1.0", l2A.BridgeName(), macA.String(), "")
	gB := l.addGuest(t, l.hostB, l.nsB, "gB", "vnic2.0", l2B.BridgeName(), macB.String(), "")
	// Only hostA serves DHCP so far, and its server is fenced off the VXLAN uplink: gB, on hostB,
	// gets no lease although hostA's dnsmasq knows its MAC and the L2 joins the hosts.
	if out, err := inNS(ctx, gB.ns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "2", "-T", "1",
		"-s", "/bin/true"); err == nil {
		t.Fatalf("gB got a lease from hostA's fenced server: %s", out)
	}
	ensure(l.hostB, l2B)
	for _, c := range []struct {
		g      *guest
		ip, hn string
	}{{gA, "10.51.0.21", "vm-a"}, {gB, "10.51.0.22", "vm-b"}} {
		env := udhcpc(t, c.g)
		want := map[string]string{"ip": c.ip, "subnet": "255.255.255.0", "router": "10.51.0.1",
			"dns": "10.51.0.53", "domain": "zcloud.test", "hostname": c.hn, "mtu": "1450",
			"serverid": "10.51.0.2", "lease": "3600"}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("lease of %s: %s = %q, want %q (all: %v)", c.g.ns, k, env[k], v, env)
			}
		}
	}
	// The guests reach each other over VXLAN.
	eventually(t, 5*time.Second, "gA pings gB", func() error { return ping(ctx, gA.ns, gB.ip) })

	// An unknown MAC gets nothing (static leases only); after SetHostEntries it does.
	macC, _ := net.ParseMAC("fa:16:3e:00:01:03")
	gC := l.addGuest(t, l.hostA, l.nsA, "gC", "vnic3.0", l2A.BridgeName(), macC.String(), "")
	if out, err := inNS(ctx, gC.ns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "2", "-T", "1",
		"-s", "/bin/true"); err == nil {
		t.Fatalf("unknown MAC got a lease: %s", out)
	}
	entries = append(entries, DHCPHost{MAC: macC, IP: netip.MustParseAddr("10.51.0.23"), Hostname: "vm-c"})
	start := time.Now()
	if err := l.hostA.SetHostEntries(ctx, l3, entries); err != nil {
		t.Fatal(err)
	}
	t.Logf("SetHostEntries (rewrite + SIGHUP): %s", time.Since(start))
	if pid := dnsmasqPID(t, l.hostA, l3); pid != pidBefore {
		t.Fatalf("SetHostEntries restarted dnsmasq: pid %d -> %d", pidBefore, pid)
	}
	// gC sits behind a security group with no rule (all ingress denied): DHCP still passes.
	if err := l.hostA.ApplyNIC(ctx, NICPolicy{Device: gC.tap, Groups: []SecurityGroup{{UUID: "sg-closed"}}}); err != nil {
		t.Fatal(err)
	}
	if env := udhcpc(t, gC); env["ip"] != "10.51.0.23" || env["hostname"] != "vm-c" {
		t.Fatalf("after SetHostEntries lease = %v, want 10.51.0.23 vm-c", env)
	}
	never(t, "gA pings gC behind its closed group", func() error { return ping(ctx, gA.ns, gC.ip) })
	if err := l.hostA.RemoveNIC(ctx, gC.tap); err != nil {
		t.Fatal(err)
	}

	// A changed option restarts dnsmasq.
	s := spec(l2A)
	s.Hosts = entries
	s.DNS = []netip.Addr{netip.MustParseAddr("10.51.0.54")}
	if err := l.hostA.EnsureDHCP(ctx, s); err != nil {
		t.Fatal(err)
	}
	if pid := dnsmasqPID(t, l.hostA, l3); pid == pidBefore || pid == 0 {
		t.Fatalf("changed config: dnsmasq pid %d, want a new process", pid)
	}

	for range 2 {
		if err := l.hostA.DeleteDHCP(ctx, l3); err != nil {
			t.Fatalf("DeleteDHCP: %v", err)
		}
	}
	assertDHCPGone(t, l.hostA, l.nsA, l3, pidBefore)
	assertHostClean(t, l.hostA, l.nsA)
}

func dnsmasqPID(t *testing.T, h *Host, l3 string) int {
	t.Helper()
	n := h.dhcpNames(l3)
	pid, err := pidFromFile(filepath.Join(n.dir, "dnsmasq.pid"), n.dir)
	if err != nil || pid == 0 {
		t.Fatalf("dnsmasq of %s not running: %v", l3, err)
	}
	return pid
}

func assertDHCPGone(t *testing.T, h *Host, hostNS, l3 string, pids ...int) {
	t.Helper()
	n := h.dhcpNames(l3)
	if names := linkNames(t, hostNS); contains(names, n.outer) {
		t.Errorf("veth %s left: %v", n.outer, names)
	}
	if _, err := os.Stat(h.nsPath(n.ns)); !os.IsNotExist(err) {
		t.Errorf("namespace %s left: %v", n.ns, err)
	}
	if _, err := os.Stat(n.dir); !os.IsNotExist(err) {
		t.Errorf("state dir %s left: %v", n.dir, err)
	}
	for _, pid := range pids {
		if processAlive(pid) {
			t.Errorf("dnsmasq pid %d still running", pid)
		}
	}
}

// assertHostClean lists the host namespace: no zcloud nftables table, no DHCP/EIP veth, no named
// namespace, no dnsmasq state may remain.
func assertHostClean(t *testing.T, h *Host, hostNS string) {
	t.Helper()
	c, err := h.nft()
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if strings.HasPrefix(tb.Name, "zcloud_") {
			t.Errorf("nftables table %s (family %d) left", tb.Name, tb.Family)
		}
	}
	for _, name := range linkNames(t, hostNS) {
		if strings.HasPrefix(name, "zd") || strings.HasPrefix(name, "ze") {
			t.Errorf("link %s left", name)
		}
	}
	for _, dir := range []string{h.netnsDir, h.runDir} {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s not empty: %v", dir, entries)
		}
	}
}
