package aliyun

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// syncConfigs are the global configs of the hybrid cloud.
var syncConfigs = []models.GlobalConfig{
	{Category: "hybrid", Name: "sync.interval", DefaultValue: "300", Description: "seconds between two syncs of a hybrid data center"},
}

// EnsureGlobalConfigs registers the global configs this package reads.
func (a *Activities) EnsureGlobalConfigs(ctx context.Context) error {
	for _, g := range syncConfigs {
		if err := a.store.EnsureGlobalConfig(ctx, g); err != nil {
			return err
		}
	}
	return nil
}

// SyncInfo tells a data center's sync loop whether the data center still
// exists, whose AccessKey syncs it (its owner's current key), the
// interval and the VPCs it holds.
func (a *Activities) SyncInfo(ctx context.Context, p workflows.SyncLoopParams) (workflows.SyncInfo, error) {
	var info workflows.SyncInfo
	ok, err := a.store.Exists(ctx, store.ResDataCenter, p.DataCenterUUID)
	if err != nil || !ok {
		return info, err
	}
	info.Exists = true
	if info.AccountUUID, err = a.store.Owner(ctx, p.DataCenterUUID); err != nil {
		return info, wrap(err)
	}
	if n, err := strconv.Atoi(a.store.GlobalConfigValue(ctx, "hybrid", "sync.interval", "300")); err == nil && n > 0 {
		info.Interval = time.Duration(n) * time.Second
	}
	if err := a.store.DB().SelectContext(ctx, &info.VpcUUIDs, "SELECT uuid FROM ecs_vpcs WHERE data_center_uuid = ? ORDER BY uuid", p.DataCenterUUID); err != nil {
		return info, fmt.Errorf("list vpcs of data center %s: %w", p.DataCenterUUID, err)
	}
	return info, nil
}

// StartSyncLoops starts the sync loop of every data center that has none
// running (on control-plane start; AddDataCenter starts the loop of a new
// one). Starting a loop that runs already is no error.
func StartSyncLoops(ctx context.Context, c client.Client, st *store.Store) error {
	var dcs []string
	if err := st.DB().SelectContext(ctx, &dcs, "SELECT uuid FROM data_centers ORDER BY uuid"); err != nil {
		return fmt.Errorf("list data centers: %w", err)
	}
	for _, dc := range dcs {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.SyncLoopWorkflowID(dc), TaskQueue: activities.TaskQueue,
			WorkflowExecutionErrorWhenAlreadyStarted: true}, workflows.HybridSyncLoop, workflows.SyncLoopParams{DataCenterUUID: dc})
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if err != nil && !errors.As(err, &started) {
			return fmt.Errorf("start sync loop of data center %s: %w", dc, err)
		}
	}
	return nil
}
