//go:build libvirt

package libvirt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/domainxml"
	"github.com/zcloud/zcloud/models"
)

// CloneVolume copies a volume as it is now into target, keeping its backing
// file (a root volume's cached image): the copy is an overlay holding only
// what differs from the image, as the volume itself is. The copy is read
// from a temporary internal snapshot named by the target's UUID (taken
// through QEMU when a domain runs on the volume, by qemu-img otherwise) and
// deleted afterwards, as an image of a volume is (image.go): a running
// guest's disk is copied at one point in time. A target made already is
// returned.
func (d *Driver) CloneVolume(ctx context.Context, vol, target hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	res, err := d.cloneVolume(ctx, vol, target)
	if err != nil {
		return hostapi.InstantiateVolumeResult{}, fail("clone volume", err)
	}
	return res, nil
}

func (d *Driver) cloneVolume(ctx context.Context, vol, target hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	var none hostapi.InstantiateVolumeResult
	path, err := d.volumePath(vol)
	if err != nil {
		return none, err
	}
	dst, err := d.volumePath(target)
	if err != nil {
		return none, err
	}
	if dst == path {
		return none, models.Invalid("target %s is the volume %s itself", target.UUID, vol.UUID)
	}
	snap, err := snapshotName(target.UUID)
	if err != nil {
		return none, err
	}
	if err := statVolume(vol, path); err != nil {
		return none, err
	}
	info, err := inspect(ctx, path)
	if err != nil {
		return none, err
	}
	res, err := d.copyVolume(ctx, vol, info, path, snap, target, dst)
	// The temporary snapshot goes whether the copy was made now, by an
	// earlier attempt, or failed; deleting a missing one is a no-op.
	if derr := d.deleteSnapshot(context.WithoutCancel(ctx), vol, snap); derr != nil && err == nil {
		return none, fmt.Errorf("delete the temporary snapshot of volume %s: %w", vol.UUID, derr)
	}
	return res, err
}

// copyVolume writes dst as a copy of the volume at path (whose header is
// info) through its temporary snapshot snap, or finds it written.
func (d *Driver) copyVolume(ctx context.Context, vol hostapi.VolumeSpec, info imageInfo, path, snap string, target hostapi.VolumeSpec, dst string) (hostapi.InstantiateVolumeResult, error) {
	var none hostapi.InstantiateVolumeResult
	if info.Format != domainxml.FormatQCOW2 {
		return none, fmt.Errorf("volume %s: cloning a %s volume: %w: only qcow2", vol.UUID, info.Format, errors.ErrUnsupported)
	}
	backing := backingOf(info)
	w := want{format: domainxml.FormatQCOW2, backing: backing, backingFormat: info.BackingFormat, size: info.VirtualSize}
	if _, err := os.Stat(dst); err == nil {
		return checkVolume(ctx, target.UUID, dst, w)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return none, fmt.Errorf("volume %s: %w", target.UUID, err)
	}
	if _, err := d.createSnapshot(ctx, vol, snap); err != nil {
		return none, fmt.Errorf("temporary snapshot: %w", err)
	}
	// A snapshot's clusters never change while a guest writes on.
	args := []string{"convert", "-q", "-U", "-f", domainxml.FormatQCOW2, "-O", domainxml.FormatQCOW2, "-l", "snapshot.name=" + snap}
	if backing != "" {
		format := info.BackingFormat
		if format == "" {
			format = domainxml.FormatQCOW2
		}
		args = append(args, "-B", backing, "-F", format)
	}
	if err := os.MkdirAll(filepath.Dir(dst), storageDirMode); err != nil {
		return none, fmt.Errorf("volume directory: %w", err)
	}
	tmp := tempName(dst)
	if _, err := qemuImg(ctx, append(args, path, tmp)...); err != nil {
		_ = os.Remove(tmp)
		return none, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Remove(tmp)
		return none, fmt.Errorf("volume %s: %w", target.UUID, err)
	}
	return checkVolume(ctx, target.UUID, dst, w)
}

// ReimageVolume re-creates a root volume as a fresh overlay on its image,
// cached on the host first, at the volume's own path: the new file is made
// under a temporary name and renamed over the old one, so that a failure
// leaves the old disk as it was. A running domain on the volume is a
// conflict, and so is a volume holding snapshots: they live inside its file.
func (d *Driver) ReimageVolume(ctx context.Context, vol hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	res, err := d.reimage(ctx, vol)
	if err != nil {
		return hostapi.InstantiateVolumeResult{}, fail("reimage volume", err)
	}
	return res, nil
}

func (d *Driver) reimage(ctx context.Context, vol hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	var none hostapi.InstantiateVolumeResult
	path, err := d.volumePath(vol)
	if err != nil {
		return none, err
	}
	if vol.ImageURL == "" {
		return none, models.Invalid("volume %s has no image url to reimage from", vol.UUID)
	}
	if err := statVolume(vol, path); err != nil {
		return none, err
	}
	user, err := d.runningUser(path)
	if err != nil {
		return none, err
	}
	if user != "" {
		return none, models.Conflict("volume %s is in use by running domain %s: stop it first", vol.UUID, user)
	}
	info, err := inspect(ctx, path)
	if err != nil {
		return none, err
	}
	if n := len(info.Snapshots); n > 0 {
		return none, models.Conflict("volume %s holds %d snapshots in its file; delete them first", vol.UUID, n)
	}
	image, err := d.cachedImage(ctx, vol.ImageUUID, vol.ImageURL)
	if err != nil {
		return none, err
	}
	w := want{format: domainxml.FormatQCOW2, backing: image.path, backingFormat: image.info.Format, size: max(vol.Size, image.info.VirtualSize)}
	tmp := tempName(path)
	if _, err := qemuImg(ctx, "create", "-q", "-f", domainxml.FormatQCOW2, "-b", w.backing, "-F", w.backingFormat,
		tmp, strconv.FormatInt(w.size, 10)); err != nil {
		_ = os.Remove(tmp)
		return none, err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return none, fmt.Errorf("volume %s: %w", vol.UUID, err)
	}
	return checkVolume(ctx, vol.UUID, path, w)
}
