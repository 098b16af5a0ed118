//go:build libvirt

package libvirt

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	virt "libvirt.org/go/libvirt"

	"github.com/zcloud/zcloud/activities/hostapi"
)

// testURI is libvirt's in-process test driver: no daemon, a fresh host
// while no connection is open, and one predefined running domain "test"
// that is not ZCloud's.
const testURI = "test:///default"

func newUUID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// newTestDriver returns a driver on the test driver with its storage in a
// temporary directory.
func newTestDriver(t *testing.T) *Driver {
	t.Helper()
	dir := t.TempDir()
	d, err := New(Config{
		URI:           testURI,
		StorageDir:    filepath.Join(dir, "ps"),
		ImageCacheDir: filepath.Join(dir, "imagecache"),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	return d
}

// rawConn is a connection of the test's own to the same host, to look at
// what the driver did and to add foreign domains.
func rawConn(t *testing.T) *virt.Connect {
	t.Helper()
	c, err := virt.NewConnect(testURI)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = c.Close() })
	return c
}

// testVM returns a VM whose volumes exist as (empty) files, which is all the
// test driver looks at.
func testVM(t *testing.T, d *Driver) hostapi.VMSpec {
	t.Helper()
	ps := newUUID(t)
	vol := func(typ string, id int) hostapi.VolumeSpec {
		v := hostapi.VolumeSpec{UUID: newUUID(t), Type: typ, PrimaryStorageUUID: ps, Size: 1 << 20, DeviceID: id}
		path, err := d.volumePath(v)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o750))
		require.NoError(t, os.WriteFile(path, nil, 0o640))
		return v
	}
	return hostapi.VMSpec{
		UUID:        newUUID(t),
		Name:        "vm-" + t.Name(),
		CPUNum:      1,
		MemorySize:  256 << 20,
		Platform:    "Linux",
		RootVolume:  vol(VolumeRoot, 0),
		DataVolumes: []hostapi.VolumeSpec{vol(VolumeData, 1)},
		NICs: []hostapi.NICSpec{
			{UUID: newUUID(t), MAC: "52:54:00:12:34:56", Bridge: "br-test0", DeviceID: 0, Driver: "virtio"},
			{UUID: newUUID(t), MAC: "52:54:00:12:34:57", DeviceID: 1}, // no bridge: no interface
		},
	}
}
