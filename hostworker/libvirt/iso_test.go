//go:build libvirt

package libvirt

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	virt "libvirt.org/go/libvirt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// isoFile writes a 1 MiB stand-in ISO (QEMU's CD-ROM takes any file) to dir
// and returns its file:// URL.
func isoFile(t *testing.T, dir string) string {
	t.Helper()
	b := make([]byte, 1<<20)
	_, err := rand.Read(b)
	require.NoError(t, err)
	path := filepath.Join(dir, "test.iso")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return "file://" + path
}

// queryTray asks QEMU (QMP query-block) what the running guest's CD-ROM
// holds: the file, or "" when the tray is empty.
func queryTray(t *testing.T, d *Driver, vmUUID string) string {
	t.Helper()
	var file string
	_, err := d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		out, err := qmp(dom, "query-block", map[string]any{})
		if err != nil {
			return "", err
		}
		var blocks []struct {
			Removable bool `json:"removable"`
			Inserted  *struct {
				File string `json:"file"`
			} `json:"inserted"`
		}
		if err := json.Unmarshal(out, &blocks); err != nil {
			return "", err
		}
		for _, b := range blocks {
			if b.Removable && b.Inserted != nil {
				file = b.Inserted.File
			}
		}
		return "", nil
	})
	require.NoError(t, err)
	return file
}

// TestGuestISO inserts an ISO into a running (booted) real QEMU guest's
// CD-ROM and ejects it (QMP query-block shows the media), and starts a guest with the
// ISO in and CD-ROM first in the boot order.
func TestGuestISO(t *testing.T) {
	needSystemLibvirt(t)
	url := imageURL(t, "")
	dir := traversableDir(t)
	d := newGuestDriver(t, systemURI, dir)
	ctx := t.Context()
	iso := hostapi.ISOSpec{ImageUUID: newUUID(t), URL: isoFile(t, dir)}

	vm := guestVM(t, url)
	_, err := d.InstantiateVolume(ctx, vm.RootVolume)
	require.NoError(t, err)
	t.Cleanup(func() { removeGuest(t, d, vm) })
	_, err = d.CreateVM(ctx, vm, true)
	require.NoError(t, err)
	require.Empty(t, queryTray(t, d, vm.UUID), "the drive starts empty")
	// The media change is made once the guest is up. While it boots, its
	// init opens every block device (findfs), and Linux closes an open,
	// empty tray when the drive is opened (autoclose): under TCG that raced
	// libvirt's open-tray/remove/insert for longer than the driver retries
	// (CI, twice).
	waitConsole(t, d, vm.UUID, firstHeartbeat, 1)

	start := time.Now()
	require.NoError(t, d.AttachISO(ctx, vm.UUID, iso))
	require.NoError(t, d.AttachISO(ctx, vm.UUID, iso), "inserting it again succeeds")
	t.Logf("iso fetched and inserted in %s", time.Since(start).Round(time.Millisecond))
	cachedPath := queryTray(t, d, vm.UUID)
	require.Contains(t, cachedPath, d.cfg.ImageCacheDir, "the running guest's drive holds the cached iso")
	def := liveDomain(t, systemURI, vm.UUID, virt.DOMAIN_XML_INACTIVE)
	require.Equal(t, cachedPath, cdromFile(cdromOf(def)), "and so does the definition")

	require.NoError(t, d.DetachISO(ctx, vm.UUID))
	require.NoError(t, d.DetachISO(ctx, vm.UUID), "ejecting an empty drive succeeds")
	require.Empty(t, queryTray(t, d, vm.UUID))
	def = liveDomain(t, systemURI, vm.UUID, virt.DOMAIN_XML_INACTIVE)
	require.Empty(t, cdromFile(cdromOf(def)))

	// A VM defined with the ISO in and CD-ROM first boots with both.
	vm2 := guestVM(t, url)
	vm2.ISO = &iso
	vm2.BootOrder = []string{hostapi.BootCdRom, hostapi.BootHardDisk}
	_, err = d.InstantiateVolume(ctx, vm2.RootVolume)
	require.NoError(t, err)
	t.Cleanup(func() { removeGuest(t, d, vm2) })
	_, err = d.CreateVM(ctx, vm2, true)
	require.NoError(t, err)
	require.Equal(t, cachedPath, queryTray(t, d, vm2.UUID))
	x := liveDomain(t, systemURI, vm2.UUID, 0)
	cd := cdromOf(x)
	require.NotNil(t, cd.Boot)
	require.EqualValues(t, 1, cd.Boot.Order, "cd-rom boots first")
	// The guest image has no ISO boot loader: SeaBIOS falls through to the
	// disk, which still boots.
	waitConsole(t, d, vm2.UUID, bootMarker, 1)

	require.NoError(t, d.DetachISO(ctx, newUUID(t)), "a missing domain has nothing to eject")
	require.ErrorIs(t, d.AttachISO(ctx, newUUID(t), iso), models.ErrNotFound)
}

// TestTrayNotOpen: both wordings of QEMU's closed-tray refusal are retried,
// other errors are not.
func TestTrayNotOpen(t *testing.T) {
	for _, msg := range []string{
		"internal error: unable to execute QEMU command 'blockdev-insert-medium': Tray of the device is not open",
		"internal error: unable to execute QEMU command 'blockdev-remove-medium': Tray of device 'ide0-0-0' is not open",
	} {
		require.True(t, trayNotOpen(errors.New(msg)), msg)
	}
	require.False(t, trayNotOpen(errors.New("Device 'ide0-0-0' is locked and force was not specified")))
}
