package store

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/zcloud/zcloud/models"
)

// SetHostAddresses records the IPv4 addresses a host's agent reported on
// connect; none reported keeps the ones known.
func (s *Store) SetHostAddresses(ctx context.Context, hostUUID string, addrs []netip.Prefix) error {
	if len(addrs) == 0 {
		return nil
	}
	list := make([]string, len(addrs))
	for i, a := range addrs {
		list[i] = a.String()
	}
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM host_addresses WHERE host_uuid = ?", hostUUID); err != nil {
			return fmt.Errorf("record addresses of host %s: %w", hostUUID, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO host_addresses (host_uuid, addresses, last_op_date) VALUES (?, ?, ?)",
			hostUUID, strings.Join(list, ","), models.Now()); err != nil {
			return fmt.Errorf("record addresses of host %s: %w", hostUUID, err)
		}
		return nil
	})
}

// LostHostAddresses returns, for the cluster's KVM hosts that are not
// Connected, the addresses they reported when they last connected (hosts
// that reported none are left out), by host UUID in order.
func (s *Store) LostHostAddresses(ctx context.Context, clusterUUID, hypervisor string) ([]string, map[string][]netip.Prefix, error) {
	var rows []struct {
		UUID      string `db:"host_uuid"`
		Addresses string `db:"addresses"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT a.host_uuid, a.addresses FROM host_addresses a JOIN hosts h ON h.uuid = a.host_uuid
		WHERE h.cluster_uuid = ? AND h.hypervisor_type = ? AND h.status <> ? ORDER BY a.host_uuid`, clusterUUID, hypervisor, models.StatusConnected); err != nil {
		return nil, nil, err
	}
	uuids, out := []string{}, map[string][]netip.Prefix{}
	for _, r := range rows {
		var addrs []netip.Prefix
		for _, a := range strings.Split(r.Addresses, ",") {
			p, err := netip.ParsePrefix(a)
			if err != nil {
				return nil, nil, fmt.Errorf("address %q of host %s: %w", a, r.UUID, err)
			}
			addrs = append(addrs, p)
		}
		uuids = append(uuids, r.UUID)
		out[r.UUID] = addrs
	}
	return uuids, out, nil
}
