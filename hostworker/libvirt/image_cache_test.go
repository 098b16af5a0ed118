//go:build libvirt

package libvirt

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/hostapi"
)

// TestCleanUpImageCache runs the image cache cleanup on the system
// libvirtd with a running QEMU domain: of five cached images it removes
// exactly the one nothing uses, and keeps the one a volume file has as
// backing file, the running domain's root volume image, the ISO in the
// running domain's CD-ROM (no volume file refers to it) and one a
// download holds right now; a download's temporary file is not touched.
// A second cleanup removes nothing.
func TestCleanUpImageCache(t *testing.T) {
	needQemuImg(t)
	needSystemLibvirt(t)
	dir := traversableDir(t)
	d := newGuestDriver(t, systemURI, dir)
	ctx := t.Context()
	src := filepath.Join(dir, "src")
	require.NoError(t, os.MkdirAll(src, 0o755))
	fileURL := func(name string) string { return "file://" + makeImage(t, src, name, "16M") }
	cachePath := func(imageUUID string) string { return filepath.Join(d.cfg.ImageCacheDir, imageUUID+cachedImageExt) }

	// A stopped VM's volume on image "backing": only its file refers to it.
	backing := hostapi.VolumeSpec{UUID: newUUID(t), Type: VolumeRoot, PrimaryStorageUUID: newUUID(t), ImageUUID: newUUID(t),
		ImageURL: fileURL("backing.qcow2")}
	_, err := d.InstantiateVolume(ctx, backing)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.DeleteVolume(ctx, backing) })
	// Image "unused": its volume is gone.
	gone := hostapi.VolumeSpec{UUID: newUUID(t), Type: VolumeRoot, PrimaryStorageUUID: newUUID(t), ImageUUID: newUUID(t),
		ImageURL: fileURL("unused.qcow2")}
	_, err = d.InstantiateVolume(ctx, gone)
	require.NoError(t, err)
	require.NoError(t, d.DeleteVolume(ctx, gone))
	// Image "busy": unused, but a download holds it.
	busyImage := newUUID(t)
	_, err = d.cachedImage(ctx, busyImage, fileURL("busy.qcow2"))
	require.NoError(t, err)
	release := d.cacheUse.hold(cachePath(busyImage))
	tmp := cachePath(newUUID(t)) + ".0123456789ab.tmp"
	require.NoError(t, os.WriteFile(tmp, []byte("half a download"), 0o640))

	// A running domain on the guest image, with an ISO in its CD-ROM.
	vm := guestVM(t, imageURL(t, ""))
	iso := filepath.Join(src, "cd.iso")
	require.NoError(t, os.WriteFile(iso, make([]byte, 1<<20), 0o644))
	vm.ISO = &hostapi.ISOSpec{ImageUUID: newUUID(t), URL: "file://" + iso}
	_, err = d.InstantiateVolume(ctx, vm.RootVolume)
	require.NoError(t, err)
	t.Cleanup(func() { removeGuest(t, d, vm) })
	st, err := d.CreateVM(ctx, vm, true)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerRunning, st)

	res, err := d.CleanUpImageCache(ctx)
	require.NoError(t, err)
	require.Len(t, res.Removed, 1, "removed: %+v", res.Removed)
	require.Equal(t, gone.ImageUUID, res.Removed[0].ImageUUID)
	require.Equal(t, cachePath(gone.ImageUUID), res.Removed[0].Path)
	require.Positive(t, res.FreedBytes)
	require.Equal(t, res.Removed[0].Size, res.FreedBytes)
	require.NoFileExists(t, cachePath(gone.ImageUUID))
	var kept []string
	for _, k := range res.Kept {
		kept = append(kept, k.ImageUUID)
	}
	require.ElementsMatch(t, []string{backing.ImageUUID, vm.RootVolume.ImageUUID, vm.ISO.ImageUUID, busyImage}, kept)
	for _, id := range kept {
		require.FileExists(t, cachePath(id))
	}
	require.FileExists(t, tmp, "a download in progress is not touched")
	running, err := d.ListVMs(ctx)
	require.NoError(t, err)
	require.Contains(t, running, hostapi.VMState{UUID: vm.UUID, State: hostapi.PowerRunning}, "the domain still runs")

	res, err = d.CleanUpImageCache(ctx)
	require.NoError(t, err)
	require.Empty(t, res.Removed, "a second cleanup removes nothing")
	require.Zero(t, res.FreedBytes)

	// Once the download is over, its image goes like any unused one.
	release()
	res, err = d.CleanUpImageCache(ctx)
	require.NoError(t, err)
	require.Len(t, res.Removed, 1)
	require.Equal(t, busyImage, res.Removed[0].ImageUUID)
}
