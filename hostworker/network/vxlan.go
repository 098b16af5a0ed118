package network

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ensureVXLAN creates vxlan<vni> bound to the underlay device holding the VTEP IP, UDP 4789,
// with learning off: remote MACs are found by flooding to the static peer list (head-end
// replication), as ZStack's VXLAN pools do without multicast.
func (h *Host) ensureVXLAN(l L2) (netlink.Link, error) {
	name := l.UplinkName()
	existing, err := linkByName(h.nl, name)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		v, ok := existing.(*netlink.Vxlan)
		if !ok || v.VxlanId != l.VNI {
			return nil, fmt.Errorf("%s exists but is not vxlan vni %d", name, l.VNI)
		}
		if !v.SrcAddr.Equal(net.IP(l.VTEPIP.AsSlice())) {
			return nil, fmt.Errorf("%s exists with local vtep %s, want %s", name, v.SrcAddr, l.VTEPIP)
		}
		return existing, nil
	}
	underlay, err := h.linkWithAddr(l.VTEPIP)
	if err != nil {
		return nil, err
	}
	if l.MTU != 0 && l.MTU > underlay.Attrs().MTU-vxlanOverhead {
		return nil, fmt.Errorf("mtu %d exceeds underlay %s mtu %d minus %d bytes of vxlan overhead",
			l.MTU, underlay.Attrs().Name, underlay.Attrs().MTU, vxlanOverhead)
	}
	dev := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: name},
		VxlanId:      l.VNI,
		VtepDevIndex: underlay.Attrs().Index,
		SrcAddr:      net.IP(l.VTEPIP.AsSlice()),
		Port:         VXLANPort,
		Learning:     false,
	}
	if err := h.nl.LinkAdd(dev); err != nil {
		return nil, fmt.Errorf("create vxlan device %s: %w", name, err)
	}
	h.log.Info("created vxlan device", "device", name, "vni", l.VNI, "vtep", l.VTEPIP.String(),
		"underlay", underlay.Attrs().Name)
	return h.nl.LinkByName(name)
}

// linkWithAddr finds the link holding addr.
func (h *Host) linkWithAddr(addr netip.Addr) (netlink.Link, error) {
	addrs, err := h.nl.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == addr {
			return h.nl.LinkByIndex(a.LinkIndex)
		}
	}
	return nil, fmt.Errorf("no interface holds vtep ip %s", addr)
}

var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// UpdatePeers makes the VXLAN device's flood list exactly l.Peers: one all-zero-MAC FDB entry per
// remote VTEP, so broadcast and unknown unicast reach every peer. Entries for peers no longer
// listed are removed.
func (h *Host) UpdatePeers(ctx context.Context, l L2) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.Type != L2VXLAN {
		return fmt.Errorf("update peers: l2 type %s has no vteps", l.Type)
	}
	vx, err := linkByName(h.nl, l.UplinkName())
	if err != nil {
		return err
	}
	if vx == nil {
		return fmt.Errorf("vxlan device %s not found", l.UplinkName())
	}
	have, err := h.floodPeers(vx)
	if err != nil {
		return err
	}
	want := map[netip.Addr]bool{}
	for _, p := range l.Peers {
		if p == l.VTEPIP {
			continue
		}
		want[p.Unmap()] = true
		if !have[p.Unmap()] {
			if err := h.nl.NeighAppend(fdbEntry(vx, p)); err != nil {
				return fmt.Errorf("add vxlan peer %s on %s: %w", p, vx.Attrs().Name, err)
			}
		}
	}
	for p := range have {
		if !want[p] {
			if err := h.nl.NeighDel(fdbEntry(vx, p)); err != nil {
				return fmt.Errorf("remove vxlan peer %s from %s: %w", p, vx.Attrs().Name, err)
			}
		}
	}
	return nil
}

// floodPeers returns the remote VTEPs of the device's all-zero-MAC FDB entries.
func (h *Host) floodPeers(vx netlink.Link) (map[netip.Addr]bool, error) {
	entries, err := h.nl.NeighList(vx.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		return nil, fmt.Errorf("list fdb of %s: %w", vx.Attrs().Name, err)
	}
	peers := map[netip.Addr]bool{}
	for _, e := range entries {
		if e.HardwareAddr.String() != zeroMAC.String() || e.IP == nil {
			continue
		}
		if ip, ok := netip.AddrFromSlice(e.IP); ok {
			peers[ip.Unmap()] = true
		}
	}
	return peers, nil
}

func fdbEntry(vx netlink.Link, peer netip.Addr) *netlink.Neigh {
	return &netlink.Neigh{
		LinkIndex:    vx.Attrs().Index,
		Family:       unix.AF_BRIDGE,
		State:        netlink.NUD_NOARP | netlink.NUD_PERMANENT,
		Flags:        netlink.NTF_SELF,
		IP:           net.IP(peer.Unmap().AsSlice()),
		HardwareAddr: zeroMAC,
	}
}
