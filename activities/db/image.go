package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"slices"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// Image statuses beyond those of models (ZStack ImageStatus).
const imageCreating = "Creating"

// Backup storage types whose copies the image workflows handle.
const bsSimulator = "SimulatorBackupStorage"

// imageOps are the image area's database operations of RunOp.
var imageOps = map[string]opFunc{
	"CreateDataVolumeFromVolumeTemplate": createVolumeFromTemplateRecord,
}

// imageCreated names the resources the image area's operations create.
var imageCreated = map[string]string{"CreateDataVolumeFromVolumeTemplate": store.ResVolume}

func (a *Activities) registerImages(w worker.Registry) {
	for name, fn := range map[string]any{
		activities.ImageFromVolumeRecord: a.ImageFromVolumeRecord,
		activities.ImageUploadToken:      a.ImageUploadToken,
		activities.ImageInfo:             a.ImageInfo,
		activities.ImageSetStatus:        a.ImageSetStatus,
		activities.ImageCheckExpunge:     a.ImageCheckExpunge,
		activities.ImageDeleteRef:        a.ImageDeleteRef,
		activities.ImageDeletePolicy:     a.ImageDeletePolicy,
		activities.TemplateVolumeInfo:    a.TemplateVolumeInfo,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// imageSource is what an image-from-volume API names: the volume, the
// snapshot (if any) and the media type it makes.
type imageSource struct {
	volumeUUID, snapshotUUID, mediaType, url string
	size                                     int64
}

// sourceOf reads the volume or snapshot an image-from-volume API names.
func (a *Activities) sourceOf(ctx context.Context, api string, args map[string]any) (imageSource, error) {
	var src imageSource
	switch api {
	case "CreateRootVolumeTemplateFromRootVolume":
		src = imageSource{volumeUUID: str(args, "rootVolumeUuid"), mediaType: "RootVolumeTemplate"}
	case "CreateDataVolumeTemplateFromVolume":
		src = imageSource{volumeUUID: str(args, "volumeUuid"), mediaType: "DataVolumeTemplate"}
	case "CreateRootVolumeTemplateFromVolumeSnapshot":
		src = imageSource{snapshotUUID: str(args, "snapshotUuid"), mediaType: "RootVolumeTemplate"}
	case "CreateDataVolumeTemplateFromVolumeSnapshot":
		src = imageSource{snapshotUUID: str(args, "snapshotUuid"), mediaType: "DataVolumeTemplate"}
	default:
		return src, models.Invalid("%s makes no image", api)
	}
	if src.snapshotUUID != "" {
		var sn models.VolumeSnapshot
		if err := mustExist(ctx, a, store.ResVolumeSnapshot, src.snapshotUUID, &sn); err != nil {
			return src, err
		}
		if sn.Status != models.SnapshotReady {
			return src, models.Invalid("volume snapshot[uuid:%s] is %s, not Ready", sn.UUID, sn.Status)
		}
		src.volumeUUID, src.size, src.url = sn.VolumeUUID, sn.Size, "volumeSnapshot://"+sn.UUID
		return src, nil
	}
	var v models.Volume
	if err := mustExist(ctx, a, store.ResVolume, src.volumeUUID, &v); err != nil {
		return src, err
	}
	want := models.VolumeData
	if src.mediaType == "RootVolumeTemplate" {
		want = models.VolumeRoot
	}
	if v.Type != want {
		return src, models.Invalid("volume[uuid:%s] is a %s volume; %s takes a %s volume", v.UUID, v.Type, api, want)
	}
	src.size, src.url = v.Size, "volume://"+v.UUID
	return src, nil
}

// ImageFromVolumeRecord checks an image-from-volume request and records
// the image as Creating, with a Creating copy on each target backup
// storage; it tells the workflow which host writes the image and where it
// goes. A retry finds the records made and answers the same.
func (a *Activities) ImageFromVolumeRecord(ctx context.Context, p activities.ImageFromVolumeParams) (activities.ImageSourceResult, error) {
	var out activities.ImageSourceResult
	args, err := opArgs(p.Op)
	if err != nil {
		return out, wrap(err)
	}
	src, err := a.sourceOf(ctx, p.Op.Op, args)
	if err != nil {
		return out, wrap(err)
	}
	vi, err := a.VolumeInfo(ctx, activities.VolumeRef{VolumeUUID: src.volumeUUID})
	if err != nil {
		return out, err
	}
	if vi.Status != models.VolumeReady || vi.HostUUID == "" {
		return out, wrap(models.Invalid("volume[uuid:%s] is %s; only a Ready, instantiated volume makes an image", src.volumeUUID, vi.Status))
	}
	out.Volume, out.SnapshotUUID, out.HostUUID = vi.Volume, src.snapshotUUID, vi.HostUUID
	var vm models.VMInstance
	if vi.VMUUID != "" {
		if err := a.Store.Get(ctx, store.ResVMInstance, vi.VMUUID, &vm); err != nil {
			return out, wrap(err)
		}
		switch vm.State {
		case models.VMStopped:
		case models.VMRunning, models.VMPaused:
			// The image is read from a live snapshot on the VM's host.
			out.HostUUID = vi.VMHostUUID
		default:
			return out, wrap(models.VMStateError(vm.UUID, vm.State, "createImage"))
		}
	}
	var host models.Host
	if err := a.Store.Get(ctx, store.ResHost, out.HostUUID, &host); err != nil {
		return out, wrap(err)
	}
	if out.Targets, err = a.imageTargets(ctx, strs(args, "backupStorageUuids"), string(vi.Volume.PrimaryStorageUUID), host.HypervisorType); err != nil {
		return out, wrap(err)
	}
	img := models.Image{Base: base(args), State: models.StateEnabled, Status: imageCreating, Size: src.size, URL: src.url,
		MediaType: src.mediaType, Type: "zstack", Architecture: orDefault(str(args, "architecture"), orDefault(vm.Architecture, "x86_64")),
		Format: orDefault(vi.Volume.Format, "qcow2"), System: boolean(args, "system"), Virtio: boolean(args, "virtio")}
	if src.mediaType == "RootVolumeTemplate" {
		// As ZStack: the template boots like the VM it was made of.
		img.Platform = orDefault(str(args, "platform"), orDefault(vm.Platform, "Linux"))
		img.GuestOSType = models.Ref(orDefault(str(args, "guestOsType"), string(vm.GuestOSType)))
	}
	if err := a.Store.Create(ctx, store.ResImage, &img, img.UUID, p.Op.AccountUUID); err != nil && models.AsError(err).Kind != models.KindConflict {
		return out, wrap(err)
	}
	for _, t := range out.Targets {
		now := models.Now()
		ref := models.ImageBackupStorageRef{UUID: models.NameUUID(img.UUID, t.BSUUID), ImageUUID: img.UUID, BackupStorageUUID: t.BSUUID,
			Status: imageCreating, CreateDate: now, LastOpDate: now}
		if err := a.Store.Insert(ctx, store.ResImageBSRef, &ref); err != nil && models.AsError(err).Kind != models.KindConflict {
			return out, wrap(err)
		}
	}
	return out, wrap(a.tagImage(ctx, activities.AddImageParams{Op: p.Op, ImageUUID: img.UUID}))
}

// imageTargets checks the backup storages asked for, or picks the one
// with the most room among those of the primary storage's zone. A KVM host
// writes to ImageStore backup storage (picked when none is named) or Sftp
// backup storage, a simulated host to simulator backup storage.
func (a *Activities) imageTargets(ctx context.Context, bsUUIDs []string, psUUID, hypervisor string) ([]activities.ImageTarget, error) {
	want, also := bsapi.Type, SftpType
	if hypervisor == "Simulator" {
		want, also = bsSimulator, bsSimulator
	}
	if len(bsUUIDs) == 0 {
		var ps models.PrimaryStorage
		if err := a.Store.Get(ctx, store.ResPrimaryStorage, psUUID, &ps); err != nil {
			return nil, err
		}
		var bs string
		err := a.Store.DB().GetContext(ctx, &bs, `SELECT b.uuid FROM backup_storages b JOIN backup_storage_zone_refs z ON z.backup_storage_uuid = b.uuid
			WHERE z.zone_uuid = ? AND b.type = ? AND b.state = ? AND b.status = ? ORDER BY b.available_capacity DESC, b.uuid LIMIT 1`,
			ps.ZoneUUID, want, models.StateEnabled, models.StatusConnected)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, models.Unavailable("no Enabled, Connected %s is attached to zone[uuid:%s]", want, ps.ZoneUUID).WithCode(models.CodeAllocation)
		}
		if err != nil {
			return nil, err
		}
		bsUUIDs = []string{bs}
	}
	var out []activities.ImageTarget
	for _, b := range bsUUIDs {
		var bs models.BackupStorage
		if err := mustExist(ctx, a, store.ResBackupStorage, b, &bs); err != nil {
			return nil, err
		}
		switch {
		case bs.Type != want && bs.Type != also:
			return nil, &models.Error{Kind: models.KindInvalid, Code: models.CodeOperation,
				Message: "not supported: an image of a volume on a " + hypervisor + " host in backup storage of type " + bs.Type,
				Details: "KVM hosts upload to ImageStore or Sftp backup storage, simulated hosts to simulator backup storage"}
		case bs.State != models.StateEnabled || bs.Status != models.StatusConnected:
			return nil, models.Unavailable("backup storage[uuid:%s] is %s/%s, not Enabled/Connected", b, bs.State, bs.Status)
		}
		if !slices.ContainsFunc(out, func(t activities.ImageTarget) bool { return t.BSUUID == b }) {
			out = append(out, activities.ImageTarget{BSUUID: b, Agent: bsHasAgent(bs.Type), Sftp: bs.Type == SftpType})
		}
	}
	return out, nil
}

// ImageUploadToken makes a random upload token for a backup storage grant.
// It is in the workflow's history (as the grant's params are); the grant is
// for one image, expires, and is revoked when the upload is imported.
func (a *Activities) ImageUploadToken(_ context.Context, _ activities.ImageOpParams) (string, error) {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b), nil
}

// imageRefs lists an image's copies, on the backup storages named (all when
// none is); naming one that holds no copy is invalid.
func (a *Activities) imageRefs(ctx context.Context, imageUUID string, bsUUIDs []string) ([]activities.ImageRef, error) {
	var rows []struct {
		BSUUID string `db:"backup_storage_uuid"`
		Status string `db:"status"`
		Type   string `db:"type"`
	}
	if err := a.Store.DB().SelectContext(ctx, &rows, `SELECT r.backup_storage_uuid, r.status, COALESCE(b.type, '') AS type
		FROM image_backup_storage_refs r LEFT JOIN backup_storages b ON b.uuid = r.backup_storage_uuid
		WHERE r.image_uuid = ? ORDER BY r.create_date, r.uuid`, imageUUID); err != nil {
		return nil, err
	}
	out := []activities.ImageRef{}
	for _, r := range rows {
		if len(bsUUIDs) == 0 || slices.Contains(bsUUIDs, r.BSUUID) {
			out = append(out, activities.ImageRef{BSUUID: r.BSUUID, Status: r.Status, Agent: bsHasAgent(r.Type)})
		}
	}
	for _, b := range bsUUIDs {
		if !slices.ContainsFunc(out, func(r activities.ImageRef) bool { return r.BSUUID == b }) {
			return nil, models.Invalid("image[uuid:%s] is not on backup storage[uuid:%s]", imageUUID, b)
		}
	}
	return out, nil
}

// ImageInfo tells the image workflows an image's status and its copies.
func (a *Activities) ImageInfo(ctx context.Context, p activities.ImageOpParams) (activities.ImageInfoResult, error) {
	var img models.Image
	if err := a.Store.Get(ctx, store.ResImage, p.ImageUUID, &img); err != nil {
		return activities.ImageInfoResult{}, wrap(err)
	}
	refs, err := a.imageRefs(ctx, img.UUID, p.BSUUIDs)
	if err != nil {
		return activities.ImageInfoResult{}, wrap(err)
	}
	return activities.ImageInfoResult{Status: img.Status, MediaType: img.MediaType, Refs: refs}, nil
}

// ImageSetStatus sets the status of an image's copies, then the image's:
// Ready while a copy is, Deleted once every copy is.
func (a *Activities) ImageSetStatus(ctx context.Context, p activities.ImageStatusParams) error {
	refs, err := a.imageRefs(ctx, p.ImageUUID, p.BSUUIDs)
	if err != nil {
		return wrap(err)
	}
	now := models.Now()
	for _, r := range refs {
		if _, err := a.Store.DB().ExecContext(ctx, `UPDATE image_backup_storage_refs SET status = ?, last_op_date = ?
			WHERE image_uuid = ? AND backup_storage_uuid = ?`, p.Status, now, p.ImageUUID, r.BSUUID); err != nil {
			return wrap(err)
		}
	}
	return wrap(a.syncImageStatus(ctx, p.ImageUUID))
}

// syncImageStatus derives an image's status from its copies': Ready when
// one is Ready, Deleted when all are Deleted.
func (a *Activities) syncImageStatus(ctx context.Context, imageUUID string) error {
	refs, err := a.imageRefs(ctx, imageUUID, nil)
	if err != nil || len(refs) == 0 {
		return err
	}
	status := models.ImageDeleted
	for _, r := range refs {
		if r.Status == models.ImageReady {
			status = models.ImageReady
		} else if r.Status != models.ImageDeleted {
			return nil // still being made
		}
	}
	return a.Store.Update(ctx, store.ResImage, imageUUID, map[string]any{"status": status})
}

// ImageCheckExpunge refuses to expunge the last copies of an image (those
// on the backup storages named) while it is needed: the ISO in a VM's
// CD-ROM drive, or the image of a virtual router offering (its routers are
// made of it).
func (a *Activities) ImageCheckExpunge(ctx context.Context, p activities.ImageOpParams) error {
	refs, err := a.imageRefs(ctx, p.ImageUUID, nil)
	if err != nil {
		return wrap(err)
	}
	if slices.ContainsFunc(refs, func(r activities.ImageRef) bool { return !slices.Contains(p.BSUUIDs, r.BSUUID) }) {
		return nil // copies elsewhere remain
	}
	n, err := a.Store.Count(ctx, "system_tags", "tag = ?", activities.ISOTag+p.ImageUUID)
	if err != nil {
		return wrap(err)
	}
	if n > 0 {
		return wrap(models.Conflict("image[uuid:%s] is in the CD-ROM of %d vm(s); detach it first", p.ImageUUID, n))
	}
	if n, err = a.Store.Count(ctx, "virtual_router_offerings", "image_uuid = ?", p.ImageUUID); err != nil {
		return wrap(err)
	}
	if n > 0 {
		return wrap(models.Conflict("image[uuid:%s] is the image of %d virtual router offering(s); delete them first", p.ImageUUID, n))
	}
	return nil
}

// ImageDeleteRef removes one backup storage's copy of an image from the
// records, and the image with its last copy.
func (a *Activities) ImageDeleteRef(ctx context.Context, p activities.ImageRefParams) error {
	if _, err := a.Store.DB().ExecContext(ctx, `DELETE FROM image_backup_storage_refs WHERE image_uuid = ? AND backup_storage_uuid = ?`,
		p.ImageUUID, p.BSUUID); err != nil {
		return wrap(err)
	}
	n, err := a.Store.Count(ctx, "image_backup_storage_refs", "image_uuid = ?", p.ImageUUID)
	if err != nil || n > 0 {
		return wrap(err)
	}
	return wrap(a.Store.Delete(ctx, store.ResImage, p.ImageUUID))
}

// ImageDeletePolicy returns the global image.deletionPolicy.
func (a *Activities) ImageDeletePolicy(ctx context.Context, _ activities.ImageOpParams) (string, error) {
	return a.Store.GlobalConfigValue(ctx, "image", "deletionPolicy", models.DeletePolicyDelay), nil
}

// imageURL is where hostUUID fetches an image: a backup storage's copy,
// else (simulator backup storage) its record's URL.
func (a *Activities) imageURL(ctx context.Context, img models.Image, hostUUID string) (string, error) {
	return a.imageFetchURL(ctx, img.UUID, hostUUID, img.URL)
}

// createVolumeFromTemplateRecord records a data volume made of a data
// volume template on a primary storage (and host: the one asked for, which
// a local storage needs, else a Connected host of a cluster the storage
// is attached to), taking its capacity; the host instantiates it next.
func createVolumeFromTemplateRecord(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	var img models.Image
	if err := mustExist(ctx, a, store.ResImage, str(args, "imageUuid"), &img); err != nil {
		return activities.Result{}, err
	}
	if img.MediaType != "DataVolumeTemplate" {
		return activities.Result{}, models.Invalid("image[uuid:%s] is a %s; a data volume is made of a DataVolumeTemplate", img.UUID, img.MediaType)
	}
	if img.Status != models.ImageReady || img.State != models.StateEnabled {
		return activities.Result{}, models.Invalid("image[uuid:%s] is %s/%s, not Enabled/Ready", img.UUID, img.State, img.Status)
	}
	var ps models.PrimaryStorage
	if err := mustExist(ctx, a, store.ResPrimaryStorage, str(args, "primaryStorageUuid"), &ps); err != nil {
		return activities.Result{}, err
	}
	if ps.State != models.StateEnabled || ps.Status != models.StatusConnected {
		return activities.Result{}, models.Unavailable("primary storage[uuid:%s] is %s/%s, not Enabled/Connected", ps.UUID, ps.State, ps.Status)
	}
	n, err := a.Store.Count(ctx, "image_backup_storage_refs r JOIN backup_storage_zone_refs z ON z.backup_storage_uuid = r.backup_storage_uuid",
		"r.image_uuid = ? AND r.status = ? AND z.zone_uuid = ?", img.UUID, models.ImageReady, ps.ZoneUUID)
	if err != nil {
		return activities.Result{}, err
	}
	if n == 0 {
		return activities.Result{}, models.Invalid("image[uuid:%s] is on no backup storage of zone[uuid:%s], where primary storage[uuid:%s] is", img.UUID, ps.ZoneUUID, ps.UUID)
	}
	host, err := a.templateHost(ctx, ps, str(args, "hostUuid"))
	if err != nil {
		return activities.Result{}, err
	}
	v := models.Volume{Base: base(args), PrimaryStorageUUID: models.Ref(ps.UUID), HostUUID: models.Ref(host), RootImageUUID: models.Ref(img.UUID),
		Type: models.VolumeData, Format: "qcow2", Size: img.Size, DeviceID: -1, State: models.StateEnabled, Status: models.VolumeCreating}
	if err := a.Store.CreateVolume(ctx, &v, p.AccountUUID); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResVolume, v.UUID)
}

// templateHost is the host that instantiates a volume on ps: hostUUID when
// given (it must reach ps), else the first Connected, Enabled host that
// does; a local storage needs it named, as in ZStack.
func (a *Activities) templateHost(ctx context.Context, ps models.PrimaryStorage, hostUUID string) (string, error) {
	if hostUUID == "" && ps.Type == store.PSLocalStorage {
		return "", models.Invalid("hostUuid is required for a volume on local storage[uuid:%s]", ps.UUID)
	}
	q := `SELECT h.uuid FROM hosts h JOIN primary_storage_cluster_refs r ON r.cluster_uuid = h.cluster_uuid
		WHERE r.primary_storage_uuid = ? AND h.status = ? AND h.state = ?`
	qargs := []any{ps.UUID, models.StatusConnected, models.StateEnabled}
	if hostUUID != "" {
		q += ` AND h.uuid = ?`
		qargs = append(qargs, hostUUID)
	}
	var host string
	err := a.Store.DB().GetContext(ctx, &host, q+` ORDER BY h.uuid LIMIT 1`, qargs...)
	if errors.Is(err, sql.ErrNoRows) {
		if hostUUID != "" {
			return "", models.Invalid("host[uuid:%s] is not a Connected, Enabled host of a cluster primary storage[uuid:%s] is attached to", hostUUID, ps.UUID)
		}
		return "", models.Unavailable("no Connected, Enabled host reaches primary storage[uuid:%s]", ps.UUID).WithCode(models.CodeAllocation)
	}
	return host, err
}

// TemplateVolumeInfo is VolumeInfo with the image a volume is made of and
// where hosts fetch it, for instantiating a volume made of a template.
func (a *Activities) TemplateVolumeInfo(ctx context.Context, p activities.VolumeRef) (activities.VolumeInfoResult, error) {
	vi, err := a.VolumeInfo(ctx, p)
	if err != nil {
		return vi, err
	}
	var v models.Volume
	if err := a.Store.Get(ctx, store.ResVolume, p.VolumeUUID, &v); err != nil {
		return vi, wrap(err)
	}
	var img models.Image
	if err := a.Store.Get(ctx, store.ResImage, string(v.RootImageUUID), &img); err != nil {
		return vi, wrap(err)
	}
	url, err := a.imageURL(ctx, img, vi.HostUUID)
	if err != nil {
		return vi, wrap(err)
	}
	vi.Volume.ImageUUID, vi.Volume.ImageURL = img.UUID, url
	return vi, nil
}
