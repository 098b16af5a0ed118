package network

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// TestFlatEIP builds a flat EIP on hostA: a public NoVlan bridge over a "physical" veth whose far
// end is an outside namespace (172.31.0.1), a private VXLAN bridge with two guests. It proves the
// outside reaches the guest through the VIP (ICMP and TCP), the guest's own connections leave
// with the VIP as source, the other guest is fenced off the EIP namespace's gateway address,
// QoS caps both directions, and deletion leaves nothing behind.
func TestFlatEIP(t *testing.T) {
	l := newLab(t)
	ctx := t.Context()
	outside := testNS(t, l.dir, "outside")
	vethBetween(t, l.nsA, "pubA", outside, "eth0", "", "172.31.0.1/24", nil)
	pub := L2{Type: L2NoVlan, PhysicalInterface: "pubA"}
	priv := L2{Type: L2VXLAN, VNI: 5005, VTEPIP: l.vtepA}
	for _, l2 := range []L2{pub, priv} {
		if _, err := l.hostA.EnsureBridge(ctx, l2); err != nil {
			t.Fatal(err)
		}
	}
	g1 := l.addGuest(t, l.hostA, l.nsA, "g1", "vnic1.0", priv.BridgeName(), "fa:16:3e:00:05:01", "10.55.0.11/24")
	g2 := l.addGuest(t, l.hostA, l.nsA, "g2", "vnic2.0", priv.BridgeName(), "fa:16:3e:00:05:02", "10.55.0.12/24")
	for _, g := range []*guest{g1, g2} {
		if out, err := inNS(ctx, g.ns, "busybox", "ip", "route", "add", "default", "via", "10.55.0.1"); err != nil {
			t.Fatalf("default route in %s: %v: %s", g.ns, err, out)
		}
	}
	listenTCP(t, g1.ns, 8080)
	serveTCP(t, outside, 9090, func(c net.Conn) { // answers with the caller's address
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		_, _ = c.Write([]byte(host))
	})
	serveTCP(t, outside, 9091, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }) // sink
	serveTCP(t, g1.ns, 9092, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })   // sink

	const eipUUID = "e1b2c3d4-0000-4000-8000-0000000000e1"
	spec := EIPSpec{UUID: eipUUID, VIP: netip.MustParsePrefix("172.31.0.10/24"), PublicBridge: pub.BridgeName(),
		PublicGateway: netip.MustParseAddr("172.31.0.1"), PrivateBridge: priv.BridgeName(),
		PrivateGateway: netip.MustParsePrefix("10.55.0.1/24"), GuestIP: g1.ip, GuestMAC: g1.mac, GuestDevice: g1.tap}
	t.Cleanup(func() { _ = l.hostA.DeleteEIP(ctx, eipUUID) })
	for range 2 {
		start := time.Now()
		if err := l.hostA.EnsureEIP(ctx, spec); err != nil {
			t.Fatal(err)
		}
		t.Logf("EnsureEIP: %s", time.Since(start))
	}
	vip := spec.VIP.Addr()
	neighs, err := nlAt(t, l.hostA.nsPath(eipNamesOf(eipUUID).ns)).NeighList(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	pinned := false
	for _, n := range neighs {
		pinned = pinned || (n.IP.String() == g1.ip.String() && n.HardwareAddr.String() == g1.mac.String() && n.State == netlink.NUD_PERMANENT)
	}
	if !pinned {
		t.Fatalf("guest %s not pinned in the EIP namespace: %v", g1.ip, neighs)
	}
	eventually(t, 5*time.Second, "outside pings the VIP", func() error { return ping(ctx, outside, vip) })
	eventually(t, 5*time.Second, "outside reaches guest tcp 8080 via the VIP", func() error {
		return dialTCP(outside, vip, 8080)
	})
	var seen string
	eventually(t, 5*time.Second, "guest connects out", func() error {
		c, err := dialIn(g1.ns, netip.MustParseAddrPort("172.31.0.1:9090"))
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		b, err := io.ReadAll(c)
		seen = string(b)
		return err
	})
	if seen != vip.String() {
		t.Fatalf("outside saw the guest as %q, want the VIP %s", seen, vip)
	}
	never(t, "the guest without EIP reaches the outside through the EIP namespace", func() error {
		return ping(ctx, g2.ns, netip.MustParseAddr("172.31.0.1"))
	})
	if out, _ := inNS(ctx, g2.ns, "busybox", "ip", "neigh", "show", "10.55.0.1"); strings.Contains(out, "lladdr") {
		t.Fatalf("g2 learned the EIP namespace's gateway MAC: %s", out)
	}
	eventually(t, 5*time.Second, "g1 and g2 still talk on the private L2", func() error { return ping(ctx, g1.ns, g2.ip) })

	// QoS: 8 Mbit/s each way. 2 MB cannot pass in under ~1.9 s (asserted >= 1.5 s).
	unlimited := sendBytes(t, g1.ns, netip.MustParseAddrPort("172.31.0.1:9091"), 2<<20)
	spec.OutboundBandwidth, spec.InboundBandwidth = 8_000_000, 8_000_000
	if err := l.hostA.EnsureEIP(ctx, spec); err != nil {
		t.Fatal(err)
	}
	out := sendBytes(t, g1.ns, netip.MustParseAddrPort("172.31.0.1:9091"), 2<<20)
	in := sendBytes(t, outside, netip.AddrPortFrom(vip, 9092), 2<<20)
	t.Logf("2 MiB guest->outside: unlimited %s, at 8 Mbit/s %s; outside->guest at 8 Mbit/s %s", unlimited, out, in)
	if out < 1500*time.Millisecond || in < 1500*time.Millisecond {
		t.Fatalf("QoS not applied: out %s, in %s; want >= 1.5 s each", out, in)
	}
	spec.OutboundBandwidth, spec.InboundBandwidth = 0, 0
	if err := l.hostA.EnsureEIP(ctx, spec); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		if err := l.hostA.DeleteEIP(ctx, eipUUID); err != nil {
			t.Fatalf("DeleteEIP: %v", err)
		}
	}
	n := eipNamesOf(eipUUID)
	if names := linkNames(t, l.nsA); contains(names, n.pubOuter) || contains(names, n.privOuter) {
		t.Fatalf("EIP veths left: %v", names)
	}
	if _, err := os.Stat(l.hostA.nsPath(n.ns)); !os.IsNotExist(err) {
		t.Fatalf("EIP namespace left: %v", err)
	}
	assertHostClean(t, l.hostA, l.nsA)
	never(t, "outside pings the deleted VIP", func() error { return ping(ctx, outside, vip) })
}

// sendBytes writes n bytes from inside the namespace and returns how long the transfer took
// until the receiver had acknowledged the close.
func sendBytes(t *testing.T, nsPath string, to netip.AddrPort, n int) time.Duration {
	t.Helper()
	start := time.Now()
	c, err := dialIn(nsPath, to)
	if err != nil {
		t.Fatalf("dial %s: %v", to, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.Copy(c, bytes.NewReader(make([]byte, n))); err != nil {
		t.Fatalf("send to %s: %v", to, err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("wait for close from %s: %v", to, fmt.Sprint(err))
	}
	return time.Since(start)
}
