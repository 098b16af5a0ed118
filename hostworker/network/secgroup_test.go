package network

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// TestSecurityGroups proves stateful host-side security groups on bridged VM NICs: a group blocks
// ICMP and TCP to a guest on another host, rule changes re-open them, replies to the guest's own
// connections pass, CIDR and remote-group peers are honoured, egress rules restrict outbound
// traffic, and removing every NIC leaves no table, chain, set or rule.
func TestSecurityGroups(t *testing.T) {
	l := newLab(t)
	ctx := t.Context()
	l2A := L2{Type: L2VXLAN, VNI: 5003, VTEPIP: l.vtepA, Peers: []netip.Addr{l.vtepB}}
	l2B := L2{Type: L2VXLAN, VNI: 5003, VTEPIP: l.vtepB, Peers: []netip.Addr{l.vtepA}}
	if _, err := l.hostA.EnsureBridge(ctx, l2A); err != nil {
		t.Fatal(err)
	}
	if _, err := l.hostB.EnsureBridge(ctx, l2B); err != nil {
		t.Fatal(err)
	}
	a1 := l.addGuest(t, l.hostA, l.nsA, "a1", "vnic1.0", l2A.BridgeName(), "fa:16:3e:00:03:01", "10.53.0.11/24")
	a2 := l.addGuest(t, l.hostA, l.nsA, "a2", "vnic2.0", l2A.BridgeName(), "fa:16:3e:00:03:02", "10.53.0.12/24")
	b := l.addGuest(t, l.hostB, l.nsB, "b", "vnic3.0", l2B.BridgeName(), "fa:16:3e:00:03:03", "10.53.0.13/24")
	for _, g := range []*guest{a1, a2, b} {
		listenTCP(t, g.ns, 8080)
	}
	t.Cleanup(func() {
		_ = l.hostA.RemoveNIC(ctx, a1.tap)
		_ = l.hostA.RemoveNIC(ctx, a2.tap)
		_ = l.hostB.RemoveNIC(ctx, b.tap)
	})
	pingOK := func(from, to *guest) {
		t.Helper()
		eventually(t, 5*time.Second, fmt.Sprintf("%s pings %s", from.tap, to.tap), func() error { return ping(ctx, from.ns, to.ip) })
	}
	pingBlocked := func(from, to *guest) {
		t.Helper()
		never(t, fmt.Sprintf("%s pings %s", from.tap, to.tap), func() error { return ping(ctx, from.ns, to.ip) })
	}
	tcpOK := func(from, to *guest) {
		t.Helper()
		eventually(t, 5*time.Second, fmt.Sprintf("%s tcp %s:8080", from.tap, to.tap), func() error { return dialTCP(from.ns, to.ip, 8080) })
	}
	tcpBlocked := func(from, to *guest) {
		t.Helper()
		never(t, fmt.Sprintf("%s tcp %s:8080", from.tap, to.tap), func() error { return dialTCP(from.ns, to.ip, 8080) })
	}
	pingOK(a1, b)
	tcpOK(a1, b)

	// 1. b's group allows only TCP 22: ICMP and TCP 8080 to b are dropped, but b's own pings and
	// connections out get their replies (stateful).
	sg := SecurityGroup{UUID: "sg-app", Rules: []SecurityGroupRule{{Type: RuleIngress, Protocol: ProtocolTCP, StartPort: 22, EndPort: 22}}}
	apply(t, l.hostB, NICPolicy{Device: b.tap, Groups: []SecurityGroup{sg}})
	pingBlocked(a1, b)
	tcpBlocked(a1, b)
	pingOK(b, a1)
	tcpOK(b, a1)

	// 2. Allow ICMP from a1 only and TCP 8080-8081 from anyone.
	sg.Rules = []SecurityGroupRule{
		{Type: RuleIngress, Protocol: ProtocolICMP, StartPort: -1, EndPort: -1, AllowedCIDR: "10.53.0.11/32"},
		{Type: RuleIngress, Protocol: ProtocolTCP, StartPort: 8080, EndPort: 8081, AllowedCIDR: "0.0.0.0/0"},
	}
	apply(t, l.hostB, NICPolicy{Device: b.tap, Groups: []SecurityGroup{sg}})
	pingOK(a1, b)
	tcpOK(a1, b)
	pingBlocked(a2, b)
	tcpOK(a2, b)

	// 3. A remote group: everything from members of sg-web (a2).
	sg.Rules = append(sg.Rules, SecurityGroupRule{Type: RuleIngress, Protocol: ProtocolAll, RemoteSecurityGroupUUID: "sg-web"})
	apply(t, l.hostB, NICPolicy{Device: b.tap, Groups: []SecurityGroup{sg},
		GroupMembers: map[string][]netip.Addr{"sg-web": {a2.ip}}})
	pingOK(a2, b)
	assertSetMembers(t, l.hostB, "g4-sg-web", 1)

	// 4. Egress on a1 (hostA): TCP 8080 only. a1's pings leave nowhere, not even to a2 on the same
	// host; its TCP to b still works. a2 also filtered (ingress ICMP from a1 allowed): a1's egress
	// is checked before a2's ingress.
	egress := SecurityGroup{UUID: "sg-out", Rules: []SecurityGroupRule{{Type: RuleEgress, Protocol: ProtocolTCP, StartPort: 8080, EndPort: 8080}}}
	apply(t, l.hostA, NICPolicy{Device: a1.tap, Groups: []SecurityGroup{egress}})
	open := SecurityGroup{UUID: "sg-open", Rules: []SecurityGroupRule{{Type: RuleIngress, Protocol: ProtocolAll, AllowedCIDR: "10.53.0.0/24"}}}
	apply(t, l.hostA, NICPolicy{Device: a2.tap, Groups: []SecurityGroup{open}})
	pingBlocked(a1, b)
	pingBlocked(a1, a2)
	tcpOK(a1, b)
	tcpOK(a1, a2)
	pingBlocked(a2, a1) // a1's group has no ingress rule: ingress is denied by default

	// 5. Fifty rules on one NIC, applied and re-applied; the chain holds exactly the new set.
	var many []SecurityGroupRule
	for i := range 50 {
		many = append(many, SecurityGroupRule{Type: RuleIngress, Protocol: ProtocolTCP, StartPort: 9000 + i, EndPort: 9000 + i,
			AllowedCIDR: fmt.Sprintf("10.%d.0.0/16", 100+i)})
	}
	many[49] = SecurityGroupRule{Type: RuleIngress, Protocol: ProtocolTCP, StartPort: 8080, EndPort: 8080, AllowedCIDR: "10.53.0.11/32"}
	big := NICPolicy{Device: b.tap, Groups: []SecurityGroup{{UUID: "sg-big", Rules: many}}}
	var took []time.Duration
	for range 5 {
		start := time.Now()
		if err := l.hostB.ApplyNIC(ctx, big); err != nil {
			t.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	t.Logf("ApplyNIC with 50 rules, 5 runs (first one replaces 3 rules + a set): %v", took)
	c, err := l.hostB.nft()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := rulesTagged(c, sgInetTable, ingressChain(b.tap), "")
	if err != nil || len(rules) != 50+3 { // DHCP, ND, 50 rules, final drop
		t.Fatalf("ingress chain has %d rules (%v), want 53", len(rules), err)
	}
	if _, err := c.GetSetByName(sgInetTable, "g4-sg-web"); err == nil {
		t.Fatal("set g4-sg-web outlived the last rule referencing it")
	}
	tcpOK(a1, b)
	tcpBlocked(a2, b)

	// 6. Removing every NIC (twice: idempotent) removes both tables; traffic flows freely again.
	for range 2 {
		for _, rm := range []struct {
			h   *Host
			dev string
		}{{l.hostA, a1.tap}, {l.hostA, a2.tap}, {l.hostB, b.tap}} {
			if err := rm.h.RemoveNIC(ctx, rm.dev); err != nil {
				t.Fatalf("RemoveNIC %s: %v", rm.dev, err)
			}
		}
	}
	for _, h := range []*Host{l.hostA, l.hostB} {
		if left := sgTables(t, h); len(left) != 0 {
			t.Fatalf("tables left after RemoveNIC: %v", left)
		}
	}
	pingOK(a1, b)
	pingOK(a2, a1)
}

// TestRemoveNICKeepsOthers removes one of two filtered NICs: the other's chains, tag rules and
// the remote-group set it still uses stay, the removed NIC's are gone.
func TestRemoveNICKeepsOthers(t *testing.T) {
	l := newLab(t)
	ctx := t.Context()
	l2 := L2{Type: L2VXLAN, VNI: 5004, VTEPIP: l.vtepA}
	if _, err := l.hostA.EnsureBridge(ctx, l2); err != nil {
		t.Fatal(err)
	}
	g1 := l.addGuest(t, l.hostA, l.nsA, "g1", "vnic1.0", l2.BridgeName(), "fa:16:3e:00:04:01", "10.54.0.11/24")
	g2 := l.addGuest(t, l.hostA, l.nsA, "g2", "vnic2.0", l2.BridgeName(), "fa:16:3e:00:04:02", "10.54.0.12/24")
	t.Cleanup(func() { _ = l.hostA.RemoveNIC(ctx, g1.tap); _ = l.hostA.RemoveNIC(ctx, g2.tap) })
	sg := SecurityGroup{UUID: "sg-x", Rules: []SecurityGroupRule{{Type: RuleIngress, Protocol: ProtocolAll, RemoteSecurityGroupUUID: "sg-x"}}}
	members := map[string][]netip.Addr{"sg-x": {g1.ip, g2.ip}}
	apply(t, l.hostA, NICPolicy{Device: g1.tap, Groups: []SecurityGroup{sg}, GroupMembers: members})
	apply(t, l.hostA, NICPolicy{Device: g2.tap, Groups: []SecurityGroup{sg}, GroupMembers: members})
	eventually(t, 5*time.Second, "g1 pings g2 (same group)", func() error { return ping(ctx, g1.ns, g2.ip) })
	if err := l.hostA.RemoveNIC(ctx, g1.tap); err != nil {
		t.Fatal(err)
	}
	c, err := l.hostA.nft()
	if err != nil {
		t.Fatal(err)
	}
	chains, err := chainsOf(c, sgInetTable)
	if err != nil {
		t.Fatal(err)
	}
	if chains[ingressChain(g1.tap)] || chains[egressChain(g1.tap)] || !chains[ingressChain(g2.tap)] {
		t.Fatalf("chains after removing %s: %v", g1.tap, chains)
	}
	ids, err := nicIDs(c)
	if err != nil || len(ids) != 1 || ids[g2.tap] == 0 {
		t.Fatalf("nic ids after removal = %v, %v; want only %s", ids, err, g2.tap)
	}
	assertSetMembers(t, l.hostA, "g4-sg-x", 2)

	// A partial leftover (dispatch rules lost, e.g. by a hand edit) is repaired by ApplyNIC.
	stale, err := dispatchRules(c, g2.tap)
	if err != nil || len(stale) != 2 {
		t.Fatalf("dispatch rules of %s = %d, %v", g2.tap, len(stale), err)
	}
	for _, r := range stale {
		if err := c.DelRule(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	apply(t, l.hostA, NICPolicy{Device: g2.tap, Groups: []SecurityGroup{sg}, GroupMembers: map[string][]netip.Addr{"sg-x": {g2.ip}}})
	if d, err := dispatchRules(c, g2.tap); err != nil || len(d) != 2 {
		t.Fatalf("after repair dispatch rules = %d, %v; want 2", len(d), err)
	}
	if ids2, _ := nicIDs(c); ids2[g2.tap] != ids[g2.tap] {
		t.Fatalf("repair changed the NIC id: %d -> %d", ids[g2.tap], ids2[g2.tap])
	}
	never(t, "g1 (not a member any more) pings g2", func() error { return ping(ctx, g1.ns, g2.ip) })
	apply(t, l.hostA, NICPolicy{Device: g2.tap, Groups: []SecurityGroup{sg}, GroupMembers: members})
	eventually(t, 5*time.Second, "g1 (now unfiltered) pings g2", func() error { return ping(ctx, g1.ns, g2.ip) })
}

func apply(t *testing.T, h *Host, p NICPolicy) {
	t.Helper()
	start := time.Now()
	if err := h.ApplyNIC(t.Context(), p); err != nil {
		t.Fatalf("ApplyNIC %s: %v", p.Device, err)
	}
	t.Logf("ApplyNIC %s (%d groups): %s", p.Device, len(p.Groups), time.Since(start))
}

func assertSetMembers(t *testing.T, h *Host, set string, want int) {
	t.Helper()
	c, err := h.nft()
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.GetSetByName(sgInetTable, set)
	if err != nil {
		t.Fatalf("set %s: %v", set, err)
	}
	elems, err := c.GetSetElements(s)
	if err != nil || len(elems) != want {
		t.Fatalf("set %s has %d elements (%v), want %d", set, len(elems), err, want)
	}
}

func sgTables(t *testing.T, h *Host) []string {
	t.Helper()
	c, err := h.nft()
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range tables {
		if tb.Name == sgInetTable.Name {
			names = append(names, fmt.Sprintf("%s/%d", tb.Name, tb.Family))
		}
	}
	return names
}
