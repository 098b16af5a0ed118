package hostworker

import (
	"context"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// CleanUpImageCache is hostapi.ActCleanUpImageCache.
func (a *Agent) CleanUpImageCache(ctx context.Context, p hostapi.CleanUpImageCacheParams) (hostapi.CleanUpImageCacheResult, error) {
	const op = hostapi.ActCleanUpImageCache
	if p.PrimaryStorageUUID == "" {
		return hostapi.CleanUpImageCacheResult{}, a.fail(op, models.Invalid("primary storage uuid is empty"))
	}
	return call(ctx, a, op, "", a.driver.CleanUpImageCache)
}
