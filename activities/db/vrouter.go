package db

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/workflows"
)

// registerVRouter registers the steps of vRouter networks.
func (a *Activities) registerVRouter(w worker.Registry) {
	for name, fn := range map[string]any{
		workflows.ActVMVRouters:    a.VMVRouters,
		workflows.ActVRouterPlan:   a.VRouterPlan,
		workflows.ActEnsureVRouter: a.EnsureVRouter,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// VMVRouters lists a VM's vRouter networks with the routers serving them.
func (a *Activities) VMVRouters(ctx context.Context, p activities.VMRef) (workflows.VMVRoutersResult, error) {
	l3s, err := a.Store.VMVRouterL3s(ctx, p.VMUUID)
	return workflows.VMVRoutersResult{L3s: l3s}, wrap(err)
}

// VRouterPlan decides how a vRouter network gets its router.
func (a *Activities) VRouterPlan(ctx context.Context, p workflows.EnsureVRouterParams) (models.VRouterPlan, error) {
	plan, err := a.Store.PlanVRouter(ctx, p.L3UUID)
	return plan, wrap(err)
}

// vrouterWaitSlice is how long the join waits between heartbeats.
const vrouterWaitSlice = 5 * time.Second

// EnsureVRouter starts the L3's EnsureVRouter workflow, or joins the one
// running (same ID, conflict policy USE_EXISTING), and waits for its
// router. A finished ensure's ID may run again (the router may have been
// destroyed since). Its business failure is returned as it is, so the VM's
// job fails with the ensure's ZStack error.
func (a *Activities) EnsureVRouter(ctx context.Context, p workflows.EnsureVRouterParams) (workflows.EnsureVRouterResult, error) {
	var res workflows.EnsureVRouterResult
	if a.Temporal == nil {
		return res, wrap(models.Unavailable("this control plane has no Temporal client: it cannot create routers on demand"))
	}
	run, err := a.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.VRouterEnsureID(p.L3UUID),
		TaskQueue:                activities.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionTimeout: 10 * time.Minute,
	}, workflows.EnsureVRouter, p)
	if err != nil {
		return res, err
	}
	for {
		wait, cancel := context.WithTimeout(ctx, vrouterWaitSlice)
		err = run.Get(wait, &res)
		sliceOver := wait.Err() != nil
		cancel()
		if err == nil {
			return res, nil
		}
		if sliceOver && ctx.Err() == nil {
			activity.RecordHeartbeat(ctx, run.GetRunID())
			continue
		}
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) {
			return res, ae
		}
		return res, err
	}
}
