package network

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestVXLANAcrossHosts builds br_vx_5000 on two hosts joined by an underlay veth, plugs a guest
// into each, and pings across; then checks idempotence, peer updates and clean deletion.
func TestVXLANAcrossHosts(t *testing.T) {
	l := newLab(t)
	ctx := t.Context()
	l2A := L2{Type: L2VXLAN, VNI: 5000, VTEPIP: l.vtepA, Peers: []netip.Addr{l.vtepA, l.vtepB}, MTU: 1400}
	l2B := L2{Type: L2VXLAN, VNI: 5000, VTEPIP: l.vtepB, Peers: []netip.Addr{l.vtepA}, MTU: 1400}
	start := time.Now()
	for range 2 { // the second round proves idempotence
		if _, err := l.hostA.EnsureBridge(ctx, l2A); err != nil {
			t.Fatal(err)
		}
		if _, err := l.hostB.EnsureBridge(ctx, l2B); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("EnsureBridge vxlan x4: %s", time.Since(start))
	gA := l.addGuest(t, l.hostA, l.nsA, "gA", "vnic1.0", "br_vx_5000", "fa:16:3e:00:00:01", "10.50.0.11/24")
	gB := l.addGuest(t, l.hostB, l.nsB, "gB", "vnic2.0", "br_vx_5000", "fa:16:3e:00:00:02", "10.50.0.12/24")

	peers, err := l.hostA.floodPeers(mustLink(t, l.hostA, "vxlan5000"))
	if err != nil || len(peers) != 1 || !peers[l.vtepB] {
		t.Fatalf("hostA flood peers = %v, %v; want only %s (own VTEP skipped)", peers, err, l.vtepB)
	}
	vx, ok := mustLink(t, l.hostA, "vxlan5000").(*netlink.Vxlan)
	if !ok || vx.VxlanId != 5000 || vx.Port != VXLANPort || vx.Learning || vx.SrcAddr.String() != "192.168.77.1" {
		t.Fatalf("vxlan5000 = %+v; want vni 5000, dstport 4789, learning off, local 192.168.77.1", vx)
	}
	if mtu := mustLink(t, l.hostA, "br_vx_5000").Attrs().MTU; mtu != 1400 {
		t.Fatalf("bridge mtu = %d, want 1400", mtu)
	}
	if mtu := mustLink(t, l.hostA, "vnic1.0").Attrs().MTU; mtu != 1400 {
		t.Fatalf("attached port mtu = %d, want the bridge's 1400", mtu)
	}
	eventually(t, 5*time.Second, "gA pings gB over vxlan", func() error { return ping(ctx, gA.ns, gB.ip) })

	// Without the peer entry on hostB, B's broadcasts (ARP) never reach A.
	l2B.Peers = nil
	if err := l.hostB.UpdatePeers(ctx, l2B); err != nil {
		t.Fatal(err)
	}
	if p, _ := l.hostB.floodPeers(mustLink(t, l.hostB, "vxlan5000")); len(p) != 0 {
		t.Fatalf("hostB peers after removal = %v, want none", p)
	}
	_, _ = inNS(ctx, gB.ns, "busybox", "ip", "neigh", "flush", "dev", "eth0")
	never(t, "gB pings gA without a flood entry", func() error { return ping(ctx, gB.ns, gA.ip) })
	l2B.Peers = []netip.Addr{l.vtepA}
	if err := l.hostB.UpdatePeers(ctx, l2B); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "gB pings gA after re-adding the peer", func() error { return ping(ctx, gB.ns, gA.ip) })

	// A bridge with a guest port left refuses deletion.
	if err := l.hostA.DeleteBridge(ctx, l2A); !errors.Is(err, ErrInUse) {
		t.Fatalf("DeleteBridge with a guest port: err = %v, want ErrInUse", err)
	}
	if err := deleteLink(l.hostA.nl, "vnic1.0"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := l.hostA.DeleteBridge(ctx, l2A); err != nil {
			t.Fatalf("DeleteBridge: %v", err)
		}
	}
	names := linkNames(t, l.nsA)
	if contains(names, "br_vx_5000") || contains(names, "vxlan5000") {
		t.Fatalf("links left on hostA after DeleteBridge: %v", names)
	}
}

// TestNoVlanBridge enslaves a "physical" NIC (a veth) to br_<phys>; deletion releases the NIC
// and keeps it.
func TestNoVlanBridge(t *testing.T) {
	l := newLab(t)
	ctx := t.Context()
	l2 := L2{Type: L2NoVlan, PhysicalInterface: "uA"}
	for range 2 {
		name, err := l.hostA.EnsureBridge(ctx, l2)
		if err != nil || name != "br_uA" {
			t.Fatalf("EnsureBridge = %q, %v; want br_uA", name, err)
		}
	}
	br := mustLink(t, l.hostA, "br_uA")
	if m := mustLink(t, l.hostA, "uA").Attrs().MasterIndex; m != br.Attrs().Index {
		t.Fatalf("uA master = %d, want br_uA (%d)", m, br.Attrs().Index)
	}
	for range 2 {
		if err := l.hostA.DeleteBridge(ctx, l2); err != nil {
			t.Fatal(err)
		}
	}
	names := linkNames(t, l.nsA)
	if contains(names, "br_uA") || !contains(names, "uA") {
		t.Fatalf("after delete links = %v; want uA kept, br_uA gone", names)
	}
	if m := mustLink(t, l.hostA, "uA").Attrs().MasterIndex; m != 0 {
		t.Fatalf("uA still enslaved to %d", m)
	}
}

// TestVlanBridgeUnsupported runs the L2Vlan path on this kernel, which is built without
// CONFIG_VLAN_8021Q: creating uA.100 must fail with the kernel's EOPNOTSUPP, wrapped as
// errors.ErrUnsupported, and leave neither the 802.1Q device nor the bridge behind. On a kernel
// with 802.1Q the test instead checks the bridge was built.
func TestVlanBridgeUnsupported(t *testing.T) {
	l := newLab(t)
	ctx := t.Context()
	l2 := L2{Type: L2Vlan, PhysicalInterface: "uA", VLAN: 100}
	_, err := l.hostA.EnsureBridge(ctx, l2)
	if err == nil {
		if !contains(linkNames(t, l.nsA), "br_uA_100") {
			t.Fatal("EnsureBridge succeeded but br_uA_100 is missing")
		}
		t.Log("this kernel supports 802.1Q; vlan bridge built")
		if err := l.hostA.DeleteBridge(ctx, l2); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Logf("kernel refused 802.1Q as expected: %v", err)
	if !errors.Is(err, errors.ErrUnsupported) || !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("err = %v; want errors.ErrUnsupported wrapping EOPNOTSUPP", err)
	}
	names := linkNames(t, l.nsA)
	if contains(names, "uA.100") || contains(names, "br_uA_100") {
		t.Fatalf("failed vlan path left links: %v", names)
	}
	if err := l.hostA.DeleteBridge(ctx, l2); err != nil {
		t.Fatalf("DeleteBridge of a never-built vlan bridge: %v", err)
	}
}
