//go:build libvirt

package libvirt

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// qemuIO runs one qemu-io command on a qcow2 image and reports whether it
// succeeded; "read -P" fails when the data differs from the pattern.
func qemuIO(t *testing.T, path, command string) bool {
	t.Helper()
	out, err := exec.Command("qemu-io", "-f", "qcow2", "-c", command, path).CombinedOutput()
	if err != nil {
		t.Logf("qemu-io %q: %v: %s", command, err, out)
		return false
	}
	// qemu-io exits 0 on a pattern mismatch and says so.
	return !strings.Contains(string(out), "Pattern verification failed")
}

// TestVolumeSnapshotsOffline takes, reverts, copies and deletes internal
// snapshots of a volume no domain runs on, checking the data with qemu-io.
func TestVolumeSnapshotsOffline(t *testing.T) {
	needQemuImg(t)
	d := newTestDriver(t)
	ctx := t.Context()
	vol := hostapi.VolumeSpec{UUID: newUUID(t), Type: VolumeData, PrimaryStorageUUID: newUUID(t), Size: 16 << 20}
	res, err := d.InstantiateVolume(ctx, vol)
	require.NoError(t, err)
	path := res.InstallPath
	require.True(t, qemuIO(t, path, "write -P 0x11 0 64k"))

	s1, s2 := newUUID(t), newUUID(t)
	snap, err := d.CreateVolumeSnapshot(ctx, vol, s1)
	require.NoError(t, err)
	require.Equal(t, hostapi.VolumeSnapshotResult{SnapshotUUID: s1, InstallPath: path, VirtualSize: 16 << 20}, snap)
	again, err := d.CreateVolumeSnapshot(ctx, vol, s1)
	require.NoError(t, err)
	require.Equal(t, snap, again)

	require.True(t, qemuIO(t, path, "write -P 0x22 0 64k"))
	_, err = d.CreateVolumeSnapshot(ctx, vol, s2)
	require.NoError(t, err)
	require.True(t, qemuIO(t, path, "write -P 0x33 0 64k"))

	// Revert to s1, twice: the data of s1 comes back.
	require.NoError(t, d.RevertVolumeSnapshot(ctx, vol, s1))
	require.NoError(t, d.RevertVolumeSnapshot(ctx, vol, s1))
	require.True(t, qemuIO(t, path, "read -P 0x11 0 64k"), "reverted to s1")
	require.False(t, qemuIO(t, path, "read -P 0x33 0 64k"), "the data written after s2 is gone")

	// A copy of s2 holds s2's data, stands alone, and is made once.
	target := hostapi.VolumeSpec{UUID: newUUID(t), Type: VolumeData, PrimaryStorageUUID: vol.PrimaryStorageUUID}
	made, err := d.CreateVolumeFromSnapshot(ctx, vol, s2, target)
	require.NoError(t, err)
	require.True(t, qemuIO(t, made.InstallPath, "read -P 0x22 0 64k"), "copy of s2")
	require.Empty(t, backingOf(info(t, made.InstallPath)))
	again2, err := d.CreateVolumeFromSnapshot(ctx, vol, s2, target)
	require.NoError(t, err)
	require.Equal(t, made, again2)
	require.NoError(t, d.DeleteVolume(ctx, target))

	// A copy of the volume as it is (an image from a stopped vm's volume).
	current := hostapi.VolumeSpec{UUID: newUUID(t), Type: VolumeData, PrimaryStorageUUID: vol.PrimaryStorageUUID}
	made, err = d.CreateVolumeFromSnapshot(ctx, vol, "", current)
	require.NoError(t, err)
	require.True(t, qemuIO(t, made.InstallPath, "read -P 0x11 0 64k"), "copy of the current data")
	require.NoError(t, d.DeleteVolume(ctx, current))

	// Offline resize, and the errors.
	size, err := d.ResizeVolume(ctx, vol, 32<<20)
	require.NoError(t, err)
	require.Equal(t, int64(32<<20), size)
	_, err = d.ResizeVolume(ctx, vol, 16<<20)
	require.ErrorIs(t, err, models.ErrInvalid)
	_, err = d.ResizeVolume(ctx, vol, 32<<20+1)
	require.ErrorIs(t, err, models.ErrInvalid)

	missing := newUUID(t)
	require.ErrorIs(t, d.RevertVolumeSnapshot(ctx, vol, missing), models.ErrNotFound)
	_, err = d.CreateVolumeFromSnapshot(ctx, vol, missing, target)
	require.ErrorIs(t, err, models.ErrNotFound)
	_, err = d.CreateVolumeSnapshot(ctx, vol, "not-a-uuid")
	require.ErrorIs(t, err, models.ErrInvalid)

	// Delete, twice; then the volume, and a snapshot of a gone volume.
	for _, s := range []string{s1, s2, s1} {
		require.NoError(t, d.DeleteVolumeSnapshot(ctx, vol, s))
	}
	require.Empty(t, info(t, path).Snapshots)
	require.NoError(t, d.DeleteVolume(ctx, vol))
	require.NoError(t, d.DeleteVolumeSnapshot(ctx, vol, s1))
	_, err = d.CreateVolumeSnapshot(ctx, vol, s1)
	require.ErrorIs(t, err, models.ErrNotFound)
}

// TestHotplugUnsupportedOnTestDriver: the test driver cannot attach
// devices; the driver says "not supported" rather than pretending.
func TestHotplugUnsupportedOnTestDriver(t *testing.T) {
	d := newTestDriver(t)
	ctx := t.Context()
	vm := testVM(t, d)
	_, err := d.CreateVM(ctx, vm, true)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.DestroyVM(ctx, vm.UUID) })
	vol := vm.DataVolumes[0]
	vol.UUID = newUUID(t)
	vol.DeviceID = 2
	path, err := d.volumePath(vol)
	require.NoError(t, err)
	require.NoError(t, exec.Command("touch", path).Run())
	_, err = d.AttachVolume(ctx, vm.UUID, vol)
	require.ErrorIs(t, err, errors.ErrUnsupported)

	// Pause and resume work on the test driver.
	st, err := d.PauseVM(ctx, vm.UUID)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerPaused, st)
	st, err = d.ResumeVM(ctx, vm.UUID)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerRunning, st)
	_, err = d.PauseVM(ctx, newUUID(t))
	require.ErrorIs(t, err, models.ErrNotFound)

	// Migration without shared storage is not supported; to itself invalid.
	_, err = d.MigrateVM(ctx, hostapi.MigrateVMParams{VMUUID: vm.UUID, DestinationURI: "qemu+tcp://192.0.2.1/system"})
	require.ErrorIs(t, err, errors.ErrUnsupported)
	_, err = d.MigrateVM(ctx, hostapi.MigrateVMParams{VMUUID: vm.UUID, DestinationURI: testURI, SharedStorage: true})
	require.ErrorIs(t, err, models.ErrInvalid)
}
