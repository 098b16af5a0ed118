package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/bsapi"
)

// bsCapacityChange gates the capacity refresh after images are added to or
// expunged from a backup storage with an agent.
const bsCapacityChange = "2026-12-06-bs-capacity-refresh"

// refreshBSCapacity records the capacity a backup storage's agent reports
// of its file system now, rather than adding or subtracting image sizes:
// the figure stays true whatever else uses the file system. The image
// operation calling it has done its work, so a failure is only logged; the
// next image operation or reconnect records the figure.
func refreshBSCapacity(ctx workflow.Context, bsUUID string) {
	if workflow.GetVersion(ctx, bsCapacityChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	var c bsapi.Capacity
	err := workflow.ExecuteActivity(bsCtx(ctx, bsUUID, bsapi.StartToClose), bsapi.ActStats,
		bsapi.StatsParams{BackupStorageUUID: bsUUID}).Get(ctx, &c)
	if err == nil {
		err = local(ctx, activities.BSRecordCapacity, activities.BSCapacityParams{BSUUID: bsUUID,
			TotalCapacity: c.TotalCapacity, AvailableCapacity: c.AvailableCapacity}, nil)
	}
	if err != nil {
		workflow.GetLogger(ctx).Warn("backup storage capacity not refreshed", "bs_uuid", bsUUID, "error", err)
	}
}
