package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// Workflows of images made from volumes and snapshots, volumes made from
// data volume templates, and the image delete, recover, expunge lifecycle.
const (
	ImageFromVolume    = "zcloud.CreateImageFromVolume"
	VolumeFromTemplate = "zcloud.CreateDataVolumeFromVolumeTemplate"
	DeleteImage        = "zcloud.DeleteImage"
	RecoverImage       = "zcloud.RecoverImage"
	ExpungeImage       = "zcloud.ExpungeImage"
)

// uploadGrantTTL is how long a backup storage accepts the upload of an
// image made from a volume.
const uploadGrantTTL = 6 * time.Hour

// RegisterImages registers the image workflows.
func RegisterImages(w workflowRegistry) {
	for name, fn := range map[string]any{
		ImageFromVolume:    CreateImageFromVolumeWorkflow,
		VolumeFromTemplate: CreateDataVolumeFromVolumeTemplateWorkflow,
		DeleteImage:        DeleteImageWorkflow,
		RecoverImage:       RecoverImageWorkflow,
		ExpungeImage:       ExpungeImageWorkflow,
	} {
		w.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
}

// CreateImageFromVolumeWorkflow makes an image (root volume or data volume
// template) of a volume or a snapshot: recorded Creating, then for each
// backup storage the host holding the volume writes a standalone qcow2 of
// it (through a temporary snapshot when the volume is taken as it is, so a
// running VM is copied live) and uploads it (over HTTP with a one-image
// grant, or over SFTP to an Sftp backup storage), the backup storage's
// agent takes it in and its copy is recorded; Ready once all are. Any
// failure removes the uploaded copies, the temporary snapshot and the
// records.
func CreateImageFromVolumeWorkflow(ctx workflow.Context, p activities.ImageFromVolumeParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var src activities.ImageSourceResult
	if err = local(ctx, activities.ImageFromVolumeRecord, p, &src); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.ImageDeleteRecord, activities.InventoryParams{UUID: p.ImageUUID}, nil)
	})
	for _, t := range src.Targets {
		if err = imageToBackupStorage(ctx, &s, p.ImageUUID, src, t); err != nil {
			return res, err
		}
	}
	for _, t := range src.Targets {
		if t.Agent {
			refreshBSCapacity(ctx, t.BSUUID)
		}
	}
	return inventory(ctx, "Image", p.ImageUUID, "inventory")
}

// imageToBackupStorage writes one backup storage's copy of an image made
// of a volume and records it.
func imageToBackupStorage(ctx workflow.Context, s *saga, imageUUID string, src activities.ImageSourceResult, t activities.ImageTarget) error {
	up := hostapi.UploadVolumeImageParams{Volume: src.Volume, SnapshotUUID: src.SnapshotUUID, ImageUUID: imageUUID}
	if t.Agent {
		// Deleting the image also removes a file written but not taken in.
		s.add(func(ctx workflow.Context) error {
			return workflow.ExecuteActivity(bsCtx(ctx, t.BSUUID, bsapi.StartToClose), bsapi.ActDeleteImage,
				bsapi.DeleteImageParams{BackupStorageUUID: t.BSUUID, ImageUUID: imageUUID}).Get(ctx, nil)
		})
		if err := uploadDestination(ctx, &up, src.HostUUID, t); err != nil {
			return err
		}
	}
	if src.SnapshotUUID == "" {
		// The host's temporary snapshot is named by the image.
		s.add(func(ctx workflow.Context) error {
			return onHost(ctx, src.HostUUID, hostapi.ActDeleteVolumeSnapshot, hostapi.DeleteVolumeSnapshotParams{Volume: src.Volume, SnapshotUUID: imageUUID}, nil)
		})
	}
	var made hostapi.UploadVolumeImageResult
	uctx := workflow.WithStartToCloseTimeout(hostCtx(ctx, src.HostUUID), bsapi.DownloadStartToClose)
	if err := workflow.ExecuteActivity(uctx, hostapi.ActUploadVolumeImage, up).Get(ctx, &made); err != nil {
		return err
	}
	rec := activities.ImageDownloadedParams{ImageUUID: imageUUID, BSUUID: t.BSUUID, InstallURL: "sim://" + t.BSUUID + "/" + imageUUID,
		Format: made.Format, Size: made.Size, ActualSize: made.ActualSize, MD5Sum: made.MD5Sum}
	if t.Agent {
		imp := bsapi.ImportFileParams{BackupStorageUUID: t.BSUUID, ImageUUID: imageUUID}
		if t.Sftp {
			imp.Written = &bsapi.WrittenFile{ActualSize: made.ActualSize, MD5Sum: made.MD5Sum}
		}
		var img bsapi.ImageResult
		if err := workflow.ExecuteActivity(bsCtx(ctx, t.BSUUID, bsapi.StartToClose), bsapi.ActImportFile, imp).Get(ctx, &img); err != nil {
			return err
		}
		rec = activities.ImageDownloadedParams{ImageUUID: imageUUID, BSUUID: t.BSUUID, InstallURL: img.InstallURL, InstallPath: img.InstallPath,
			Format: img.Format, Size: img.Size, ActualSize: img.ActualSize, MD5Sum: img.MD5Sum}
	}
	return local(ctx, activities.ImageRecordDownloaded, rec, nil)
}

// uploadDestination tells the host where to put the image: an ImageStore
// agent grants an HTTP upload with a one-image token; an Sftp backup
// storage's host is written to over SFTP, at the image's partial file in
// its directory, with the backup storage's key sealed to the host.
func uploadDestination(ctx workflow.Context, up *hostapi.UploadVolumeImageParams, hostUUID string, t activities.ImageTarget) error {
	if t.Sftp {
		return local(ctx, activities.SftpBSUploadURL, activities.SftpUploadParams{BSUUID: t.BSUUID, ImageUUID: up.ImageUUID, HostUUID: hostUUID}, &up.UploadURL)
	}
	if err := local(ctx, activities.ImageUploadToken, activities.ImageOpParams{ImageUUID: up.ImageUUID}, &up.Token); err != nil {
		return err
	}
	var grant bsapi.AllowUploadResult
	if err := workflow.ExecuteActivity(bsCtx(ctx, t.BSUUID, bsapi.StartToClose), bsapi.ActAllowUpload, bsapi.AllowUploadParams{
		BackupStorageUUID: t.BSUUID, ImageUUID: up.ImageUUID, Token: up.Token, ExpiresAt: workflow.Now(ctx).Add(uploadGrantTTL),
	}).Get(ctx, &grant); err != nil {
		return err
	}
	up.UploadURL = grant.UploadURL
	return nil
}

// VolumeFromTemplateParams makes a data volume of a data volume template:
// the record's operation (it carries the new volume's UUID) and the UUID.
type VolumeFromTemplateParams struct {
	Op         activities.OpParams `json:"op"`
	VolumeUUID string              `json:"volumeUuid"`
}

// CreateDataVolumeFromVolumeTemplateWorkflow records a data volume of a
// template's size on a primary storage and host, taking its capacity, and
// has the host instantiate it on the template, which the host fetches into
// its image cache as it does a root volume's image. Any failure removes
// the file and the record.
func CreateDataVolumeFromVolumeTemplateWorkflow(ctx workflow.Context, p VolumeFromTemplateParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	if err = local(ctx, activities.RunOp, p.Op, nil); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.VolumeDeleteRecord, activities.VolumeRef{VolumeUUID: p.VolumeUUID}, nil)
	})
	var vi activities.VolumeInfoResult
	if err = local(ctx, activities.TemplateVolumeInfo, activities.VolumeRef{VolumeUUID: p.VolumeUUID}, &vi); err != nil {
		return res, err
	}
	if err = instantiate(ctx, &s, vi.HostUUID, vi.Volume); err != nil {
		return res, err
	}
	return inventory(ctx, "Volume", p.VolumeUUID, "inventory")
}

func imageInfo(ctx workflow.Context, p activities.ImageOpParams) (activities.ImageInfoResult, error) {
	var info activities.ImageInfoResult
	err := local(ctx, activities.ImageInfo, p, &info)
	return info, err
}

// DeleteImageWorkflow deletes an image from the backup storages named (all
// when none is) per image.deletionPolicy: Delay and Never mark the copies
// Deleted (recoverable; the image is Deleted when all its copies are),
// Direct expunges them at once. An image still being made or downloaded
// is refused; a missing one is deleted already.
func DeleteImageWorkflow(ctx workflow.Context, p activities.ImageOpParams) (res activities.Result, err error) {
	info, err := imageInfo(ctx, p)
	if err != nil {
		if businessKind(err) == models.KindNotFound {
			return activities.Result{}, nil
		}
		return res, err
	}
	if info.Status != models.ImageReady && info.Status != models.ImageDeleted {
		return res, businessError(models.Conflict("image[uuid:%s] is %s; delete it once it is Ready", p.ImageUUID, info.Status))
	}
	var policy string
	if err = local(ctx, activities.ImageDeletePolicy, p, &policy); err != nil {
		return res, err
	}
	if policy == models.DeletePolicyDirect {
		return activities.Result{}, expungeImage(ctx, p.ImageUUID, info.Refs)
	}
	err = local(ctx, activities.ImageSetStatus, activities.ImageStatusParams{ImageUUID: p.ImageUUID, BSUUIDs: p.BSUUIDs, Status: models.ImageDeleted}, nil)
	return activities.Result{}, err
}

// deletedRefs are the copies among refs that were deleted; none is an
// error naming what the caller must do first.
func deletedRefs(imageUUID string, refs []activities.ImageRef, op string) ([]activities.ImageRef, error) {
	var out []activities.ImageRef
	for _, r := range refs {
		if r.Status == models.ImageDeleted {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, businessError(models.Invalid("image[uuid:%s] is not deleted on the backup storages named; %s takes a deleted image", imageUUID, op))
	}
	return out, nil
}

// RecoverImageWorkflow brings the Deleted copies of an image on the backup
// storages named (all when none is) back to Ready, and the image with them.
func RecoverImageWorkflow(ctx workflow.Context, p activities.ImageOpParams) (res activities.Result, err error) {
	info, err := imageInfo(ctx, p)
	if err != nil {
		return res, err
	}
	refs, err := deletedRefs(p.ImageUUID, info.Refs, "recover")
	if err != nil {
		return res, err
	}
	var bss []string
	for _, r := range refs {
		bss = append(bss, r.BSUUID)
	}
	if err = local(ctx, activities.ImageSetStatus, activities.ImageStatusParams{ImageUUID: p.ImageUUID, BSUUIDs: bss, Status: models.ImageReady}, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "Image", p.ImageUUID, "inventory")
}

// ExpungeImageWorkflow removes the Deleted copies of an image on the
// backup storages named (all when none is) for good: the files on the
// backup storages, then the records; the image goes with its last copy.
func ExpungeImageWorkflow(ctx workflow.Context, p activities.ImageOpParams) (res activities.Result, err error) {
	info, err := imageInfo(ctx, p)
	if err != nil {
		return res, err
	}
	for _, r := range info.Refs {
		if len(p.BSUUIDs) > 0 && r.Status != models.ImageDeleted {
			return res, businessError(models.Invalid("image[uuid:%s] is %s on backup storage[uuid:%s]; delete it first", p.ImageUUID, r.Status, r.BSUUID))
		}
	}
	refs, err := deletedRefs(p.ImageUUID, info.Refs, "expunge")
	if err != nil {
		return res, err
	}
	return activities.Result{}, expungeImage(ctx, p.ImageUUID, refs)
}

// expungeImage removes copies of an image: each file from its backup
// storage, then its record (the image's with the last). Each step is
// idempotent, so an expunge that failed half way is done again by
// expunging again.
func expungeImage(ctx workflow.Context, imageUUID string, refs []activities.ImageRef) error {
	check := activities.ImageOpParams{ImageUUID: imageUUID}
	for _, r := range refs {
		check.BSUUIDs = append(check.BSUUIDs, r.BSUUID)
	}
	if err := local(ctx, activities.ImageCheckExpunge, check, nil); err != nil {
		return err
	}
	for _, r := range refs {
		if r.Agent {
			if err := workflow.ExecuteActivity(bsCtx(ctx, r.BSUUID, bsapi.StartToClose), bsapi.ActDeleteImage,
				bsapi.DeleteImageParams{BackupStorageUUID: r.BSUUID, ImageUUID: imageUUID}).Get(ctx, nil); err != nil {
				return err
			}
		}
		if err := local(ctx, activities.ImageDeleteRef, activities.ImageRefParams{ImageUUID: imageUUID, BSUUID: r.BSUUID}, nil); err != nil {
			return err
		}
		if r.Agent {
			refreshBSCapacity(ctx, r.BSUUID)
		}
	}
	return nil
}
