package store

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/zcloud/zcloud/models"
)

// Account types.
const (
	AccountSystemAdmin = "SystemAdmin"
	AccountNormal      = "Normal"
)

// SHA512Hex is how ZStack clients send passwords.
func SHA512Hex(plain string) string {
	h := sha512.Sum512([]byte(plain))
	return hex.EncodeToString(h[:])
}

// pwKey shortens the 128-character SHA-512 hex that clients send to the
// 64 characters bcrypt can take (it reads at most 72 bytes).
func pwKey(sha512hex string) []byte {
	h := sha256.Sum256([]byte(strings.ToLower(sha512hex)))
	return []byte(hex.EncodeToString(h[:]))
}

// EnsureAdmin creates the admin account with the given plain password when
// no account named name exists yet, and returns the admin's UUID.
func (s *Store) EnsureAdmin(ctx context.Context, name, plain string) (string, error) {
	var a models.Account
	err := s.db.GetContext(ctx, &a, `SELECT * FROM accounts WHERE name = ?`, name)
	if err == nil {
		return a.UUID, nil
	}
	hash, err := bcrypt.GenerateFromPassword(pwKey(SHA512Hex(plain)), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash admin password: %w", err)
	}
	now := models.Now()
	a = models.Account{UUID: models.NewUUID(), Name: name, Type: AccountSystemAdmin, PasswordHash: string(hash), CreateDate: now, LastOpDate: now}
	if err := s.insert(ctx, s.db, "accounts", &a); err != nil {
		if errors.Is(err, models.ErrConflict) { // created concurrently by another replica
			return s.EnsureAdmin(ctx, name, plain)
		}
		return "", err
	}
	return a.UUID, nil
}

// SetPassword sets an account's password (plain text in, bcrypt of its
// SHA-512 hex stored).
func (s *Store) SetPassword(ctx context.Context, name, plain string) error {
	hash, err := bcrypt.GenerateFromPassword(pwKey(SHA512Hex(plain)), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE accounts SET password_hash = ?, last_op_date = ? WHERE name = ?`, string(hash), models.Now(), name)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return models.NotFound("cannot find account[name:%s]", name)
	}
	return nil
}

// Login checks an account's password (the SHA-512 hex a client sends) and
// opens a session valid for ttl.
func (s *Store) Login(ctx context.Context, name, sha512hex string, ttl time.Duration) (models.Session, error) {
	var a models.Account
	err := s.db.GetContext(ctx, &a, `SELECT * FROM accounts WHERE name = ?`, name)
	if err != nil || bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), pwKey(sha512hex)) != nil {
		return models.Session{}, (&models.Error{Kind: models.KindAuth, Code: models.CodeIdentity,
			Message: "wrong account name or password"})
	}
	now := time.Now()
	sess := models.Session{UUID: models.NewUUID(), AccountUUID: a.UUID, UserUUID: a.UUID,
		CreateDate: models.TimeOf(now), ExpiredDate: models.TimeOf(now.Add(ttl))}
	if err := s.insert(ctx, s.db, "sessions", &sess); err != nil {
		return models.Session{}, err
	}
	return sess, nil
}

// Session returns a live session; an expired or unknown one is an auth error.
func (s *Store) Session(ctx context.Context, uuid string) (models.Session, error) {
	var sess models.Session
	err := s.db.GetContext(ctx, &sess, `SELECT * FROM sessions WHERE uuid = ?`, uuid)
	if err != nil || sess.ExpiredDate < models.Now() {
		return models.Session{}, &models.Error{Kind: models.KindAuth, Code: models.CodeIdentity,
			Message: "invalid session", Details: "the session[uuid:" + uuid + "] is not valid or has expired"}
	}
	return sess, nil
}

// Logout deletes a session; deleting a missing one is fine.
func (s *Store) Logout(ctx context.Context, uuid string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE uuid = ?`, uuid)
	return err
}

// setOwner records which account owns a resource (FEATURES.md item 64).
func (s *Store) setOwner(ctx context.Context, ex Querier, resUUID, resType, accountUUID string) error {
	_, err := ex.ExecContext(ctx, `INSERT INTO account_resource_refs (resource_uuid, resource_type, account_uuid, create_date) VALUES (?, ?, ?, ?)`,
		resUUID, resType, accountUUID, models.Now())
	if err != nil && !isDuplicateKey(err) {
		return fmt.Errorf("set owner of %s: %w", resUUID, err)
	}
	return nil
}

// Owner returns the account owning a resource.
func (s *Store) Owner(ctx context.Context, resUUID string) (string, error) {
	var acc string
	err := s.db.GetContext(ctx, &acc, `SELECT account_uuid FROM account_resource_refs WHERE resource_uuid = ?`, resUUID)
	if err != nil {
		return "", models.NotFound("no owner recorded for resource[uuid:%s]", resUUID)
	}
	return acc, nil
}
