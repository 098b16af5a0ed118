package hostworker

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.temporal.io/sdk/temporal"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/hostworker/network"
)

// TestFlatNetNamesMatchNetwork checks that the control plane names bridges,
// uplinks and taps as the host package does.
func TestFlatNetNamesMatchNetwork(t *testing.T) {
	for _, s := range []netapi.L2Spec{
		{Type: netapi.L2NoVlan, PhysicalInterface: "eth0"},
		{Type: netapi.L2Vlan, PhysicalInterface: "eth1", VLAN: 100},
		{Type: netapi.L2VXLAN, VNI: 7000},
	} {
		t.Run(s.Type, func(t *testing.T) {
			l := l2Of(s)
			require.Equal(t, l.BridgeName(), s.BridgeName())
			require.Equal(t, l.UplinkName(), s.UplinkName())
		})
	}
	tap := netapi.TapName("0123456789abcdef0123456789abcdef")
	require.Equal(t, "vnic0123456789a", tap)
	require.LessOrEqual(t, len(tap), 15, "Linux interface names have at most 15 characters")
}

// TestFlatNetWithoutNetworkIsUnsupported checks the answer of agents that
// have no host networking (the simulated fleet).
func TestFlatNetWithoutNetworkIsUnsupported(t *testing.T) {
	var f *FlatNet
	_, err := f.EnsureL2(t.Context(), netapi.EnsureL2Params{L2: netapi.L2Spec{Type: netapi.L2VXLAN, VNI: 1}})
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae), "got %v", err)
	require.Equal(t, hostapi.ErrTypeUnsupported, ae.Type())
	require.True(t, ae.NonRetryable())
}

// newNetNS makes an anonymous network namespace for the test and returns
// a path that opens it.
func newNetNS(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("ZCLOUD_REQUIRE_NET") == "1" {
			t.Fatal("network namespaces need root")
		}
		t.Skip("network namespaces need root")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	require.NoError(t, err)
	defer orig.Close()
	ns, err := netns.New()
	require.NoError(t, err)
	require.NoError(t, netns.Set(orig))
	t.Cleanup(func() { _ = ns.Close() })
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), int(ns))
}

// TestFlatNetL2 drives the agent's L2 activities in a namespace of its own:
// host addresses, a NoVlan bridge (refused on an interface holding an
// address), a VXLAN bridge with its peers, and a deletion that keeps a
// bridge still carrying a port.
func TestFlatNetL2(t *testing.T) {
	path := newNetNS(t)
	ns, err := netns.GetFromPath(path)
	require.NoError(t, err)
	defer ns.Close()
	nl, err := netlink.NewHandleAt(ns)
	require.NoError(t, err)
	defer nl.Close()
	for _, name := range []string{"eth8", "eth9"} {
		// veths: dummy devices are not built into this kernel.
		require.NoError(t, nl.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}))
		l, err := nl.LinkByName(name)
		require.NoError(t, err)
		require.NoError(t, nl.LinkSetUp(l))
	}
	eth9, err := nl.LinkByName("eth9")
	require.NoError(t, err)
	require.NoError(t, nl.AddrAdd(eth9, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, 99, 0, 1), Mask: net.CIDRMask(24, 32)}}))

	h, err := network.NewHost(network.HostOptions{NetNSPath: path, NetNSDir: t.TempDir(), RunDir: t.TempDir()})
	require.NoError(t, err)
	defer h.Close()
	const host = "h1"
	f := NewFlatNet(host, h, path, nil)
	ctx := t.Context()

	addrs, err := f.HostAddresses(ctx, netapi.HostAddressesParams{HostUUID: host})
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.99.0.1/24")}, addrs.Addresses)
	vtep, ok := netapi.PickVTEP(addrs.Addresses, netip.MustParsePrefix("10.99.0.0/16"))
	require.True(t, ok)

	_, err = f.EnsureL2(ctx, netapi.EnsureL2Params{HostUUID: "other", L2: netapi.L2Spec{Type: netapi.L2NoVlan, PhysicalInterface: "eth8"}})
	require.ErrorContains(t, err, "reached the agent of host h1")

	_, err = f.EnsureL2(ctx, netapi.EnsureL2Params{HostUUID: host, L2: netapi.L2Spec{Type: netapi.L2NoVlan, PhysicalInterface: "eth9"}})
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae), "got %v", err)
	require.Equal(t, hostapi.ErrTypeUnsupported, ae.Type(), "bridging the interface holding the host's address")

	novlan := netapi.L2Spec{Type: netapi.L2NoVlan, PhysicalInterface: "eth8"}
	out, err := f.EnsureL2(ctx, netapi.EnsureL2Params{HostUUID: host, L2: novlan})
	require.NoError(t, err)
	require.Equal(t, "br_eth8", out.Bridge)
	_, err = f.EnsureL2(ctx, netapi.EnsureL2Params{HostUUID: host, L2: novlan})
	require.NoError(t, err, "ensuring twice is ensuring once")
	del, err := f.DeleteL2(ctx, netapi.DeleteL2Params{HostUUID: host, L2: novlan})
	require.NoError(t, err)
	require.True(t, del.Deleted)

	vx := netapi.L2Spec{Type: netapi.L2VXLAN, VNI: 42, VTEPIP: vtep, Peers: []netip.Addr{netip.MustParseAddr("10.99.0.2")}}
	out, err = f.EnsureL2(ctx, netapi.EnsureL2Params{HostUUID: host, L2: vx})
	require.NoError(t, err)
	require.Equal(t, "br_vx_42", out.Bridge)
	require.NoError(t, nl.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vnictest"}, PeerName: "vnictestp"}))
	port, err := nl.LinkByName("vnictest")
	require.NoError(t, err)
	br, err := nl.LinkByName("br_vx_42")
	require.NoError(t, err)
	require.NoError(t, nl.LinkSetMaster(port, br))
	vx.VTEPIP, vx.Peers = netip.Addr{}, nil // a deletion needs neither
	del, err = f.DeleteL2(ctx, netapi.DeleteL2Params{HostUUID: host, L2: vx})
	require.NoError(t, err)
	require.False(t, del.Deleted)
	require.Contains(t, del.InUse, "vnictest", "a bridge with a VM port is kept")
	require.NoError(t, nl.LinkDel(port))
	del, err = f.DeleteL2(ctx, netapi.DeleteL2Params{HostUUID: host, L2: vx})
	require.NoError(t, err)
	require.True(t, del.Deleted)
	_, err = nl.LinkByName("vxlan42")
	require.Error(t, err, "the vxlan device went with its bridge")
}

// TestFlatNetEIPErrors checks the EIP activities' typed errors: "not
// supported" on agents without host networking, and a bad guest MAC
// refused as invalid, not retried.
func TestFlatNetEIPErrors(t *testing.T) {
	var none *FlatNet
	var ae *temporal.ApplicationError
	err := none.DeleteEIP(t.Context(), netapi.DeleteEIPParams{EIPUUID: "0123456789abcdef"})
	require.True(t, errors.As(err, &ae), "got %v", err)
	require.Equal(t, hostapi.ErrTypeUnsupported, ae.Type())

	f := NewFlatNet("host-1", &network.Host{}, "", nil)
	err = f.EnsureEIP(t.Context(), netapi.EnsureEIPParams{HostUUID: "host-1", EIP: netapi.FlatEIP{UUID: "0123456789abcdef", GuestMAC: "not-a-mac"}})
	require.True(t, errors.As(err, &ae), "got %v", err)
	require.Equal(t, hostapi.ErrTypeInvalid, ae.Type())
	require.True(t, ae.NonRetryable())
	require.ErrorContains(t, err, "guest mac")
}
