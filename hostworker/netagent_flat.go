package hostworker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/hostworker/network"
	"github.com/zcloud/zcloud/models"
)

// FlatNet serves the flat-network activities of netapi (L2 bridges, flat
// DHCP, security groups) with a network.Host. A nil *FlatNet (agents
// without host networking, such as the simulated fleet's) answers every
// activity with "not supported".
type FlatNet struct {
	hostUUID string
	host     *network.Host
	// nsPath is the namespace the host works in ("" = the agent's own);
	// HostAddresses reads addresses there.
	nsPath string
	logger *slog.Logger
}

// NewFlatNet serves host's flat networking for the agent of hostUUID.
// nsPath is the namespace host was opened on (empty for the agent's own).
func NewFlatNet(hostUUID string, host *network.Host, nsPath string, logger *slog.Logger) *FlatNet {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &FlatNet{hostUUID: hostUUID, host: host, nsPath: nsPath, logger: logger.With(slog.String("host_uuid", hostUUID))}
}

// SetFlatNetwork gives the agent its flat networking; call before Register.
func (a *Agent) SetFlatNetwork(f *FlatNet) { a.flatNet = f }

// Register registers one activity per netapi flat activity name.
func (f *FlatNet) Register(r worker.ActivityRegistry) {
	for _, act := range []struct {
		name string
		fn   any
	}{
		{netapi.ActHostAddresses, f.HostAddresses},
		{netapi.ActEnsureL2, f.EnsureL2},
		{netapi.ActDeleteL2, f.DeleteL2},
		{netapi.ActSetDHCP, f.SetDHCP},
		{netapi.ActDeleteDHCP, f.DeleteDHCP},
		{netapi.ActApplySecurityGroups, f.ApplySecurityGroups},
		{netapi.ActRemoveNIC, f.RemoveNIC},
		{netapi.ActEnsureEIP, f.EnsureEIP},
		{netapi.ActDeleteEIP, f.DeleteEIP},
	} {
		r.RegisterActivityWithOptions(act.fn, activity.RegisterOptions{Name: act.name})
	}
}

// errNoNetwork answers on agents without host networking.
var errNoNetwork = fmt.Errorf("this agent has no host networking: %w", errors.ErrUnsupported)

// run checks the agent, runs fn and types its error for the control plane.
func (f *FlatNet) run(ctx context.Context, op, hostUUID string, fn func(context.Context) error) error {
	if f == nil || f.host == nil {
		return temporal.NewNonRetryableApplicationError(op+": "+errNoNetwork.Error(), hostapi.ErrTypeUnsupported, nil)
	}
	if hostUUID != "" && hostUUID != f.hostUUID {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: activity for host %s reached the agent of host %s", op, hostUUID, f.hostUUID),
			hostapi.ErrTypeInvalid, nil)
	}
	start := time.Now()
	err := fn(ctx)
	f.logger.LogAttrs(ctx, slog.LevelDebug, "network operation", slog.String("op", op),
		slog.Duration("duration", time.Since(start)), slog.Bool("ok", err == nil))
	if err == nil {
		return nil
	}
	return typedError(f.hostUUID, op, err)
}

// HostAddresses is netapi.ActHostAddresses.
func (f *FlatNet) HostAddresses(ctx context.Context, p netapi.HostAddressesParams) (netapi.HostAddressesResult, error) {
	var out netapi.HostAddressesResult
	err := f.run(ctx, netapi.ActHostAddresses, p.HostUUID, func(context.Context) (err error) {
		out.Addresses, err = f.addresses()
		return err
	})
	return out, err
}

// addresses are the host's IPv4 addresses but loopback and link-local,
// sorted.
func (f *FlatNet) addresses() ([]netip.Prefix, error) {
	nl, err := f.netlinkHandle()
	if err != nil {
		return nil, err
	}
	defer nl.Close()
	addrs, err := nl.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if !ok || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip, ones))
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out, nil
}

func (f *FlatNet) netlinkHandle() (*netlink.Handle, error) {
	if f.nsPath == "" {
		return netlink.NewHandle()
	}
	ns, err := netns.GetFromPath(f.nsPath)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns)
}

// l2Of converts the wire spec.
func l2Of(s netapi.L2Spec) network.L2 {
	return network.L2{Type: network.L2Type(s.Type), PhysicalInterface: s.PhysicalInterface, VLAN: s.VLAN, VNI: s.VNI,
		VTEPIP: s.VTEPIP, Peers: s.Peers, MTU: s.MTU}
}

// EnsureL2 is netapi.ActEnsureL2. A NoVlan network on an interface that
// holds an IPv4 address is refused: enslaving it would cut the host off
// (ZStack moves the address to the bridge; this agent does not yet).
func (f *FlatNet) EnsureL2(ctx context.Context, p netapi.EnsureL2Params) (netapi.EnsureL2Result, error) {
	var out netapi.EnsureL2Result
	err := f.run(ctx, netapi.ActEnsureL2, p.HostUUID, func(ctx context.Context) error {
		if p.L2.Type == netapi.L2NoVlan {
			if err := f.checkNoAddress(p.L2); err != nil {
				return err
			}
		}
		br, err := f.host.EnsureBridge(ctx, l2Of(p.L2))
		out.Bridge = br
		return err
	})
	return out, err
}

// checkNoAddress refuses to bridge an interface that carries IPv4 addresses
// and is not yet in the L2's bridge.
func (f *FlatNet) checkNoAddress(l netapi.L2Spec) error {
	nl, err := f.netlinkHandle()
	if err != nil {
		return err
	}
	defer nl.Close()
	link, err := nl.LinkByName(l.PhysicalInterface)
	if err != nil {
		return nil // EnsureBridge reports the missing interface
	}
	if link.Attrs().MasterIndex != 0 {
		return nil
	}
	addrs, err := nl.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", l.PhysicalInterface, err)
	}
	if len(addrs) > 0 {
		return fmt.Errorf("physical interface %s holds %s; moving host addresses onto bridge %s: %w",
			l.PhysicalInterface, addrs[0].IPNet, l.BridgeName(), errors.ErrUnsupported)
	}
	return nil
}

// DeleteL2 is netapi.ActDeleteL2: a bridge still carrying ports (VM taps,
// DHCP veths) is kept and reported, not an error.
func (f *FlatNet) DeleteL2(ctx context.Context, p netapi.DeleteL2Params) (netapi.DeleteL2Result, error) {
	var out netapi.DeleteL2Result
	err := f.run(ctx, netapi.ActDeleteL2, p.HostUUID, func(ctx context.Context) error {
		l := l2Of(p.L2)
		if l.Type == network.L2VXLAN && !l.VTEPIP.IsValid() {
			// The VTEP only matters for creating; any address passes validation.
			l.VTEPIP = netip.IPv4Unspecified()
		}
		err := f.host.DeleteBridge(ctx, l)
		switch {
		case errors.Is(err, network.ErrInUse):
			out.InUse = err.Error()
			return nil
		case err != nil:
			return err
		}
		out.Deleted = true
		return nil
	})
	return out, err
}

// SetDHCP is netapi.ActSetDHCP.
func (f *FlatNet) SetDHCP(ctx context.Context, p netapi.SetDHCPParams) error {
	return f.run(ctx, netapi.ActSetDHCP, p.HostUUID, func(ctx context.Context) error {
		d := p.DHCP
		spec := network.DHCPSpec{L3UUID: d.L3UUID, Bridge: d.Bridge, Uplink: d.Uplink, ServerIP: d.ServerIP,
			Gateway: d.Gateway, DNS: d.DNS, Domain: d.Domain, MTU: d.MTU, ServeDNS: d.ServeDNS, Metadata: d.Metadata}
		for _, h := range d.Hosts {
			mac, err := net.ParseMAC(h.MAC)
			if err != nil {
				return fmt.Errorf("dhcp host %s: %w: %w", h.MAC, err, models.ErrInvalid)
			}
			spec.Hosts = append(spec.Hosts, network.DHCPHost{MAC: mac, IP: h.IP, Hostname: h.Hostname, Metadata: metadataOf(h.Metadata)})
		}
		return f.host.EnsureDHCP(ctx, spec)
	})
}

// DeleteDHCP is netapi.ActDeleteDHCP.
func (f *FlatNet) DeleteDHCP(ctx context.Context, p netapi.DeleteDHCPParams) error {
	return f.run(ctx, netapi.ActDeleteDHCP, p.HostUUID, func(ctx context.Context) error {
		return f.host.DeleteDHCP(ctx, p.L3UUID)
	})
}

// ApplySecurityGroups is netapi.ActApplySecurityGroups.
func (f *FlatNet) ApplySecurityGroups(ctx context.Context, p netapi.ApplySecurityGroupsParams) error {
	return f.run(ctx, netapi.ActApplySecurityGroups, p.HostUUID, func(ctx context.Context) error {
		pol := network.NICPolicy{Device: p.Device, GroupMembers: p.GroupMembers}
		for _, g := range p.Groups {
			sg := network.SecurityGroup{UUID: g.UUID}
			for _, r := range g.Rules {
				sg.Rules = append(sg.Rules, network.SecurityGroupRule{Type: r.Type, Protocol: r.Protocol, StartPort: r.StartPort,
					EndPort: r.EndPort, AllowedCIDR: r.AllowedCIDR, RemoteSecurityGroupUUID: r.RemoteSecurityGroupUUID, IPVersion: 4})
			}
			pol.Groups = append(pol.Groups, sg)
		}
		return f.host.ApplyNIC(ctx, pol)
	})
}

// RemoveNIC is netapi.ActRemoveNIC.
func (f *FlatNet) RemoveNIC(ctx context.Context, p netapi.RemoveNICParams) error {
	return f.run(ctx, netapi.ActRemoveNIC, p.HostUUID, func(ctx context.Context) error {
		return f.host.RemoveNIC(ctx, p.Device)
	})
}

// EnsureEIP is netapi.ActEnsureEIP.
func (f *FlatNet) EnsureEIP(ctx context.Context, p netapi.EnsureEIPParams) error {
	return f.run(ctx, netapi.ActEnsureEIP, p.HostUUID, func(ctx context.Context) error {
		e := p.EIP
		mac, err := net.ParseMAC(e.GuestMAC)
		if err != nil {
			return fmt.Errorf("eip %s guest mac %q: %w: %w", e.UUID, e.GuestMAC, err, models.ErrInvalid)
		}
		return f.host.EnsureEIP(ctx, network.EIPSpec{UUID: e.UUID, VIP: e.VIP, PublicBridge: e.PublicBridge, PublicGateway: e.PublicGateway,
			PrivateBridge: e.PrivateBridge, PrivateGateway: e.PrivateGateway, GuestIP: e.GuestIP, GuestMAC: mac, GuestDevice: e.GuestDevice,
			InboundBandwidth: e.InboundBandwidth, OutboundBandwidth: e.OutboundBandwidth})
	})
}

// DeleteEIP is netapi.ActDeleteEIP.
func (f *FlatNet) DeleteEIP(ctx context.Context, p netapi.DeleteEIPParams) error {
	return f.run(ctx, netapi.ActDeleteEIP, p.HostUUID, func(ctx context.Context) error {
		return f.host.DeleteEIP(ctx, p.EIPUUID)
	})
}

// metadataOf converts a NIC's wire metadata (nil: none).
func metadataOf(m *netapi.FlatMetadata) *network.Metadata {
	if m == nil {
		return nil
	}
	return &network.Metadata{InstanceID: m.InstanceID, Hostname: m.Hostname, UserData: m.UserData, SSHKeys: m.SSHKeys}
}
