package sim

import (
	"context"
	"fmt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// CloneVolume records target as a copy of the volume as it is now, keeping
// its image (the libvirt driver keeps its backing file); a running VM on
// the volume is fine, as on a real host. A target made already is returned.
func (d *Driver) CloneVolume(ctx context.Context, vol, target hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	const op = hostapi.ActCloneVolume
	var none hostapi.InstantiateVolumeResult
	if vol.UUID == "" || target.UUID == "" || vol.UUID == target.UUID {
		return none, fmt.Errorf("sim: %w", models.Invalid("volume uuid %q and target uuid %q must be set and differ", vol.UUID, target.UUID))
	}
	if err := d.begin(ctx, op); err != nil {
		return none, err
	}
	defer d.mu.Unlock()
	have, ok := d.volumes[vol.UUID]
	if !ok {
		return none, fmt.Errorf("sim: %w", models.NotFound("volume %s is not on this host", vol.UUID))
	}
	target.Size = have.Spec.Size
	target.ImageUUID, target.ImageURL = have.Spec.ImageUUID, have.Spec.ImageURL
	target = normalizeVolume(target)
	if prev, ok := d.volumes[target.UUID]; ok {
		if !sameVolume(prev.Spec, target) {
			return none, fmt.Errorf("sim: %w", models.Conflict("volume %s exists with another spec", target.UUID))
		}
		return hostapi.InstantiateVolumeResult{InstallPath: prev.Spec.InstallPath, ActualSize: prev.ActualSize}, nil
	}
	d.volumes[target.UUID] = Volume{Spec: target, ActualSize: have.ActualSize}
	return hostapi.InstantiateVolumeResult{InstallPath: target.InstallPath, ActualSize: have.ActualSize}, nil
}

// ReimageVolume records the volume afresh from its image: its snapshots
// must be gone and no running VM may use it, as on a real host.
func (d *Driver) ReimageVolume(ctx context.Context, vol hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	const op = hostapi.ActReimageVolume
	var none hostapi.InstantiateVolumeResult
	if vol.UUID == "" || vol.ImageURL == "" && vol.ImageUUID == "" {
		return none, fmt.Errorf("sim: %w", models.Invalid("volume %q has no image to reimage from", vol.UUID))
	}
	if err := d.begin(ctx, op); err != nil {
		return none, err
	}
	defer d.mu.Unlock()
	have, ok := d.volumes[vol.UUID]
	if !ok {
		return none, fmt.Errorf("sim: %w", models.NotFound("volume %s is not on this host", vol.UUID))
	}
	if id := d.running(vol.UUID); id != "" {
		return none, fmt.Errorf("sim: %w", models.Conflict("volume %s is in use by running vm %s", vol.UUID, id))
	}
	if n := len(d.snapshots[vol.UUID]); n > 0 {
		return none, fmt.Errorf("sim: %w", models.Conflict("volume %s holds %d snapshots; delete them first", vol.UUID, n))
	}
	have.ActualSize = 0 // a fresh overlay on the image
	d.volumes[vol.UUID] = have
	return hostapi.InstantiateVolumeResult{InstallPath: have.Spec.InstallPath, ActualSize: have.ActualSize}, nil
}
