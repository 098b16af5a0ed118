package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/models"
)

// The router appliance's migration to another host, and its realisation
// again when its host reconnects.

// RouterMigrate is MigrateVm on a router (workflow name, stable).
const RouterMigrate = "zcloud.RouterMigrate"

// Database steps of the router's migration and reconciliation.
const (
	ActRouterMigrateBegin  = "db.RouterMigrateBegin"
	ActRouterMoveHost      = "db.RouterMoveHost"
	ActRoutersOfHost       = "db.RoutersOfHost"
	ActRouterMarkConnected = "db.RouterMarkConnected"
	ActRouterStrays        = "db.RouterStrays"
	ActRouterLeftoversDone = "db.RouterLeftoversDone"
)

// RouterMigrateParams are MigrateVm's params for a router; an empty
// HostUUID lets the control plane choose.
type RouterMigrateParams struct {
	RouterUUID string `json:"routerUuid"`
	HostUUID   string `json:"hostUuid,omitempty"`
}

// RouterMigration is where a router moves from and to, and the L2
// networks of its NICs, which the destination must realise.
type RouterMigration struct {
	SrcHost    string   `json:"srcHostUuid"`
	SrcCluster string   `json:"srcClusterUuid"`
	DstHost    string   `json:"dstHostUuid"`
	DstCluster string   `json:"dstClusterUuid"`
	L2UUIDs    []string `json:"l2NetworkUuids"`
	// SrcLost: the router's host stopped answering; the router is rebuilt
	// elsewhere and the lost host removes it when it is back.
	SrcLost bool `json:"srcLost,omitempty"`
}

// RouterMoveParams records a router's move from one host to another.
type RouterMoveParams struct {
	RouterUUID  string `json:"routerUuid"`
	From        string `json:"from"`
	To          string `json:"to"`
	ClusterUUID string `json:"clusterUuid"`
	// Leftover: From could not be reached and may still run the router.
	Leftover bool `json:"leftover,omitempty"`
}

// RouterStraysParams are the routers present on a host.
type RouterStraysParams struct {
	HostUUID string   `json:"hostUuid"`
	Present  []string `json:"present"`
}

// RouterStray is a router a host must remove, with the generation that
// orders the removal after the specs sent before (0: the router is gone).
type RouterStray struct {
	RouterUUID string `json:"routerUuid"`
	Generation int64  `json:"generation"`
}

// RouterMigrateWorkflow moves a running router to another host: the
// router's L2 networks are realised on the destination, the router is built
// there from its configuration in the database (NICs, SNAT, EIPs, port
// forwarding, load balancers, IPsec, routes, DNS), the database switches
// over, the source's namespace is removed, and the destination converges
// once more, which announces the router's addresses now that the source
// no longer answers for them. A failure removes the destination and
// converges the source again (a no-op on the untouched source).
//
// A router whose host was lost (Unknown, Disconnected) is evacuated the
// same way without touching its source: the source is recorded as having
// a leftover, which it removes when it answers again (reconcileRouters),
// and a failure leaves the router Unknown on its lost host.
func RouterMigrateWorkflow(ctx workflow.Context, p RouterMigrateParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var m RouterMigration
	if err = local(ctx, ActRouterMigrateBegin, p, &m); err != nil {
		return res, err
	}
	before := models.VMRunning
	if m.SrcLost {
		before = models.VMUnknown
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, ActRouterSetState, RouterStateParams{RouterUUID: p.RouterUUID, State: before}, nil)
	})
	if !m.SrcLost {
		// Runs last on a rollback, once the destination is gone.
		s.add(func(ctx workflow.Context) error { return ensureRouterOn(ctx, p.RouterUUID, m.SrcHost) })
	}
	if err = routerNetworksOn(ctx, m.DstCluster, m.L2UUIDs); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error { return deleteOnHost(ctx, m.DstHost, p.RouterUUID) })
	if err = ensureRouterOn(ctx, p.RouterUUID, m.DstHost); err != nil {
		return res, err
	}
	if err = local(ctx, ActRouterMoveHost, RouterMoveParams{RouterUUID: p.RouterUUID, From: m.SrcHost, To: m.DstHost, ClusterUUID: m.DstCluster,
		Leftover: m.SrcLost}, nil); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, ActRouterMoveHost, RouterMoveParams{RouterUUID: p.RouterUUID, From: m.DstHost, To: m.SrcHost, ClusterUUID: m.SrcCluster}, nil)
	})
	if !m.SrcLost {
		if err = deleteOnHost(ctx, m.SrcHost, p.RouterUUID); err != nil {
			return res, err
		}
	}
	if err = ensureRouterOn(ctx, p.RouterUUID, m.DstHost); err != nil {
		return res, err
	}
	if err = local(ctx, ActRouterSetState, RouterStateParams{RouterUUID: p.RouterUUID, State: models.VMRunning, Status: models.RouterConnected}, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "VirtualRouterVm", p.RouterUUID, "inventory")
}

// routerNetworksOn realises L2 networks (bridges, VXLAN with its peers) on
// the hosts of a cluster; hosts without host networking have nothing to do.
// The bridges belong to the cluster, not to the router, so they stay.
func routerNetworksOn(ctx workflow.Context, clusterUUID string, l2s []string) error {
	if len(l2s) == 0 {
		return nil
	}
	var plan netapi.ClusterL2sResult
	if err := local(ctx, netapi.NetClusterL2s, netapi.ClusterL2sParams{ClusterUUID: clusterUUID, L2UUIDs: l2s, Attached: true}, &plan); err != nil {
		return err
	}
	return realizeL2s(ctx, nil, plan)
}

// ensureRouterOn converges a router on hostUUID, whether or not it is
// placed there yet; a router that is gone needs nothing.
func ensureRouterOn(ctx workflow.Context, routerUUID, hostUUID string) error {
	var sp RouterSpecResult
	if err := local(ctx, ActRouterSpec, RouterRef{RouterUUID: routerUUID, HostUUID: hostUUID}, &sp); err != nil {
		return err
	}
	if sp.State == "" {
		return nil
	}
	return onHost(ctx, hostUUID, netapi.EnsureRouter, netapi.EnsureRouterParams{HostUUID: hostUUID, Spec: sp.Spec}, nil)
}

// routerReconcileChange gates the routers' reconciliation added to the
// released host connect and liveness workflows.
const routerReconcileChange = "2026-12-01-router-reconcile"

// reconcileRouters realises again, from the database, every router placed
// on a host that (re)connected or whose agent restarted: namespaces or
// daemons may be gone or stale (a reboot; a service manager stopping the
// agent's children with it). Each router is
// Running and Connected once converged; one that fails stays as it was
// (Unknown and Disconnected after a lost host) and is logged, as the host
// is usable for everything else.
func reconcileRouters(ctx workflow.Context, hostUUID string) {
	if workflow.GetVersion(ctx, routerReconcileChange, workflow.DefaultVersion, 1) != 1 {
		return
	}
	log := workflow.GetLogger(ctx)
	if workflow.GetVersion(ctx, routerStraysChange, workflow.DefaultVersion, 1) == 1 {
		removeStrayRouters(ctx, hostUUID)
	}
	var routers []string
	if err := local(ctx, ActRoutersOfHost, activities.HostRef{HostUUID: hostUUID}, &routers); err != nil {
		log.Warn("routers not reconciled", "host_uuid", hostUUID, "error", err)
		return
	}
	for _, r := range routers {
		if err := ensureRouterOn(ctx, r, hostUUID); err != nil {
			log.Warn("router not reconciled", "host_uuid", hostUUID, "router_uuid", r, "error", err)
			continue
		}
		if err := local(ctx, ActRouterMarkConnected, RouterRef{RouterUUID: r, HostUUID: hostUUID}, nil); err != nil {
			log.Warn("router reconciled but not recorded", "host_uuid", hostUUID, "router_uuid", r, "error", err)
		}
	}
}

// routerStraysChange gates the removal of stray routers added to the
// routers' reconciliation.
const routerStraysChange = "2026-12-06-router-strays"

// removeStrayRouters has a host remove the routers it must no longer run:
// those evacuated while it was lost and those destroyed meanwhile. The
// host's leftovers are forgotten once all are gone; a failure is logged
// and tried again at the next reconciliation.
func removeStrayRouters(ctx workflow.Context, hostUUID string) {
	log := workflow.GetLogger(ctx)
	var present netapi.ListRoutersResult
	if err := onHost(ctx, hostUUID, netapi.ListRouters, netapi.ListRoutersParams{HostUUID: hostUUID}, &present); err != nil {
		log.Warn("stray routers not looked for", "host_uuid", hostUUID, "error", err)
		return
	}
	var strays []RouterStray
	if err := local(ctx, ActRouterStrays, RouterStraysParams{HostUUID: hostUUID, Present: present.Routers}, &strays); err != nil {
		log.Warn("stray routers not looked for", "host_uuid", hostUUID, "error", err)
		return
	}
	removed := true
	for _, r := range strays {
		err := onHost(ctx, hostUUID, netapi.DeleteRouter, netapi.DeleteRouterParams{HostUUID: hostUUID, RouterUUID: r.RouterUUID, Generation: r.Generation}, nil)
		if err != nil {
			log.Warn("stray router not removed", "host_uuid", hostUUID, "router_uuid", r.RouterUUID, "error", err)
			removed = false
			continue
		}
		log.Info("stray router removed", "host_uuid", hostUUID, "router_uuid", r.RouterUUID)
	}
	if !removed {
		return
	}
	if err := local(ctx, ActRouterLeftoversDone, activities.HostRef{HostUUID: hostUUID}, nil); err != nil {
		log.Warn("router leftovers not forgotten", "host_uuid", hostUUID, "error", err)
	}
}

// agentRestarted reports whether a good ping found the host's agent
// restarted since the previous one (its daemons may have died with it),
// and remembers the agent's incarnation in p.
func agentRestarted(p *HostPingParams, pr hostapi.PingResult, perr error) bool {
	if perr != nil || pr.Incarnation == "" {
		return false
	}
	prev := p.Incarnation
	p.Incarnation = pr.Incarnation
	return prev != "" && prev != pr.Incarnation
}
