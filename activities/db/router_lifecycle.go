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
		L2UUIDs: m.L2UUIDs}, nil
}

// RouterMoveHost records a router's switch-over to another host.
func (a *Activities) RouterMoveHost(ctx context.Context, p workflows.RouterMoveParams) error {
	if err := a.Faults.check(workflows.ActRouterMoveHost); err != nil {
		return wrap(err)
	}
	return wrap(a.Store.MoveRouterHost(ctx, p.RouterUUID, p.From, p.To, p.ClusterUUID))
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
