package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/zcloud/zcloud/models"
)

// reserveHost takes cpu and memory from a host in one conditional update.
func reserveHost(ctx context.Context, tx *sqlx.Tx, hostUUID string, cpu, memory int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE hosts SET available_cpu_capacity = available_cpu_capacity - ?,
		available_memory_capacity = available_memory_capacity - ?
		WHERE uuid = ? AND available_cpu_capacity >= ? AND available_memory_capacity >= ?`,
		cpu, memory, hostUUID, cpu, memory)
	if err != nil {
		return fmt.Errorf("reserve host capacity: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return models.Unavailable("host[uuid:%s] has not enough capacity for cpu %d, memory %d", hostUUID, cpu, memory).WithCode(models.CodeAllocation)
	}
	return nil
}

// returnHost gives cpu and memory back to a host, never above its total.
func returnHost(ctx context.Context, ex Querier, hostUUID string, cpu, memory int64) error {
	_, err := ex.ExecContext(ctx, `UPDATE hosts SET
		available_cpu_capacity = CASE WHEN available_cpu_capacity + ? > total_cpu_capacity THEN total_cpu_capacity ELSE available_cpu_capacity + ? END,
		available_memory_capacity = CASE WHEN available_memory_capacity + ? > total_memory_capacity THEN total_memory_capacity ELSE available_memory_capacity + ? END
		WHERE uuid = ?`, cpu, cpu, memory, memory, hostUUID)
	if err != nil {
		return fmt.Errorf("return host capacity: %w", err)
	}
	return nil
}

// ReserveHostForVM takes a VM's cpu and memory from a host and records the
// allocation, atomically. Repeating it for the same VM and host is a no-op;
// a VM already placed on another host is a Conflict.
func (s *Store) ReserveHostForVM(ctx context.Context, vmUUID, hostUUID, psUUID string, cpu, memory int64) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		var held string
		err := tx.GetContext(ctx, &held, `SELECT host_uuid FROM vm_host_allocations WHERE vm_uuid = ?`, vmUUID)
		switch {
		case err == nil && held == hostUUID:
			return nil
		case err == nil:
			return models.Conflict("vm[uuid:%s] already holds capacity on host[uuid:%s]", vmUUID, held)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("reserve host for vm: %w", err)
		}
		if err := reserveHost(ctx, tx, hostUUID, cpu, memory); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO vm_host_allocations (vm_uuid, host_uuid, primary_storage_uuid, cpu, memory, create_date)
			VALUES (?, ?, ?, ?, ?, ?)`, vmUUID, hostUUID, psUUID, cpu, memory, models.Now())
		return err
	})
}

// VMAllocation is what a VM holds on a host.
type VMAllocation struct {
	HostUUID string `db:"host_uuid"`
	PSUUID   string `db:"primary_storage_uuid"`
	CPU      int64  `db:"cpu"`
	Memory   int64  `db:"memory"`
}

// AllocationOfVM returns what a VM holds, if anything.
func (s *Store) AllocationOfVM(ctx context.Context, vmUUID string) (VMAllocation, bool, error) {
	var a VMAllocation
	err := s.db.GetContext(ctx, &a, `SELECT host_uuid, primary_storage_uuid, cpu, memory FROM vm_host_allocations WHERE vm_uuid = ?`, vmUUID)
	if errors.Is(err, sql.ErrNoRows) {
		return a, false, nil
	}
	if err != nil {
		return a, false, fmt.Errorf("allocation of vm %s: %w", vmUUID, err)
	}
	return a, true, nil
}

// ReleaseHostOfVM gives back what a VM holds on its host; releasing twice
// is a no-op.
func (s *Store) ReleaseHostOfVM(ctx context.Context, vmUUID string) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		var a VMAllocation
		err := tx.GetContext(ctx, &a, `SELECT host_uuid, primary_storage_uuid, cpu, memory FROM vm_host_allocations WHERE vm_uuid = ?`, vmUUID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("release host of vm: %w", err)
		}
		if err := returnHost(ctx, tx, a.HostUUID, a.CPU, a.Memory); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM vm_host_allocations WHERE vm_uuid = ?`, vmUUID)
		return err
	})
}

// CreateVolume records a volume and takes its size from its primary
// storage, atomically; creating it again is a no-op.
func (s *Store) CreateVolume(ctx context.Context, v *models.Volume, ownerUUID string) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM volumes WHERE uuid = ?`, v.UUID); err != nil {
			return fmt.Errorf("create volume: %w", err)
		}
		if n > 0 {
			return nil
		}
		if v.PrimaryStorageUUID != "" && v.Size > 0 {
			res, err := tx.ExecContext(ctx, `UPDATE primary_storages SET available_capacity = available_capacity - ?
				WHERE uuid = ? AND available_capacity >= ?`, v.Size, v.PrimaryStorageUUID, v.Size)
			if err != nil {
				return fmt.Errorf("reserve primary storage capacity: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return models.Unavailable("primary storage[uuid:%s] has not enough capacity for %d bytes", v.PrimaryStorageUUID, v.Size).WithCode(models.CodeStorageCapacity)
			}
			// A local storage is the sum of its hosts' disks: the volume
			// takes its room on its own host.
			res, err = tx.ExecContext(ctx, `UPDATE local_storage_host_refs SET available_capacity = available_capacity - ?
				WHERE primary_storage_uuid = ? AND host_uuid = ? AND available_capacity >= ?`, v.Size, v.PrimaryStorageUUID, string(v.HostUUID), v.Size)
			if err != nil {
				return fmt.Errorf("reserve local storage capacity: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				if local, err := isLocalStorage(ctx, tx, string(v.PrimaryStorageUUID)); err != nil || local {
					if err != nil {
						return err
					}
					return models.Unavailable("local storage[uuid:%s] has not enough capacity for %d bytes on host[uuid:%s]", v.PrimaryStorageUUID, v.Size, v.HostUUID).WithCode(models.CodeStorageCapacity)
				}
			}
		}
		if err := s.insert(ctx, tx, "volumes", v); err != nil {
			return err
		}
		return s.setOwner(ctx, tx, v.UUID, ResVolume, ownerUUID)
	})
}

// DeleteVolume deletes a volume record and gives its size back to its
// primary storage, atomically; deleting it again is a no-op.
func (s *Store) DeleteVolume(ctx context.Context, volUUID string) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		var v models.Volume
		err := tx.GetContext(ctx, &v, `SELECT * FROM volumes WHERE uuid = ?`, volUUID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("delete volume: %w", err)
		}
		if v.PrimaryStorageUUID != "" && v.Size > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE primary_storages SET available_capacity =
				CASE WHEN available_capacity + ? > total_capacity THEN total_capacity ELSE available_capacity + ? END
				WHERE uuid = ?`, v.Size, v.Size, v.PrimaryStorageUUID); err != nil {
				return fmt.Errorf("return primary storage capacity: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE local_storage_host_refs SET available_capacity =
				CASE WHEN available_capacity + ? > total_capacity THEN total_capacity ELSE available_capacity + ? END
				WHERE primary_storage_uuid = ? AND host_uuid = ?`, v.Size, v.Size, v.PrimaryStorageUUID, string(v.HostUUID)); err != nil {
				return fmt.Errorf("return local storage capacity: %w", err)
			}
		}
		for _, q := range []string{"DELETE FROM volumes WHERE uuid = ?", "DELETE FROM system_tags WHERE resource_uuid = ?",
			"DELETE FROM user_tags WHERE resource_uuid = ?", "DELETE FROM account_resource_refs WHERE resource_uuid = ?"} {
			if _, err := tx.ExecContext(ctx, q, volUUID); err != nil {
				return fmt.Errorf("delete volume: %w", err)
			}
		}
		return nil
	})
}

// PSLocalStorage is ZStack's type of a primary storage made of each host's
// own disk.
const PSLocalStorage = "LocalStorage"

func isLocalStorage(ctx context.Context, tx *sqlx.Tx, psUUID string) (bool, error) {
	var typ string
	if err := tx.GetContext(ctx, &typ, `SELECT type FROM primary_storages WHERE uuid = ?`, psUUID); err != nil {
		return false, fmt.Errorf("primary storage type: %w", err)
	}
	return typ == PSLocalStorage, nil
}

// MoveHostOfVM moves what a VM holds from its host to another (a
// migration), atomically: the destination must have room. Moving to the
// host it holds already is a no-op.
func (s *Store) MoveHostOfVM(ctx context.Context, vmUUID, toHostUUID string) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		var a VMAllocation
		err := tx.GetContext(ctx, &a, `SELECT host_uuid, primary_storage_uuid, cpu, memory FROM vm_host_allocations WHERE vm_uuid = ?`, vmUUID)
		if errors.Is(err, sql.ErrNoRows) {
			return models.Conflict("vm[uuid:%s] holds no host", vmUUID)
		}
		if err != nil {
			return fmt.Errorf("move host of vm: %w", err)
		}
		if a.HostUUID == toHostUUID {
			return nil
		}
		if err := reserveHost(ctx, tx, toHostUUID, a.CPU, a.Memory); err != nil {
			return err
		}
		if err := returnHost(ctx, tx, a.HostUUID, a.CPU, a.Memory); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE vm_host_allocations SET host_uuid = ? WHERE vm_uuid = ?`, toHostUUID, vmUUID)
		return err
	})
}
