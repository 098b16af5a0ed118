package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
)

// Workflows of images and OSS buckets.
const (
	HybridCreateEcsImage = "zcloud.HybridCreateEcsImage"
	HybridRecord         = "zcloud.HybridRecord"
)

// uploadCtx runs an upload: long, heartbeating its progress.
func uploadCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           activities.TaskQueue,
		StartToCloseTimeout: 6 * time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumAttempts:        5,
			NonRetryableErrorTypes: []string{activities.ErrType},
		},
	})
}

// HybridCreateEcsImageWorkflow turns a local image into a custom ECS image:
// upload it into the data center's OSS bucket → ImportImage → wait until
// Available (the wait heartbeats Alibaba's progress) → record → remove the
// uploaded object. A failure removes the object and the imported image.
func HybridCreateEcsImageWorkflow(ctx workflow.Context, p HybridParams) (res HybridResult, err error) {
	var s saga
	defer func() {
		if err != nil {
			s.compensate(ctx)
		}
	}()
	var obj ObjectRef
	up := UploadParams{ImageUUID: argString(p.Args, "imageUuid"), DataCenterUUID: argString(p.Args, "dataCenterUuid"), AccountUUID: p.AccountUUID}
	if err = workflow.ExecuteActivity(uploadCtx(ctx), ActAliyunUploadImage, up).Get(ctx, &obj); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error { return remote(ctx, ActAliyunDeleteObject, obj, nil) })

	args := map[string]any{"dataCenterUuid": up.DataCenterUUID, "imageUuid": up.ImageUUID, "name": p.Args["name"],
		"description": p.Args["description"], "bucket": obj.Bucket, "object": obj.Object, "size": obj.Size, "md5": obj.MD5,
		"format": obj.Format, "platform": obj.Platform, "arch": obj.Arch}
	var ref RemoteRef
	if err = remote(ctx, ActAliyunCreate, HybridParams{What: KindImage, UUID: p.UUID, AccountUUID: p.AccountUUID, Args: args}, &ref); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return workflow.ExecuteActivity(waitCtx(ctx), ActAliyunDelete, ref).Get(ctx, nil)
	})
	if err = wait(ctx, WaitParams{Ref: ref, Want: []string{"Available"}}); err != nil {
		return res, err
	}
	if err = remote(ctx, ActAliyunRecord, RecordParams{Ref: ref, Args: args, SystemTags: p.SystemTags, UserTags: p.UserTags}, &res); err != nil {
		return res, err
	}
	// The object served the import; a failure to remove it leaves a file
	// in the user's bucket, not a broken image, so it does not fail the job.
	if cerr := remote(ctx, ActAliyunDeleteObject, obj, nil); cerr != nil {
		workflow.GetLogger(ctx).Warn("cannot remove the uploaded image object", "bucket", obj.Bucket, "object", obj.Object, "error", cerr)
	}
	return res, nil
}

// HybridRecordWorkflow records an existing remote resource (an OSS bucket
// added with AddOssBucketFromRemote): it must exist at Alibaba.
func HybridRecordWorkflow(ctx workflow.Context, p RecordParams) (HybridResult, error) {
	var r HybridResult
	err := remote(ctx, ActAliyunRecord, p, &r)
	return r, err
}

func argString(m map[string]any, k string) string {
	v, _ := m[k].(string)
	return v
}
