package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/models"
)

// RegisterRouter registers the router appliance's workflows.
func RegisterRouter(w workflowRegistry) {
	w.RegisterWorkflowWithOptions(RouterChangeWorkflow, workflow.RegisterOptions{Name: RouterChange})
	w.RegisterWorkflowWithOptions(CreateVpcRouterWorkflow, workflow.RegisterOptions{Name: CreateVpcRouter})
	w.RegisterWorkflowWithOptions(RouterLifecycleWorkflow, workflow.RegisterOptions{Name: RouterLifecycle})
	w.RegisterWorkflowWithOptions(RouterMigrateWorkflow, workflow.RegisterOptions{Name: RouterMigrate})
}

// RouterChangeWorkflow changes the database (one journaled local activity),
// then converges every router whose desired state changed from a spec
// recomputed from the database. If a router fails to converge, the journal
// puts every row back and the routers are converged to the previous state.
func RouterChangeWorkflow(ctx workflow.Context, p RouterChangeParams) (res activities.Result, err error) {
	return routerChange(ctx, workflow.GetInfo(ctx).WorkflowExecution.ID, p)
}

// routerChange is a router change journaled under key, unique per change.
func routerChange(ctx workflow.Context, journal string, p RouterChangeParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	key := RouterKey{Key: journal}
	var ap RouterApplyResult
	if err = local(ctx, ActRouterApply, RouterApplyParams{Key: key.Key, RouterChangeParams: p}, &ap); err != nil {
		return res, err
	}
	var eips *netapi.EIPPlan // flat EIPs placed, planned again after an undo
	s.add(func(ctx workflow.Context) error {
		if err := local(ctx, ActRouterUndo, key, nil); err != nil {
			return err
		}
		if err := ensureRouters(ctx, ap.Routers); err != nil {
			return err
		}
		if eips == nil || len(eips.EIPs)+len(eips.NICs) == 0 {
			return nil
		}
		return placeFlatEIPs(ctx, netapi.EIPPlanParams{EIPs: eips.EIPs, NICs: eips.NICs}, nil)
	})
	if err = ensureRouters(ctx, ap.Routers); err != nil {
		return res, err
	}
	if flatEIPOn(ctx) {
		eips = &netapi.EIPPlan{}
		if err = placeFlatEIPs(ctx, netapi.EIPPlanParams{Key: key.Key}, eips); err != nil {
			return res, err
		}
	}
	if ferr := local(ctx, ActRouterForget, key, nil); ferr != nil {
		workflow.GetLogger(ctx).Warn("cannot forget router change journal", "error", ferr)
	}
	return ap.Result, nil
}

// ensureRouters converges the running routers among uuids to their
// desired state; stopped routers get it when they start.
func ensureRouters(ctx workflow.Context, uuids []string) error {
	for _, u := range uuids {
		var sp RouterSpecResult
		if err := local(ctx, ActRouterSpec, RouterRef{RouterUUID: u}, &sp); err != nil {
			return err
		}
		// A router whose host is lost cannot take the change: it fails
		// clearly (and is undone) rather than waiting for the host.
		if sp.State == models.VMUnknown {
			return businessError(models.Unavailable("vpc router[uuid:%s] is Unknown: its host[uuid:%s] is disconnected", u, sp.HostUUID).
				WithCode(models.CodeHostUnavailable))
		}
		// A router that is gone has no state; a stopped one gets its
		// spec when it starts.
		if sp.State != models.VMRunning || sp.HostUUID == "" {
			continue
		}
		if err := onHost(ctx, sp.HostUUID, netapi.EnsureRouter, netapi.EnsureRouterParams{HostUUID: sp.HostUUID, Spec: sp.Spec}, nil); err != nil {
			return err
		}
	}
	return nil
}

// ensureRouter converges one router whatever its state (create, start).
func ensureRouter(ctx workflow.Context, routerUUID string) error {
	var sp RouterSpecResult
	if err := local(ctx, ActRouterSpec, RouterRef{RouterUUID: routerUUID}, &sp); err != nil {
		return err
	}
	return onHost(ctx, sp.HostUUID, netapi.EnsureRouter, netapi.EnsureRouterParams{HostUUID: sp.HostUUID, Spec: sp.Spec}, nil)
}

// deleteOnHost removes a router's namespace, ordered after the specs sent
// before it (a late, older ensure cannot bring the router back).
func deleteOnHost(ctx workflow.Context, hostUUID, routerUUID string) error {
	var gen int64
	if err := local(ctx, ActRouterGeneration, RouterRef{RouterUUID: routerUUID}, &gen); err != nil {
		return err
	}
	return onHost(ctx, hostUUID, netapi.DeleteRouter, netapi.DeleteRouterParams{HostUUID: hostUUID, RouterUUID: routerUUID, Generation: gen}, nil)
}

// CreateVpcRouterWorkflow places a router on a host, gives it a public IP,
// records it and creates its namespace; any failure releases everything.
func CreateVpcRouterWorkflow(ctx workflow.Context, p CreateRouterParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	if err = createRouter(ctx, &s, p); err != nil {
		return res, err
	}
	return inventory(ctx, "VirtualRouterVm", p.RouterUUID, "inventory")
}

// createRouter runs the steps of a router's creation on s: record (host,
// public IP), namespace, Running.
func createRouter(ctx workflow.Context, s *saga, p CreateRouterParams) error {
	ref := RouterRef{RouterUUID: p.RouterUUID}
	var rec RouterRecord
	if err := local(ctx, ActRouterCreateRecord, p, &rec); err != nil {
		return err
	}
	s.add(func(ctx workflow.Context) error { return local(ctx, ActRouterDeleteRecord, ref, nil) })
	s.add(func(ctx workflow.Context) error { return deleteOnHost(ctx, rec.HostUUID, p.RouterUUID) })
	if err := ensureRouter(ctx, p.RouterUUID); err != nil {
		return err
	}
	return local(ctx, ActRouterSetState, RouterStateParams{RouterUUID: p.RouterUUID, State: models.VMRunning, Status: models.RouterConnected}, nil)
}

// RouterLifecycleWorkflow starts, stops, reboots, reconnects or destroys a
// router. A stopped router keeps its records and has no namespace.
func RouterLifecycleWorkflow(ctx workflow.Context, p RouterOpParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var tr RouterTransitionResult
	if err = local(ctx, ActRouterTransition, p, &tr); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, ActRouterSetState, RouterStateParams{RouterUUID: p.RouterUUID, State: tr.Prev}, nil)
	})
	running := RouterStateParams{RouterUUID: p.RouterUUID, State: models.VMRunning, Status: models.RouterConnected}
	switch p.Action {
	case models.RouterActStart:
		s.add(func(ctx workflow.Context) error { return deleteOnHost(ctx, tr.HostUUID, p.RouterUUID) })
		if err = ensureRouter(ctx, p.RouterUUID); err != nil {
			return res, err
		}
		err = local(ctx, ActRouterSetState, running, nil)
	case models.RouterActReconnect:
		if err = ensureRouter(ctx, p.RouterUUID); err != nil {
			return res, err
		}
		err = local(ctx, ActRouterSetState, running, nil)
	case models.RouterActReboot:
		if err = deleteOnHost(ctx, tr.HostUUID, p.RouterUUID); err != nil {
			return res, err
		}
		if err = ensureRouter(ctx, p.RouterUUID); err != nil {
			return res, err
		}
		err = local(ctx, ActRouterSetState, running, nil)
	case models.RouterActStop:
		if err = deleteOnHost(ctx, tr.HostUUID, p.RouterUUID); err != nil {
			return res, err
		}
		err = local(ctx, ActRouterSetState, RouterStateParams{RouterUUID: p.RouterUUID, State: models.VMStopped}, nil)
	case models.RouterActDestroy:
		if err = deleteOnHost(ctx, tr.HostUUID, p.RouterUUID); err != nil {
			return res, err
		}
		if err = local(ctx, ActRouterDeleteRecord, RouterRef{RouterUUID: p.RouterUUID}, nil); err != nil {
			return res, err
		}
		return activities.Result{}, nil
	default:
		return res, models.Invalid("unknown router action %s", p.Action)
	}
	if err != nil {
		return res, err
	}
	return inventory(ctx, "VirtualRouterVm", p.RouterUUID, "inventory")
}

// vmServicesChange gates the release of a VM's NIC services added to the
// released VM destroy and expunge workflows.
const vmServicesChange = "2026-11-25-release-vm-nic-services"

// releaseVMNicServices detaches the EIPs and port forwarding rules of a
// VM's NICs and removes them from load balancers (ZStack does so when a VM
// is destroyed), converging the routers serving them; the change is undone
// if a router fails.
func releaseVMNicServices(ctx workflow.Context, vmUUID, step string) error {
	if workflow.GetVersion(ctx, vmServicesChange, workflow.DefaultVersion, 1) != 1 {
		return nil
	}
	key := workflow.GetInfo(ctx).WorkflowExecution.ID + "/" + step + "/" + vmUUID
	_, err := routerChange(ctx, key, RouterChangeParams{Op: "ReleaseVmNicServices", Args: []byte(`{"vmInstanceUuid":"` + vmUUID + `"}`)})
	return err
}
