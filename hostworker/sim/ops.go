package sim

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// SetMigrationPeers tells the driver how to find the simulated host that a
// hostapi.MigrateVMParams.DestinationURI names (the fleet that runs the
// simulated hosts knows them all); resolve returns nil for an unknown URI.
// Without it, MigrateVM is not supported.
func (d *Driver) SetMigrationPeers(resolve func(uri string) *Driver) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.peers = resolve
}

// PauseVM freezes a running domain; a paused one stays paused.
func (d *Driver) PauseVM(ctx context.Context, vmUUID string) (string, error) {
	return d.setPower(ctx, hostapi.ActPauseVM, vmUUID, hostapi.PowerPaused)
}

// ResumeVM unfreezes a paused domain; a running one keeps running.
func (d *Driver) ResumeVM(ctx context.Context, vmUUID string) (string, error) {
	return d.setPower(ctx, hostapi.ActResumeVM, vmUUID, hostapi.PowerRunning)
}

// setPower moves a running or paused domain to state; a stopped one cannot
// be paused or resumed.
func (d *Driver) setPower(ctx context.Context, op, vmUUID, state string) (string, error) {
	if vmUUID == "" {
		return "", fmt.Errorf("sim: %w", models.Invalid("vm uuid is empty"))
	}
	if err := d.begin(ctx, op); err != nil {
		return "", err
	}
	defer d.mu.Unlock()
	vm, ok := d.domains[vmUUID]
	switch {
	case !ok:
		return "", fmt.Errorf("sim: %w", models.NotFound("vm %s is not defined on this host", vmUUID))
	case vm.State == hostapi.PowerStopped:
		return "", fmt.Errorf("sim: %w", models.Conflict("vm %s is stopped", vmUUID))
	}
	vm.State = state
	d.domains[vmUUID] = vm
	return state, nil
}

// MigrateVM moves a running or paused domain, with its volume records (the
// storage is shared), to the simulated host p.DestinationURI names. A domain
// gone from here that the destination has is migrated already.
func (d *Driver) MigrateVM(ctx context.Context, p hostapi.MigrateVMParams) (string, error) {
	const op = hostapi.ActMigrateVM
	switch {
	case p.VMUUID == "":
		return "", fmt.Errorf("sim: %w", models.Invalid("vm uuid is empty"))
	case !p.SharedStorage:
		return "", fmt.Errorf("sim: migration without shared storage: %w", errors.ErrUnsupported)
	}
	if err := d.begin(ctx, op); err != nil {
		return "", err
	}
	peers := d.peers
	vm, ok := d.domains[p.VMUUID]
	d.mu.Unlock()
	var dst *Driver
	if peers != nil {
		dst = peers(p.DestinationURI)
	}
	switch {
	case peers == nil:
		return "", fmt.Errorf("sim: no migration peers set: %w", errors.ErrUnsupported)
	case dst == nil:
		return "", fmt.Errorf("sim: %w", models.Invalid("no simulated host at %q", p.DestinationURI))
	case dst == d:
		return "", fmt.Errorf("sim: %w", models.Invalid("vm %s: destination %q is this host", p.VMUUID, p.DestinationURI))
	}
	if !ok {
		dst.mu.Lock()
		defer dst.mu.Unlock()
		if there, ok := dst.domains[p.VMUUID]; ok {
			return there.State, nil
		}
		return "", fmt.Errorf("sim: %w", models.NotFound("vm %s is on neither host", p.VMUUID))
	}
	if vm.State == hostapi.PowerStopped {
		return "", fmt.Errorf("sim: %w", models.Conflict("vm %s is stopped: only a running vm migrates live", p.VMUUID))
	}

	d.mu.Lock()
	vols := map[string]Volume{}
	for _, id := range volumeUUIDs(vm.Spec) {
		if v, ok := d.volumes[id]; ok {
			vols[id] = v
		}
	}
	snaps := map[string]map[string]int64{}
	for id := range vols {
		if s, ok := d.snapshots[id]; ok {
			snaps[id] = s
		}
	}
	d.mu.Unlock()

	dst.mu.Lock()
	if there, ok := dst.domains[p.VMUUID]; ok && !sameVM(there.Spec, vm.Spec) {
		dst.mu.Unlock()
		return "", fmt.Errorf("sim: %w", models.Conflict("vm %s exists on the destination with another spec", p.VMUUID))
	}
	dst.domains[p.VMUUID] = VM{Spec: cloneVM(vm.Spec), State: vm.State, MaxCPUNum: vm.MaxCPUNum, MaxMemorySize: vm.MaxMemorySize}
	for id, v := range vols {
		dst.volumes[id] = v
	}
	for id, s := range snaps {
		dst.snapshots[id] = s
	}
	dst.mu.Unlock()

	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.domains, p.VMUUID)
	for id := range vols {
		delete(d.volumes, id)
		delete(d.snapshots, id)
	}
	return vm.State, nil
}

// deviceName is the virtio name of a volume's device ID (1 = vdb).
func deviceName(id int) string {
	var letters []byte
	for i := id; i >= 0; i = i/26 - 1 {
		letters = append([]byte{byte('a' + i%26)}, letters...)
	}
	return "vd" + string(letters)
}

// AttachVolume adds an instantiated volume to a domain's data volumes.
func (d *Driver) AttachVolume(ctx context.Context, vmUUID string, vol hostapi.VolumeSpec) (string, error) {
	const op = hostapi.ActAttachVolume
	switch {
	case vmUUID == "":
		return "", fmt.Errorf("sim: %w", models.Invalid("vm uuid is empty"))
	case vol.UUID == "":
		return "", fmt.Errorf("sim: %w", models.Invalid("volume uuid is empty"))
	case vol.DeviceID < 1:
		return "", fmt.Errorf("sim: %w", models.Invalid("data volume %s needs a device id of 1 or more, not %d", vol.UUID, vol.DeviceID))
	}
	if err := d.begin(ctx, op); err != nil {
		return "", err
	}
	defer d.mu.Unlock()
	vm, ok := d.domains[vmUUID]
	if !ok {
		return "", fmt.Errorf("sim: %w", models.NotFound("vm %s is not defined on this host", vmUUID))
	}
	if _, ok := d.volumes[vol.UUID]; !ok {
		return "", fmt.Errorf("sim: %w", models.Invalid("volume %s is not instantiated on this host", vol.UUID))
	}
	if user := d.volumeUser(vol.UUID); user != "" && user != vmUUID && !vol.Shareable {
		return "", fmt.Errorf("sim: %w", models.Conflict("volume %s is used by vm %s", vol.UUID, user))
	}
	for _, have := range vm.Spec.DataVolumes {
		switch {
		case have.UUID == vol.UUID && have.DeviceID == vol.DeviceID:
			return deviceName(vol.DeviceID), nil
		case have.UUID == vol.UUID:
			return "", fmt.Errorf("sim: %w", models.Conflict("volume %s is attached to vm %s as %s", vol.UUID, vmUUID, deviceName(have.DeviceID)))
		case have.DeviceID == vol.DeviceID:
			return "", fmt.Errorf("sim: %w", models.Conflict("vm %s has volume %s as %s", vmUUID, have.UUID, deviceName(vol.DeviceID)))
		}
	}
	if vm.Spec.RootVolume.UUID == vol.UUID {
		return "", fmt.Errorf("sim: %w", models.Invalid("volume %s is the root volume of vm %s", vol.UUID, vmUUID))
	}
	vm.Spec = cloneVM(vm.Spec)
	vm.Spec.DataVolumes = append(vm.Spec.DataVolumes, vol)
	d.domains[vmUUID] = vm
	return deviceName(vol.DeviceID), nil
}

// DetachVolume removes a volume from a domain's data volumes; one not
// attached, or a missing domain, is fine.
func (d *Driver) DetachVolume(ctx context.Context, vmUUID string, vol hostapi.VolumeSpec) error {
	const op = hostapi.ActDetachVolume
	if vmUUID == "" || vol.UUID == "" {
		return fmt.Errorf("sim: %w", models.Invalid("vm uuid %q or volume uuid %q is empty", vmUUID, vol.UUID))
	}
	if err := d.begin(ctx, op); err != nil {
		return err
	}
	defer d.mu.Unlock()
	vm, ok := d.domains[vmUUID]
	if !ok {
		return nil
	}
	if vm.Spec.RootVolume.UUID == vol.UUID {
		return fmt.Errorf("sim: %w", models.Invalid("volume %s is the root volume of vm %s", vol.UUID, vmUUID))
	}
	vm.Spec = cloneVM(vm.Spec)
	vm.Spec.DataVolumes = slices.DeleteFunc(vm.Spec.DataVolumes, func(v hostapi.VolumeSpec) bool { return v.UUID == vol.UUID })
	d.domains[vmUUID] = vm
	return nil
}

// ResizeVolume grows a volume's recorded size.
func (d *Driver) ResizeVolume(ctx context.Context, vol hostapi.VolumeSpec, size int64) (int64, error) {
	const op = hostapi.ActResizeVolume
	if vol.UUID == "" {
		return 0, fmt.Errorf("sim: %w", models.Invalid("volume uuid is empty"))
	}
	if err := d.begin(ctx, op); err != nil {
		return 0, err
	}
	defer d.mu.Unlock()
	have, ok := d.volumes[vol.UUID]
	switch {
	case !ok:
		return 0, fmt.Errorf("sim: %w", models.NotFound("volume %s is not on this host", vol.UUID))
	case size < have.Spec.Size:
		return 0, fmt.Errorf("sim: %w", models.Invalid("volume %s: %d bytes is smaller than its %d bytes: shrinking is refused", vol.UUID, size, have.Spec.Size))
	}
	have.Spec.Size = size
	d.volumes[vol.UUID] = have
	return size, nil
}

// running returns the running or paused domain that uses a volume, or "".
// The caller holds d.mu.
func (d *Driver) running(volUUID string) string {
	if id := d.volumeUser(volUUID); id != "" && d.domains[id].State != hostapi.PowerStopped {
		return id
	}
	return ""
}

// CreateVolumeSnapshot records a snapshot of a volume's current size.
func (d *Driver) CreateVolumeSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string) (hostapi.VolumeSnapshotResult, error) {
	const op = hostapi.ActCreateVolumeSnapshot
	if vol.UUID == "" || snapshotUUID == "" {
		return hostapi.VolumeSnapshotResult{}, fmt.Errorf("sim: %w", models.Invalid("volume uuid %q or snapshot uuid %q is empty", vol.UUID, snapshotUUID))
	}
	if err := d.begin(ctx, op); err != nil {
		return hostapi.VolumeSnapshotResult{}, err
	}
	defer d.mu.Unlock()
	have, ok := d.volumes[vol.UUID]
	if !ok {
		return hostapi.VolumeSnapshotResult{}, fmt.Errorf("sim: %w", models.NotFound("volume %s is not on this host", vol.UUID))
	}
	snaps := d.snapshots[vol.UUID]
	if snaps == nil {
		snaps = map[string]int64{}
		d.snapshots[vol.UUID] = snaps
	}
	size, ok := snaps[snapshotUUID]
	if !ok {
		size = have.Spec.Size
		snaps[snapshotUUID] = size
	}
	return hostapi.VolumeSnapshotResult{SnapshotUUID: snapshotUUID, InstallPath: have.Spec.InstallPath, VirtualSize: size}, nil
}

// RevertVolumeSnapshot puts the volume's size back to the snapshot's; the
// volume must not be in use by a running domain.
func (d *Driver) RevertVolumeSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string) error {
	const op = hostapi.ActRevertVolumeSnapshot
	if vol.UUID == "" || snapshotUUID == "" {
		return fmt.Errorf("sim: %w", models.Invalid("volume uuid %q or snapshot uuid %q is empty", vol.UUID, snapshotUUID))
	}
	if err := d.begin(ctx, op); err != nil {
		return err
	}
	defer d.mu.Unlock()
	have, ok := d.volumes[vol.UUID]
	if !ok {
		return fmt.Errorf("sim: %w", models.NotFound("volume %s is not on this host", vol.UUID))
	}
	size, ok := d.snapshots[vol.UUID][snapshotUUID]
	if !ok {
		return fmt.Errorf("sim: %w", models.NotFound("volume %s has no snapshot %s", vol.UUID, snapshotUUID))
	}
	if id := d.running(vol.UUID); id != "" {
		return fmt.Errorf("sim: %w", models.Conflict("volume %s is in use by running vm %s", vol.UUID, id))
	}
	have.Spec.Size = size
	d.volumes[vol.UUID] = have
	return nil
}

// DeleteVolumeSnapshot forgets a snapshot; a missing one is fine.
func (d *Driver) DeleteVolumeSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string) error {
	const op = hostapi.ActDeleteVolumeSnapshot
	if vol.UUID == "" || snapshotUUID == "" {
		return fmt.Errorf("sim: %w", models.Invalid("volume uuid %q or snapshot uuid %q is empty", vol.UUID, snapshotUUID))
	}
	if err := d.begin(ctx, op); err != nil {
		return err
	}
	defer d.mu.Unlock()
	delete(d.snapshots[vol.UUID], snapshotUUID)
	return nil
}

// CreateVolumeFromSnapshot records target as a copy of the volume at the
// snapshot, or as it is now.
func (d *Driver) CreateVolumeFromSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string, target hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	const op = hostapi.ActCreateVolumeFromSnapshot
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
	size := have.Spec.Size
	if snapshotUUID != "" {
		if size, ok = d.snapshots[vol.UUID][snapshotUUID]; !ok {
			return none, fmt.Errorf("sim: %w", models.NotFound("volume %s has no snapshot %s", vol.UUID, snapshotUUID))
		}
	} else if id := d.running(vol.UUID); id != "" {
		return none, fmt.Errorf("sim: %w", models.Conflict("volume %s is in use by running vm %s: copy a snapshot instead", vol.UUID, id))
	}
	target.Size = size
	target.ImageURL, target.ImageUUID = "", ""
	target = normalizeVolume(target)
	if prev, ok := d.volumes[target.UUID]; ok {
		if !sameVolume(prev.Spec, target) {
			return none, fmt.Errorf("sim: %w", models.Conflict("volume %s exists with another spec", target.UUID))
		}
		return hostapi.InstantiateVolumeResult{InstallPath: prev.Spec.InstallPath, ActualSize: prev.ActualSize}, nil
	}
	d.volumes[target.UUID] = Volume{Spec: target, ActualSize: size}
	return hostapi.InstantiateVolumeResult{InstallPath: target.InstallPath, ActualSize: size}, nil
}
