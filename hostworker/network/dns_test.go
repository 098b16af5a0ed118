package network

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDHCPServesDNS runs an L3's dnsmasq with ServeDNS: the guest learns the DHCP server's own
// address as its DNS server and resolves `<vm name>.<domain>` through it
// from the hosts file; names of the domain are never forwarded (an unknown one is NXDOMAIN at
// once), other names go to the L3's DNS server, here a dnsmasq in a second guest namespace
// standing for the outside resolver. Turning DNS off closes port 53 again.
func TestDHCPServesDNS(t *testing.T) {
	l := newLab(t)
	ctx := t.Context()
	const l3 = "8f5c1a2e-0000-4000-8000-0000000000d5"
	l2 := L2{Type: L2VXLAN, VNI: 5003, VTEPIP: l.vtepA, Peers: []netip.Addr{l.vtepB}}
	if _, err := l.hostA.EnsureBridge(ctx, l2); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.hostA.DeleteBridge(ctx, l2) })
	macA, _ := net.ParseMAC("fa:16:3e:00:05:01")
	macU, _ := net.ParseMAC("fa:16:3e:00:05:53")
	spec := DHCPSpec{L3UUID: l3, Bridge: l2.BridgeName(), Uplink: l2.UplinkName(), ServerIP: netip.MustParsePrefix("10.53.0.2/24"),
		Gateway: netip.MustParseAddr("10.53.0.1"), DNS: []netip.Addr{netip.MustParseAddr("10.53.0.53")}, Domain: "zcloud.test",
		MTU: 1450, ServeDNS: true, Hosts: []DHCPHost{{MAC: macA, IP: netip.MustParseAddr("10.53.0.21"), Hostname: "vm-a"}}}
	start := time.Now()
	if err := l.hostA.EnsureDHCP(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t.Logf("EnsureDHCP with DNS: %s", time.Since(start))
	t.Cleanup(func() { _ = l.hostA.DeleteDHCP(ctx, l3) })

	// The "outside" resolver: knows only outside.example.
	up := l.addGuest(t, l.hostA, l.nsA, "gU", "vnic5.53", l2.BridgeName(), macU.String(), "10.53.0.53/24")
	pidFile := filepath.Join(t.TempDir(), "up.pid")
	if out, err := inNS(ctx, up.ns, "dnsmasq", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
		"--interface=eth0", "--except-interface=lo", "--user=root", "--pid-file="+pidFile, "--address=/outside.example/10.99.0.7"); err != nil {
		t.Fatalf("start upstream dnsmasq: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	})

	gA := l.addGuest(t, l.hostA, l.nsA, "gA", "vnic5.1", l2.BridgeName(), macA.String(), "")
	env := udhcpc(t, gA)
	if env["dns"] != "10.53.0.2" {
		t.Fatalf("guest's dns = %q, want the dhcp server 10.53.0.2 (lease %v)", env["dns"], env)
	}
	lookup := func(name string) (string, error) {
		out, err := inNS(ctx, gA.ns, "busybox", "nslookup", name, env["dns"])
		return out, err
	}
	for _, name := range []string{"vm-a.zcloud.test"} {
		var out string
		eventually(t, 5*time.Second, "resolve "+name, func() error {
			var err error
			out, err = lookup(name)
			return err
		})
		if !strings.Contains(out, "10.53.0.21") {
			t.Fatalf("%s resolved to %s, want 10.53.0.21", name, out)
		}
	}
	if out, err := lookup("nosuch.zcloud.test"); err == nil {
		t.Fatalf("an unknown name of the l3's domain resolved: %s", out)
	}
	// The upstream answers A only (busybox also asks AAAA, which it refuses).
	out, err := lookup("outside.example")
	if !strings.Contains(out, "10.99.0.7") {
		t.Fatalf("outside.example through the forwarder: %v: %s", err, out)
	}

	// DNS off: dnsmasq restarts on port 0 and hands out the L3's DNS server.
	spec.ServeDNS = false
	if err := l.hostA.EnsureDHCP(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if out, err := lookup("vm-a.zcloud.test"); err == nil {
		t.Fatalf("dns still served after ServeDNS was turned off: %s", out)
	}
	if env := udhcpc(t, gA); env["dns"] != "10.53.0.53" {
		t.Fatalf("guest's dns = %q, want the l3's 10.53.0.53", env["dns"])
	}
	if err := l.hostA.DeleteDHCP(ctx, l3); err != nil {
		t.Fatal(err)
	}
	assertDHCPGone(t, l.hostA, l.nsA, l3)
}
