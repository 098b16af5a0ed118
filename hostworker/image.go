package hostworker

import (
	"context"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// UploadVolumeImage is hostapi.ActUploadVolumeImage; it heartbeats while
// the image is written and uploaded.
func (a *Agent) UploadVolumeImage(ctx context.Context, p hostapi.UploadVolumeImageParams) (hostapi.UploadVolumeImageResult, error) {
	const op = hostapi.ActUploadVolumeImage
	if err := a.checkVolume(op, p.Volume); err != nil {
		return hostapi.UploadVolumeImageResult{}, err
	}
	if !models.IsUUID(p.ImageUUID) {
		return hostapi.UploadVolumeImageResult{}, a.fail(op, models.Invalid("image uuid %q is not 32 hex characters", p.ImageUUID))
	}
	return call(ctx, a, op, "", func(ctx context.Context) (hostapi.UploadVolumeImageResult, error) {
		return a.driver.UploadVolumeImage(ctx, p)
	})
}
