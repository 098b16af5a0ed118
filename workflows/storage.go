package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/models"
)

// Backup storage and image workflow names.
const (
	AddBackupStorage    = "zcloud.AddBackupStorage"
	DeleteBackupStorage = "zcloud.DeleteBackupStorage"
	AddImage            = "zcloud.AddImage"
	ReconnectBS         = "zcloud.ReconnectBackupStorage"
	AttachPS            = "zcloud.AttachPrimaryStorageToCluster"
)

// AddBSParams adds a backup storage with an agent: the database operation
// that records it, and its UUID.
type AddBSParams struct {
	Op     activities.OpParams `json:"op"`
	BSUUID string              `json:"backupStorageUuid"`
}

// bsCtx routes activities to one backup storage's agent.
func bsCtx(ctx workflow.Context, bsUUID string, startToClose time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              bsapi.Queue(bsUUID),
		ScheduleToStartTimeout: bsapi.ScheduleToStart,
		StartToCloseTimeout:    startToClose,
		HeartbeatTimeout:       bsapi.HeartbeatTimeout,
		WaitForCancellation:    true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second,
			MaximumAttempts: 5,
			NonRetryableErrorTypes: []string{bsapi.ErrTypeInvalid, bsapi.ErrTypeNotFound, bsapi.ErrTypeConflict,
				bsapi.ErrTypeSourceNotFound, bsapi.ErrTypeSourceRefused, bsapi.ErrTypeBadImage, bsapi.ErrTypeNoSpace,
				bsapi.ErrTypeUnsupported, activities.ErrType},
		},
	})
}

// AddBackupStorageWorkflow adds an ImageStore backup storage: record it,
// deploy its agent over SSH, connect to the agent on its queue and record
// its capacity. Any failure removes what was done.
func AddBackupStorageWorkflow(ctx workflow.Context, p AddBSParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	ref, err := recordBS(ctx, &s, p)
	if err != nil {
		return res, err
	}
	if err = connectBS(ctx, &s, ref); err != nil {
		return res, err
	}
	return inventory(ctx, "BackupStorage", p.BSUUID, "inventory")
}

// recordBS records a backup storage being added; s deletes the record.
func recordBS(ctx workflow.Context, s *saga, p AddBSParams) (activities.BSRef, error) {
	ref := activities.BSRef{BSUUID: p.BSUUID}
	if err := local(ctx, activities.RunOp, p.Op, nil); err != nil {
		return ref, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.RunOp, activities.OpParams{Op: "DeleteBackupStorageRecord", Args: []byte(`{"uuid":"` + p.BSUUID + `"}`)}, nil)
	})
	return ref, nil
}

// connectBS (re)deploys a backup storage's agent and records what it says.
func connectBS(ctx workflow.Context, s *saga, ref activities.BSRef) error {
	if s != nil {
		s.add(func(ctx workflow.Context) error {
			return workflow.ExecuteActivity(deployCtx(ctx), activities.BSUndeployAgent, ref).Get(ctx, nil)
		})
	}
	if err := workflow.ExecuteActivity(deployCtx(ctx), activities.BSDeployAgent, ref).Get(ctx, nil); err != nil {
		return err
	}
	// A freshly started agent needs a moment to reach Temporal.
	cctx := workflow.WithScheduleToStartTimeout(bsCtx(ctx, ref.BSUUID, bsapi.StartToClose), time.Minute)
	var c bsapi.ConnectResult
	if err := workflow.ExecuteActivity(cctx, bsapi.ActConnect, bsapi.ConnectParams{BackupStorageUUID: ref.BSUUID}).Get(ctx, &c); err != nil {
		return err
	}
	return local(ctx, activities.BSRecordConnect, activities.BSConnectParams{BSUUID: ref.BSUUID, AgentVersion: c.AgentVersion,
		URL: c.URL, TotalCapacity: c.TotalCapacity, AvailableCapacity: c.AvailableCapacity}, nil)
}

// DeleteBackupStorageWorkflow deletes a backup storage without images and
// removes its agent.
func DeleteBackupStorageWorkflow(ctx workflow.Context, p activities.BSRef) (res activities.Result, err error) {
	if err = local(ctx, activities.Inventory, activities.InventoryParams{Resource: "BackupStorage", UUID: p.BSUUID, Key: "inventory"}, nil); err != nil {
		if businessKind(err) == models.KindNotFound {
			return activities.Result{}, nil // deleting a missing backup storage succeeds
		}
		return res, err
	}
	if err = local(ctx, activities.RunOp, activities.OpParams{Op: "CheckBackupStorageDeletable", Args: []byte(`{"uuid":"` + p.BSUUID + `"}`)}, nil); err != nil {
		return res, err
	}
	if uerr := workflow.ExecuteActivity(deployCtx(ctx), activities.BSUndeployAgent, p).Get(ctx, nil); uerr != nil {
		workflow.GetLogger(ctx).Warn("could not remove the agent of a deleted backup storage", "bs_uuid", p.BSUUID, "error", uerr)
	}
	err = local(ctx, activities.RunOp, activities.OpParams{Op: "DeleteBackupStorageRecord", Args: []byte(`{"uuid":"` + p.BSUUID + `"}`)}, nil)
	return activities.Result{}, err
}

// AddImageWorkflow adds an image: recorded as Downloading, fetched by every
// backup storage with an agent (which heartbeats progress), Ready when all
// hold it. Any failure removes the copies and the record.
func AddImageWorkflow(ctx workflow.Context, p activities.AddImageParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var rec activities.ImageAddRecordResult
	if err = local(ctx, activities.ImageAddRecord, p, &rec); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.ImageDeleteRecord, activities.InventoryParams{UUID: p.ImageUUID}, nil)
	})
	// One copy after the other: a failure then leaves no download running
	// behind the compensations.
	for _, bs := range rec.AgentBSes {
		bs := bs
		s.add(func(ctx workflow.Context) error {
			return workflow.ExecuteActivity(bsCtx(ctx, bs, bsapi.StartToClose), bsapi.ActDeleteImage,
				bsapi.DeleteImageParams{BackupStorageUUID: bs, ImageUUID: p.ImageUUID}).Get(ctx, nil)
		})
		var img bsapi.ImageResult
		err = workflow.ExecuteActivity(bsCtx(ctx, bs, bsapi.DownloadStartToClose), bsapi.ActDownloadImage,
			bsapi.DownloadImageParams{BackupStorageUUID: bs, ImageUUID: p.ImageUUID, URL: rec.URL, Format: rec.Format}).Get(ctx, &img)
		if err != nil {
			return res, err
		}
		if err = local(ctx, activities.ImageRecordDownloaded, activities.ImageDownloadedParams{ImageUUID: p.ImageUUID, BSUUID: bs,
			InstallURL: img.InstallURL, InstallPath: img.InstallPath, Format: img.Format, Size: img.Size, ActualSize: img.ActualSize, MD5Sum: img.MD5Sum}, nil); err != nil {
			return res, err
		}
	}
	for _, bs := range rec.AgentBSes {
		refreshBSCapacity(ctx, bs)
	}
	return inventory(ctx, "Image", p.ImageUUID, "inventory")
}

// ReconnectBackupStorageWorkflow redeploys (when changed) and reconnects the
// agent of a backup storage.
func ReconnectBackupStorageWorkflow(ctx workflow.Context, p activities.BSRef) (activities.Result, error) {
	if err := connectBS(ctx, nil, p); err != nil {
		return activities.Result{}, err
	}
	return inventory(ctx, "BackupStorage", p.BSUUID, "inventory")
}

// AttachPSParams attaches a primary storage to a cluster.
type AttachPSParams struct {
	Op          activities.OpParams `json:"op"`
	PSUUID      string              `json:"primaryStorageUuid"`
	ClusterUUID string              `json:"clusterUuid"`
}

// AttachPrimaryStorageWorkflow attaches a primary storage to a cluster and
// has every Connected host of the cluster report its directory's capacity
// (a local storage's total is the sum of its hosts'). Any failure detaches.
func AttachPrimaryStorageWorkflow(ctx workflow.Context, p AttachPSParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	if err = local(ctx, activities.RunOp, p.Op, &res); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.RunOp, activities.OpParams{Op: "DetachPrimaryStorageFromCluster", Args: p.Op.Args}, nil)
	})
	var hosts []string
	if err = local(ctx, activities.ClusterHosts, activities.ClusterRef{ClusterUUID: p.ClusterUUID}, &hosts); err != nil {
		return res, err
	}
	for _, h := range hosts {
		if err = reportStorages(ctx, h); err != nil {
			return res, err
		}
	}
	return inventory(ctx, "PrimaryStorage", p.PSUUID, "inventory")
}
