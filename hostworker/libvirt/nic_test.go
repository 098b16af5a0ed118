//go:build libvirt

package libvirt

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	virt "libvirt.org/go/libvirt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/models"
)

// TestNICHotplugRefusals: a NIC without a bridge is not supported, a
// missing domain is not found on attach and fine on detach.
func TestNICHotplugRefusals(t *testing.T) {
	d := newTestDriver(t)
	ctx := t.Context()
	nic := hostapi.NICSpec{UUID: newUUID(t), MAC: "fa:16:3e:00:00:01", Bridge: "br-test1", Driver: "virtio"}
	require.ErrorIs(t, d.AttachNIC(ctx, newUUID(t), nic), models.ErrNotFound)
	require.NoError(t, d.DetachNIC(ctx, newUUID(t), nic))
	nic.Bridge = ""
	require.ErrorIs(t, d.AttachNIC(ctx, newUUID(t), nic), errors.ErrUnsupported)
}

// TestGuestNICHotplug hot-plugs a NIC into a running real QEMU guest: the
// running domain and its definition get one interface on the bridge, its
// tap (named after the NIC) appears on the host enslaved to the bridge, and
// a second call changes nothing. Unplugging removes the tap and the
// interface from both; a second unplug succeeds.
func TestGuestNICHotplug(t *testing.T) {
	needSystemLibvirt(t)
	url := imageURL(t, "")
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "zt" + newUUID(t)[:10]}}
	if err := netlink.LinkAdd(br); err != nil {
		skipOrFail(t, "cannot create a bridge (needs root): %v", err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(br) })
	require.NoError(t, netlink.LinkSetUp(br))
	d := newGuestDriver(t, systemURI, "")
	ctx := t.Context()
	vm := guestVM(t, url)
	_, err := d.InstantiateVolume(ctx, vm.RootVolume)
	require.NoError(t, err)
	t.Cleanup(func() { removeGuest(t, d, vm) })
	_, err = d.CreateVM(ctx, vm, true)
	require.NoError(t, err)
	// The guest's kernel answers the unplug request once it has booted.
	waitConsole(t, d, vm.UUID, bootMarker, 1)

	nic := hostapi.NICSpec{UUID: newUUID(t), MAC: "fa:16:3e:00:00:01", Bridge: br.Name, Driver: "virtio"}
	tap := netapi.TapName(nic.UUID)
	require.NoError(t, d.AttachNIC(ctx, vm.UUID, nic))
	require.NoError(t, d.AttachNIC(ctx, vm.UUID, nic), "plugging it again succeeds")
	for _, flags := range []virt.DomainXMLFlags{0, virt.DOMAIN_XML_INACTIVE} {
		x := liveDomain(t, systemURI, vm.UUID, flags)
		require.Len(t, x.Devices.Interfaces, 1, "flags %d", flags)
		iface := findNIC(x, nic.UUID, nic.MAC)
		require.NotNil(t, iface)
		require.Equal(t, br.Name, iface.Source.Bridge.Bridge)
		require.Equal(t, "virtio", iface.Model.Type)
	}
	link, err := netlink.LinkByName(tap)
	require.NoError(t, err, "the tap is on the host")
	brLink, err := netlink.LinkByName(br.Name)
	require.NoError(t, err)
	require.Equal(t, brLink.Attrs().Index, link.Attrs().MasterIndex, "the tap is on the bridge")

	require.NoError(t, d.DetachNIC(ctx, vm.UUID, nic))
	require.NoError(t, d.DetachNIC(ctx, vm.UUID, nic), "unplugging it again succeeds")
	for _, flags := range []virt.DomainXMLFlags{0, virt.DOMAIN_XML_INACTIVE} {
		require.Nil(t, findNIC(liveDomain(t, systemURI, vm.UUID, flags), nic.UUID, nic.MAC))
	}
	_, err = netlink.LinkByName(tap)
	require.Error(t, err, "the tap is gone")
}
