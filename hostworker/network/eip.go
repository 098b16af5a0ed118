package network

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// A flat-network EIP is realised on the VM's host (ZStack's flat EIP) as one namespace per EIP,
// ze-<eipuuid8>, with two veths:
//
//   - pub0, plugged into the public L3's bridge, holds the VIP and routes to the public gateway;
//   - priv0, plugged into the VM's bridge, holds the private L3's gateway address, so the VM's
//     ordinary default route leads into the namespace;
//
// and an `ip` nftables table doing 1:1 NAT (dnat VIP → guest in prerouting, snat guest → VIP out
// of pub0 in postrouting). Because priv0 carries the L3's gateway address, a bridge-family fence
// on the host (table zcloud_eip) lets priv0 talk to the VM's tap only, and keeps the VM's ARP
// for the gateway from reaching any other port, so neither other VMs nor a real gateway on the
// wire are confused by the duplicate address.

// EIPSpec is one flat EIP on the VM's host. Field names follow EipInventory / VipInventory.
type EIPSpec struct {
	UUID string
	// VIP is the public address with the public L3's prefix length.
	VIP netip.Prefix
	// PublicBridge is the public L3's bridge on this host.
	PublicBridge string
	// PublicGateway, when set, is the namespace's default route.
	PublicGateway netip.Addr
	// PrivateBridge is the VM NIC's bridge.
	PrivateBridge string
	// PrivateGateway is the private L3's gateway with its prefix length (the VM's default route).
	PrivateGateway netip.Prefix
	// GuestIP, GuestMAC and GuestDevice (the tap) identify the VM NIC. The MAC is pinned in the
	// namespace's neighbour table; the tap is the only port the fence lets priv0 talk to.
	GuestIP     netip.Addr
	GuestMAC    net.HardwareAddr
	GuestDevice string
	// InboundBandwidth and OutboundBandwidth (bits per second, VipQosInventory) cap traffic to
	// and from the VM through the EIP with a token bucket; 0 means unlimited.
	InboundBandwidth, OutboundBandwidth uint64
}

type eipNames struct{ ns, pubOuter, privOuter, key string }

func eipNamesOf(uuid string) eipNames {
	id := shortID(uuid)
	return eipNames{ns: "ze-" + id, pubOuter: "zep" + id, privOuter: "zei" + id, key: "eip:" + uuid}
}

const (
	eipPubInner  = "pub0"
	eipPrivInner = "priv0"
)

var (
	eipFenceTable = &nftables.Table{Name: "zcloud_eip", Family: nftables.TableFamilyBridge}
	eipNATTable   = &nftables.Table{Name: "zcloud_eip", Family: nftables.TableFamilyIPv4}
)

func (s EIPSpec) validate() error {
	switch {
	case len(shortID(s.UUID)) < 8:
		return errors.New("eip needs a uuid")
	case !s.VIP.IsValid() || !s.VIP.Addr().Is4():
		return fmt.Errorf("vip %v must be an ipv4 prefix", s.VIP)
	case !s.PrivateGateway.IsValid() || !s.PrivateGateway.Addr().Is4():
		return fmt.Errorf("private gateway %v must be an ipv4 prefix", s.PrivateGateway)
	case !s.PrivateGateway.Masked().Contains(s.GuestIP):
		return fmt.Errorf("guest ip %s outside %s", s.GuestIP, s.PrivateGateway.Masked())
	case s.PublicGateway.IsValid() && !s.VIP.Masked().Contains(s.PublicGateway):
		return fmt.Errorf("public gateway %s outside %s", s.PublicGateway, s.VIP.Masked())
	case len(s.GuestMAC) != 6:
		return errors.New("eip needs the guest mac")
	case s.PublicBridge == "" || s.PrivateBridge == "":
		return errors.New("eip needs the public and private bridges")
	}
	return checkIfName(s.GuestDevice)
}

// EnsureEIP builds or repairs the EIP's namespace, addresses, routes, NAT table, host fence and
// QoS. Re-running it with a changed spec converges to the new one.
func (h *Host) EnsureEIP(ctx context.Context, s EIPSpec) error {
	if err := s.validate(); err != nil {
		return err
	}
	n := eipNamesOf(s.UUID)
	ns, err := h.ensureNamedNS(n.ns)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := h.ensureVethIntoNS(ctx, n.pubOuter, eipPubInner, ns, s.PublicBridge, s.VIP, 0); err != nil {
		return err
	}
	if err := h.ensureVethIntoNS(ctx, n.privOuter, eipPrivInner, ns, s.PrivateBridge, s.PrivateGateway, 0); err != nil {
		return err
	}
	if err := writeSysctl(ns, "net.ipv4.ip_forward", "1"); err != nil {
		return err
	}
	inNL, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", n.ns, err)
	}
	defer inNL.Close()
	for _, l := range []string{eipPubInner, eipPrivInner} {
		if err := pinMAC(inNL, l, eipMAC(s.UUID, l)); err != nil {
			return err
		}
	}
	if err := eipRoute(inNL, s.PublicGateway); err != nil {
		return err
	}
	if err := guestNeighbour(inNL, s); err != nil {
		return err
	}
	if err := eipNAT(ns, s); err != nil {
		return err
	}
	if err := h.fenceEIP(n, &s); err != nil {
		return err
	}
	if err := shape(inNL, eipPubInner, s.OutboundBandwidth); err != nil {
		return err
	}
	return shape(inNL, eipPrivInner, s.InboundBandwidth)
}

// DeleteEIP removes the fence, the veths and the namespace (with its NAT table). Deleting an EIP
// that is gone succeeds.
func (h *Host) DeleteEIP(ctx context.Context, uuid string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := eipNamesOf(uuid)
	if err := h.fenceEIP(n, nil); err != nil {
		return err
	}
	for _, l := range []string{n.pubOuter, n.privOuter} {
		if err := deleteLink(h.nl, l); err != nil {
			return err
		}
	}
	return h.deleteNamedNS(n.ns)
}

// eipMAC is the stable MAC of an EIP namespace's link: re-creating the EIP, here or on the
// VM's next host, keeps the MAC that the outside and the guest hold in their ARP caches for the
// VIP and the gateway (locally administered, unicast, from the EIP's UUID).
func eipMAC(uuid, link string) net.HardwareAddr {
	h := sha256.Sum256([]byte(uuid + "/" + link))
	return net.HardwareAddr{0x0a, 0x5e, h[0], h[1], h[2], h[3]}
}

// pinMAC gives a link the MAC mac unless it has it.
func pinMAC(nl *netlink.Handle, name string, mac net.HardwareAddr) error {
	l, err := nl.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if bytes.Equal(l.Attrs().HardwareAddr, mac) {
		return nil
	}
	if err := nl.LinkSetHardwareAddr(l, mac); err != nil {
		return fmt.Errorf("set mac %s on %s: %w", mac, name, err)
	}
	return nil
}

// eipRoute makes the namespace's default route point at gw, or removes it when gw is unset.
func eipRoute(nl *netlink.Handle, gw netip.Addr) error {
	routes, err := nl.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
			if gw.IsValid() && r.Gw.Equal(net.IP(gw.AsSlice())) {
				return nil
			}
			if err := nl.RouteDel(&r); err != nil {
				return fmt.Errorf("remove stale default route: %w", err)
			}
		}
	}
	if !gw.IsValid() {
		return nil
	}
	if err := nl.RouteReplace(&netlink.Route{Gw: net.IP(gw.AsSlice())}); err != nil {
		return fmt.Errorf("default route via %s: %w", gw, err)
	}
	return nil
}

// guestNeighbour pins the guest's MAC in the namespace, so the namespace never broadcasts ARP
// requests carrying the gateway address as sender.
func guestNeighbour(nl *netlink.Handle, s EIPSpec) error {
	l, err := nl.LinkByName(eipPrivInner)
	if err != nil {
		return fmt.Errorf("find %s: %w", eipPrivInner, err)
	}
	n := &netlink.Neigh{LinkIndex: l.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
		IP: net.IP(s.GuestIP.AsSlice()), HardwareAddr: s.GuestMAC}
	if err := nl.NeighSet(n); err != nil {
		return fmt.Errorf("pin guest %s at %s: %w", s.GuestIP, s.GuestMAC, err)
	}
	return nil
}

// eipNAT replaces the namespace's NAT table in one transaction.
func eipNAT(ns netns.NsHandle, s EIPSpec) error {
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		return fmt.Errorf("nftables in eip namespace: %w", err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == eipNATTable.Name {
			c.DelTable(eipNATTable)
		}
	}
	c.AddTable(eipNATTable)
	pre := c.AddChain(&nftables.Chain{Name: "pre", Table: eipNATTable, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	post := c.AddChain(&nftables.Chain{Name: "post", Table: eipNATTable, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	c.AddRule(&nftables.Rule{Table: eipNATTable, Chain: pre, Exprs: exprs(
		ipAddr(s.VIP.Addr(), false), natTo(expr.NATTypeDestNAT, s.GuestIP))})
	c.AddRule(&nftables.Rule{Table: eipNATTable, Chain: post, Exprs: exprs(
		ipAddr(s.GuestIP, true), oif(eipPubInner), natTo(expr.NATTypeSourceNAT, s.VIP.Addr()))})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("eip nat table: %w", err)
	}
	return nil
}

// natTo is `dnat|snat to addr`.
func natTo(t expr.NATType, addr netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: addr.AsSlice()},
		&expr.NAT{Type: t, Family: uint32(nftables.TableFamilyIPv4), RegAddrMin: 1},
	}
}

// fenceEIP replaces the EIP's rules in the host's bridge table; a nil spec removes them.
func (h *Host) fenceEIP(n eipNames, s *EIPSpec) error {
	h.nftMu.Lock()
	defer h.nftMu.Unlock()
	c, err := h.nft()
	if err != nil {
		return err
	}
	all, err := rulesTagged(c, eipFenceTable, "forward", "")
	if err != nil {
		return err
	}
	old, err := rulesTagged(c, eipFenceTable, "forward", n.key)
	if err != nil {
		return err
	}
	if s == nil && len(old) == 0 {
		return nil
	}
	if s == nil && len(old) == len(all) {
		// The last user goes: remove the table rather than leave it empty.
		c.DelTable(eipFenceTable)
		if err := c.Flush(); err != nil {
			return fmt.Errorf("remove table zcloud_eip: %w", err)
		}
		return nil
	}
	c.AddTable(eipFenceTable)
	ch := c.AddChain(&nftables.Chain{Name: "forward", Table: eipFenceTable, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
	for _, r := range old {
		if err := c.DelRule(r); err != nil {
			return fmt.Errorf("delete eip fence rule: %w", err)
		}
	}
	if s != nil {
		drop := []expr.Any{counter(), verdict(expr.VerdictDrop)}
		for _, e := range [][]expr.Any{
			// priv0 talks to the guest's tap and nothing else, both ways.
			exprs(iif(n.privOuter), oifNot(s.GuestDevice), drop),
			exprs(oif(n.privOuter), metaIfname(expr.MetaKeyIIFNAME, s.GuestDevice, expr.CmpOpNeq), drop),
			// The guest's ARP for its gateway reaches only priv0.
			exprs(iif(s.GuestDevice), oifNot(n.privOuter), arpTargetIP(s.PrivateGateway.Addr()), drop),
		} {
			c.AddRule(&nftables.Rule{Table: eipFenceTable, Chain: ch, UserData: tag(n.key), Exprs: e})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("eip fence for %s: %w", n.ns, err)
	}
	return nil
}

// shape puts a token bucket of bps bits per second on the device's egress, or removes it.
func shape(nl *netlink.Handle, dev string, bps uint64) error {
	l, err := nl.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("find %s: %w", dev, err)
	}
	qdiscs, err := nl.QdiscList(l)
	if err != nil {
		return fmt.Errorf("list qdiscs of %s: %w", dev, err)
	}
	var cur *netlink.Tbf
	for _, q := range qdiscs {
		if t, ok := q.(*netlink.Tbf); ok && t.Parent == netlink.HANDLE_ROOT {
			cur = t
		}
	}
	if bps == 0 {
		if cur == nil {
			return nil
		}
		if err := nl.QdiscDel(cur); err != nil {
			return fmt.Errorf("remove rate limit on %s: %w", dev, err)
		}
		return nil
	}
	rate := bps / 8 // bytes per second
	if cur != nil && cur.Rate == rate {
		return nil
	}
	burst := uint32(max(rate/10, 16*1024)) // 100 ms worth of traffic, at least 16 KiB
	q := &netlink.Tbf{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT},
		Rate:       rate,
		Limit:      burst * 2,
		Buffer:     netlink.Xmittime(rate, burst),
	}
	if err := nl.QdiscReplace(q); err != nil {
		return fmt.Errorf("rate limit %d bit/s on %s: %w", bps, dev, err)
	}
	return nil
}
