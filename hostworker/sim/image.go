package sim

import (
	"context"
	"errors"
	"fmt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// UploadVolumeImage "writes" an image of the volume at the snapshot (or as
// it is now, live or not) for a simulated backup storage, which stores
// nothing: it checks what a real host would (the volume is here, the
// snapshot exists) and reports the image a real one would make, a qcow2 of
// the volume's size. A real upload URL is not supported: a simulated host
// has no bits to send.
func (d *Driver) UploadVolumeImage(ctx context.Context, p hostapi.UploadVolumeImageParams) (hostapi.UploadVolumeImageResult, error) {
	const op = hostapi.ActUploadVolumeImage
	var none hostapi.UploadVolumeImageResult
	switch {
	case p.Volume.UUID == "" || p.ImageUUID == "":
		return none, fmt.Errorf("sim: %w", models.Invalid("volume uuid %q and image uuid %q must be set", p.Volume.UUID, p.ImageUUID))
	case p.UploadURL != "":
		return none, fmt.Errorf("sim: uploading to a real backup storage (%s): %w", p.UploadURL, errors.ErrUnsupported)
	}
	if err := d.begin(ctx, op); err != nil {
		return none, err
	}
	defer d.mu.Unlock()
	have, ok := d.volumes[p.Volume.UUID]
	if !ok {
		return none, fmt.Errorf("sim: %w", models.NotFound("volume %s is not on this host", p.Volume.UUID))
	}
	size := have.Spec.Size
	if p.SnapshotUUID != "" {
		if size, ok = d.snapshots[p.Volume.UUID][p.SnapshotUUID]; !ok {
			return none, fmt.Errorf("sim: %w", models.NotFound("volume %s has no snapshot %s", p.Volume.UUID, p.SnapshotUUID))
		}
	}
	return hostapi.UploadVolumeImageResult{Format: "qcow2", Size: size, ActualSize: size}, nil
}
