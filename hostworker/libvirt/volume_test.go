//go:build libvirt

package libvirt

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// needQemuImg fails, rather than skips, without qemu-img: the libvirt tag
// promises the host tools are there (apt-get install qemu-utils).
func needQemuImg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Fatalf("qemu-img not found (apt-get install qemu-utils): %v", err)
	}
}

// makeImage creates a qcow2 image of size bytes in dir.
func makeImage(t *testing.T, dir, name, size string, extra ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	args := append([]string{"create", "-q", "-f", "qcow2"}, extra...)
	out, err := exec.Command("qemu-img", append(args, path, size)...).CombinedOutput()
	require.NoError(t, err, "qemu-img create: %s", out)
	return path
}

func info(t *testing.T, path string) imageInfo {
	t.Helper()
	got, err := inspect(t.Context(), path)
	require.NoError(t, err)
	return got
}

// imageServer serves dir on 127.0.0.1 and counts the requests.
func imageServer(t *testing.T, dir string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestRootVolume: root volumes are qcow2 overlays on an image downloaded
// once into the cache; instantiating again is a no-op, with another spec a
// conflict.
func TestRootVolume(t *testing.T) {
	needQemuImg(t)
	d := newTestDriver(t)
	ctx := t.Context()
	srcDir := t.TempDir()
	makeImage(t, srcDir, "base.qcow2", "64M")
	srv, hits := imageServer(t, srcDir)
	ps, image := newUUID(t), newUUID(t)
	root := func(size int64) hostapi.VolumeSpec {
		return hostapi.VolumeSpec{
			UUID: newUUID(t), Type: VolumeRoot, PrimaryStorageUUID: ps, Size: size,
			ImageUUID: image, ImageURL: srv.URL + "/base.qcow2",
		}
	}
	cachePath := filepath.Join(d.cfg.ImageCacheDir, image+".image")

	tests := []struct {
		name     string
		vol      hostapi.VolumeSpec
		wantSize int64
	}{
		{"image size", root(0), 64 << 20},
		{"smaller than the image", root(1 << 20), 64 << 20},
		{"grown", root(128 << 20), 128 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := d.InstantiateVolume(ctx, tc.vol)
			require.NoError(t, err)
			wantPath := filepath.Join(d.cfg.StorageDir, ps, tc.vol.UUID+".qcow2")
			require.Equal(t, wantPath, res.InstallPath)
			got := info(t, res.InstallPath)
			require.Equal(t, "qcow2", got.Format)
			require.Equal(t, cachePath, backingOf(got), "backing file")
			require.Equal(t, "qcow2", got.BackingFormat)
			require.Equal(t, tc.wantSize, got.VirtualSize)

			again, err := d.InstantiateVolume(ctx, tc.vol)
			require.NoError(t, err, "instantiate again")
			require.Equal(t, res.InstallPath, again.InstallPath)

			other := tc.vol
			other.Size = 256 << 20
			_, err = d.InstantiateVolume(ctx, other)
			require.ErrorIs(t, err, models.ErrConflict, "same volume, other size")
		})
	}
	require.EqualValues(t, 1, hits.Load(), "image downloads")
	matches, err := filepath.Glob(filepath.Join(d.cfg.ImageCacheDir, "*.tmp"))
	require.NoError(t, err)
	require.Empty(t, matches, "temporary files left in the cache")

	// A file:// image without an image UUID is cached under its URL's digest.
	fileVol := hostapi.VolumeSpec{UUID: newUUID(t), Type: VolumeRoot, PrimaryStorageUUID: ps,
		ImageURL: "file://" + filepath.Join(srcDir, "base.qcow2")}
	res, err := d.InstantiateVolume(ctx, fileVol)
	require.NoError(t, err)
	backing := backingOf(info(t, res.InstallPath))
	require.Equal(t, d.cfg.ImageCacheDir, filepath.Dir(backing))
	require.NotEqual(t, cachePath, backing)
}

// TestDataVolume: data volumes are blank qcow2 files of their size.
func TestDataVolume(t *testing.T) {
	needQemuImg(t)
	d := newTestDriver(t)
	ctx := t.Context()
	vol := hostapi.VolumeSpec{UUID: newUUID(t), Type: VolumeData, PrimaryStorageUUID: newUUID(t), Size: 1 << 30}
	res, err := d.InstantiateVolume(ctx, vol)
	require.NoError(t, err)
	got := info(t, res.InstallPath)
	require.Equal(t, "qcow2", got.Format)
	require.Equal(t, int64(1<<30), got.VirtualSize)
	require.Empty(t, backingOf(got))
	require.Positive(t, res.ActualSize)

	again, err := d.InstantiateVolume(ctx, vol)
	require.NoError(t, err)
	require.Equal(t, res, again)

	vol.Size = 2 << 30
	_, err = d.InstantiateVolume(ctx, vol)
	require.ErrorIs(t, err, models.ErrConflict)
}

// TestVolumeErrors: what the driver refuses, and why.
func TestVolumeErrors(t *testing.T) {
	needQemuImg(t)
	d := newTestDriver(t)
	ctx := t.Context()
	srcDir := t.TempDir()
	makeImage(t, srcDir, "base.qcow2", "16M")
	// An image whose backing file is a host file must never be used.
	makeImage(t, srcDir, "sneaky.qcow2", "16M", "-b", "/etc/hostname", "-F", "raw")
	makeImage(t, srcDir, "datafile.qcow2", "16M", "-o", "data_file="+filepath.Join(srcDir, "data.raw"))
	srv, _ := imageServer(t, srcDir)
	ps := newUUID(t)
	vol := func(change func(*hostapi.VolumeSpec)) hostapi.VolumeSpec {
		v := hostapi.VolumeSpec{UUID: newUUID(t), Type: VolumeData, PrimaryStorageUUID: ps, Size: 1 << 20}
		change(&v)
		return v
	}
	image := func(url string) func(*hostapi.VolumeSpec) {
		return func(v *hostapi.VolumeSpec) { v.Type, v.Size, v.ImageURL = VolumeRoot, 0, url }
	}

	tests := []struct {
		name string
		vol  hostapi.VolumeSpec
		want error
	}{
		{"bad volume uuid", vol(func(v *hostapi.VolumeSpec) { v.UUID = "../../etc" }), models.ErrInvalid},
		{"bad storage uuid", vol(func(v *hostapi.VolumeSpec) { v.PrimaryStorageUUID = ".." }), models.ErrInvalid},
		{"install path outside storage", vol(func(v *hostapi.VolumeSpec) { v.InstallPath = "/etc/passwd" }), models.ErrInvalid},
		{"install path climbing out", vol(func(v *hostapi.VolumeSpec) { v.InstallPath = d.cfg.StorageDir + "/../x.qcow2" }), models.ErrInvalid},
		{"vmdk format", vol(func(v *hostapi.VolumeSpec) { v.Format = "vmdk" }), errors.ErrUnsupported},
		{"raw volume from an image", vol(func(v *hostapi.VolumeSpec) {
			image(srv.URL + "/base.qcow2")(v)
			v.Format = "raw"
		}), errors.ErrUnsupported},
		{"no size", vol(func(v *hostapi.VolumeSpec) { v.Size = 0 }), models.ErrInvalid},
		{"root without url", vol(func(v *hostapi.VolumeSpec) { v.Type = VolumeRoot }), models.ErrInvalid},
		{"ftp url", vol(image("ftp://127.0.0.1/base.qcow2")), errors.ErrUnsupported},
		{"missing file", vol(image("file://" + srcDir + "/none.qcow2")), models.ErrInvalid},
		{"missing http image", vol(image(srv.URL + "/none.qcow2")), models.ErrInvalid},
		{"image with a backing file", vol(image(srv.URL + "/sneaky.qcow2")), models.ErrInvalid},
		{"image with a data file", vol(image(srv.URL + "/datafile.qcow2")), models.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.InstantiateVolume(ctx, tc.vol)
			t.Log(err)
			require.ErrorIs(t, err, tc.want)
		})
	}
	entries, err := os.ReadDir(d.cfg.ImageCacheDir)
	if !errors.Is(err, os.ErrNotExist) {
		require.NoError(t, err)
	}
	require.Empty(t, entries, "refused images must leave nothing in the cache")
}

// TestDeleteVolume: deleting removes the file, deleting again is fine, and
// a volume a domain uses stays.
func TestDeleteVolume(t *testing.T) {
	needQemuImg(t)
	d := newTestDriver(t)
	ctx := t.Context()

	vol := hostapi.VolumeSpec{UUID: newUUID(t), Type: VolumeData, PrimaryStorageUUID: newUUID(t), Size: 1 << 20}
	res, err := d.InstantiateVolume(ctx, vol)
	require.NoError(t, err)
	require.NoError(t, d.DeleteVolume(ctx, vol))
	_, err = os.Stat(res.InstallPath)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, d.DeleteVolume(ctx, vol), "delete again")

	vm := testVM(t, d)
	_, err = d.CreateVM(ctx, vm, false)
	require.NoError(t, err)
	err = d.DeleteVolume(ctx, vm.DataVolumes[0])
	require.ErrorIs(t, err, models.ErrConflict, "delete a volume in use")
	require.True(t, strings.Contains(err.Error(), vm.UUID), "error names the domain: %v", err)
	require.NoError(t, d.DestroyVM(ctx, vm.UUID))
	require.NoError(t, d.DeleteVolume(ctx, vm.DataVolumes[0]), "delete once the vm is gone")
}

// TestImageSource: http(s) from any host (a backup storage agent) and
// file:// paths are accepted, checked without fetching anything; other
// schemes are not supported.
func TestImageSource(t *testing.T) {
	tests := []struct {
		url  string
		want error
	}{
		{"http://192.0.2.1:8000/images/base.qcow2", nil},
		{"https://bs.example.com/base.qcow2", nil},
		{"http://127.0.0.1/base.qcow2", nil},
		{"file:///var/lib/zcloud/base.qcow2", nil},
		{"file://host/base.qcow2", models.ErrInvalid},
		{"file://relative", models.ErrInvalid},
		{"http:///no-host.qcow2", errors.ErrUnsupported},
		{"ftp://127.0.0.1/base.qcow2", errors.ErrUnsupported},
		{"nbd://127.0.0.1/base", errors.ErrUnsupported},
	}
	for _, tt := range tests {
		_, err := imageSource(tt.url)
		if tt.want == nil {
			require.NoError(t, err, tt.url)
			continue
		}
		require.ErrorIs(t, err, tt.want, tt.url)
	}
}
