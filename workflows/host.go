package workflows

import (
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// Hypervisor types (ZStack's names).
const (
	HypervisorSimulator = "Simulator"
	HypervisorKVM       = "KVM"
)

// HostPingParams configures a host's liveness loop.
type HostPingParams struct {
	HostUUID string        `json:"hostUuid"`
	Interval time.Duration `json:"interval"`
	// Incarnation is the agent's as of the last ping (a change means it
	// restarted).
	Incarnation string `json:"incarnation,omitempty"`
}

// AddHostParams adds a host: the database operation that records it, and
// the UUID it gets.
type AddHostParams struct {
	Op       activities.OpParams `json:"op"`
	HostUUID string              `json:"hostUuid"`
}

// PingWorkflowID is the ID of a host's liveness workflow: one per host.
func PingWorkflowID(hostUUID string) string { return "host-ping-" + hostUUID }

// WakeSignal makes a host's liveness loop ping at once.
const WakeSignal = "wake"

// pingIterations bounds a liveness run's history before continue-as-new.
const pingIterations = 200

// AddSimulatorHostWorkflow adds a simulated host: record it, start its
// agent, connect to it over its own queue, record its facts, and start its
// liveness loop. Any failure removes what was done.
func AddSimulatorHostWorkflow(ctx workflow.Context, p AddHostParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var host activities.HostInfoResult
	if err = local(ctx, activities.RunOp, p.Op, &res); err != nil {
		return res, err
	}
	if err = local(ctx, activities.HostInfo, activities.HostRef{HostUUID: p.HostUUID}, &host); err != nil {
		return res, err
	}
	uuid := host.HostUUID
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.RunOp, activities.OpParams{Op: "DeleteHostRecord", Args: []byte(`{"uuid":"` + uuid + `"}`)}, nil)
	})
	if err = connect(ctx, &s, host); err != nil {
		return res, err
	}
	startPing(ctx, uuid)
	return inventory(ctx, "Host", uuid, "inventory")
}

// connect (re)starts a host's agent when needed (a simulated one in the
// fleet, a KVM host's over SSH: deployed again when its binary or
// configuration differ), asks the agent for its facts and records them; the
// host is Connected after it.
func connect(ctx workflow.Context, s *saga, host activities.HostInfoResult) error {
	connectCtx := ctx
	if host.HypervisorType == HypervisorKVM {
		ref := activities.HostRef{HostUUID: host.HostUUID}
		if s != nil {
			// Registered before running: a deployment cut short may have
			// left an agent behind.
			s.add(func(ctx workflow.Context) error {
				return workflow.ExecuteActivity(deployCtx(ctx), activities.KVMUndeployAgent, ref).Get(ctx, nil)
			})
		}
		if err := workflow.ExecuteActivity(deployCtx(ctx), activities.KVMDeployAgent, ref).Get(ctx, nil); err != nil {
			return err
		}
		// A freshly started agent needs a moment to reach Temporal.
		connectCtx = workflow.WithScheduleToStartTimeout(hostCtx(ctx, host.HostUUID), time.Minute)
	}
	if host.HypervisorType == HypervisorSimulator {
		sp := activities.SimAgentParams{HostUUID: host.HostUUID, CPUNum: int(host.CPUCapacity), MemoryBytes: host.MemoryCapacity}
		if err := workflow.ExecuteActivity(simCtx(ctx), activities.SimEnsureAgent, sp).Get(ctx, nil); err != nil {
			return err
		}
		if s != nil {
			s.add(func(ctx workflow.Context) error {
				return workflow.ExecuteActivity(simCtx(ctx), activities.SimStopAgent, sp).Get(ctx, nil)
			})
		}
	}
	var facts hostapi.HostFacts
	err := workflow.ExecuteActivity(hostCtx(connectCtx, host.HostUUID), hostapi.ActConnect, hostapi.ConnectParams{HostUUID: host.HostUUID}).Get(ctx, &facts)
	if err != nil {
		return err
	}
	if err := local(ctx, activities.HostRecordConnect, activities.HostConnectParams{HostUUID: host.HostUUID, Facts: facts}, nil); err != nil {
		return err
	}
	if workflow.GetVersion(ctx, "2026-11-25-host-storage-capacity", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil
	}
	if err := reportStorages(ctx, host.HostUUID); err != nil {
		return err
	}
	connectNetwork(ctx, host.HostUUID)
	reconcileRouters(ctx, host.HostUUID)
	return nil
}

// reportStorages has a host report the capacity of every directory primary
// storage of its cluster (creating the directories).
func reportStorages(ctx workflow.Context, hostUUID string) error {
	var storages []activities.HostStorage
	if err := local(ctx, activities.HostStorages, activities.HostRef{HostUUID: hostUUID}, &storages); err != nil {
		return err
	}
	for _, ps := range storages {
		if err := reportStorage(ctx, hostUUID, ps); err != nil {
			return err
		}
	}
	return nil
}

// reportStorage has a host check one directory primary storage (made if
// missing, writable) and records the capacity it reports.
func reportStorage(ctx workflow.Context, hostUUID string, ps activities.HostStorage) error {
	var c hostapi.StorageCapacityResult
	if err := onHost(ctx, hostUUID, hostapi.ActStorageCapacity, hostapi.StorageCapacityParams{PrimaryStorageUUID: ps.PSUUID, Path: ps.URL}, &c); err != nil {
		return err
	}
	return local(ctx, activities.PSRecordCapacity, activities.PSCapacityParams{PSUUID: ps.PSUUID, HostUUID: hostUUID,
		Total: c.TotalBytes, Available: c.AvailableBytes}, nil)
}

// startPing starts the host's liveness workflow, unless it runs already.
func startPing(ctx workflow.Context, hostUUID string) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            PingWorkflowID(hostUUID),
		ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TaskQueue:             activities.TaskQueue,
	})
	f := workflow.ExecuteChildWorkflow(cctx, HostPing, HostPingParams{HostUUID: hostUUID})
	// Wait only until it has started; an "already started" error means the
	// loop is alive, which is what we want.
	_ = f.GetChildWorkflowExecution().Get(ctx, nil)
}

// ReconnectHostWorkflow reconnects a host (ReconnectHost API) and makes sure
// its liveness loop runs.
func ReconnectHostWorkflow(ctx workflow.Context, p activities.HostRef) (res activities.Result, err error) {
	var host activities.HostInfoResult
	if err = local(ctx, activities.HostInfo, p, &host); err != nil {
		return res, err
	}
	if err = connect(ctx, nil, host); err != nil {
		_ = local(ctx, activities.HostRecordPing, activities.HostPingParams{HostUUID: p.HostUUID, Error: err.Error()}, nil)
		return res, err
	}
	startPing(ctx, p.HostUUID)
	// If the loop was running already, have it ping now (and re-read its
	// interval) rather than at the end of its current sleep.
	_ = workflow.SignalExternalWorkflow(ctx, PingWorkflowID(p.HostUUID), "", WakeSignal, nil).Get(ctx, nil)
	return inventory(ctx, "Host", p.HostUUID, "inventory")
}

// HostPingWorkflow is a host's liveness loop (ZStack pings every 60 s): ping
// the agent over its queue, record Connected/Disconnected and sync VM states
// from what the host reports (the host is the truth), reconnect after
// failures, and end when the host is deleted.
func HostPingWorkflow(ctx workflow.Context, p HostPingParams) error {
	if p.Interval <= 0 {
		p.Interval = 60 * time.Second
	}
	pctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              hostapi.Queue(p.HostUUID),
		ScheduleToStartTimeout: 5 * time.Second,
		StartToCloseTimeout:    10 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	wake := workflow.GetSignalChannel(ctx, WakeSignal)
	for i := 0; i < pingIterations; i++ {
		var pr hostapi.PingResult
		perr := workflow.ExecuteActivity(pctx, hostapi.ActPing, hostapi.PingParams{HostUUID: p.HostUUID}).Get(ctx, &pr)
		rec := activities.HostPingParams{HostUUID: p.HostUUID, OK: perr == nil, Result: pr}
		if perr != nil {
			rec.Error = perr.Error()
		}
		var out activities.HostPingRecord
		if err := local(ctx, activities.HostRecordPing, rec, &out); err != nil {
			return err
		}
		if !out.Exists {
			return nil
		}
		restarted := agentRestarted(&p, pr, perr)
		if out.Reconnect {
			var host activities.HostInfoResult
			if err := local(ctx, activities.HostInfo, activities.HostRef{HostUUID: p.HostUUID}, &host); err != nil {
				return err
			}
			if err := connect(ctx, nil, host); err != nil {
				workflow.GetLogger(ctx).Warn("reconnect failed", "host_uuid", p.HostUUID, "error", err)
			}
		} else if out.ReconcileRouters || restarted {
			reconcileRouters(ctx, p.HostUUID)
		}
		if out.Interval > 0 {
			p.Interval = out.Interval
		}
		// Sleep until the next ping, or until ReconnectHost wakes us.
		tctx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(workflow.NewTimer(tctx, p.Interval), func(workflow.Future) {})
		sel.AddReceive(wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.Select(ctx)
		cancel()
	}
	// Wakes still buffered would be lost with this run; the next run pings
	// first thing, which is all a wake asks for, so they are drained here.
	for wake.ReceiveAsync(nil) {
	}
	return workflow.NewContinueAsNewError(ctx, HostPing, p)
}

// DeleteHostWorkflow deletes a host without VMs: stops its simulated agent
// or removes a KVM host's agent, then its record; its liveness loop ends at
// its next ping.
func DeleteHostWorkflow(ctx workflow.Context, p activities.HostRef) (res activities.Result, err error) {
	var host activities.HostInfoResult
	if err = local(ctx, activities.HostInfo, p, &host); err != nil {
		if businessKind(err) == models.KindNotFound {
			return activities.Result{}, nil // deleting a missing host succeeds
		}
		return res, err
	}
	// Refused while VMs are on it, before its agent is touched.
	if err = local(ctx, activities.RunOp, activities.OpParams{Op: "CheckHostDeletable", Args: []byte(`{"uuid":"` + p.HostUUID + `"}`)}, nil); err != nil {
		return res, err
	}
	cluster := hostCluster(ctx, p.HostUUID)
	switch host.HypervisorType {
	case HypervisorSimulator:
		sp := activities.SimAgentParams{HostUUID: p.HostUUID}
		if err = workflow.ExecuteActivity(simCtx(ctx), activities.SimStopAgent, sp).Get(ctx, nil); err != nil {
			return res, err
		}
	case HypervisorKVM:
		// Like ZStack, a host that can't be reached is deleted all the
		// same; its agent, if alive, finds its queue gone quiet.
		if uerr := workflow.ExecuteActivity(deployCtx(ctx), activities.KVMUndeployAgent, p).Get(ctx, nil); uerr != nil {
			workflow.GetLogger(ctx).Warn("could not remove the agent of a deleted host", "host_uuid", p.HostUUID, "error", uerr)
		}
	}
	if err = local(ctx, activities.RunOp, activities.OpParams{Op: "DeleteHostRecord", Args: []byte(`{"uuid":"` + p.HostUUID + `"}`)}, nil); err != nil {
		return res, err
	}
	leaveNetwork(ctx, cluster)
	return activities.Result{}, nil
}
