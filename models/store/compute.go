package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/zcloud/zcloud/models"
)

// SetSSHPassword keeps the SSH password of a host or backup storage apart
// from its inventory (so no query or inventory can return it).
func (s *Store) SetSSHPassword(ctx context.Context, resourceUUID, password string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM ssh_credentials WHERE resource_uuid = ?`, resourceUUID); err != nil {
		return fmt.Errorf("set ssh password: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO ssh_credentials (resource_uuid, password, create_date) VALUES (?, ?, ?)`,
		resourceUUID, password, models.Now()); err != nil {
		return fmt.Errorf("set ssh password: %w", err)
	}
	return nil
}

// SSHPassword reads the SSH password of a host or backup storage.
func (s *Store) SSHPassword(ctx context.Context, resourceUUID string) (string, error) {
	var pw string
	err := s.db.GetContext(ctx, &pw, `SELECT password FROM ssh_credentials WHERE resource_uuid = ?`, resourceUUID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", models.NotFound("no ssh credentials for resource[uuid:%s]", resourceUUID)
	}
	return pw, err
}

// DeleteSSHPassword forgets an SSH password; forgetting none is fine.
func (s *Store) DeleteSSHPassword(ctx context.Context, resourceUUID string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM ssh_credentials WHERE resource_uuid = ?`, resourceUUID)
	return err
}

// LocalStorageHost is one host's share of a local primary storage
// (GetLocalStorageHostDiskCapacity's inventory).
type LocalStorageHost struct {
	UUID                      string      `db:"uuid" json:"-"`
	PrimaryStorageUUID        string      `db:"primary_storage_uuid" json:"primaryStorageUuid"`
	HostUUID                  string      `db:"host_uuid" json:"hostUuid"`
	TotalCapacity             int64       `db:"total_capacity" json:"totalCapacity"`
	AvailableCapacity         int64       `db:"available_capacity" json:"availableCapacity"`
	TotalPhysicalCapacity     int64       `db:"total_physical_capacity" json:"totalPhysicalCapacity"`
	AvailablePhysicalCapacity int64       `db:"available_physical_capacity" json:"availablePhysicalCapacity"`
	CreateDate                models.Time `db:"create_date" json:"-"`
	LastOpDate                models.Time `db:"last_op_date" json:"-"`
}

// RecordStorageCapacity records what a host reported of a primary
// storage's directory. A local storage gets (on first report) the host's
// share, and its totals become the sum of its hosts'; a shared one (NFS,
// shared mount point) takes the numbers as its own, keeping what volumes
// already reserved.
func (s *Store) RecordStorageCapacity(ctx context.Context, psUUID, hostUUID string, total, avail int64) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		var ps models.PrimaryStorage
		if err := get(ctx, tx, &ps, "primary_storages", psUUID); err != nil {
			return err
		}
		now := models.Now()
		if ps.Type != PSLocalStorage {
			used := ps.TotalCapacity - ps.AvailableCapacity
			if ps.TotalCapacity == 0 {
				used = total - avail
			}
			_, err := tx.ExecContext(ctx, `UPDATE primary_storages SET total_capacity = ?, available_capacity = ?,
				total_physical_capacity = ?, available_physical_capacity = ?, status = ?, last_op_date = ? WHERE uuid = ?`,
				total, max(total-used, 0), total, avail, models.StatusConnected, now, psUUID)
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE local_storage_host_refs SET total_physical_capacity = ?, available_physical_capacity = ?,
			last_op_date = ? WHERE primary_storage_uuid = ? AND host_uuid = ?`, total, avail, now, psUUID, hostUUID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			// Room already taken by others on that disk is not ours to give.
			if _, err := tx.ExecContext(ctx, `INSERT INTO local_storage_host_refs (uuid, primary_storage_uuid, host_uuid, total_capacity,
				available_capacity, total_physical_capacity, available_physical_capacity, create_date, last_op_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				models.NameUUID("LocalStorageHost", psUUID, hostUUID), psUUID, hostUUID, avail, avail, total, avail, now, now); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE primary_storages SET
			total_capacity = (SELECT COALESCE(SUM(total_capacity), 0) FROM local_storage_host_refs WHERE primary_storage_uuid = ?),
			available_capacity = (SELECT COALESCE(SUM(available_capacity), 0) FROM local_storage_host_refs WHERE primary_storage_uuid = ?),
			total_physical_capacity = (SELECT COALESCE(SUM(total_physical_capacity), 0) FROM local_storage_host_refs WHERE primary_storage_uuid = ?),
			available_physical_capacity = (SELECT COALESCE(SUM(available_physical_capacity), 0) FROM local_storage_host_refs WHERE primary_storage_uuid = ?),
			status = ?, last_op_date = ? WHERE uuid = ?`, psUUID, psUUID, psUUID, psUUID, models.StatusConnected, now, psUUID)
		return err
	})
}

// ForgetLocalStorageHost drops a host's share of its local storages (the
// host is deleted) and takes it out of their totals.
func (s *Store) ForgetLocalStorageHost(ctx context.Context, hostUUID string) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		var refs []LocalStorageHost
		if err := tx.SelectContext(ctx, &refs, `SELECT * FROM local_storage_host_refs WHERE host_uuid = ?`, hostUUID); err != nil {
			return err
		}
		for _, r := range refs {
			if _, err := tx.ExecContext(ctx, `UPDATE primary_storages SET total_capacity = total_capacity - ?, available_capacity = available_capacity - ?,
				total_physical_capacity = total_physical_capacity - ?, available_physical_capacity = available_physical_capacity - ? WHERE uuid = ?`,
				r.TotalCapacity, r.AvailableCapacity, r.TotalPhysicalCapacity, r.AvailablePhysicalCapacity, r.PrimaryStorageUUID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM local_storage_host_refs WHERE host_uuid = ?`, hostUUID)
		return err
	})
}

// LocalStorageHosts lists the hosts' shares of a local storage (hostUUID
// empty: all of them).
func (s *Store) LocalStorageHosts(ctx context.Context, psUUID, hostUUID string) ([]LocalStorageHost, error) {
	out := []LocalStorageHost{}
	q, args := `SELECT * FROM local_storage_host_refs WHERE primary_storage_uuid = ?`, []any{psUUID}
	if hostUUID != "" {
		q, args = q+` AND host_uuid = ?`, append(args, hostUUID)
	}
	err := s.db.SelectContext(ctx, &out, q+` ORDER BY host_uuid`, args...)
	return out, err
}

// PlaceVolume puts a volume on a primary storage (and, for a local
// storage, on a host), taking its size from their capacity. A volume
// placed already stays where it is.
func (s *Store) PlaceVolume(ctx context.Context, volUUID, psUUID, hostUUID string) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		var v models.Volume
		if err := get(ctx, tx, &v, "volumes", volUUID); err != nil {
			return err
		}
		if v.PrimaryStorageUUID != "" {
			return nil
		}
		local, err := isLocalStorage(ctx, tx, psUUID)
		if err != nil {
			return err
		}
		if !local {
			hostUUID = ""
		}
		if err := reservePS(ctx, tx, psUUID, hostUUID, v.Size); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE volumes SET primary_storage_uuid = ?, host_uuid = ?, last_op_date = ? WHERE uuid = ?`,
			psUUID, nullable(hostUUID), models.Now(), volUUID)
		return err
	})
}

// UnplaceVolume gives a volume's size back and takes it off its primary
// storage (undoing PlaceVolume of a volume never instantiated).
func (s *Store) UnplaceVolume(ctx context.Context, volUUID string) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		var v models.Volume
		if err := get(ctx, tx, &v, "volumes", volUUID); err != nil {
			if models.AsError(err).Kind == models.KindNotFound {
				return nil
			}
			return err
		}
		if v.PrimaryStorageUUID == "" {
			return nil
		}
		if err := returnPS(ctx, tx, string(v.PrimaryStorageUUID), string(v.HostUUID), v.Size); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE volumes SET primary_storage_uuid = NULL, host_uuid = NULL, install_path = NULL,
			status = ?, last_op_date = ? WHERE uuid = ?`, models.VolumeNotInstantiated, models.Now(), volUUID)
		return err
	})
}

// ResizeVolume records a volume's new size, taking growth from (or giving a
// shrink back to) its primary storage.
func (s *Store) ResizeVolume(ctx context.Context, volUUID string, size int64) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		var v models.Volume
		if err := get(ctx, tx, &v, "volumes", volUUID); err != nil {
			return err
		}
		if size == v.Size {
			return nil
		}
		if v.PrimaryStorageUUID != "" {
			var err error
			if size > v.Size {
				err = reservePS(ctx, tx, string(v.PrimaryStorageUUID), string(v.HostUUID), size-v.Size)
			} else {
				err = returnPS(ctx, tx, string(v.PrimaryStorageUUID), string(v.HostUUID), v.Size-size)
			}
			if err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE volumes SET size = ?, last_op_date = ? WHERE uuid = ?`, size, models.Now(), volUUID)
		return err
	})
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// reservePS takes bytes from a primary storage, and for a local storage
// from the share of the host holding the volume.
func reservePS(ctx context.Context, tx *sqlx.Tx, psUUID, hostUUID string, bytes int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE primary_storages SET available_capacity = available_capacity - ?
		WHERE uuid = ? AND available_capacity >= ?`, bytes, psUUID, bytes)
	if err != nil {
		return fmt.Errorf("reserve primary storage capacity: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return models.Unavailable("primary storage[uuid:%s] has not enough capacity for %d bytes", psUUID, bytes).WithCode(models.CodeStorageCapacity)
	}
	if local, err := isLocalStorage(ctx, tx, psUUID); err != nil || !local || hostUUID == "" {
		return err
	}
	res, err = tx.ExecContext(ctx, `UPDATE local_storage_host_refs SET available_capacity = available_capacity - ?
		WHERE primary_storage_uuid = ? AND host_uuid = ? AND available_capacity >= ?`, bytes, psUUID, hostUUID, bytes)
	if err != nil {
		return fmt.Errorf("reserve local storage capacity: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return models.Unavailable("local storage[uuid:%s] has not enough capacity for %d bytes on host[uuid:%s]", psUUID, bytes, hostUUID).WithCode(models.CodeStorageCapacity)
	}
	return nil
}

func returnPS(ctx context.Context, tx *sqlx.Tx, psUUID, hostUUID string, bytes int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE primary_storages SET available_capacity =
		CASE WHEN available_capacity + ? > total_capacity THEN total_capacity ELSE available_capacity + ? END WHERE uuid = ?`, bytes, bytes, psUUID); err != nil {
		return fmt.Errorf("return primary storage capacity: %w", err)
	}
	if local, err := isLocalStorage(ctx, tx, psUUID); err != nil || !local || hostUUID == "" {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE local_storage_host_refs SET available_capacity =
		CASE WHEN available_capacity + ? > total_capacity THEN total_capacity ELSE available_capacity + ? END
		WHERE primary_storage_uuid = ? AND host_uuid = ?`, bytes, bytes, psUUID, hostUUID)
	return err
}
