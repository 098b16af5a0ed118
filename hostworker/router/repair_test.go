package router

import (
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// TestEnsureRepairs breaks a converged router the ways a crash or an operator can (half veth
// pair, lost address and MTU, deleted route, flushed nftables table, killed dnsmasq) and checks
// that one Ensure puts everything back.
func TestEnsureRepairs(t *testing.T) {
	requireNet(t, "/usr/sbin/dnsmasq", "/usr/sbin/nft")
	l := newLab(t)
	brPub, brA := l.bridge(l.prefix+"pub"), l.bridge(l.prefix+"a")
	m, err := New(Config{StateDir: t.TempDir(), HostNetNS: l.hostPath()})
	if err != nil {
		t.Fatal(err)
	}
	uuid := randHex(t, 16)
	t.Cleanup(func() {
		if err := m.Delete(cleanupCtx(t), uuid); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	netA := Network{NetworkUUID: randHex(t, 16), Bridge: brA, MTU: 1400, Gateway: pfx("10.1.0.1/24"), SNAT: true, DHCP: true}
	spec := Spec{UUID: uuid,
		Public:   PublicNetwork{NetworkUUID: randHex(t, 16), Bridge: brPub, Address: pfx("203.0.113.2/24"), Gateway: addr("203.0.113.254")},
		Networks: []Network{netA},
		EIPs:     []EIP{{VIP: addr("203.0.113.10"), GuestIP: addr("10.1.0.10")}},
	}
	st, err := m.Ensure(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := netns.GetFromName(st.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	rh, err := handleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer rh.Close()

	// Half pair for netA: the router end is gone, a stray host end with the same name remains.
	if err := rh.LinkDel(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: routerIfName(netA.NetworkUUID)}}); err != nil {
		t.Fatal(err)
	}
	if err := l.hostH.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostIfName(uuid, netA.NetworkUUID)}, PeerName: l.prefix + "stray"}); err != nil {
		t.Fatal(err)
	}
	// Lost VIP address and MTU on the public end, deleted default route, flushed table, dead dnsmasq.
	pub, err := rh.LinkByName(routerIfName(spec.Public.NetworkUUID))
	if err != nil {
		t.Fatal(err)
	}
	if err := ensureAddrs(rh, pub, []netip.Prefix{spec.Public.Address}); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{{"ip", "route", "del", "default"}, {"nft", "flush", "table", "ip", TableName}} {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", st.Namespace}, c...)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", c, err, out)
		}
	}
	if err := syscall.Kill(st.DnsmasqPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !waitGone(t.Context(), st.DnsmasqPID, 5*time.Second) {
		t.Fatal("dnsmasq did not die")
	}

	st2, err := m.Ensure(t.Context(), spec)
	if err != nil {
		t.Fatalf("repairing ensure: %v", err)
	}
	if st2.DnsmasqPID == 0 || st2.DnsmasqPID == st.DnsmasqPID || !processAlive(st2.DnsmasqPID, "") {
		t.Errorf("dnsmasq not restarted: %d -> %d", st.DnsmasqPID, st2.DnsmasqPID)
	}
	ra, err := rh.LinkByName(routerIfName(netA.NetworkUUID))
	if err != nil || ra.Attrs().MTU != 1400 {
		t.Fatalf("router end of netA: %v %v", ra, err)
	}
	ha, err := l.hostH.LinkByName(hostIfName(uuid, netA.NetworkUUID))
	if err != nil || ha.Type() != "veth" || ha.Attrs().MTU != 1400 {
		t.Fatalf("host end of netA: %v", err)
	}
	br, _ := l.hostH.LinkByName(brA)
	if ha.Attrs().MasterIndex != br.Attrs().Index {
		t.Errorf("host end not on bridge %s", brA)
	}
	if _, err := l.hostH.LinkByName(l.prefix + "stray"); err == nil {
		t.Error("stray half pair left behind")
	}
	out, _ := exec.Command("ip", "-n", st.Namespace, "-4", "addr", "show").CombinedOutput()
	for _, want := range []string{"203.0.113.10/32", "10.1.0.1/24"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("addresses lack %s:\n%s", want, out)
		}
	}
	out, _ = exec.Command("ip", "-n", st.Namespace, "route", "show", "default").CombinedOutput()
	if !strings.Contains(string(out), "via 203.0.113.254") {
		t.Errorf("default route not restored: %s", out)
	}
	out, _ = exec.Command("ip", "netns", "exec", st.Namespace, "nft", "list", "table", "ip", TableName).CombinedOutput()
	if !strings.Contains(string(out), "dnat to 10.1.0.10") {
		t.Errorf("nftables not restored:\n%s", out)
	}
	assertDeleted(t, m, l, uuid, st2)
}
