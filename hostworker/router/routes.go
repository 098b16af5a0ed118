package router

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// routeProtocol marks the routes this package installs (the default route and custom route
// entries), so converging never touches connected routes or routes installed by strongSwan.
const routeProtocol netlink.RouteProtocol = 251

type routeKey struct {
	dst    netip.Prefix
	metric int
}

// ensureRoutes makes the router's main-table routes of routeProtocol exactly the default route
// via the public gateway plus spec.Routes.
func ensureRoutes(h *netlink.Handle, spec Spec) error {
	want := map[routeKey]*netlink.Route{}
	add := func(dst netip.Prefix, via netip.Addr, metric int) {
		r := &netlink.Route{
			Dst:      &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), 32)},
			Protocol: routeProtocol,
			Priority: metric,
			Table:    unix.RT_TABLE_MAIN,
		}
		if via.IsValid() {
			r.Gw = via.AsSlice()
			r.Type = unix.RTN_UNICAST
		} else {
			r.Type = unix.RTN_BLACKHOLE
		}
		want[routeKey{dst.Masked(), metric}] = r
	}
	if spec.Public.Gateway.IsValid() {
		add(netip.MustParsePrefix("0.0.0.0/0"), spec.Public.Gateway, 0)
	}
	for _, r := range spec.Routes {
		if !r.Destination.IsValid() || !r.Destination.Addr().Is4() {
			return fmt.Errorf("route %v: invalid IPv4 destination", r.Destination)
		}
		add(r.Destination, r.NextHop, r.Distance)
	}
	have, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: routeProtocol, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	for _, r := range have {
		dst := netip.MustParsePrefix("0.0.0.0/0")
		if r.Dst != nil {
			if p, ok := prefixOf(r.Dst); ok {
				dst = p
			}
		}
		w, ok := want[routeKey{dst, r.Priority}]
		if ok && w.Type == r.Type && net.IP(w.Gw).Equal(r.Gw) {
			delete(want, routeKey{dst, r.Priority})
			continue
		}
		if err := h.RouteDel(&r); err != nil {
			return fmt.Errorf("delete route %s: %w", dst, err)
		}
	}
	for k, r := range want {
		if err := h.RouteReplace(r); err != nil {
			return fmt.Errorf("add route %s via %v: %w", k.dst, r.Gw, err)
		}
	}
	return nil
}
