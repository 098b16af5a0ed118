package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/zcloud/zcloud/models"
)

// RecomputeStorageAvailable sets a primary storage's available capacity to
// its total less the sizes of the volumes it holds (each volume row holds
// its bytes), and for a local storage each host's share likewise, so that
// drift (a crash between a host step and its record) is repaired. It
// answers the volumes' total.
func (s *Store) RecomputeStorageAvailable(ctx context.Context, psUUID string) (int64, error) {
	var used int64
	err := s.Tx(ctx, func(tx *sqlx.Tx) error {
		var ps models.PrimaryStorage
		if err := get(ctx, tx, &ps, "primary_storages", psUUID); err != nil {
			return err
		}
		if err := tx.GetContext(ctx, &used, `SELECT COALESCE(SUM(size), 0) FROM volumes WHERE primary_storage_uuid = ?`, psUUID); err != nil {
			return fmt.Errorf("volumes of primary storage: %w", err)
		}
		now := models.Now()
		if ps.Type != PSLocalStorage {
			_, err := tx.ExecContext(ctx, `UPDATE primary_storages SET available_capacity = CASE WHEN total_capacity > ? THEN total_capacity - ? ELSE 0 END,
				last_op_date = ? WHERE uuid = ?`, used, used, now, psUUID)
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE local_storage_host_refs SET available_capacity = CASE
			WHEN total_capacity > (SELECT COALESCE(SUM(v.size), 0) FROM volumes v WHERE v.primary_storage_uuid = local_storage_host_refs.primary_storage_uuid
				AND v.host_uuid = local_storage_host_refs.host_uuid)
			THEN total_capacity - (SELECT COALESCE(SUM(v.size), 0) FROM volumes v WHERE v.primary_storage_uuid = local_storage_host_refs.primary_storage_uuid
				AND v.host_uuid = local_storage_host_refs.host_uuid)
			ELSE 0 END, last_op_date = ? WHERE primary_storage_uuid = ?`, now, psUUID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE primary_storages SET
			available_capacity = (SELECT COALESCE(SUM(available_capacity), 0) FROM local_storage_host_refs WHERE primary_storage_uuid = ?),
			last_op_date = ? WHERE uuid = ?`, psUUID, now, psUUID)
		return err
	})
	return used, err
}
