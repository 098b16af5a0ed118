package store

import (
	"context"
	"strings"

	"github.com/zcloud/zcloud/models"
)

// Router appliance lifecycle beyond create/start/stop: migration to another
// host, and the router's status following its host's connection.

// RouterMigration is where a router moves from and to, and the L2
// networks its NICs need on the destination.
type RouterMigration struct {
	SrcHost, SrcCluster, DstHost, DstCluster string
	L2UUIDs                                  []string
}

// PlanRouterMigration checks that a running router can move to dstHost, or
// picks the destination (the host of the zone with the fewest routers)
// when dstHost is empty: a Connected, Enabled host other than the
// router's, in a cluster every L2 network of the router is attached to.
// It changes nothing.
func (s *Store) PlanRouterMigration(ctx context.Context, uuid, dstHost string) (RouterMigration, error) {
	var r models.VirtualRouter
	if err := s.Get(ctx, ResVpcRouter, uuid, &r); err != nil {
		return RouterMigration{}, err
	}
	// Migrating: a retried step of the migration that moved it there.
	if r.State != models.VMRunning && r.State != models.VMMigrating {
		return RouterMigration{}, models.Invalid("vpc router[uuid:%s] is %s; migrate needs it to be Running", uuid, r.State).WithCode(models.CodeVMState)
	}
	m := RouterMigration{SrcHost: string(r.HostUUID), SrcCluster: r.ClusterUUID}
	if err := s.db.SelectContext(ctx, &m.L2UUIDs, `SELECT DISTINCT l3.l2_network_uuid FROM virtual_router_nics n
		JOIN l3_networks l3 ON l3.uuid = n.l3_network_uuid WHERE n.vm_instance_uuid = ? ORDER BY l3.l2_network_uuid`, uuid); err != nil {
		return m, err
	}
	if dstHost != "" {
		if dstHost == m.SrcHost {
			return m, models.Invalid("vpc router[uuid:%s] already runs on host[uuid:%s]", uuid, dstHost)
		}
		var h models.Host
		if err := s.Get(ctx, ResHost, dstHost, &h); err != nil {
			return m, err
		}
		if h.ZoneUUID != r.ZoneUUID {
			return m, models.Invalid("host[uuid:%s] is not in the zone[uuid:%s] of vpc router[uuid:%s]", dstHost, r.ZoneUUID, uuid)
		}
		if h.Status != models.StatusConnected || h.State != models.StateEnabled {
			return m, models.Unavailable("host[uuid:%s] is %s and %s; a router moves only to a Connected, Enabled host", dstHost, h.Status, h.State).
				WithCode(models.CodeHostUnavailable)
		}
	}
	// Hosts that can take the router: every L2 of its NICs attached to
	// their cluster.
	q := `SELECT h.uuid, h.cluster_uuid FROM hosts h WHERE h.zone_uuid = ? AND h.status = ? AND h.state = ? AND h.uuid <> ?`
	args := []any{r.ZoneUUID, models.StatusConnected, models.StateEnabled, m.SrcHost}
	for _, l2 := range m.L2UUIDs {
		q += ` AND h.cluster_uuid IN (SELECT cluster_uuid FROM l2_network_cluster_refs WHERE l2_network_uuid = ?)`
		args = append(args, l2)
	}
	if dstHost != "" {
		q += ` AND h.uuid = ?`
		args = append(args, dstHost)
	}
	q += ` ORDER BY (SELECT COUNT(*) FROM virtual_routers r WHERE r.host_uuid = h.uuid), h.uuid`
	var rows []struct {
		UUID    string `db:"uuid"`
		Cluster string `db:"cluster_uuid"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return m, err
	}
	if len(rows) == 0 {
		if dstHost != "" {
			return m, models.Invalid("host[uuid:%s] cannot take vpc router[uuid:%s]: its cluster lacks some of the router's l2 networks %s",
				dstHost, uuid, strings.Join(m.L2UUIDs, ", "))
		}
		return m, models.Unavailable("no other Connected, Enabled host can take vpc router[uuid:%s] (l2 networks %s)",
			uuid, strings.Join(m.L2UUIDs, ", ")).WithCode(models.CodeAllocation)
	}
	m.DstHost, m.DstCluster = rows[0].UUID, rows[0].Cluster
	return m, nil
}

// MoveRouterHost records that a router runs on host to (in cluster) instead
// of host from; a router already on to is left as it is, so a retried step
// or compensation changes nothing twice.
func (s *Store) MoveRouterHost(ctx context.Context, uuid, from, to, cluster string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE virtual_routers SET host_uuid = ?, last_host_uuid = ?, cluster_uuid = ?, last_op_date = ?
		WHERE uuid = ? AND host_uuid = ?`, to, from, cluster, models.Now(), uuid, from)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	var r models.VirtualRouter
	if err := s.Get(ctx, ResVpcRouter, uuid, &r); err != nil {
		return err
	}
	if string(r.HostUUID) != to {
		return models.Conflict("vpc router[uuid:%s] is on host[uuid:%s], not on host[uuid:%s]", uuid, r.HostUUID, from)
	}
	return nil
}

// RoutersOfHost lists the routers placed on a host in one of states.
func (s *Store) RoutersOfHost(ctx context.Context, hostUUID string, states ...string) ([]string, error) {
	in, args := inList(states)
	out := []string{}
	err := s.db.SelectContext(ctx, &out, `SELECT uuid FROM virtual_routers WHERE host_uuid = ? AND state IN `+in+` ORDER BY uuid`,
		append([]any{hostUUID}, args...)...)
	return out, err
}

// MarkRoutersDisconnected records that the host of running routers stopped
// answering: they are Unknown and Disconnected until the host is back and
// they were realised again. It returns how many it marked.
func (s *Store) MarkRoutersDisconnected(ctx context.Context, hostUUID string) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE virtual_routers SET state = ?, status = ?, last_op_date = ? WHERE host_uuid = ? AND state = ?`,
		models.VMUnknown, models.RouterDisconnected, models.Now(), hostUUID, models.VMRunning)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// MarkRouterConnected records that a router was realised again on its host:
// Running and Connected, unless an operation moved it meanwhile (it is no
// longer Running or Unknown on that host).
func (s *Store) MarkRouterConnected(ctx context.Context, uuid, hostUUID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE virtual_routers SET state = ?, status = ?, last_op_date = ? WHERE uuid = ? AND host_uuid = ? AND state IN (?, ?)`,
		models.VMRunning, models.RouterConnected, models.Now(), uuid, hostUUID, models.VMRunning, models.VMUnknown)
	return err
}
