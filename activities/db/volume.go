package db

import (
	"context"
	"slices"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

func volumeSpec(v models.Volume) hostapi.VolumeSpec {
	return hostapi.VolumeSpec{UUID: v.UUID, Type: v.Type, PrimaryStorageUUID: string(v.PrimaryStorageUUID),
		InstallPath: string(v.InstallPath), Format: v.Format, Size: v.Size, DeviceID: v.DeviceID,
		Shareable: v.IsShareable, QoS: activities.VolumeQoSOf(v)}
}

// VolumeInfo tells volume workflows about a volume and its VM.
func (a *Activities) VolumeInfo(ctx context.Context, p activities.VolumeRef) (activities.VolumeInfoResult, error) {
	var v models.Volume
	if err := a.Store.Get(ctx, store.ResVolume, p.VolumeUUID, &v); err != nil {
		return activities.VolumeInfoResult{}, wrap(err)
	}
	out := activities.VolumeInfoResult{Volume: volumeSpec(v), Type: v.Type, Status: v.Status, HostUUID: string(v.HostUUID),
		VMUUID: string(v.VMInstanceUUID)}
	if v.VMInstanceUUID != "" {
		var vm models.VMInstance
		if err := a.Store.Get(ctx, store.ResVMInstance, string(v.VMInstanceUUID), &vm); err != nil {
			return out, wrap(err)
		}
		out.VMState, out.VMHostUUID = vm.State, string(vm.HostUUID)
	}
	return out, nil
}

// createDataVolume records a data volume of a disk offering's size (or
// diskSize); like ZStack's, it is NotInstantiated until attached to a VM,
// which places it on the VM's primary storage.
func createDataVolume(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	size := num(args, "diskSize")
	var offering models.Ref
	if o := str(args, "diskOfferingUuid"); o != "" {
		var d models.DiskOffering
		if err := mustExist(ctx, a, store.ResDiskOffering, o, &d); err != nil {
			return activities.Result{}, err
		}
		size, offering = d.DiskSize, models.Ref(o)
	}
	if size <= 0 {
		return activities.Result{}, models.Invalid("a data volume needs a diskOfferingUuid or a positive diskSize")
	}
	if ps := str(args, "primaryStorageUuid"); ps != "" {
		return activities.Result{}, models.Invalid("choosing the primary storage of a new data volume is not supported; it is placed with the VM it is attached to")
	}
	v := models.Volume{Base: base(args), DiskOfferingUUID: offering, Type: models.VolumeData, Format: "qcow2", Size: size,
		DeviceID: -1, State: models.StateEnabled, Status: models.VolumeNotInstantiated}
	if slices.Contains(p.SystemTags, activities.VolumeShareableTag) {
		// Several QEMUs write a shareable volume: raw, which has no
		// metadata for them to corrupt (volume_qos.go).
		v.IsShareable, v.Format = true, "raw"
	}
	if err := a.Store.CreateVolume(ctx, &v, p.AccountUUID); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResVolume, v.UUID)
}

// VolumePlace puts a not yet instantiated volume on its VM's root volume's
// primary storage (and host, for a local storage).
func (a *Activities) VolumePlace(ctx context.Context, p activities.VolumePlaceParams) error {
	vols, err := a.Store.VMVolumes(ctx, p.VMUUID)
	if err != nil {
		return wrap(err)
	}
	var vm models.VMInstance
	if err := a.Store.Get(ctx, store.ResVMInstance, p.VMUUID, &vm); err != nil {
		return wrap(err)
	}
	for _, v := range vols {
		if v.Type == models.VolumeRoot {
			host := string(v.HostUUID)
			if host == "" {
				host = string(vm.HostUUID)
			}
			if err := a.psRefusal(ctx, string(v.PrimaryStorageUUID), false); err != nil {
				return wrap(err)
			}
			return wrap(a.Store.PlaceVolume(ctx, p.VolumeUUID, string(v.PrimaryStorageUUID), host))
		}
	}
	return wrap(models.Unavailable("vm[uuid:%s] has no root volume", p.VMUUID))
}

// VolumeUnplace undoes VolumePlace.
func (a *Activities) VolumeUnplace(ctx context.Context, p activities.VolumeRef) error {
	return wrap(a.Store.UnplaceVolume(ctx, p.VolumeUUID))
}

// VolumeSetAttachment records a volume attached to (or detached from) a VM.
func (a *Activities) VolumeSetAttachment(ctx context.Context, p activities.VolumeAttachmentParams) error {
	if p.VMUUID == "" {
		_, err := a.Store.DB().ExecContext(ctx, `UPDATE volumes SET vm_instance_uuid = NULL, device_id = -1, last_op_date = ? WHERE uuid = ?`,
			models.Now(), p.VolumeUUID)
		return wrap(err)
	}
	_, err := a.Store.DB().ExecContext(ctx, `UPDATE volumes SET vm_instance_uuid = ?, device_id = ?, last_op_date = ? WHERE uuid = ?`,
		p.VMUUID, p.DeviceID, models.Now(), p.VolumeUUID)
	return wrap(err)
}

// VolumeNextDevice is the lowest device number free on a VM (0 is the
// root volume's).
func (a *Activities) VolumeNextDevice(ctx context.Context, p activities.VMRef) (int, error) {
	vols, err := a.Store.VMVolumes(ctx, p.VMUUID)
	if err != nil {
		return 0, wrap(err)
	}
	used := map[int]bool{}
	for _, v := range vols {
		used[v.DeviceID] = true
	}
	if err := a.sharedDevices(ctx, p.VMUUID, used); err != nil {
		return 0, err
	}
	id := 1
	for used[id] {
		id++
	}
	return id, nil
}

// VolumeSetSize records a volume's size, taking growth from (or giving a
// shrink back to) its primary storage.
func (a *Activities) VolumeSetSize(ctx context.Context, p activities.VolumeSizeParams) error {
	return wrap(a.Store.ResizeVolume(ctx, p.VolumeUUID, p.Size))
}

// VolumeSetStatus sets a volume's status.
func (a *Activities) VolumeSetStatus(ctx context.Context, p activities.VolumeStatusParams) error {
	return wrap(a.Store.Update(ctx, store.ResVolume, p.VolumeUUID, map[string]any{"status": p.Status}))
}

// VolumeDeleteRecord deletes a volume record and gives its capacity back.
func (a *Activities) VolumeDeleteRecord(ctx context.Context, p activities.VolumeRef) error {
	if _, err := a.Store.DB().ExecContext(ctx, `DELETE FROM volume_snapshots WHERE volume_uuid = ?`, p.VolumeUUID); err != nil {
		return wrap(err)
	}
	return wrap(a.Store.DeleteVolume(ctx, p.VolumeUUID))
}

// SnapshotInfo tells snapshot workflows about a snapshot and its volume.
func (a *Activities) SnapshotInfo(ctx context.Context, p activities.SnapshotRef) (activities.SnapshotInfoResult, error) {
	var sn models.VolumeSnapshot
	if err := a.Store.Get(ctx, store.ResVolumeSnapshot, p.SnapshotUUID, &sn); err != nil {
		return activities.SnapshotInfoResult{}, wrap(err)
	}
	vi, err := a.VolumeInfo(ctx, activities.VolumeRef{VolumeUUID: sn.VolumeUUID})
	return activities.SnapshotInfoResult{SnapshotUUID: sn.UUID, Status: sn.Status, Volume: vi}, err
}

// SnapshotRecord records a snapshot as Creating, or as Ready with where it
// lives.
func (a *Activities) SnapshotRecord(ctx context.Context, p activities.SnapshotRecordParams) error {
	if p.Ready {
		return wrap(a.Store.Update(ctx, store.ResVolumeSnapshot, p.SnapshotUUID, map[string]any{"status": models.SnapshotReady,
			"primaryStorageInstallPath": p.InstallPath, "size": p.Size}))
	}
	var v models.Volume
	if err := a.Store.Get(ctx, store.ResVolume, p.VolumeUUID, &v); err != nil {
		return wrap(err)
	}
	now := models.Now()
	sn := models.VolumeSnapshot{Base: models.Base{UUID: p.SnapshotUUID, Name: p.Name, Description: models.Ref(p.Description), CreateDate: now, LastOpDate: now},
		Type: "Hypervisor", VolumeUUID: v.UUID, PrimaryStorageUUID: v.PrimaryStorageUUID, VolumeType: v.Type, Format: v.Format,
		Size: v.Size, State: models.StateEnabled, Status: models.SnapshotCreating}
	if err := a.Store.Create(ctx, store.ResVolumeSnapshot, &sn, sn.UUID, p.AccountUUID); err != nil && models.AsError(err).Kind != models.KindConflict {
		return wrap(err)
	}
	return nil
}

// SnapshotDeleteRecord deletes a snapshot record.
func (a *Activities) SnapshotDeleteRecord(ctx context.Context, p activities.SnapshotRef) error {
	return wrap(a.Store.Delete(ctx, store.ResVolumeSnapshot, p.SnapshotUUID))
}

// VMMigrationTarget picks where a running VM can live-migrate: a Connected,
// Enabled host of its cluster with room, other than its own (the one asked
// for, if any). Its volumes must be on shared storage.
func (a *Activities) VMMigrationTarget(ctx context.Context, p activities.VMMigrationParams) (activities.VMMigrationTargetResult, error) {
	var vm models.VMInstance
	if err := a.Store.Get(ctx, store.ResVMInstance, p.VMUUID, &vm); err != nil {
		return activities.VMMigrationTargetResult{}, wrap(err)
	}
	src := string(vm.HostUUID)
	if p.HostUUID != "" && p.HostUUID == src {
		return activities.VMMigrationTargetResult{}, wrap(models.Invalid("vm[uuid:%s] already runs on host[uuid:%s]", vm.UUID, src))
	}
	vols, err := a.Store.VMVolumes(ctx, vm.UUID)
	if err != nil {
		return activities.VMMigrationTargetResult{}, wrap(err)
	}
	for _, v := range vols {
		var ps models.PrimaryStorage
		if err := a.Store.Get(ctx, store.ResPrimaryStorage, string(v.PrimaryStorageUUID), &ps); err != nil {
			return activities.VMMigrationTargetResult{}, wrap(err)
		}
		if ps.Type == store.PSLocalStorage {
			return activities.VMMigrationTargetResult{}, wrap(&models.Error{Kind: models.KindInvalid, Code: models.CodeOperation,
				Message: "not supported: live migration of a vm with volumes on local storage (volume " + v.UUID + ")"})
		}
	}
	nics, err := a.Store.VMNics(ctx, vm.UUID)
	if err != nil {
		return activities.VMMigrationTargetResult{}, wrap(err)
	}
	req := store.AllocationRequest{CPU: int64(vm.CPUNum), Memory: vm.MemorySize, ClusterUUID: string(vm.ClusterUUID),
		HostUUID: p.HostUUID, AvoidHosts: []string{src}}
	if len(vols) > 0 {
		req.PSUUID = string(vols[0].PrimaryStorageUUID)
	}
	var srcHost models.Host
	if err := a.Store.Get(ctx, store.ResHost, src, &srcHost); err != nil {
		return activities.VMMigrationTargetResult{}, wrap(err)
	}
	req.HypervisorType = srcHost.HypervisorType
	for _, n := range nics {
		req.L3UUIDs = append(req.L3UUIDs, n.L3NetworkUUID)
	}
	cands, err := a.Store.HostCandidates(ctx, req, 1)
	if err != nil {
		return activities.VMMigrationTargetResult{}, wrap(err)
	}
	if len(cands) == 0 {
		return activities.VMMigrationTargetResult{}, wrap(models.Unavailable("no host of cluster[uuid:%s] can take vm[uuid:%s] (state, status, capacity, networks, storage)",
			vm.ClusterUUID, vm.UUID).WithCode(models.CodeAllocation))
	}
	var dst models.Host
	if err := a.Store.Get(ctx, store.ResHost, cands[0].HostUUID, &dst); err != nil {
		return activities.VMMigrationTargetResult{}, wrap(err)
	}
	out := activities.VMMigrationTargetResult{SourceHostUUID: src, HostUUID: dst.UUID,
		DestinationURI: "qemu+tcp://" + dst.ManagementIP + "/system", MigrationURI: "tcp://" + dst.ManagementIP}
	if dst.HypervisorType == "Simulator" {
		out.DestinationURI, out.MigrationURI = activities.SimMigrationScheme+dst.UUID, ""
	}
	return out, nil
}

// VMMoveHost moves a VM's host reservation (and its record, and its
// volumes' host) to another host.
func (a *Activities) VMMoveHost(ctx context.Context, p activities.VMMigrationParams) error {
	if err := a.Store.MoveHostOfVM(ctx, p.VMUUID, p.HostUUID); err != nil {
		return wrap(err)
	}
	if _, err := a.Store.DB().ExecContext(ctx, `UPDATE volumes SET host_uuid = ? WHERE vm_instance_uuid = ? AND host_uuid IS NOT NULL`, p.HostUUID, p.VMUUID); err != nil {
		return wrap(err)
	}
	_, err := a.Store.DB().ExecContext(ctx, `UPDATE vm_instances SET host_uuid = ?, last_host_uuid = host_uuid, last_op_date = ? WHERE uuid = ?`,
		p.HostUUID, models.Now(), p.VMUUID)
	return wrap(err)
}

// createVolumeFromSnapshotRecord records the data volume a snapshot is
// copied into, on the snapshot's primary storage (and host), taking its
// capacity; the host makes its file next.
func createVolumeFromSnapshotRecord(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	var sn models.VolumeSnapshot
	if err := mustExist(ctx, a, store.ResVolumeSnapshot, str(args, "volumeSnapshotUuid"), &sn); err != nil {
		return activities.Result{}, err
	}
	if sn.Status != models.SnapshotReady {
		return activities.Result{}, models.Invalid("volume snapshot[uuid:%s] is %s, not Ready", sn.UUID, sn.Status)
	}
	if ps := str(args, "primaryStorageUuid"); ps != "" && ps != string(sn.PrimaryStorageUUID) {
		return activities.Result{}, &models.Error{Kind: models.KindInvalid, Code: models.CodeOperation,
			Message: "not supported: a volume from a snapshot on another primary storage than the snapshot's"}
	}
	var src models.Volume
	if err := a.Store.Get(ctx, store.ResVolume, sn.VolumeUUID, &src); err != nil {
		return activities.Result{}, err
	}
	v := models.Volume{Base: base(args), PrimaryStorageUUID: src.PrimaryStorageUUID, HostUUID: src.HostUUID, Type: models.VolumeData,
		Format: src.Format, Size: sn.Size, DeviceID: -1, State: models.StateEnabled, Status: models.VolumeCreating}
	if err := a.Store.CreateVolume(ctx, &v, p.AccountUUID); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResVolume, v.UUID)
}
