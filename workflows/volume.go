package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// Volume and snapshot workflow names.
const (
	AttachVolume   = "zcloud.AttachDataVolume"
	DetachVolume   = "zcloud.DetachDataVolume"
	DeleteVolume   = "zcloud.DeleteDataVolume"
	RecoverVolume  = "zcloud.RecoverDataVolume"
	ExpungeVolume  = "zcloud.ExpungeDataVolume"
	ResizeVolume   = "zcloud.ResizeVolume"
	CreateSnapshot = "zcloud.CreateVolumeSnapshot"
	RevertSnapshot = "zcloud.RevertVolumeFromSnapshot"
	DeleteSnapshot = "zcloud.DeleteVolumeSnapshot"
)

// VolumeOpParams names a volume (or snapshot) operation and its options.
type VolumeOpParams struct {
	VolumeUUID   string `json:"volumeUuid"`
	VMUUID       string `json:"vmUuid"`
	SnapshotUUID string `json:"snapshotUuid"`
	Size         int64  `json:"size"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	AccountUUID  string `json:"accountUuid"`
	// NewVolumeUUID is the volume CreateDataVolumeFromVolumeSnapshot makes.
	NewVolumeUUID string `json:"newVolumeUuid"`
}

func volumeInfo(ctx workflow.Context, uuid string) (activities.VolumeInfoResult, error) {
	var vi activities.VolumeInfoResult
	err := local(ctx, activities.VolumeInfo, activities.VolumeRef{VolumeUUID: uuid}, &vi)
	return vi, err
}

// AttachDataVolumeWorkflow attaches a data volume to a VM: placed on the
// VM's primary storage and instantiated on its host if it never was, then
// hot-plugged into the running domain (or only recorded for a stopped VM,
// whose next start defines it with the volume).
func AttachDataVolumeWorkflow(ctx workflow.Context, p VolumeOpParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	vi, err := volumeInfo(ctx, p.VolumeUUID)
	if err != nil {
		return res, err
	}
	if vi.Volume.Shareable {
		return attachShareable(ctx, &s, p, vi)
	}
	switch {
	case vi.Type != models.VolumeData:
		return res, businessError(models.Invalid("volume[uuid:%s] is a %s volume; only data volumes attach", p.VolumeUUID, vi.Type))
	case vi.VMUUID == p.VMUUID:
		return inventory(ctx, "Volume", p.VolumeUUID, "inventory")
	case vi.VMUUID != "":
		return res, businessError(models.Conflict("volume[uuid:%s] is attached to vm[uuid:%s]", p.VolumeUUID, vi.VMUUID))
	case vi.Status == models.VolumeDeleted:
		return res, businessError(models.Invalid("volume[uuid:%s] is deleted; recover it first", p.VolumeUUID))
	}
	var spec activities.VMSpecResult
	if err = local(ctx, activities.VMSpec, activities.VMRef{VMUUID: p.VMUUID}, &spec); err != nil {
		return res, err
	}
	if spec.State != models.VMRunning && spec.State != models.VMStopped && spec.State != models.VMPaused {
		return res, businessError(models.VMStateError(p.VMUUID, spec.State, "attachDataVolume"))
	}
	var device int
	if err = local(ctx, activities.VolumeNextDevice, activities.VMRef{VMUUID: p.VMUUID}, &device); err != nil {
		return res, err
	}
	if err = local(ctx, activities.VolumeSetAttachment, activities.VolumeAttachmentParams{VolumeUUID: p.VolumeUUID, VMUUID: p.VMUUID, DeviceID: device}, nil); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.VolumeSetAttachment, activities.VolumeAttachmentParams{VolumeUUID: p.VolumeUUID}, nil)
	})
	if vi.HostUUID == "" {
		if vi, err = placeBesideVM(ctx, &s, p, spec); err != nil {
			return res, err
		}
	}
	if spec.HostUUID != "" && spec.State != models.VMStopped {
		if err = hotPlug(ctx, &s, spec.HostUUID, p.VMUUID, vi.Volume, device); err != nil {
			return res, err
		}
	}
	return inventory(ctx, "Volume", p.VolumeUUID, "inventory")
}

// placeBesideVM puts a data volume that was never instantiated on the
// primary storage and host of the VM's disks and creates its file there;
// both are undone by s. It returns the volume as it then is.
func placeBesideVM(ctx workflow.Context, s *saga, p VolumeOpParams, spec activities.VMSpecResult) (activities.VolumeInfoResult, error) {
	var vi activities.VolumeInfoResult
	if err := local(ctx, activities.VolumePlace, activities.VolumePlaceParams{VolumeUUID: p.VolumeUUID, VMUUID: p.VMUUID}, nil); err != nil {
		return vi, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.VolumeUnplace, activities.VolumeRef{VolumeUUID: p.VolumeUUID}, nil)
	})
	host := spec.HostUUID
	if host == "" {
		host = spec.VolumeHosts[spec.Spec.RootVolume.UUID]
	}
	if host == "" {
		return vi, businessError(models.Unavailable("vm[uuid:%s] is on no host to create the volume on; start it first", p.VMUUID))
	}
	vi, err := volumeInfo(ctx, p.VolumeUUID)
	if err != nil {
		return vi, err
	}
	if err = instantiate(ctx, s, host, vi.Volume); err != nil {
		return vi, err
	}
	return volumeInfo(ctx, p.VolumeUUID)
}

// hotPlug plugs vol as device into the VM running on host; s unplugs it.
func hotPlug(ctx workflow.Context, s *saga, host, vmUUID string, vol hostapi.VolumeSpec, device int) error {
	vol.DeviceID = device
	s.add(func(ctx workflow.Context) error {
		return onHost(ctx, host, hostapi.ActDetachVolume, hostapi.DetachVolumeParams{VMUUID: vmUUID, Volume: vol}, nil)
	})
	return onHost(ctx, host, hostapi.ActAttachVolume, hostapi.AttachVolumeParams{VMUUID: vmUUID, Volume: vol}, nil)
}

// instantiate creates a volume's file on a host and records it there; the
// compensation deletes the file.
func instantiate(ctx workflow.Context, s *saga, host string, vol hostapi.VolumeSpec) error {
	s.add(func(ctx workflow.Context) error {
		return onHost(ctx, host, hostapi.ActDeleteVolume, hostapi.DeleteVolumeParams{Volume: vol}, nil)
	})
	var r hostapi.InstantiateVolumeResult
	if err := onHost(ctx, host, hostapi.ActInstantiateVolume, hostapi.InstantiateVolumeParams{Volume: vol}, &r); err != nil {
		return err
	}
	return local(ctx, activities.VolumeSetHost, activities.VolumeHost{VolumeUUID: vol.UUID, HostUUID: host, InstallPath: r.InstallPath, ActualSize: r.ActualSize}, nil)
}

// DetachDataVolumeWorkflow unplugs a data volume from its VM (hot-unplug
// from a running domain) and records it detached; its file stays.
func DetachDataVolumeWorkflow(ctx workflow.Context, p VolumeOpParams) (res activities.Result, err error) {
	vi, err := volumeInfo(ctx, p.VolumeUUID)
	if err != nil {
		return res, err
	}
	if vi.Volume.Shareable {
		return detachShareable(ctx, p, vi)
	}
	if vi.VMUUID == "" {
		return inventory(ctx, "Volume", p.VolumeUUID, "inventory")
	}
	if vi.Type != models.VolumeData {
		return res, businessError(models.Invalid("volume[uuid:%s] is a root volume; it can't be detached", p.VolumeUUID))
	}
	if vi.VMHostUUID != "" && vi.VMState != models.VMStopped {
		if err = onHost(ctx, vi.VMHostUUID, hostapi.ActDetachVolume, hostapi.DetachVolumeParams{VMUUID: vi.VMUUID, Volume: vi.Volume}, nil); err != nil {
			return res, err
		}
	}
	if err = local(ctx, activities.VolumeSetAttachment, activities.VolumeAttachmentParams{VolumeUUID: p.VolumeUUID}, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "Volume", p.VolumeUUID, "inventory")
}

// DeleteDataVolumeWorkflow deletes a data volume per volume.deletionPolicy:
// detached first, then Deleted (recoverable; the garbage collector expunges
// it after volume.expungePeriod), or expunged at once with Direct.
func DeleteDataVolumeWorkflow(ctx workflow.Context, p VolumeOpParams) (res activities.Result, err error) {
	vi, err := volumeInfo(ctx, p.VolumeUUID)
	if err != nil {
		if businessKind(err) == models.KindNotFound {
			return activities.Result{}, nil
		}
		return res, err
	}
	if vi.Type != models.VolumeData {
		return res, businessError(models.Invalid("volume[uuid:%s] is a root volume; delete its vm instead", p.VolumeUUID))
	}
	if vi.VMUUID != "" || vi.Volume.Shareable {
		if _, err = DetachDataVolumeWorkflow(ctx, p); err != nil {
			return res, err
		}
	}
	var policy string
	policyStep, policyArg := activities.DeletePolicy, any(activities.VMRef{})
	if workflow.GetVersion(ctx, "2026-12-06-volume-deletion-policy", workflow.DefaultVersion, 1) != workflow.DefaultVersion {
		// volume.deletionPolicy (ZStack's), no longer vm.deletionPolicy.
		policyStep, policyArg = activities.VolumeDeletePolicy, activities.VolumeRef{VolumeUUID: p.VolumeUUID}
	}
	if err = local(ctx, policyStep, policyArg, &policy); err != nil {
		return res, err
	}
	if policy == models.DeletePolicyDirect || vi.HostUUID == "" {
		return expungeVolume(ctx, p.VolumeUUID, true)
	}
	err = local(ctx, activities.VolumeSetStatus, activities.VolumeStatusParams{VolumeUUID: p.VolumeUUID, Status: models.VolumeDeleted}, nil)
	return activities.Result{}, err
}

// RecoverDataVolumeWorkflow brings a Deleted data volume back.
func RecoverDataVolumeWorkflow(ctx workflow.Context, p VolumeOpParams) (res activities.Result, err error) {
	vi, err := volumeInfo(ctx, p.VolumeUUID)
	if err != nil {
		return res, err
	}
	if vi.Status != models.VolumeDeleted {
		return res, businessError(models.Invalid("volume[uuid:%s] is %s, not Deleted", p.VolumeUUID, vi.Status))
	}
	status := models.VolumeReady
	if vi.HostUUID == "" {
		status = models.VolumeNotInstantiated
	}
	if err = local(ctx, activities.VolumeSetStatus, activities.VolumeStatusParams{VolumeUUID: p.VolumeUUID, Status: status}, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "Volume", p.VolumeUUID, "inventory")
}

// ExpungeDataVolumeWorkflow removes a Deleted data volume for good: its
// file and snapshots on its host, its record, its capacity.
func ExpungeDataVolumeWorkflow(ctx workflow.Context, p VolumeOpParams) (activities.Result, error) {
	return expungeVolume(ctx, p.VolumeUUID, false)
}

// expungeVolume expunges a volume; force also takes one not Deleted yet
// (DeleteDataVolume with the Direct policy, or a never instantiated one).
func expungeVolume(ctx workflow.Context, volUUID string, force bool) (res activities.Result, err error) {
	vi, err := volumeInfo(ctx, volUUID)
	if err != nil {
		if businessKind(err) == models.KindNotFound {
			return activities.Result{}, nil
		}
		return res, err
	}
	if vi.Status != models.VolumeDeleted && !force {
		return res, businessError(models.Invalid("volume[uuid:%s] is %s; delete it first", volUUID, vi.Status))
	}
	if vi.HostUUID != "" && vi.Volume.InstallPath != "" {
		if err = onHost(ctx, vi.HostUUID, hostapi.ActDeleteVolume, hostapi.DeleteVolumeParams{Volume: vi.Volume}, nil); err != nil {
			return res, err
		}
	}
	err = local(ctx, activities.VolumeDeleteRecord, activities.VolumeRef{VolumeUUID: volUUID}, nil)
	return activities.Result{}, err
}

// ResizeVolumeWorkflow grows a volume: its capacity is taken first, then the
// host grows the file (online when its VM runs).
func ResizeVolumeWorkflow(ctx workflow.Context, p VolumeOpParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	vi, err := volumeInfo(ctx, p.VolumeUUID)
	if err != nil {
		return res, err
	}
	if p.Size < vi.Volume.Size {
		return res, businessError(models.Invalid("volume[uuid:%s] is %d bytes; shrinking it to %d is not supported", p.VolumeUUID, vi.Volume.Size, p.Size))
	}
	if err = local(ctx, activities.VolumeSetSize, activities.VolumeSizeParams{VolumeUUID: p.VolumeUUID, Size: p.Size}, nil); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.VolumeSetSize, activities.VolumeSizeParams{VolumeUUID: p.VolumeUUID, Size: vi.Volume.Size}, nil)
	})
	if vi.HostUUID != "" {
		host := vi.HostUUID
		if vi.VMHostUUID != "" {
			host = vi.VMHostUUID
		}
		if err = onHost(ctx, host, hostapi.ActResizeVolume, hostapi.ResizeVolumeParams{Volume: vi.Volume, Size: p.Size}, nil); err != nil {
			return res, err
		}
	}
	return inventory(ctx, "Volume", p.VolumeUUID, "inventory")
}

// CreateVolumeSnapshotWorkflow takes a snapshot of an instantiated volume on
// its host.
func CreateVolumeSnapshotWorkflow(ctx workflow.Context, p VolumeOpParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	vi, err := volumeInfo(ctx, p.VolumeUUID)
	if err != nil {
		return res, err
	}
	if vi.HostUUID == "" {
		return res, businessError(models.Invalid("volume[uuid:%s] is not instantiated yet; attach it to a vm first", p.VolumeUUID))
	}
	if err = local(ctx, activities.SnapshotRecord, activities.SnapshotRecordParams{SnapshotUUID: p.SnapshotUUID, VolumeUUID: p.VolumeUUID,
		Name: p.Name, Description: p.Description, AccountUUID: p.AccountUUID}, nil); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.SnapshotDeleteRec, activities.SnapshotRef{SnapshotUUID: p.SnapshotUUID}, nil)
	})
	host := vi.HostUUID
	if vi.VMHostUUID != "" {
		host = vi.VMHostUUID
	}
	s.add(func(ctx workflow.Context) error {
		return onHost(ctx, host, hostapi.ActDeleteVolumeSnapshot, hostapi.DeleteVolumeSnapshotParams{Volume: vi.Volume, SnapshotUUID: p.SnapshotUUID}, nil)
	})
	var r hostapi.VolumeSnapshotResult
	if err = onHost(ctx, host, hostapi.ActCreateVolumeSnapshot, hostapi.CreateVolumeSnapshotParams{Volume: vi.Volume, SnapshotUUID: p.SnapshotUUID}, &r); err != nil {
		return res, err
	}
	if err = local(ctx, activities.SnapshotRecord, activities.SnapshotRecordParams{SnapshotUUID: p.SnapshotUUID, Ready: true,
		InstallPath: r.InstallPath, Size: r.VirtualSize}, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "VolumeSnapshot", p.SnapshotUUID, "inventory")
}

// RevertVolumeFromSnapshotWorkflow puts a volume back to a snapshot; its VM
// must be stopped.
func RevertVolumeFromSnapshotWorkflow(ctx workflow.Context, p VolumeOpParams) (res activities.Result, err error) {
	var si activities.SnapshotInfoResult
	if err = local(ctx, activities.SnapshotInfo, activities.SnapshotRef{SnapshotUUID: p.SnapshotUUID}, &si); err != nil {
		return res, err
	}
	vi := si.Volume
	if vi.VMUUID != "" && vi.VMState != models.VMStopped {
		return res, businessError(models.VMStateError(vi.VMUUID, vi.VMState, "revertVolumeFromSnapshot"))
	}
	if err = onHost(ctx, vi.HostUUID, hostapi.ActRevertVolumeSnapshot, hostapi.RevertVolumeSnapshotParams{Volume: vi.Volume, SnapshotUUID: p.SnapshotUUID}, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "VolumeSnapshot", p.SnapshotUUID, "inventory")
}

// DeleteVolumeSnapshotWorkflow removes a snapshot from its volume and its
// record.
func DeleteVolumeSnapshotWorkflow(ctx workflow.Context, p VolumeOpParams) (res activities.Result, err error) {
	var si activities.SnapshotInfoResult
	if err = local(ctx, activities.SnapshotInfo, activities.SnapshotRef{SnapshotUUID: p.SnapshotUUID}, &si); err != nil {
		if businessKind(err) == models.KindNotFound {
			return activities.Result{}, nil
		}
		return res, err
	}
	vi := si.Volume
	host := vi.HostUUID
	if vi.VMHostUUID != "" {
		host = vi.VMHostUUID
	}
	if host != "" {
		if err = onHost(ctx, host, hostapi.ActDeleteVolumeSnapshot, hostapi.DeleteVolumeSnapshotParams{Volume: vi.Volume, SnapshotUUID: p.SnapshotUUID}, nil); err != nil {
			return res, err
		}
	}
	err = local(ctx, activities.SnapshotDeleteRec, activities.SnapshotRef{SnapshotUUID: p.SnapshotUUID}, nil)
	return activities.Result{}, err
}

// VolumeFromSnapshot is the workflow behind CreateDataVolumeFromVolumeSnapshot.
const VolumeFromSnapshot = "zcloud.CreateDataVolumeFromVolumeSnapshot"

// VolumeFromSnapshotParams makes a data volume of a snapshot: the record's
// operation (it carries the new volume's UUID) and the snapshot.
type VolumeFromSnapshotParams struct {
	Op           activities.OpParams `json:"op"`
	VolumeUUID   string              `json:"volumeUuid"`
	SnapshotUUID string              `json:"snapshotUuid"`
}

// CreateDataVolumeFromVolumeSnapshotWorkflow copies a volume as it was at
// a snapshot into a new, standalone data volume on the same storage (and
// host): the record takes the capacity first, then the host writes the
// copy. Any failure removes the copy and the record.
func CreateDataVolumeFromVolumeSnapshotWorkflow(ctx workflow.Context, p VolumeFromSnapshotParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var si activities.SnapshotInfoResult
	if err = local(ctx, activities.SnapshotInfo, activities.SnapshotRef{SnapshotUUID: p.SnapshotUUID}, &si); err != nil {
		return res, err
	}
	if err = local(ctx, activities.RunOp, p.Op, nil); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.VolumeDeleteRecord, activities.VolumeRef{VolumeUUID: p.VolumeUUID}, nil)
	})
	target, err := volumeInfo(ctx, p.VolumeUUID)
	if err != nil {
		return res, err
	}
	src := si.Volume
	host := src.HostUUID
	if src.VMHostUUID != "" {
		host = src.VMHostUUID
	}
	if host == "" {
		return res, businessError(models.Unavailable("the volume of snapshot[uuid:%s] is on no host", p.SnapshotUUID))
	}
	s.add(func(ctx workflow.Context) error {
		return onHost(ctx, host, hostapi.ActDeleteVolume, hostapi.DeleteVolumeParams{Volume: target.Volume}, nil)
	})
	var r hostapi.InstantiateVolumeResult
	if err = onHost(ctx, host, hostapi.ActCreateVolumeFromSnapshot, hostapi.CreateVolumeFromSnapshotParams{Volume: src.Volume,
		SnapshotUUID: p.SnapshotUUID, Target: target.Volume}, &r); err != nil {
		return res, err
	}
	if err = local(ctx, activities.VolumeSetHost, activities.VolumeHost{VolumeUUID: p.VolumeUUID, HostUUID: host,
		InstallPath: r.InstallPath, ActualSize: r.ActualSize}, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "Volume", p.VolumeUUID, "inventory")
}
