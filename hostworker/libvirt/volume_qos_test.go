//go:build libvirt

package libvirt

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	virt "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/domainxml"
	"github.com/zcloud/zcloud/models"
)

// qemuThrottle is the throttling QEMU itself applies to a volume's disk
// (query-block on the device), not libvirt's idea of it.
func qemuThrottle(t *testing.T, d *Driver, vmUUID, volUUID string) hostapi.VolumeQoS {
	t.Helper()
	var q hostapi.VolumeQoS
	_, err := d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		out, err := qmp(dom, "query-block", map[string]any{})
		if err != nil {
			return "", err
		}
		var devs []struct {
			QDev     string `json:"qdev"`
			Inserted *struct {
				BPS    int64 `json:"bps"`
				BPSRd  int64 `json:"bps_rd"`
				BPSWr  int64 `json:"bps_wr"`
				IOPS   int64 `json:"iops"`
				IOPSRd int64 `json:"iops_rd"`
				IOPSWr int64 `json:"iops_wr"`
			} `json:"inserted"`
		}
		if err := json.Unmarshal(out, &devs); err != nil {
			return "", err
		}
		for _, dev := range devs {
			if strings.Contains(dev.QDev, "ua-"+volUUID) && dev.Inserted != nil {
				in := dev.Inserted
				q = hostapi.VolumeQoS{TotalBandwidth: in.BPS, ReadBandwidth: in.BPSRd, WriteBandwidth: in.BPSWr,
					TotalIOPS: in.IOPS, ReadIOPS: in.IOPSRd, WriteIOPS: in.IOPSWr}
				return "", nil
			}
		}
		return "", fmt.Errorf("qemu has no device of volume %s: %s", volUUID, out)
	})
	require.NoError(t, err)
	return q
}

func diskTune(t *testing.T, x *libvirtxml.Domain, volUUID, path string) *libvirtxml.DomainDiskIOTune {
	t.Helper()
	disk := findDisk(x, volUUID, path)
	require.NotNil(t, disk, "volume %s is in the domain", volUUID)
	return disk.IOTune
}

// TestGuestVolumeQoS runs a real guest whose root volume is defined with
// limits, hot-plugs a data volume with a 1 MiB/s write limit, reads the
// limits back from libvirt and from QEMU's own block layer (query-block),
// changes and removes them live, and refuses bad limits and unknown
// disks. Then a raw shareable volume is plugged into the
// guest and into a second running domain at once.
func TestGuestVolumeQoS(t *testing.T) {
	needSystemLibvirt(t)
	url := imageURL(t, "")
	d := newGuestDriver(t, systemURI, "")
	ctx := t.Context()
	vm := guestVM(t, url)
	vm.RootVolume.QoS = &hostapi.VolumeQoS{TotalBandwidth: 200 << 20, TotalIOPS: 5000}
	startGuest(t, d, vm)
	rootPath, err := d.volumePath(vm.RootVolume)
	require.NoError(t, err)
	tune := diskTune(t, liveDomain(t, systemURI, vm.UUID, 0), vm.RootVolume.UUID, rootPath)
	require.NotNil(t, tune, "the root disk is defined with its limits")
	require.EqualValues(t, 200<<20, tune.TotalBytesSec)
	require.EqualValues(t, 5000, tune.TotalIopsSec)

	data := hostapi.VolumeSpec{UUID: newUUID(t), Type: VolumeData, PrimaryStorageUUID: vm.RootVolume.PrimaryStorageUUID,
		Size: 64 << 20, DeviceID: 1, QoS: &hostapi.VolumeQoS{WriteBandwidth: 1 << 20}}
	_, err = d.InstantiateVolume(ctx, data)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, d.DestroyVM(context.Background(), vm.UUID))
		require.NoError(t, d.DeleteVolume(context.Background(), data))
	})
	dataPath, err := d.volumePath(data)
	require.NoError(t, err)
	_, err = d.AttachVolume(ctx, vm.UUID, data)
	require.NoError(t, err)
	got, err := d.VolumeQoS(ctx, vm.UUID, data)
	require.NoError(t, err)
	require.Equal(t, *data.QoS, got, "hot-plugged with its limits")

	require.Equal(t, *data.QoS, qemuThrottle(t, d, vm.UUID, data.UUID), "qemu throttles the disk")

	// Live change: QEMU and the definition take the new limits.
	data.QoS = &hostapi.VolumeQoS{ReadBandwidth: 8 << 20, TotalIOPS: 50}
	require.NoError(t, d.SetVolumeQoS(ctx, vm.UUID, data))
	require.NoError(t, d.SetVolumeQoS(ctx, vm.UUID, data), "the same limits again")
	got, err = d.VolumeQoS(ctx, vm.UUID, data)
	require.NoError(t, err)
	require.Equal(t, *data.QoS, got)
	require.Equal(t, *data.QoS, qemuThrottle(t, d, vm.UUID, data.UUID))
	def := diskTune(t, liveDomain(t, systemURI, vm.UUID, virt.DOMAIN_XML_INACTIVE), data.UUID, dataPath)
	require.NotNil(t, def)
	require.EqualValues(t, 50, def.TotalIopsSec, "the definition keeps them")
	require.EqualValues(t, 8<<20, def.ReadBytesSec)

	// Unlimited again: the same write is fast.
	data.QoS = nil
	require.NoError(t, d.SetVolumeQoS(ctx, vm.UUID, data))
	got, err = d.VolumeQoS(ctx, vm.UUID, data)
	require.NoError(t, err)
	require.True(t, got.IsZero(), "unlimited: %+v", got)
	require.True(t, qemuThrottle(t, d, vm.UUID, data.UUID).IsZero(), "qemu no longer throttles")

	// Bad limits and unknown disks change nothing.
	bad := data
	bad.QoS = &hostapi.VolumeQoS{TotalIOPS: 10, ReadIOPS: 10}
	require.ErrorIs(t, d.SetVolumeQoS(ctx, vm.UUID, bad), models.ErrInvalid)
	stray := data
	stray.UUID = newUUID(t)
	require.ErrorIs(t, d.SetVolumeQoS(ctx, vm.UUID, stray), models.ErrInvalid)
	require.ErrorIs(t, d.SetVolumeQoS(ctx, newUUID(t), data), models.ErrNotFound)
	got, err = d.VolumeQoS(ctx, vm.UUID, data)
	require.NoError(t, err)
	require.True(t, got.IsZero())

	// A raw shareable volume in this guest and in a second running domain.
	share := hostapi.VolumeSpec{UUID: newUUID(t), Type: VolumeData, PrimaryStorageUUID: vm.RootVolume.PrimaryStorageUUID,
		Size: 32 << 20, Format: domainxml.FormatRaw, Shareable: true, DeviceID: 2}
	res, err := d.InstantiateVolume(ctx, share)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(res.InstallPath, ".raw"), res.InstallPath)
	require.Equal(t, domainxml.FormatRaw, info(t, res.InstallPath).Format)
	vm2 := guestVM(t, url)
	share2 := share
	share2.DeviceID = 1
	vm2.DataVolumes = []hostapi.VolumeSpec{share2}
	_, err = d.InstantiateVolume(ctx, vm2.RootVolume)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		require.NoError(t, d.DestroyVM(ctx, vm2.UUID))
		require.NoError(t, d.DeleteVolume(ctx, vm2.RootVolume))
		require.NoError(t, d.DetachVolume(ctx, vm.UUID, share))
		require.NoError(t, d.DeleteVolume(ctx, share))
	})
	dev, err := d.AttachVolume(ctx, vm.UUID, share)
	require.NoError(t, err)
	require.Equal(t, "vdc", dev)
	st, err := d.CreateVM(ctx, vm2, true)
	require.NoError(t, err, "a second qemu opens the shareable volume")
	require.Equal(t, hostapi.PowerRunning, st)
	for _, id := range []string{vm.UUID, vm2.UUID} {
		disk := findDisk(liveDomain(t, systemURI, id, 0), share.UUID, res.InstallPath)
		require.NotNil(t, disk, "domain %s has the shareable disk", id)
		require.NotNil(t, disk.Shareable)
		require.Equal(t, domainxml.FormatRaw, disk.Driver.Type)
		require.Equal(t, "none", disk.Driver.Cache)
	}
}
