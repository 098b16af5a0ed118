// Package workflows holds ZCloud's deterministic orchestration: one file per
// operation. It performs no I/O; every effect is an activity.
package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// Workflow names (stable: they are in every history).
const (
	Op         = "zcloud.Op"
	CreateVM   = "zcloud.CreateVM"
	StartVM    = "zcloud.StartVM"
	StopVM     = "zcloud.StopVM"
	RebootVM   = "zcloud.RebootVM"
	DestroyVM  = "zcloud.DestroyVM"
	RecoverVM  = "zcloud.RecoverVM"
	ExpungeVM  = "zcloud.ExpungeVM"
	AddSimHost = "zcloud.AddSimulatorHost"
	AddHost    = "zcloud.AddHost"
	Reconnect  = "zcloud.ReconnectHost"
	HostPing   = "zcloud.HostPing"
	DeleteHost = "zcloud.DeleteHost"
)

// localCtx runs short database steps as local activities: no task dispatch,
// so a VM create costs a handful of workflow tasks, not dozens. Business
// errors (type activities.ErrType) are not retried.
func localCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        50 * time.Millisecond,
			MaximumAttempts:        10,
			NonRetryableErrorTypes: []string{activities.ErrType},
		},
	})
}

// hostCtx routes activities to one host's agent. ScheduleToStart is short:
// a dead agent fails the step quickly and the saga compensates.
func hostCtx(ctx workflow.Context, hostUUID string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              hostapi.Queue(hostUUID),
		ScheduleToStartTimeout: hostapi.ScheduleToStart,
		StartToCloseTimeout:    hostapi.StartToClose,
		HeartbeatTimeout:       30 * time.Second,
		WaitForCancellation:    true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 200 * time.Millisecond,
			MaximumAttempts: 3,
			NonRetryableErrorTypes: []string{hostapi.ErrTypeNotFound, hostapi.ErrTypeInvalid,
				hostapi.ErrTypeUnsupported, hostapi.ErrTypeInjected, activities.ErrType},
		},
	})
}

// deployCtx runs an SSH deployment of a host agent on the control plane's
// queue: minutes at most, retried on network trouble, not on bad
// credentials (business errors).
func deployCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           activities.TaskQueue,
		StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			MaximumAttempts:        3,
			NonRetryableErrorTypes: []string{activities.ErrType},
		},
	})
}

// simCtx reaches the process hosting simulated agents.
func simCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              activities.SimQueue,
		ScheduleToStartTimeout: 10 * time.Second,
		StartToCloseTimeout:    30 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 3},
	})
}

// saga collects compensations and runs them in reverse.
type saga struct {
	steps []func(ctx workflow.Context) error
}

// add registers the compensation of a step that just succeeded.
func (s *saga) add(f func(ctx workflow.Context) error) { s.steps = append(s.steps, f) }

// compensate runs the compensations in reverse on a disconnected context, so
// that they also run when the workflow is cancelled. A failing compensation
// is logged and the others still run; each is idempotent and retried by its
// activity's policy.
func (s *saga) compensate(ctx workflow.Context) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	for i := len(s.steps) - 1; i >= 0; i-- {
		if err := s.steps[i](dctx); err != nil {
			workflow.GetLogger(ctx).Error("compensation failed", "step", i, "error", err)
		}
	}
}

// local runs a local activity by name.
func local(ctx workflow.Context, name string, arg any, result any) error {
	return workflow.ExecuteLocalActivity(localCtx(ctx), name, arg).Get(ctx, result)
}

// onHost runs a host activity by name.
func onHost(ctx workflow.Context, hostUUID, name string, arg any, result any) error {
	return workflow.ExecuteActivity(hostCtx(ctx, hostUUID), name, arg).Get(ctx, result)
}

// inventory renders a resource as the job's result.
func inventory(ctx workflow.Context, res, uuid, key string) (activities.Result, error) {
	var r activities.Result
	err := local(ctx, activities.Inventory, activities.InventoryParams{Resource: res, UUID: uuid, Key: key}, &r)
	return r, err
}

// OpWorkflow runs one named database operation: the job behind every API
// that has no host-side work.
func OpWorkflow(ctx workflow.Context, p activities.OpParams) (activities.Result, error) {
	var r activities.Result
	err := local(ctx, activities.RunOp, p, &r)
	return r, err
}

// businessError fails a workflow with a ZStack-style error decided in the
// workflow itself, the way activities report theirs.
func businessError(e *models.Error) error {
	return temporal.NewNonRetryableApplicationError(e.Error(), activities.ErrType, nil, *e)
}

// businessKind is the kind of a business error (empty for other errors).
func businessKind(err error) models.Kind {
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != activities.ErrType {
		return ""
	}
	var e models.Error
	if ae.Details(&e) != nil {
		return ""
	}
	return e.Kind
}
