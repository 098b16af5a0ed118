package network

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// TestBridgedPacketsSeeBridgeAsIfname records the experiment that shaped secgroup.go: with
// br_netfilter on, bridged IPv4 traffic traverses the inet forward hook with iifname and oifname
// set to the BRIDGE, never to the port (tap) it entered or leaves by. Port-level matching in
// nftables therefore needs the bridge family, where iifname/oifname are the ports.
func TestBridgedPacketsSeeBridgeAsIfname(t *testing.T) {
	l := newLab(t)
	ctx := t.Context()
	l2 := L2{Type: L2VXLAN, VNI: 5002, VTEPIP: l.vtepA}
	if _, err := l.hostA.EnsureBridge(ctx, l2); err != nil {
		t.Fatal(err)
	}
	g1 := l.addGuest(t, l.hostA, l.nsA, "g1", "vnic1.0", l2.BridgeName(), "fa:16:3e:00:02:01", "10.52.0.11/24")
	g2 := l.addGuest(t, l.hostA, l.nsA, "g2", "vnic2.0", l2.BridgeName(), "fa:16:3e:00:02:02", "10.52.0.12/24")
	if err := writeSysctl(l.hostA.ns, "net.bridge.bridge-nf-call-iptables", "1"); err != nil {
		t.Fatal(err)
	}
	c, err := l.hostA.nft()
	if err != nil {
		t.Fatal(err)
	}
	inet := &nftables.Table{Name: "zcloud_probe", Family: nftables.TableFamilyINet}
	bridge := &nftables.Table{Name: "zcloud_probe", Family: nftables.TableFamilyBridge}
	c.AddTable(inet)
	c.AddTable(bridge)
	ic := c.AddChain(&nftables.Chain{Name: "forward", Table: inet, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
	bc := c.AddChain(&nftables.Chain{Name: "forward", Table: bridge, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
	probes := map[string][]expr.Any{
		"inet iifname bridge": iif(l2.BridgeName()), "inet iifname tap": iif("vnic1.0"),
		"inet oifname bridge": oif(l2.BridgeName()), "inet oifname tap": oif("vnic2.0"),
	}
	bprobes := map[string][]expr.Any{"bridge iifname tap": iif("vnic1.0"), "bridge oifname tap": oif("vnic2.0")}
	for name, m := range probes {
		c.AddRule(&nftables.Rule{Table: inet, Chain: ic, UserData: tag(name), Exprs: append(m, counter())})
	}
	for name, m := range bprobes {
		c.AddRule(&nftables.Rule{Table: bridge, Chain: bc, UserData: tag(name), Exprs: append(m, counter())})
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.DelTable(inet)
		c.DelTable(bridge)
		_ = c.Flush()
	})
	eventually(t, 5*time.Second, "g1 pings g2", func() error { return ping(ctx, g1.ns, netip.MustParseAddr("10.52.0.12")) })
	_ = g2
	counts := map[string]uint64{}
	for _, tc := range []struct {
		t *nftables.Table
		c *nftables.Chain
	}{{inet, ic}, {bridge, bc}} {
		rules, err := c.GetRules(tc.t, tc.c)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			for _, e := range r.Exprs {
				if ctr, ok := e.(*expr.Counter); ok {
					counts[tagOf(r)] = ctr.Packets
				}
			}
		}
	}
	t.Logf("packet counters after one ping: %v", counts)
	for _, name := range []string{"inet iifname bridge", "inet oifname bridge", "bridge iifname tap", "bridge oifname tap"} {
		if counts[name] == 0 {
			t.Errorf("%s matched nothing", name)
		}
	}
	for _, name := range []string{"inet iifname tap", "inet oifname tap"} {
		if counts[name] != 0 {
			t.Errorf("%s matched %d packets; br_netfilter now exposes ports to inet", name, counts[name])
		}
	}
}
