package network

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Small builders for nftables expressions, so rule code reads like `nft` syntax.

// ifname pads an interface name to IFNAMSIZ, the width meta iifname/oifname load.
func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

func metaIfname(key expr.MetaKey, name string, op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifname(name)},
	}
}

// iif matches `iifname name`.
func iif(name string) []expr.Any { return metaIfname(expr.MetaKeyIIFNAME, name, expr.CmpOpEq) }

// oif matches `oifname name`.
func oif(name string) []expr.Any { return metaIfname(expr.MetaKeyOIFNAME, name, expr.CmpOpEq) }

// oifNot matches `oifname != name`.
func oifNot(name string) []expr.Any { return metaIfname(expr.MetaKeyOIFNAME, name, expr.CmpOpNeq) }

// etherType matches the Ethernet type field (bridge family).
func etherType(t uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 12, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, t)},
	}
}

// arpTargetIP matches the ARP target protocol address (bridge family, ARP frames).
func arpTargetIP(ip netip.Addr) []expr.Any {
	return append(etherType(unix.ETH_P_ARP),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 24, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip.AsSlice()},
	)
}

// nfproto matches `meta nfproto ipv4|ipv6` (inet family).
func nfproto(v6 bool) []expr.Any {
	p := byte(unix.NFPROTO_IPV4)
	if v6 {
		p = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

// ipAddrOffset is where the source or destination address sits in the IPv4/IPv6 header.
func ipAddrOffset(v6, src bool) (uint32, uint32) {
	switch {
	case v6 && src:
		return 8, 16
	case v6:
		return 24, 16
	case src:
		return 12, 4
	default:
		return 16, 4
	}
}

// ipPrefix matches `ip saddr|daddr <prefix>` (the caller matched the family first).
func ipPrefix(p netip.Prefix, src bool) []expr.Any {
	p = p.Masked()
	off, l := ipAddrOffset(p.Addr().Is6(), src)
	exprs := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: l}}
	if p.Bits() < int(l*8) {
		mask := make([]byte, l)
		for i := 0; i < p.Bits(); i++ {
			mask[i/8] |= 0x80 >> (i % 8)
		}
		exprs = append(exprs, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: l, Mask: mask, Xor: make([]byte, l)})
	}
	return append(exprs, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()})
}

// ipAddr matches one address.
func ipAddr(a netip.Addr, src bool) []expr.Any {
	return ipPrefix(netip.PrefixFrom(a, a.BitLen()), src)
}

// l4proto matches `meta l4proto p`.
func l4proto(p byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

// portRange matches `th sport|dport lo-hi` (TCP and UDP share the port offsets).
func portRange(lo, hi uint16, src bool) []expr.Any {
	off := uint32(2)
	if src {
		off = 0
	}
	load := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2}
	if lo == hi {
		return []expr.Any{load, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, lo)}}
	}
	return []expr.Any{load, &expr.Range{Op: expr.CmpOpEq, Register: 1,
		FromData: binary.BigEndian.AppendUint16(nil, lo), ToData: binary.BigEndian.AppendUint16(nil, hi)}}
}

// ctStateIn matches `ct state` against any of the given state bits.
func ctStateIn(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

func verdict(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }

func jump(chain string) expr.Any { return &expr.Verdict{Kind: expr.VerdictJump, Chain: chain} }

func counter() expr.Any { return &expr.Counter{} }

// tag is the rule comment that says which object a rule belongs to.
func tag(key string) []byte { return userdata.AppendString(nil, userdata.TypeComment, key) }

func tagOf(r *nftables.Rule) string {
	s, _ := userdata.GetString(r.UserData, userdata.TypeComment)
	return s
}

func exprs(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// chainsOf returns the names of the table's chains; a missing table has none. (google/nftables
// formats netlink errors with %v, so ENOENT cannot be told apart: list instead of probing.)
func chainsOf(c *nftables.Conn, t *nftables.Table) (map[string]bool, error) {
	chains, err := c.ListChainsOfTableFamily(t.Family)
	if err != nil {
		return nil, fmt.Errorf("list chains: %w", err)
	}
	names := map[string]bool{}
	for _, ch := range chains {
		if ch.Table.Name == t.Name {
			names[ch.Name] = true
		}
	}
	return names, nil
}

// rulesTagged lists a chain's rules whose comment is key (all rules when key is empty); a
// missing table or chain yields none.
func rulesTagged(c *nftables.Conn, t *nftables.Table, chain, key string) ([]*nftables.Rule, error) {
	chains, err := chainsOf(c, t)
	if err != nil || !chains[chain] {
		return nil, err
	}
	rules, err := c.GetRules(t, &nftables.Chain{Name: chain, Table: t})
	if err != nil {
		return nil, fmt.Errorf("list rules of %s %s: %w", t.Name, chain, err)
	}
	var out []*nftables.Rule
	for _, r := range rules {
		if key == "" || tagOf(r) == key {
			out = append(out, r)
		}
	}
	return out, nil
}
