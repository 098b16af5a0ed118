package router

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// announce sends one gratuitous ARP for every IPv4 address of the router's interfaces. A router
// rebuilt elsewhere (migration, reconcile) keeps its MACs, so neighbours' ARP caches stay valid,
// but bridges still forward its MACs to the port where they last saw them (a VXLAN port towards
// the old host, for up to the bridge's ageing time); the announcement moves them at once.
func (m *Manager) announce(routerUUID string) error {
	ns, err := netns.GetFromName(Namespace(routerUUID))
	if err != nil {
		return fmt.Errorf("announce: open router netns: %w", err)
	}
	defer ns.Close()
	h, err := handleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return fmt.Errorf("announce: list router links: %w", err)
	}
	type garp struct {
		ifindex int
		frame   []byte
	}
	var frames []garp
	for _, l := range links {
		if !strings.HasPrefix(l.Attrs().Name, "n-") || len(l.Attrs().HardwareAddr) != 6 {
			continue
		}
		addrs, err := h.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return fmt.Errorf("announce: addresses of %s: %w", l.Attrs().Name, err)
		}
		for _, a := range addrs {
			if ip4 := a.IP.To4(); ip4 != nil {
				frames = append(frames, garp{l.Attrs().Index, garpFrame(l.Attrs().HardwareAddr, ip4)})
			}
		}
	}
	if len(frames) == 0 {
		return nil
	}
	return inNetNS(ns, func() error {
		fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(syscall.ETH_P_ARP)))
		if err != nil {
			return fmt.Errorf("announce: packet socket: %w", err)
		}
		defer syscall.Close(fd)
		var errs []error
		for _, f := range frames {
			to := &syscall.SockaddrLinklayer{Protocol: htons(syscall.ETH_P_ARP), Ifindex: f.ifindex, Halen: 6}
			copy(to.Addr[:], broadcastMAC)
			if err := syscall.Sendto(fd, f.frame, 0, to); err != nil {
				errs = append(errs, fmt.Errorf("announce on ifindex %d: %w", f.ifindex, err))
			}
		}
		return errors.Join(errs...)
	})
}

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// garpFrame is an Ethernet broadcast ARP request for ip from mac, asking for ip itself (RFC 5227
// announcement).
func garpFrame(mac net.HardwareAddr, ip net.IP) []byte {
	f := make([]byte, 0, 42)
	f = append(f, broadcastMAC...)
	f = append(f, mac...)
	f = binary.BigEndian.AppendUint16(f, syscall.ETH_P_ARP)
	f = binary.BigEndian.AppendUint16(f, 1)      // hardware type: Ethernet
	f = binary.BigEndian.AppendUint16(f, 0x0800) // protocol type: IPv4
	f = append(f, 6, 4)                          // address lengths
	f = binary.BigEndian.AppendUint16(f, 1)      // request
	f = append(f, mac...)
	f = append(f, ip.To4()...)
	f = append(f, make([]byte, 6)...) // target MAC: unknown
	return append(f, ip.To4()...)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
