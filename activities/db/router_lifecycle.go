package db

import (
	"context"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/workflows"
)

// RouterMigrateBegin checks a router's migration (destination chosen when
// not given) and moves the router into Migrating; bad input changes
// nothing.
func (a *Activities) RouterMigrateBegin(ctx context.Context, p workflows.RouterMigrateParams) (workflows.RouterMigration, error) {
	if err := a.Faults.check(workflows.ActRouterMigrateBegin); err != nil {
		return workflows.RouterMigration{}, wrap(err)
	}
	m, err := a.Store.PlanRouterMigration(ctx, p.RouterUUID, p.HostUUID)
	if err != nil {
		return workflows.RouterMigration{}, wrap(err)
	}
	if _, err := a.Store.TransitionRouter(ctx, p.RouterUUID, models.RouterActMigrate); err != nil {
		return workflows.RouterMigration{}, wrap(err)
	}
	return workflows.RouterMigration{SrcHost: m.SrcHost, SrcCluster: m.SrcCluster, DstHost: m.DstHost, DstCluster: m.DstCluster,
		L2UUIDs: m.L2UUIDs, SrcLost: m.SrcLost}, nil
}

// RouterMoveHost records a router's switch-over to another host.
func (a *Activities) RouterMoveHost(ctx context.Context, p workflows.RouterMoveParams) error {
	if err := a.Faults.check(workflows.ActRouterMoveHost); err != nil {
		return wrap(err)
	}
	return wrap(a.Store.MoveRouterHost(ctx, p.RouterUUID, p.From, p.To, p.ClusterUUID, p.Leftover))
}

// RouterStrays picks the routers present on a host that it must remove.
func (a *Activities) RouterStrays(ctx context.Context, p workflows.RouterStraysParams) ([]workflows.RouterStray, error) {
	strays, err := a.Store.RouterStrays(ctx, p.HostUUID, p.Present)
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]workflows.RouterStray, len(strays))
	for i, r := range strays {
		out[i] = workflows.RouterStray{RouterUUID: r.RouterUUID, Generation: r.Generation}
	}
	return out, nil
}

// RouterLeftoversDone forgets a host's leftovers once it removed its
// stray routers.
func (a *Activities) RouterLeftoversDone(ctx context.Context, p activities.HostRef) error {
	return wrap(a.Store.ClearRouterLeftovers(ctx, p.HostUUID))
}

// RoutersOfHost lists the routers a reconnected host must realise again:
// those placed on it that run or whose state was lost with the host.
func (a *Activities) RoutersOfHost(ctx context.Context, p activities.HostRef) ([]string, error) {
	out, err := a.Store.RoutersOfHost(ctx, p.HostUUID, models.VMRunning, models.VMUnknown)
	return out, wrap(err)
}

// RouterMarkConnected records a router realised again on its host.
func (a *Activities) RouterMarkConnected(ctx context.Context, p workflows.RouterRef) error {
	return wrap(a.Store.MarkRouterConnected(ctx, p.RouterUUID, p.HostUUID))
}
