package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/zcloud/zcloud/models"
)

// Router appliance lifecycle beyond create/start/stop: migration to another
// host, and the router's status following its host's connection.

// RouterMigration is where a router moves from and to, and the L2
// networks its NICs need on the destination. SrcLost: the router's host
// stopped answering, so the router is evacuated without its source.
type RouterMigration struct {
	SrcHost, SrcCluster, DstHost, DstCluster string
	L2UUIDs                                  []string
	SrcLost                                  bool
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
	// Unknown: its host stopped answering; the router is evacuated.
	if r.State != models.VMRunning && r.State != models.VMMigrating && r.State != models.VMUnknown {
		return RouterMigration{}, models.Invalid("vpc router[uuid:%s] is %s; migrate needs it to be Running (or Unknown, to evacuate it from a lost host)",
			uuid, r.State).WithCode(models.CodeVMState)
	}
	m := RouterMigration{SrcHost: string(r.HostUUID), SrcCluster: r.ClusterUUID, SrcLost: r.Status == models.RouterDisconnected}
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
// or compensation changes nothing twice. leftover records that from could
// not be reached and may still run the router (see RouterStrays); a
// leftover on to is forgotten, the router being placed there again.
func (s *Store) MoveRouterHost(ctx context.Context, uuid, from, to, cluster string, leftover bool) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE virtual_routers SET host_uuid = ?, last_host_uuid = ?, cluster_uuid = ?, last_op_date = ?
			WHERE uuid = ? AND host_uuid = ?`, to, from, cluster, models.Now(), uuid, from)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var host string
			if err := tx.GetContext(ctx, &host, `SELECT host_uuid FROM virtual_routers WHERE uuid = ?`, uuid); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return models.NotFound("vpc router[uuid:%s] not found", uuid)
				}
				return err
			}
			if host != to {
				return models.Conflict("vpc router[uuid:%s] is on host[uuid:%s], not on host[uuid:%s]", uuid, host, from)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM router_leftovers WHERE router_uuid = ? AND host_uuid = ?`, uuid, to); err != nil {
			return err
		}
		if !leftover {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM router_leftovers WHERE router_uuid = ? AND host_uuid = ?`, uuid, from); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO router_leftovers (router_uuid, host_uuid, create_date) VALUES (?, ?, ?)`, uuid, from, models.Now())
		return err
	})
}

// HasRouterLeftovers reports whether routers were moved away from the host
// while it could not be reached.
func (s *Store) HasRouterLeftovers(ctx context.Context, hostUUID string) (bool, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM router_leftovers WHERE host_uuid = ?`, hostUUID)
	return n > 0, err
}

// ClearRouterLeftovers forgets the host's leftovers once it removed its
// stray routers.
func (s *Store) ClearRouterLeftovers(ctx context.Context, hostUUID string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM router_leftovers WHERE host_uuid = ?`, hostUUID)
	return err
}

// RouterStray is a router a host has that it must remove, with the
// generation to order the removal by (0: the router is gone).
type RouterStray struct {
	RouterUUID string `json:"routerUuid"`
	Generation int64  `json:"generation"`
}

// RouterStrays picks, among the routers present on a host, those it must
// remove: routers destroyed, or placed on another host and settled there.
// A router in the middle of an operation (being created, started or
// migrated to this host) is left alone: its workflow decides.
func (s *Store) RouterStrays(ctx context.Context, hostUUID string, present []string) ([]RouterStray, error) {
	settled := map[string]bool{models.VMRunning: true, models.VMStopped: true, models.VMUnknown: true}
	out := []RouterStray{}
	for _, uuid := range present {
		var r struct {
			Host       sql.NullString `db:"host_uuid"`
			State      string         `db:"state"`
			Generation int64          `db:"generation"`
		}
		err := s.db.GetContext(ctx, &r, `SELECT host_uuid, state, generation FROM virtual_routers WHERE uuid = ?`, uuid)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			out = append(out, RouterStray{RouterUUID: uuid})
		case err != nil:
			return nil, err
		case r.Host.String != hostUUID && settled[r.State]:
			out = append(out, RouterStray{RouterUUID: uuid, Generation: r.Generation})
		}
	}
	return out, nil
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
