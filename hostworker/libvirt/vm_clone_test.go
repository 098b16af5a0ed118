//go:build libvirt

package libvirt

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// TestCloneReimageOffline clones and reimages a root volume no domain runs
// on, checking the data with qemu-io: the clone is an overlay on the same
// cached image holding the source's writes, and reimage puts the image's
// content back at the same path. The live path (a temporary snapshot taken
// through QEMU) is proven on a real guest by workers/node's
// TestKVMCloneReimage.
func TestCloneReimageOffline(t *testing.T) {
	needQemuImg(t)
	d := newTestDriver(t)
	ctx := t.Context()
	img := filepath.Join(t.TempDir(), "image.qcow2")
	_, err := qemuImg(ctx, "create", "-q", "-f", "qcow2", img, "8M")
	require.NoError(t, err)
	require.True(t, qemuIO(t, img, "write -P 0xaa 0 64k"))
	root := hostapi.VolumeSpec{UUID: newUUID(t), Type: VolumeRoot, PrimaryStorageUUID: newUUID(t), Size: 16 << 20,
		ImageUUID: newUUID(t), ImageURL: "file://" + img}
	made, err := d.InstantiateVolume(ctx, root)
	require.NoError(t, err)
	path := made.InstallPath
	root.InstallPath = path
	require.True(t, qemuIO(t, path, "write -P 0x5a 1M 64k"), "the guest's write")

	target := hostapi.VolumeSpec{UUID: newUUID(t), Type: VolumeRoot, PrimaryStorageUUID: root.PrimaryStorageUUID, Size: root.Size,
		ImageUUID: root.ImageUUID, ImageURL: root.ImageURL}
	cloned, err := d.CloneVolume(ctx, root, target)
	require.NoError(t, err)
	again, err := d.CloneVolume(ctx, root, target)
	require.NoError(t, err)
	require.Equal(t, cloned, again, "cloning again finds the clone")
	require.NotEqual(t, path, cloned.InstallPath)
	require.True(t, qemuIO(t, cloned.InstallPath, "read -P 0x5a 1M 64k"), "the clone has the source's write")
	require.True(t, qemuIO(t, cloned.InstallPath, "read -P 0xaa 0 64k"), "and the image under it")
	ci, si := info(t, cloned.InstallPath), info(t, path)
	require.Equal(t, backingOf(si), backingOf(ci), "the clone is an overlay on the same cached image")
	require.Equal(t, si.VirtualSize, ci.VirtualSize)
	require.Empty(t, si.Snapshots, "no temporary snapshot left in the source")
	// Instantiating the clone's spec (what a start does) takes the clone.
	target.InstallPath = cloned.InstallPath
	_, err = d.InstantiateVolume(ctx, target)
	require.NoError(t, err)
	_, err = d.CloneVolume(ctx, root, root)
	require.ErrorIs(t, err, models.ErrInvalid)
	_, err = d.CloneVolume(ctx, hostapi.VolumeSpec{UUID: newUUID(t), PrimaryStorageUUID: root.PrimaryStorageUUID}, hostapi.VolumeSpec{UUID: newUUID(t),
		PrimaryStorageUUID: root.PrimaryStorageUUID})
	require.ErrorIs(t, err, models.ErrNotFound)

	// Reimage refuses a volume holding snapshots, then re-creates it.
	snap := newUUID(t)
	_, err = d.CreateVolumeSnapshot(ctx, root, snap)
	require.NoError(t, err)
	_, err = d.ReimageVolume(ctx, root)
	require.ErrorIs(t, err, models.ErrConflict)
	require.True(t, qemuIO(t, path, "read -P 0x5a 1M 64k"), "a refused reimage keeps the disk")
	require.NoError(t, d.DeleteVolumeSnapshot(ctx, root, snap))
	res, err := d.ReimageVolume(ctx, root)
	require.NoError(t, err)
	require.Equal(t, path, res.InstallPath, "same path")
	require.True(t, qemuIO(t, path, "read -P 0x00 1M 64k"), "the write is gone")
	require.True(t, qemuIO(t, path, "read -P 0xaa 0 64k"), "the image's content is back")
	require.Equal(t, int64(16<<20), info(t, path).VirtualSize)
	require.True(t, qemuIO(t, cloned.InstallPath, "read -P 0x5a 1M 64k"), "the clone is untouched")
	left, err := filepath.Glob(filepath.Join(filepath.Dir(path), "*.tmp"))
	require.NoError(t, err)
	require.Empty(t, left, "no temporary file left")

	// A bad image keeps the old disk.
	require.True(t, qemuIO(t, path, "write -P 0x77 1M 64k"))
	bad := root
	bad.ImageUUID, bad.ImageURL = newUUID(t), "file://"+filepath.Join(t.TempDir(), "missing.qcow2")
	_, err = d.ReimageVolume(ctx, bad)
	require.Error(t, err)
	require.True(t, qemuIO(t, path, "read -P 0x77 1M 64k"), "a failed reimage keeps the old disk")
	_, err = os.Stat(path)
	require.NoError(t, err)
}
