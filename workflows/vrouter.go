package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// vRouter networks (FEATURES.md items 51, 53, 54): a VM about to run with a
// NIC on an L3BasicNetwork that has a router provider's services gets the
// router of that L3 first, created on demand from the zone's default
// virtual router offering when none serves it yet. One workflow per L3
// (EnsureVRouter, ID VRouterEnsureID) decides and creates; concurrent VMs
// join the running one, so an L3 ends with exactly one router.

// EnsureVRouter is the workflow that gives a vRouter network its router.
const EnsureVRouter = "zcloud.EnsureVRouter"

// vRouter activity names: database steps (local) and the join of the
// per-L3 workflow (a regular activity on the control-plane queue: it
// starts or joins a workflow through the Temporal client and waits).
const (
	ActVMVRouters    = "db.VMVRouters"
	ActVRouterPlan   = "db.VRouterPlan"
	ActEnsureVRouter = "cp.EnsureVRouter"
)

// vrouterOnDemandChange gates the vRouter step added to the released VM
// creation and start workflows.
const vrouterOnDemandChange = "2026-12-01-vrouter-on-demand"

// VRouterEnsureID is the workflow ID of an L3's EnsureVRouter: the same for
// every VM, so concurrent starts join one execution.
func VRouterEnsureID(l3UUID string) string { return "vrouter-ensure-" + l3UUID }

// EnsureVRouterParams names the vRouter network to serve.
type EnsureVRouterParams struct {
	L3UUID string `json:"l3NetworkUuid"`
}

// EnsureVRouterResult is the router serving the L3 ("" when the L3 is no
// vRouter network any more).
type EnsureVRouterResult struct {
	RouterUUID string `json:"routerUuid"`
}

// VMVRoutersResult lists a VM's vRouter networks and their routers.
type VMVRoutersResult struct {
	L3s []models.VRouterL3 `json:"l3s"`
}

// RegisterVRouter registers the vRouter network's workflow.
func RegisterVRouter(w workflowRegistry) {
	w.RegisterWorkflowWithOptions(EnsureVRouterWorkflow, workflow.RegisterOptions{Name: EnsureVRouter})
}

// EnsureVRouterWorkflow gives a vRouter network its router: the one serving
// it, else a new one made by the router creation steps from the zone's
// offering, with the L3 attached by a router change (its NIC takes the L3's
// gateway). A failure deletes the new router; once made, the router stays
// whatever becomes of the VMs that asked for it (as in ZStack).
func EnsureVRouterWorkflow(ctx workflow.Context, p EnsureVRouterParams) (res EnsureVRouterResult, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var plan models.VRouterPlan
	if err = local(ctx, ActVRouterPlan, p, &plan); err != nil {
		return res, err
	}
	if plan.RouterUUID != "" || plan.OfferingUUID == "" {
		return EnsureVRouterResult{RouterUUID: plan.RouterUUID}, nil
	}
	run := workflow.GetInfo(ctx).WorkflowExecution
	router := models.NameUUID("VRouter", run.ID, run.RunID)
	if err = createRouter(ctx, &s, CreateRouterParams{RouterUUID: router, Name: plan.Name, OfferingUUID: plan.OfferingUUID,
		ZoneUUID: plan.ZoneUUID, ClusterUUID: plan.ClusterUUID, AccountUUID: plan.AccountUUID, ApplianceVMType: plan.ApplianceVMType}); err != nil {
		return res, err
	}
	// UUIDs are hex: the args need no JSON encoder in workflow code.
	args := `{"vmInstanceUuid":"` + router + `","l3NetworkUuid":"` + p.L3UUID + `"}`
	if _, err = routerChange(ctx, run.ID+"/"+run.RunID+"/attach", RouterChangeParams{Op: "AttachL3NetworkToVm", Args: []byte(args),
		AccountUUID: plan.AccountUUID}); err != nil {
		return res, err
	}
	return EnsureVRouterResult{RouterUUID: router}, nil
}

// ensureVMRouters gives every vRouter network of a VM its router (joining
// or starting the L3's EnsureVRouter) and converges those routers, so that
// their DHCP serves the VM's addresses, before the VM's NICs are realised.
func ensureVMRouters(ctx workflow.Context, vmUUID string) error {
	if workflow.GetVersion(ctx, vrouterOnDemandChange, workflow.DefaultVersion, 1) != 1 {
		return nil
	}
	var need VMVRoutersResult
	if err := local(ctx, ActVMVRouters, activities.VMRef{VMUUID: vmUUID}, &need); err != nil {
		return err
	}
	var routers []string
	for _, l := range need.L3s {
		if l.RouterUUID == "" {
			var out EnsureVRouterResult
			if err := workflow.ExecuteActivity(vrouterEnsureCtx(ctx), ActEnsureVRouter, EnsureVRouterParams{L3UUID: l.L3UUID}).Get(ctx, &out); err != nil {
				return err
			}
			l.RouterUUID = out.RouterUUID
		}
		if l.RouterUUID != "" {
			routers = append(routers, l.RouterUUID)
		}
	}
	return ensureRouters(ctx, routers)
}

// vrouterEnsureCtx runs the join of an EnsureVRouter on the control plane.
// The activity heartbeats while it waits; the errors the ensure failed
// with are final, others (a lost worker) retried, which joins or re-runs
// the idempotent ensure.
func vrouterEnsureCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           activities.TaskQueue,
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second,
			MaximumAttempts: 3,
			NonRetryableErrorTypes: []string{hostapi.ErrTypeNotFound, hostapi.ErrTypeInvalid, hostapi.ErrTypeUnsupported,
				hostapi.ErrTypeFailed, hostapi.ErrTypeInjected, activities.ErrType},
		},
	})
}
