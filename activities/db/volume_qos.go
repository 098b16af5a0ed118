package db

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// shareablePSTypes are the primary storage types a shareable volume may
// live on: every host of their clusters sees the same file. (ZStack also
// has Ceph and SharedBlock, which ZCloud does not.)
var shareablePSTypes = []string{PSSMP}

func (a *Activities) registerVolumeQoS(w worker.Registry) {
	for name, fn := range map[string]any{
		activities.VolumeQoSSet:      a.VolumeQoSSet,
		activities.VolumeQoSTarget:   a.VolumeQoSTarget,
		activities.VolumeShareAttach: a.VolumeShareAttach,
		activities.VolumeShareDetach: a.VolumeShareDetach,
		activities.VolumeShareRefs:   a.VolumeShareRefs,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// VolumeQoSSet changes a volume's limits in one transaction and returns
// them before and after, with its VM. A shareable volume takes none, as in
// ZStack.
func (a *Activities) VolumeQoSSet(ctx context.Context, c activities.VolumeQoSChange) (activities.VolumeQoSResult, error) {
	var out activities.VolumeQoSResult
	err := a.Store.Tx(ctx, func(tx *sqlx.Tx) error {
		var v models.Volume
		if err := tx.GetContext(ctx, &v, `SELECT * FROM volumes WHERE uuid = ?`, c.VolumeUUID); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return models.NotFound("cannot find volume[uuid:%s]", c.VolumeUUID)
			}
			return err
		}
		if v.IsShareable && c.Delete == "" && c.Replace == nil {
			return models.Invalid("volume[uuid:%s] is shareable: a shareable volume cannot be set bandwidth", v.UUID)
		}
		prev := activities.ParseVolumeQoS(string(v.VolumeQos))
		next, err := c.Apply(prev)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE volumes SET volume_qos = ?, last_op_date = ? WHERE uuid = ?`,
			models.Ref(activities.FormatVolumeQoS(next)), models.Now(), v.UUID); err != nil {
			return err
		}
		v.VolumeQos = models.Ref(activities.FormatVolumeQoS(next))
		out = activities.VolumeQoSResult{Prev: prev, New: next, Volume: volumeSpec(v), VMUUID: string(v.VMInstanceUUID)}
		return nil
	})
	if err != nil {
		return out, wrap(err)
	}
	return out, wrap(a.volumeVM(ctx, &out))
}

// VolumeQoSTarget is a volume's limits and where its VM runs, for reading
// them back from the host.
func (a *Activities) VolumeQoSTarget(ctx context.Context, p activities.VolumeRef) (activities.VolumeQoSResult, error) {
	var v models.Volume
	if err := a.Store.Get(ctx, store.ResVolume, p.VolumeUUID, &v); err != nil {
		return activities.VolumeQoSResult{}, wrap(err)
	}
	q := activities.ParseVolumeQoS(string(v.VolumeQos))
	out := activities.VolumeQoSResult{Prev: q, New: q, Volume: volumeSpec(v), VMUUID: string(v.VMInstanceUUID)}
	return out, wrap(a.volumeVM(ctx, &out))
}

// volumeVM fills in the state and host of the result's VM, if any.
func (a *Activities) volumeVM(ctx context.Context, r *activities.VolumeQoSResult) error {
	if r.VMUUID == "" {
		return nil
	}
	var vm models.VMInstance
	if err := a.Store.Get(ctx, store.ResVMInstance, r.VMUUID, &vm); err != nil {
		return err
	}
	r.VMState, r.VMHostUUID = vm.State, string(vm.HostUUID)
	return nil
}

// VolumeShareAttach records a shareable volume attached to a VM on the
// lowest device number the VM has free, or finds it recorded. The VM's
// disks must be on a primary storage that every host of its cluster sees
// (SharedMountPoint), and the volume, if placed already, on the same one.
func (a *Activities) VolumeShareAttach(ctx context.Context, p activities.VolumeShareParams) (activities.VolumeShareAttachResult, error) {
	var out activities.VolumeShareAttachResult
	err := a.Store.Tx(ctx, func(tx *sqlx.Tx) error {
		var v models.Volume
		if err := tx.GetContext(ctx, &v, `SELECT * FROM volumes WHERE uuid = ?`, p.VolumeUUID); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return models.NotFound("cannot find volume[uuid:%s]", p.VolumeUUID)
			}
			return err
		}
		if !v.IsShareable {
			return models.Invalid("volume[uuid:%s] is not shareable", v.UUID)
		}
		err := tx.GetContext(ctx, &out.DeviceID, `SELECT device_id FROM shareable_volume_vm_instance_refs
			WHERE volume_uuid = ? AND vm_instance_uuid = ?`, p.VolumeUUID, p.VMUUID)
		if err == nil {
			out.Existed = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var root struct {
			PS     string `db:"uuid"`
			PSType string `db:"type"`
		}
		if err := tx.GetContext(ctx, &root, `SELECT p.uuid, p.type FROM volumes v JOIN primary_storages p ON p.uuid = v.primary_storage_uuid
			WHERE v.vm_instance_uuid = ? AND v.type = ?`, p.VMUUID, models.VolumeRoot); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return models.NotFound("vm[uuid:%s] has no root volume on a primary storage", p.VMUUID)
			}
			return err
		}
		if !shareableOn(root.PSType) {
			return models.Invalid("for shareable volume, the only supported primary storage types are %v, the primary storage[uuid:%s] of vm[uuid:%s] is %s",
				shareablePSTypes, root.PS, p.VMUUID, root.PSType)
		}
		if v.PrimaryStorageUUID != "" && string(v.PrimaryStorageUUID) != root.PS {
			return models.Invalid("shareable volume[uuid:%s] is on primary storage[uuid:%s], vm[uuid:%s] on primary storage[uuid:%s]",
				v.UUID, v.PrimaryStorageUUID, p.VMUUID, root.PS)
		}
		used := map[int]bool{}
		var ids []int
		if err := tx.SelectContext(ctx, &ids, `SELECT device_id FROM volumes WHERE vm_instance_uuid = ?
			UNION ALL SELECT device_id FROM shareable_volume_vm_instance_refs WHERE vm_instance_uuid = ?`, p.VMUUID, p.VMUUID); err != nil {
			return err
		}
		for _, id := range ids {
			used[id] = true
		}
		out.DeviceID = 1
		for used[out.DeviceID] {
			out.DeviceID++
		}
		now := models.Now()
		_, err = tx.ExecContext(ctx, `INSERT INTO shareable_volume_vm_instance_refs (uuid, volume_uuid, vm_instance_uuid, device_id, create_date, last_op_date)
			VALUES (?, ?, ?, ?, ?, ?)`, models.NewUUID(), p.VolumeUUID, p.VMUUID, out.DeviceID, now, now)
		return err
	})
	return out, wrap(err)
}

func shareableOn(psType string) bool {
	for _, t := range shareablePSTypes {
		if t == psType {
			return true
		}
	}
	return false
}

// VolumeShareDetach forgets a shareable volume's attachment to a VM; one
// not recorded is fine.
func (a *Activities) VolumeShareDetach(ctx context.Context, p activities.VolumeShareParams) error {
	_, err := a.Store.DB().ExecContext(ctx, `DELETE FROM shareable_volume_vm_instance_refs WHERE volume_uuid = ? AND vm_instance_uuid = ?`,
		p.VolumeUUID, p.VMUUID)
	return wrap(err)
}

// VolumeShareRefs lists the VMs a shareable volume is attached to (only
// p.VMUUID's when set), with their state and host.
func (a *Activities) VolumeShareRefs(ctx context.Context, p activities.VolumeShareParams) ([]activities.VolumeShareRef, error) {
	var refs []struct {
		VMUUID   string     `db:"vm_instance_uuid"`
		DeviceID int        `db:"device_id"`
		State    string     `db:"state"`
		HostUUID models.Ref `db:"host_uuid"`
	}
	q := `SELECT r.vm_instance_uuid, r.device_id, v.state, v.host_uuid FROM shareable_volume_vm_instance_refs r
		JOIN vm_instances v ON v.uuid = r.vm_instance_uuid WHERE r.volume_uuid = ?`
	args := []any{p.VolumeUUID}
	if p.VMUUID != "" {
		q += ` AND r.vm_instance_uuid = ?`
		args = append(args, p.VMUUID)
	}
	if err := a.Store.DB().SelectContext(ctx, &refs, q+` ORDER BY r.create_date, r.vm_instance_uuid`, args...); err != nil {
		return nil, wrap(err)
	}
	out := make([]activities.VolumeShareRef, 0, len(refs))
	for _, r := range refs {
		out = append(out, activities.VolumeShareRef{VMUUID: r.VMUUID, DeviceID: r.DeviceID, VMState: r.State, VMHostUUID: string(r.HostUUID)})
	}
	return out, nil
}

// sharedVolumes are the shareable volumes attached to a VM, each with its
// device number in that VM, for the VM's host spec.
func (a *Activities) sharedVolumes(ctx context.Context, vmUUID string) ([]hostapi.VolumeSpec, error) {
	var rows []struct {
		models.Volume
		RefDeviceID int `db:"ref_device_id"`
	}
	if err := a.Store.DB().SelectContext(ctx, &rows, `SELECT v.*, r.device_id AS ref_device_id FROM volumes v
		JOIN shareable_volume_vm_instance_refs r ON r.volume_uuid = v.uuid WHERE r.vm_instance_uuid = ? ORDER BY r.device_id`, vmUUID); err != nil {
		return nil, wrap(err)
	}
	out := make([]hostapi.VolumeSpec, 0, len(rows))
	for _, r := range rows {
		vs := volumeSpec(r.Volume)
		vs.DeviceID = r.RefDeviceID
		out = append(out, vs)
	}
	return out, nil
}

// sharedDevices marks the device numbers a VM's shareable volumes hold.
func (a *Activities) sharedDevices(ctx context.Context, vmUUID string, used map[int]bool) error {
	var ids []int
	if err := a.Store.DB().SelectContext(ctx, &ids, `SELECT device_id FROM shareable_volume_vm_instance_refs WHERE vm_instance_uuid = ?`, vmUUID); err != nil {
		return wrap(err)
	}
	for _, id := range ids {
		used[id] = true
	}
	return nil
}

// forgetSharedVolumes drops a VM's attachments to shareable volumes, as the
// VM's record goes (the volumes stay for their other VMs).
func (a *Activities) forgetSharedVolumes(ctx context.Context, vmUUID string) error {
	_, err := a.Store.DB().ExecContext(ctx, `DELETE FROM shareable_volume_vm_instance_refs WHERE vm_instance_uuid = ?`, vmUUID)
	return wrap(err)
}
