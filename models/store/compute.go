package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
