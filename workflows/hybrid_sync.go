package workflows

import (
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
)

// The periodic sync of a hybrid data center: one long-running workflow per
// data center (not per AccessKey: a data center is what the Sync APIs take,
// and it outlives a change of the current key) that keeps its inventory
// current, the way HostPingWorkflow keeps a host's state current.

// HybridSyncLoop is the workflow that syncs one data center periodically.
const HybridSyncLoop = "zcloud.HybridSyncLoop"

// ActAliyunSyncInfo tells the sync loop whether its data center still
// exists, whose key syncs it, how long to sleep and which VPCs it holds.
const ActAliyunSyncInfo = "aliyun.SyncInfo"

// SyncLoopParams names the data center a sync loop keeps current.
type SyncLoopParams struct {
	DataCenterUUID string `json:"dataCenterUuid"`
}

// SyncInfo is what a sync round needs to know of its data center.
type SyncInfo struct {
	Exists      bool          `json:"exists"`
	AccountUUID string        `json:"accountUuid"`
	Interval    time.Duration `json:"interval"`
	VpcUUIDs    []string      `json:"vpcUuids,omitempty"`
}

// SyncLoopWorkflowID is the ID of a data center's sync loop: one per data
// center.
func SyncLoopWorkflowID(dcUUID string) string { return "hybrid-sync-" + dcUUID }

// syncLoopRounds bounds a sync loop's history before continue-as-new.
const syncLoopRounds = 100

// defaultSyncInterval is hybrid.sync.interval's default.
const defaultSyncInterval = 300 * time.Second

// afterNetworkKinds are synced every round after the VPCs, VSwitches and
// security groups they refer to, in this order (connections after their
// gateways).
var afterNetworkKinds = []string{KindInstance, KindEip, KindVpnGateway, KindUserGateway, KindVpnConnection}

// HybridSyncLoopWorkflow syncs a data center's VPCs, VSwitches, security
// groups, ECS instances, EIPs, VPN gateways, customer gateways and VPN
// connections every hybrid.sync.interval seconds (read before each sleep,
// so a change applies from the next round), until the data center is
// deleted. It sleeps first: the data center was just added or synced by
// hand; a wake signal syncs at once. A failed sync is logged and tried
// again next round.
func HybridSyncLoopWorkflow(ctx workflow.Context, p SyncLoopParams) error {
	wake := workflow.GetSignalChannel(ctx, WakeSignal)
	for i := 0; i < syncLoopRounds; i++ {
		var info SyncInfo
		if err := local(ctx, ActAliyunSyncInfo, p, &info); err != nil {
			return err
		}
		if !info.Exists {
			return nil
		}
		if info.Interval <= 0 {
			info.Interval = defaultSyncInterval
		}
		tctx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(workflow.NewTimer(tctx, info.Interval), func(workflow.Future) {})
		sel.AddReceive(wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.Select(ctx)
		cancel()
		exists, err := syncDataCenterRound(ctx, p.DataCenterUUID)
		if err != nil || !exists {
			return err
		}
	}
	return workflow.NewContinueAsNewError(ctx, HybridSyncLoop, p)
}

// syncDataCenterRound runs the Sync activity for every kind of the data
// center with its owner's current AccessKey; one kind failing does not
// stop the others. It answers false when the data center is gone.
func syncDataCenterRound(ctx workflow.Context, dcUUID string) (bool, error) {
	ref := SyncLoopParams{DataCenterUUID: dcUUID}
	var info SyncInfo
	if err := local(ctx, ActAliyunSyncInfo, ref, &info); err != nil || !info.Exists {
		return false, err
	}
	logger := workflow.GetLogger(ctx)
	run := func(what string, args map[string]any) {
		p := HybridParams{What: what, AccountUUID: info.AccountUUID, Args: args}
		if err := workflow.ExecuteActivity(waitCtx(ctx), ActAliyunSync, p).Get(ctx, nil); err != nil {
			logger.Warn("periodic hybrid sync failed", "data_center_uuid", dcUUID, "what", what, "error", err)
		}
	}
	dcArgs := map[string]any{"dataCenterUuid": dcUUID}
	run(KindVpc, dcArgs)
	run(KindVSwitch, dcArgs)
	// Security groups are synced per VPC, so after the VPCs.
	if err := local(ctx, ActAliyunSyncInfo, ref, &info); err != nil || !info.Exists {
		return false, err
	}
	for _, vpcUUID := range info.VpcUUIDs {
		run(KindSecurityGroup, map[string]any{"ecsVpcUuid": vpcUUID})
	}
	for _, kind := range afterNetworkKinds {
		run(kind, dcArgs)
	}
	return true, nil
}

// startSyncLoop starts a data center's sync loop, unless it runs already.
func startSyncLoop(ctx workflow.Context, dcUUID string) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            SyncLoopWorkflowID(dcUUID),
		ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TaskQueue:             activities.TaskQueue,
	})
	f := workflow.ExecuteChildWorkflow(cctx, HybridSyncLoop, SyncLoopParams{DataCenterUUID: dcUUID})
	// Wait only until it has started; "already started" means it is alive.
	_ = f.GetChildWorkflowExecution().Get(ctx, nil)
}
