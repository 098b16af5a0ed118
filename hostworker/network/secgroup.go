package network

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Security groups are enforced on the host (ZStack's distributed firewall) for every VM NIC
// plugged into a bridge. Stateful filtering needs conntrack, which the bridge family lacks on
// this kernel (no NF_CONNTRACK_BRIDGE), so bridged traffic is handed to the inet family by
// br_netfilter (net.bridge.bridge-nf-call-iptables=1 in the host namespace).
//
// br_netfilter presents bridged packets to the inet forward hook with iifname/oifname set to the
// bridge, not to the tap (TestBridgedPacketsSeeBridgeAsIfname), so the tap is identified in two
// steps:
//
//   - bridge table zcloud_sg, chain tag (forward hook, priority -300, before br_netfilter's
//     -1): `iifname <tap>` stores the NIC's id in the low 16 bits of the packet mark (the packet
//     leaves that VM: egress), `oifname <tap>` stores it in the high 16 bits (ingress);
//   - inet table zcloud_sg, chain forward: `ct state established,related accept`, then
//     `jump egress`, then `jump ingress`; those dispatch on the mark to per-NIC chains
//     o-<tap> and i-<tap> holding the compiled rules.
//
// Egress rules end in `return` so the destination NIC's ingress chain still runs for traffic
// between two filtered VMs; ingress rules end in `accept`. Ids are allocated per host namespace
// and recorded in the tag rules' comments, so nothing is kept in memory.

// Security group rule directions and protocols, as in SecurityGroupRuleInventory.
const (
	RuleIngress = "Ingress"
	RuleEgress  = "Egress"

	ProtocolAll  = "ALL"
	ProtocolTCP  = "TCP"
	ProtocolUDP  = "UDP"
	ProtocolICMP = "ICMP"
)

// SecurityGroupRule is one enabled rule of a security group.
type SecurityGroupRule struct {
	// Type is RuleIngress or RuleEgress.
	Type string
	// Protocol is ProtocolAll, ProtocolTCP, ProtocolUDP or ProtocolICMP.
	Protocol string
	// StartPort and EndPort bound the destination ports of TCP/UDP rules; -1 or 0..65535 mean
	// every port.
	StartPort, EndPort int
	// AllowedCIDR is the peer network: the source of ingress traffic, the destination of egress
	// traffic. Empty means any.
	AllowedCIDR string
	// RemoteSecurityGroupUUID names a group whose member IPs are the peers.
	RemoteSecurityGroupUUID string
	// IPVersion is 4 (default) or 6.
	IPVersion int
}

// SecurityGroup is a group attached to a NIC with its enabled rules.
type SecurityGroup struct {
	UUID  string
	Rules []SecurityGroupRule
}

// NICPolicy is what a VM NIC's firewall is built from.
type NICPolicy struct {
	// Device is the NIC's tap on the host (libvirt's target dev, e.g. vnic7.0).
	Device string
	// Groups are the NIC's security groups. No groups means no filtering (ZStack leaves NICs
	// outside any group unfiltered), so ApplyNIC then behaves like RemoveNIC.
	Groups []SecurityGroup
	// GroupMembers holds the member IPs of every group a rule names as remote group.
	GroupMembers map[string][]netip.Addr
}

var (
	sgTagTable  = &nftables.Table{Name: "zcloud_sg", Family: nftables.TableFamilyBridge}
	sgInetTable = &nftables.Table{Name: "zcloud_sg", Family: nftables.TableFamilyINet}
)

const (
	sgTagChain = "tag"
	sgEgress   = "egress"
	sgIngress  = "ingress"
	sgMaxID    = 0xffff
)

func egressChain(dev string) string  { return "o-" + dev }
func ingressChain(dev string) string { return "i-" + dev }
func nicKey(dev string) string       { return "nic:" + dev }

func groupSetName(group string, v6 bool) string {
	if v6 {
		return "g6-" + group
	}
	return "g4-" + group
}

// compiledRule is one rule of a NIC chain, plus the remote set it looks up, if any.
type compiledRule struct {
	v6     bool
	exprs  []expr.Any
	setRef string
}

// ApplyNIC makes the NIC's firewall match the policy. Its chains are flushed and refilled, and
// the remote-group sets refilled, in one nftables transaction: traffic sees either the old or
// the new rules. Idempotent.
func (h *Host) ApplyNIC(ctx context.Context, p NICPolicy) error {
	if err := checkIfName(p.Device); err != nil {
		return err
	}
	if len(p.Groups) == 0 {
		return h.RemoveNIC(ctx, p.Device)
	}
	egress, ingress, err := compileNIC(p)
	if err != nil {
		return fmt.Errorf("security groups of %s: %w", p.Device, err)
	}
	if err := h.enableBridgeNetfilter(); err != nil {
		return err
	}
	h.nftMu.Lock()
	defer h.nftMu.Unlock()
	c, err := h.nft()
	if err != nil {
		return err
	}
	ids, err := nicIDs(c)
	if err != nil {
		return err
	}
	oldSets, err := nicSetRefs(c, p.Device)
	if err != nil {
		return err
	}
	inetChains, err := chainsOf(c, sgInetTable)
	if err != nil {
		return err
	}

	c.AddTable(sgTagTable)
	tagChain := c.AddChain(&nftables.Chain{Name: sgTagChain, Table: sgTagTable, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityRef(-300)})
	c.AddTable(sgInetTable)
	accept := nftables.ChainPolicyAccept
	if !inetChains["forward"] {
		fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: sgInetTable, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
		eg := c.AddChain(&nftables.Chain{Name: sgEgress, Table: sgInetTable})
		in := c.AddChain(&nftables.Chain{Name: sgIngress, Table: sgInetTable})
		c.AddRule(&nftables.Rule{Table: sgInetTable, Chain: fwd, Exprs: exprs(
			ctStateIn(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), []expr.Any{verdict(expr.VerdictAccept)})})
		c.AddRule(&nftables.Rule{Table: sgInetTable, Chain: fwd, Exprs: []expr.Any{jump(eg.Name)}})
		c.AddRule(&nftables.Rule{Table: sgInetTable, Chain: fwd, Exprs: []expr.Any{jump(in.Name)}})
	}
	oc := &nftables.Chain{Name: egressChain(p.Device), Table: sgInetTable}
	ic := &nftables.Chain{Name: ingressChain(p.Device), Table: sgInetTable}
	for _, ch := range []*nftables.Chain{oc, ic} {
		if inetChains[ch.Name] {
			c.FlushChain(ch)
		} else {
			c.AddChain(ch)
		}
	}
	id, known := ids[p.Device]
	dispatch, err := dispatchRules(c, p.Device)
	if err != nil {
		return err
	}
	if !known || len(dispatch) != 2 {
		// New NIC, or a partial leftover: (re)write its tag and dispatch rules.
		if !known {
			if id, err = freeID(ids); err != nil {
				return err
			}
		}
		tagRules, err := rulesWithPrefix(c, sgTagTable, sgTagChain, nicKey(p.Device)+":")
		if err != nil {
			return err
		}
		for _, r := range append(tagRules, dispatch...) {
			if err := c.DelRule(r); err != nil {
				return fmt.Errorf("delete stale rule of %s: %w", p.Device, err)
			}
		}
		key := tag(nicKey(p.Device) + ":" + strconv.Itoa(id))
		c.AddRule(&nftables.Rule{Table: sgTagTable, Chain: tagChain, UserData: key,
			Exprs: exprs(iif(p.Device), setMarkHalf(0xffff0000, uint32(id)))})
		c.AddRule(&nftables.Rule{Table: sgTagTable, Chain: tagChain, UserData: key,
			Exprs: exprs(oif(p.Device), setMarkHalf(0x0000ffff, uint32(id)<<16))})
		c.AddRule(&nftables.Rule{Table: sgInetTable, Chain: &nftables.Chain{Name: sgEgress, Table: sgInetTable},
			UserData: tag(nicKey(p.Device)), Exprs: exprs(markHalfIs(0x0000ffff, uint32(id)), []expr.Any{jump(oc.Name)})})
		c.AddRule(&nftables.Rule{Table: sgInetTable, Chain: &nftables.Chain{Name: sgIngress, Table: sgInetTable},
			UserData: tag(nicKey(p.Device)), Exprs: exprs(markHalfIs(0xffff0000, uint32(id)<<16), []expr.Any{jump(ic.Name)})})
	}

	sets := map[string]*nftables.Set{}
	for _, r := range append(slices.Clone(egress), ingress...) {
		if r.setRef == "" || sets[r.setRef] != nil {
			continue
		}
		group := strings.TrimPrefix(strings.TrimPrefix(r.setRef, "g4-"), "g6-")
		s := &nftables.Set{Table: sgInetTable, Name: r.setRef, KeyType: nftables.TypeIPAddr}
		if r.v6 {
			s.KeyType = nftables.TypeIP6Addr
		}
		if err := c.AddSet(s, nil); err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
		c.FlushSet(s)
		var elems []nftables.SetElement
		for _, ip := range p.GroupMembers[group] {
			if ip.Is6() == r.v6 {
				elems = append(elems, nftables.SetElement{Key: ip.AsSlice()})
			}
		}
		if len(elems) > 0 {
			if err := c.SetAddElements(s, elems); err != nil {
				return fmt.Errorf("set %s elements: %w", s.Name, err)
			}
		}
		sets[r.setRef] = s
	}
	for _, chain := range []struct {
		c     *nftables.Chain
		rules []compiledRule
	}{{oc, egress}, {ic, ingress}} {
		for _, r := range chain.rules {
			if r.setRef != "" {
				for _, e := range r.exprs {
					if l, ok := e.(*expr.Lookup); ok {
						l.SetID = sets[r.setRef].ID
					}
				}
			}
			c.AddRule(&nftables.Rule{Table: sgInetTable, Chain: chain.c, Exprs: r.exprs})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("apply security groups of %s: %w", p.Device, err)
	}
	h.dropUnusedSets(oldSets, sets)
	return nil
}

// RemoveNIC deletes the NIC's tag rules, dispatch rules and chains in one transaction, then the
// remote-group sets nothing uses any more; with the last NIC gone both tables go too. Removing
// a NIC that has no firewall succeeds.
func (h *Host) RemoveNIC(ctx context.Context, dev string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.nftMu.Lock()
	defer h.nftMu.Unlock()
	c, err := h.nft()
	if err != nil {
		return err
	}
	ids, err := nicIDs(c)
	if err != nil {
		return err
	}
	inetChains, err := chainsOf(c, sgInetTable)
	if err != nil {
		return err
	}
	_, known := ids[dev]
	if !known && !inetChains[egressChain(dev)] && !inetChains[ingressChain(dev)] {
		return nil
	}
	oldSets, err := nicSetRefs(c, dev)
	if err != nil {
		return err
	}
	delete(ids, dev)
	if len(ids) == 0 {
		c.DelTable(sgTagTable)
		c.DelTable(sgInetTable)
	} else if err := h.deleteNICRules(c, dev, inetChains); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("remove security groups of %s: %w", dev, err)
	}
	if len(ids) > 0 {
		h.dropUnusedSets(oldSets, nil)
	}
	return nil
}

// deleteNICRules queues the removal of everything the NIC owns into c's batch.
func (h *Host) deleteNICRules(c *nftables.Conn, dev string, inetChains map[string]bool) error {
	tagRules, err := rulesWithPrefix(c, sgTagTable, sgTagChain, nicKey(dev)+":")
	if err != nil {
		return err
	}
	dispatch, err := dispatchRules(c, dev)
	if err != nil {
		return err
	}
	for _, r := range append(tagRules, dispatch...) {
		if err := c.DelRule(r); err != nil {
			return fmt.Errorf("delete rule of %s: %w", dev, err)
		}
	}
	for _, name := range []string{egressChain(dev), ingressChain(dev)} {
		if inetChains[name] {
			ch := &nftables.Chain{Name: name, Table: sgInetTable}
			c.FlushChain(ch)
			c.DelChain(ch)
		}
	}
	return nil
}

// dispatchRules returns the NIC's jump rules in the egress and ingress chains.
func dispatchRules(c *nftables.Conn, dev string) ([]*nftables.Rule, error) {
	var out []*nftables.Rule
	for _, ch := range []string{sgEgress, sgIngress} {
		rs, err := rulesTagged(c, sgInetTable, ch, nicKey(dev))
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

// dropUnusedSets deletes the remote-group sets the NIC referenced before and no longer does.
// Each goes in its own transaction: the kernel refuses (EBUSY) while another NIC's rules still
// look it up, and that refusal is the reference count we rely on.
func (h *Host) dropUnusedSets(before map[string]bool, now map[string]*nftables.Set) {
	for name := range before {
		if now[name] != nil {
			continue
		}
		c, err := h.nft()
		if err != nil {
			return
		}
		c.DelSet(&nftables.Set{Table: sgInetTable, Name: name})
		if err := c.Flush(); err != nil {
			h.log.Debug("security group set still in use", "set", name, "error", err)
		}
	}
}

// nicIDs reads the NIC → mark id allocation from the tag rules' comments.
func nicIDs(c *nftables.Conn) (map[string]int, error) {
	rules, err := rulesTagged(c, sgTagTable, sgTagChain, "")
	if err != nil {
		return nil, err
	}
	ids := map[string]int{}
	for _, r := range rules {
		rest, ok := strings.CutPrefix(tagOf(r), "nic:")
		if !ok {
			continue
		}
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			continue
		}
		if id, err := strconv.Atoi(rest[i+1:]); err == nil {
			ids[rest[:i]] = id
		}
	}
	return ids, nil
}

func freeID(ids map[string]int) (int, error) {
	used := map[int]bool{}
	for _, id := range ids {
		used[id] = true
	}
	for id := 1; id <= sgMaxID; id++ {
		if !used[id] {
			return id, nil
		}
	}
	return 0, errors.New("no free security group nic id on this host")
}

// nicSetRefs lists the sets the NIC's current chains look up.
func nicSetRefs(c *nftables.Conn, dev string) (map[string]bool, error) {
	refs := map[string]bool{}
	for _, ch := range []string{egressChain(dev), ingressChain(dev)} {
		rules, err := rulesTagged(c, sgInetTable, ch, "")
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			for _, e := range r.Exprs {
				if l, ok := e.(*expr.Lookup); ok {
					refs[l.SetName] = true
				}
			}
		}
	}
	return refs, nil
}

func rulesWithPrefix(c *nftables.Conn, t *nftables.Table, chain, prefix string) ([]*nftables.Rule, error) {
	rules, err := rulesTagged(c, t, chain, "")
	if err != nil {
		return nil, err
	}
	var out []*nftables.Rule
	for _, r := range rules {
		if strings.HasPrefix(tagOf(r), prefix) {
			out = append(out, r)
		}
	}
	return out, nil
}

// setMarkHalf is `meta mark set meta mark & keep ^ value`: it writes one half of the mark.
func setMarkHalf(keep, value uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, keep), Xor: binary.NativeEndian.AppendUint32(nil, value)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}

// markHalfIs is `meta mark & mask == value`.
func markHalfIs(mask, value uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, mask), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, value)},
	}
}

// enableBridgeNetfilter turns on br_netfilter's hand-over of bridged IPv4/IPv6 traffic to the
// inet hooks in the host namespace (a per-namespace setting).
func (h *Host) enableBridgeNetfilter() error {
	for _, k := range []string{"net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"} {
		if err := writeSysctl(h.ns, k, "1"); err != nil {
			return err
		}
	}
	return nil
}

// compileNIC turns the NIC's groups into the rules of its egress and ingress chains. ZStack's
// default policy: ingress is denied unless a rule allows it; egress is allowed unless some group
// has an egress rule, then denied unless allowed. DHCP (and IPv6 neighbour discovery) always pass.
func compileNIC(p NICPolicy) (egress, ingress []compiledRule, err error) {
	dhcpOut := exprs(l4proto(unix.IPPROTO_UDP), portRange(68, 68, true), portRange(67, 67, false))
	dhcpIn := exprs(l4proto(unix.IPPROTO_UDP), portRange(67, 67, true), portRange(68, 68, false))
	nd := exprs(nfproto(true), l4proto(unix.IPPROTO_ICMPV6), []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: []byte{133}, ToData: []byte{137}},
	})
	egress = append(egress,
		compiledRule{exprs: append(dhcpOut, verdict(expr.VerdictReturn))},
		compiledRule{v6: true, exprs: append(slices.Clone(nd), verdict(expr.VerdictReturn))})
	ingress = append(ingress,
		compiledRule{exprs: append(dhcpIn, verdict(expr.VerdictAccept))},
		compiledRule{v6: true, exprs: append(slices.Clone(nd), verdict(expr.VerdictAccept))})
	hasEgress := false
	for _, g := range p.Groups {
		for i, r := range g.Rules {
			cr, err := compileRule(r)
			if err != nil {
				return nil, nil, fmt.Errorf("group %s rule %d: %w", g.UUID, i, err)
			}
			if r.Type == RuleEgress {
				hasEgress = true
				cr.exprs = append(cr.exprs, verdict(expr.VerdictReturn))
				egress = append(egress, cr)
			} else {
				cr.exprs = append(cr.exprs, verdict(expr.VerdictAccept))
				ingress = append(ingress, cr)
			}
		}
	}
	if hasEgress {
		egress = append(egress, compiledRule{exprs: []expr.Any{counter(), verdict(expr.VerdictDrop)}})
	}
	ingress = append(ingress, compiledRule{exprs: []expr.Any{counter(), verdict(expr.VerdictDrop)}})
	return egress, ingress, nil
}

func compileRule(r SecurityGroupRule) (compiledRule, error) {
	if r.Type != RuleIngress && r.Type != RuleEgress {
		return compiledRule{}, fmt.Errorf("type %q is neither %s nor %s", r.Type, RuleIngress, RuleEgress)
	}
	v6 := r.IPVersion == 6
	var cidr netip.Prefix
	if r.AllowedCIDR != "" {
		var err error
		if cidr, err = netip.ParsePrefix(r.AllowedCIDR); err != nil {
			a, aerr := netip.ParseAddr(r.AllowedCIDR)
			if aerr != nil {
				return compiledRule{}, fmt.Errorf("allowed cidr %q: %w", r.AllowedCIDR, err)
			}
			cidr = netip.PrefixFrom(a, a.BitLen())
		}
		if cidr.Addr().Is6() != v6 {
			if r.IPVersion != 0 {
				return compiledRule{}, fmt.Errorf("allowed cidr %s does not match ip version %d", cidr, r.IPVersion)
			}
			v6 = cidr.Addr().Is6()
		}
	}
	cr := compiledRule{v6: v6, exprs: nfproto(v6)}
	switch strings.ToUpper(r.Protocol) {
	case ProtocolAll, "":
	case ProtocolTCP, ProtocolUDP:
		proto := byte(unix.IPPROTO_TCP)
		if strings.ToUpper(r.Protocol) == ProtocolUDP {
			proto = unix.IPPROTO_UDP
		}
		cr.exprs = append(cr.exprs, l4proto(proto)...)
		lo, hi := r.StartPort, r.EndPort
		if hi < lo {
			hi = lo
		}
		if lo < -1 || hi > 65535 {
			return compiledRule{}, fmt.Errorf("port range %d-%d out of 0-65535", r.StartPort, r.EndPort)
		}
		if lo > 0 || (hi >= 0 && hi < 65535) {
			lo = max(lo, 0)
			cr.exprs = append(cr.exprs, portRange(uint16(lo), uint16(hi), false)...)
		}
	case ProtocolICMP:
		proto := byte(unix.IPPROTO_ICMP)
		if v6 {
			proto = unix.IPPROTO_ICMPV6
		}
		cr.exprs = append(cr.exprs, l4proto(proto)...)
	default:
		return compiledRule{}, fmt.Errorf("protocol %q not one of ALL, TCP, UDP, ICMP", r.Protocol)
	}
	peerIsSrc := r.Type == RuleIngress
	if cidr.IsValid() && cidr.Bits() > 0 {
		cr.exprs = append(cr.exprs, ipPrefix(cidr, peerIsSrc)...)
	}
	if r.RemoteSecurityGroupUUID != "" {
		cr.setRef = groupSetName(r.RemoteSecurityGroupUUID, v6)
		off, l := ipAddrOffset(v6, peerIsSrc)
		cr.exprs = append(cr.exprs,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: l},
			&expr.Lookup{SourceRegister: 1, SetName: cr.setRef})
	}
	return cr, nil
}
