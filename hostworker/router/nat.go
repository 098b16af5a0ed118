package router

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TableName is the nftables table (family ip) that holds the router's NAT and filter rules.
const TableName = "zcloud_router"

// EIP is a 1:1 NAT between a public VIP and a guest's private IP.
type EIP struct {
	VIP     netip.Addr
	GuestIP netip.Addr
}

// PortForward maps a port range of a VIP to a guest's port range (ZStack's PortForwardingRule).
// The ranges have the same length, or the private range is a single port.
type PortForward struct {
	VIP            netip.Addr
	Protocol       string // "tcp" or "udp"
	VIPPortStart   uint16
	VIPPortEnd     uint16 // 0 means VIPPortStart
	GuestIP        netip.Addr
	GuestPortStart uint16
	GuestPortEnd   uint16       // 0 means GuestPortStart
	AllowedCIDR    netip.Prefix // optional: only these sources may use the rule
}

// EnsureNAT converges only the router's nftables ruleset (SNAT, EIPs, port forwards, forward
// filter); the namespace must exist (Ensure or EnsureNetworks).
func (m *Manager) EnsureNAT(ctx context.Context, spec Spec) error {
	if err := spec.validate(); err != nil {
		return fmt.Errorf("ensure nat: %w", err)
	}
	unlock := m.lock(spec.UUID)
	defer unlock()
	return m.ensureNAT(ctx, spec)
}

// ensureNAT replaces the whole table in one netlink batch (add, delete, add again), so the
// kernel applies the new ruleset atomically and a missing table is not an error.
func (m *Manager) ensureNAT(_ context.Context, spec Spec) error {
	ns, err := netns.GetFromName(Namespace(spec.UUID))
	if err != nil {
		return fmt.Errorf("router namespace: %w", err)
	}
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if err := buildRuleset(c, spec); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("apply nftables ruleset: %w", err)
	}
	return nil
}

func buildRuleset(c *nftables.Conn, spec Spec) error {
	t := &nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	pre := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
	pub := routerIfName(spec.Public.NetworkUUID)
	rule := func(ch *nftables.Chain, exprs ...expr.Any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs})
	}

	// IPsec traffic keeps its addresses: with the kernel data plane it leaves through the public
	// interface and must escape SNAT/EIP rewriting, and arrives decrypted on it.
	for _, conn := range spec.IPsec {
		for _, local := range conn.LocalCIDRs {
			for _, peer := range conn.PeerCIDRs {
				rule(post, cat(matchPrefix(12, local.Masked()), matchPrefix(16, peer.Masked()), []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}})...)
				rule(fwd, cat(matchIfname(expr.MetaKeyIIFNAME, pub), matchPrefix(12, peer.Masked()), matchPrefix(16, local.Masked()),
					[]expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}})...)
			}
		}
	}
	for _, e := range spec.EIPs {
		if !e.VIP.Is4() || !e.GuestIP.Is4() {
			return fmt.Errorf("eip %v -> %v: need IPv4 addresses", e.VIP, e.GuestIP)
		}
		// ip daddr VIP dnat to guest
		rule(pre, cat(matchAddr(16, e.VIP), counter(), dnat(e.GuestIP, 0, 0))...)
		// ip saddr guest oifname pub snat to VIP
		rule(post, cat(matchAddr(12, e.GuestIP), matchIfname(expr.MetaKeyOIFNAME, pub), counter(), snat(e.VIP))...)
	}
	for _, p := range spec.PortForwards {
		exprs, err := portForwardExprs(c, t, p)
		if err != nil {
			return err
		}
		rule(pre, exprs...)
	}
	for _, n := range spec.Networks {
		if !n.SNAT {
			continue
		}
		// ip saddr CIDR oifname pub snat to public IP
		rule(post, cat(matchPrefix(12, n.Gateway.Masked()), matchIfname(expr.MetaKeyOIFNAME, pub), counter(),
			snat(spec.Public.Address.Addr()))...)
	}
	// Nothing enters the private networks from the public side unless it answers a connection
	// from inside or was let in by an EIP or a port forward (ZStack's vRouter default).
	rule(fwd, cat(matchIfname(expr.MetaKeyIIFNAME, pub),
		[]expr.Any{
			&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: ne32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED), Xor: ne32(0)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ne32(0)},
			&expr.Verdict{Kind: expr.VerdictAccept},
		})...)
	rule(fwd, cat(matchIfname(expr.MetaKeyIIFNAME, pub),
		[]expr.Any{
			&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne32(ipsDstNAT), Xor: ne32(0)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ne32(0)},
			&expr.Verdict{Kind: expr.VerdictAccept},
		})...)
	rule(fwd, cat(matchIfname(expr.MetaKeyIIFNAME, pub), counter(), []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}})...)
	return nil
}

// ipsDstNAT is IPS_DST_NAT of the conntrack status bits.
const ipsDstNAT = 1 << 5

func portForwardExprs(c *nftables.Conn, t *nftables.Table, p PortForward) ([]expr.Any, error) {
	vipEnd, guestEnd := p.VIPPortEnd, p.GuestPortEnd
	if vipEnd == 0 {
		vipEnd = p.VIPPortStart
	}
	if guestEnd == 0 {
		guestEnd = p.GuestPortStart
	}
	if !p.VIP.Is4() || !p.GuestIP.Is4() || p.VIPPortStart == 0 || p.GuestPortStart == 0 || vipEnd < p.VIPPortStart || guestEnd < p.GuestPortStart {
		return nil, fmt.Errorf("port forward %v:%d-%d -> %v:%d-%d: invalid", p.VIP, p.VIPPortStart, vipEnd, p.GuestIP, p.GuestPortStart, guestEnd)
	}
	vipLen, guestLen := vipEnd-p.VIPPortStart, guestEnd-p.GuestPortStart
	if guestLen != 0 && guestLen != vipLen {
		return nil, fmt.Errorf("port forward %v:%d-%d -> %d-%d: ranges differ in length", p.VIP, p.VIPPortStart, vipEnd, p.GuestPortStart, guestEnd)
	}
	var proto byte
	switch strings.ToLower(p.Protocol) {
	case "tcp":
		proto = unix.IPPROTO_TCP
	case "udp":
		proto = unix.IPPROTO_UDP
	default:
		return nil, fmt.Errorf("port forward protocol %q: want tcp or udp", p.Protocol)
	}
	exprs := matchAddr(16, p.VIP)
	if p.AllowedCIDR.IsValid() {
		exprs = append(exprs, matchPrefix(12, p.AllowedCIDR.Masked())...)
	}
	exprs = append(exprs,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: be16(p.VIPPortStart), ToData: be16(vipEnd)},
		&expr.Counter{},
	)
	switch {
	case guestLen == 0 && vipLen > 0:
		// Many VIP ports to one guest port.
		return append(exprs, dnat(p.GuestIP, p.GuestPortStart, p.GuestPortStart)...), nil
	case p.VIPPortStart == p.GuestPortStart:
		// Same ports on both sides: translate the address only.
		return append(exprs, dnat(p.GuestIP, 0, 0)...), nil
	}
	// Shifted ranges: an anonymous map from VIP port to guest port.
	set := &nftables.Set{Table: t, Anonymous: true, Constant: true, IsMap: true,
		KeyType: nftables.TypeInetService, DataType: nftables.TypeInetService}
	elems := make([]nftables.SetElement, 0, int(vipLen)+1)
	for i := 0; i <= int(vipLen); i++ {
		elems = append(elems, nftables.SetElement{Key: be16(p.VIPPortStart + uint16(i)), Val: be16(p.GuestPortStart + uint16(i))})
	}
	// AddSet names the anonymous set; the lookup refers to that name.
	if err := c.AddSet(set, elems); err != nil {
		return nil, fmt.Errorf("port forward map: %w", err)
	}
	exprs = append(exprs,
		&expr.Lookup{SourceRegister: 1, DestRegister: 2, IsDestRegSet: true, SetName: set.Name, SetID: set.ID},
		&expr.Immediate{Register: 1, Data: p.GuestIP.AsSlice()},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2},
	)
	return exprs, nil
}

func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func counter() []expr.Any { return []expr.Any{&expr.Counter{}} }

// matchAddr matches the IPv4 source (offset 12) or destination (offset 16) address.
func matchAddr(offset uint32, a netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()},
	}
}

// matchPrefix matches the IPv4 source or destination address against a prefix.
func matchPrefix(offset uint32, p netip.Prefix) []expr.Any {
	if p.Bits() == 32 {
		return matchAddr(offset, p.Addr())
	}
	mask := make([]byte, 4)
	binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
	if p.Bits() == 0 {
		mask = []byte{0, 0, 0, 0}
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

func matchIfname(key expr.MetaKey, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}

// dnat translates the destination to addr and, when portMin is set, to the port range.
func dnat(addr netip.Addr, portMin, portMax uint16) []expr.Any {
	out := []expr.Any{&expr.Immediate{Register: 1, Data: addr.AsSlice()}}
	n := &expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1}
	if portMin != 0 {
		out = append(out, &expr.Immediate{Register: 2, Data: be16(portMin)})
		n.RegProtoMin = 2
		if portMax != portMin {
			out = append(out, &expr.Immediate{Register: 3, Data: be16(portMax)})
			n.RegProtoMax = 3
		}
	}
	return append(out, n)
}

func snat(addr netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: addr.AsSlice()},
		&expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1},
	}
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// ne32 encodes conntrack state and status bits, which nftables keeps in host byte order.
func ne32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
