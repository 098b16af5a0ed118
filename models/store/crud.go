package store

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/zcloud/zcloud/models"
)

// Create inserts a new resource row and records its owner, in one
// transaction. Creating the same UUID twice is a Conflict, which callers
// that retry (activities) treat as "already done".
func (s *Store) Create(ctx context.Context, resName string, entity any, uuid, ownerUUID string) error {
	r, ok := s.res[resName]
	if !ok {
		return fmt.Errorf("create: unknown resource %s", resName)
	}
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		if err := s.insert(ctx, tx, r.Table, entity); err != nil {
			return err
		}
		return s.setOwner(ctx, tx, uuid, resName, ownerUUID)
	})
}

// Get reads a resource row by UUID into dst (a pointer to its entity).
func (s *Store) Get(ctx context.Context, resName, uuid string, dst any) error {
	r, ok := s.res[resName]
	if !ok {
		return fmt.Errorf("get: unknown resource %s", resName)
	}
	if err := get(ctx, s.db, dst, r.Table, uuid); err != nil {
		if models.AsError(err).Kind == models.KindNotFound {
			return models.NotFound("cannot find %s[uuid:%s]", resName, uuid)
		}
		return err
	}
	return nil
}

// Exists reports whether a resource with that UUID exists.
func (s *Store) Exists(ctx context.Context, resName, uuid string) (bool, error) {
	r, ok := s.res[resName]
	if !ok {
		return false, fmt.Errorf("exists: unknown resource %s", resName)
	}
	var n int
	if err := s.db.GetContext(ctx, &n, "SELECT COUNT(*) FROM "+r.Table+" WHERE uuid = ?", uuid); err != nil {
		return false, fmt.Errorf("exists %s: %w", resName, err)
	}
	return n > 0, nil
}

// Update sets whitelisted fields (by JSON name) of a resource and bumps its
// lastOpDate. Unknown fields are an Invalid error; a missing row NotFound.
func (s *Store) Update(ctx context.Context, resName, uuid string, changes map[string]any) error {
	r, ok := s.res[resName]
	if !ok {
		return fmt.Errorf("update: unknown resource %s", resName)
	}
	if len(changes) == 0 {
		return nil
	}
	names := make([]string, 0, len(changes))
	for n := range changes {
		names = append(names, n)
	}
	sort.Strings(names)
	var sets []string
	var args []any
	for _, n := range names {
		f, ok := r.Field(n)
		if !ok {
			return models.Invalid("field [%s] of %s cannot be updated", n, resName)
		}
		sets = append(sets, f.Column+" = ?")
		args = append(args, changes[n])
	}
	if _, ok := r.Field("lastOpDate"); ok {
		sets = append(sets, "last_op_date = ?")
		args = append(args, models.Now())
	}
	args = append(args, uuid)
	res, err := s.db.ExecContext(ctx, "UPDATE "+r.Table+" SET "+strings.Join(sets, ", ")+" WHERE uuid = ?", args...)
	if err != nil {
		return fmt.Errorf("update %s %s: %w", resName, uuid, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if ok, _ := s.Exists(ctx, resName, uuid); !ok {
			return models.NotFound("cannot find %s[uuid:%s]", resName, uuid)
		}
	}
	return nil
}

// Delete removes a resource row, its tags and its owner record. Deleting a
// missing row is not an error (compensations re-run).
func (s *Store) Delete(ctx context.Context, resName, uuid string) error {
	r, ok := s.res[resName]
	if !ok {
		return fmt.Errorf("delete: unknown resource %s", resName)
	}
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		for _, q := range []string{
			"DELETE FROM " + r.Table + " WHERE uuid = ?",
			"DELETE FROM system_tags WHERE resource_uuid = ?",
			"DELETE FROM user_tags WHERE resource_uuid = ?",
			"DELETE FROM account_resource_refs WHERE resource_uuid = ?",
		} {
			if _, err := tx.ExecContext(ctx, q, uuid); err != nil {
				return fmt.Errorf("delete %s %s: %w", resName, uuid, err)
			}
		}
		return nil
	})
}

// Count returns the number of rows matching an SQL predicate written by
// ZCloud (never by users), for checks such as "zone has clusters".
func (s *Store) Count(ctx context.Context, table, where string, args ...any) (int, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, "SELECT COUNT(*) FROM "+table+" WHERE "+where, args...); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

// AddTags records system and user tags of a resource.
func (s *Store) AddTags(ctx context.Context, resUUID, resType string, systemTags, userTags []string) error {
	now := models.Now()
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		for _, set := range []struct {
			table, typ string
			tags       []string
		}{{"system_tags", "System", systemTags}, {"user_tags", "User", userTags}} {
			for _, t := range set.tags {
				tag := models.Tag{UUID: models.NameUUID(resUUID, set.typ, t), ResourceUUID: resUUID, ResourceType: resType,
					Tag: t, Type: set.typ, CreateDate: now, LastOpDate: now}
				if err := s.insert(ctx, tx, set.table, &tag); err != nil && models.AsError(err).Kind != models.KindConflict {
					return err
				}
			}
		}
		return nil
	})
}

// Attach records a many-to-many reference (PS↔cluster, BS↔zone,
// L2↔cluster); attaching twice is a no-op.
func (s *Store) Attach(ctx context.Context, refRes, aUUID, bUUID string) error {
	r, ok := s.res[refRes]
	if !ok || len(r.Fields) != 2 {
		return fmt.Errorf("attach: unknown reference %s", refRes)
	}
	_, err := s.db.ExecContext(ctx, "INSERT INTO "+r.Table+" (uuid, "+r.Fields[0].Column+", "+r.Fields[1].Column+", create_date) VALUES (?, ?, ?, ?)",
		models.NameUUID(refRes, aUUID, bUUID), aUUID, bUUID, models.Now())
	if err != nil && !isDuplicateKey(err) {
		return fmt.Errorf("attach %s: %w", refRes, err)
	}
	return nil
}

// Detach removes a many-to-many reference; detaching twice is a no-op.
func (s *Store) Detach(ctx context.Context, refRes, aUUID, bUUID string) error {
	r, ok := s.res[refRes]
	if !ok || len(r.Fields) != 2 {
		return fmt.Errorf("detach: unknown reference %s", refRes)
	}
	_, err := s.db.ExecContext(ctx, "DELETE FROM "+r.Table+" WHERE "+r.Fields[0].Column+" = ? AND "+r.Fields[1].Column+" = ?", aUUID, bUUID)
	if err != nil {
		return fmt.Errorf("detach %s: %w", refRes, err)
	}
	return nil
}

// Refs returns the B side of a reference for one A (e.g. the clusters a PS
// is attached to).
func (s *Store) Refs(ctx context.Context, refRes, aUUID string) ([]string, error) {
	r := s.res[refRes]
	out := []string{}
	err := s.db.SelectContext(ctx, &out, "SELECT "+r.Fields[1].Column+" FROM "+r.Table+" WHERE "+r.Fields[0].Column+" = ? ORDER BY create_date, uuid", aUUID)
	return out, err
}
