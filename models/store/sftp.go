package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/zcloud/zcloud/models"
)

// SftpKey is the SSH key pair of an Sftp backup storage. PrivateKey is in
// its at-rest (encrypted) form; it is never part of an inventory.
type SftpKey struct {
	BSUUID     string `db:"backup_storage_uuid"`
	PrivateKey string `db:"private_key"`
	// PublicKey is the authorized_keys line installed on the backup
	// storage host.
	PublicKey string `db:"public_key"`
	// HostKey is the SHA256 fingerprint of the backup storage host's key.
	HostKey string `db:"host_key"`
}

// CreateSftpKey records a backup storage's key pair unless it has one; it
// returns the one recorded, so that a retried step keeps the first key.
func (s *Store) CreateSftpKey(ctx context.Context, k SftpKey) (SftpKey, error) {
	now := models.Now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO sftp_backup_storage_keys (backup_storage_uuid, private_key, public_key, host_key, create_date, last_op_date)
		VALUES (?, ?, ?, ?, ?, ?)`, k.BSUUID, k.PrivateKey, k.PublicKey, k.HostKey, now, now)
	if err != nil {
		// A retried step finds the key its first attempt recorded.
		if held, gerr := s.SftpKey(ctx, k.BSUUID); gerr == nil {
			return held, nil
		}
		return SftpKey{}, fmt.Errorf("create sftp key: %w", err)
	}
	return s.SftpKey(ctx, k.BSUUID)
}

// SftpKey reads a backup storage's key pair.
func (s *Store) SftpKey(ctx context.Context, bsUUID string) (SftpKey, error) {
	var k SftpKey
	err := s.db.GetContext(ctx, &k, `SELECT backup_storage_uuid, private_key, public_key, host_key FROM sftp_backup_storage_keys
		WHERE backup_storage_uuid = ?`, bsUUID)
	if errors.Is(err, sql.ErrNoRows) {
		return k, models.NotFound("no ssh key for sftp backup storage[uuid:%s]", bsUUID)
	}
	if err != nil {
		return k, fmt.Errorf("sftp key: %w", err)
	}
	return k, nil
}

// SetSftpHostKey records the fingerprint of the backup storage host's key.
func (s *Store) SetSftpHostKey(ctx context.Context, bsUUID, hostKey string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sftp_backup_storage_keys SET host_key = ?, last_op_date = ? WHERE backup_storage_uuid = ?`,
		hostKey, models.Now(), bsUUID)
	if err != nil {
		return fmt.Errorf("set sftp host key: %w", err)
	}
	return nil
}

// DeleteSftpKey forgets a backup storage's key pair; forgetting none is
// fine.
func (s *Store) DeleteSftpKey(ctx context.Context, bsUUID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sftp_backup_storage_keys WHERE backup_storage_uuid = ?`, bsUUID); err != nil {
		return fmt.Errorf("delete sftp key: %w", err)
	}
	return nil
}
