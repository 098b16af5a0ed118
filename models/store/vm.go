package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/zcloud/zcloud/models"
)

// Insert writes a row of a resource that has no owner of its own (NICs,
// image refs). Inserting the same UUID twice is a Conflict.
func (s *Store) Insert(ctx context.Context, resName string, entity any) error {
	r, ok := s.res[resName]
	if !ok {
		return fmt.Errorf("insert: unknown resource %s", resName)
	}
	return s.insert(ctx, s.db, r.Table, entity)
}

// TransitionVM moves a VM from one of the from states to state `to` in one
// conditional update; it is the per-VM lock of every mutating operation.
// It returns the state the VM was in.
func (s *Store) TransitionVM(ctx context.Context, uuid string, event models.VMEvent) (prev string, err error) {
	from, to, ok := models.VMTransition(event)
	if !ok {
		return "", fmt.Errorf("transition vm: unknown event %s", event)
	}
	var cur string
	if err := s.db.GetContext(ctx, &cur, `SELECT state FROM vm_instances WHERE uuid = ?`, uuid); err != nil {
		return "", models.NotFound("cannot find VmInstance[uuid:%s]", uuid)
	}
	args := []any{to, models.Now(), uuid, cur}
	allowed := false
	for _, f := range from {
		allowed = allowed || f == cur
	}
	if !allowed {
		return "", models.VMStateError(uuid, cur, event)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE vm_instances SET state = ?, last_op_date = ? WHERE uuid = ? AND state = ?`, args...)
	if err != nil {
		return "", fmt.Errorf("transition vm %s: %w", uuid, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// Someone else moved it between our read and our write.
		var now string
		_ = s.db.GetContext(ctx, &now, `SELECT state FROM vm_instances WHERE uuid = ?`, uuid)
		return "", models.VMStateError(uuid, now, event)
	}
	return cur, nil
}

// SetVMState sets a VM's state and, when hostUUID is not nil, its host
// (an empty host clears it and remembers the old one as lastHostUuid).
func (s *Store) SetVMState(ctx context.Context, uuid, state string, hostUUID *string) error {
	q := `UPDATE vm_instances SET state = ?, last_op_date = ?`
	args := []any{state, models.Now()}
	if hostUUID != nil {
		if *hostUUID == "" {
			q += `, last_host_uuid = CASE WHEN host_uuid IS NULL THEN last_host_uuid ELSE host_uuid END, host_uuid = NULL`
		} else {
			q += `, host_uuid = ?, last_host_uuid = ?`
			args = append(args, *hostUUID, *hostUUID)
		}
	}
	q += ` WHERE uuid = ?`
	args = append(args, uuid)
	if _, err := s.db.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("set vm state %s: %w", uuid, err)
	}
	return nil
}

// VMNics returns the NICs of a VM.
func (s *Store) VMNics(ctx context.Context, vmUUID string) ([]models.VMNic, error) {
	var out []models.VMNic
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM vm_nics WHERE vm_instance_uuid = ? ORDER BY device_id`, vmUUID)
	return out, err
}

// VMVolumes returns the volumes of a VM, root first.
func (s *Store) VMVolumes(ctx context.Context, vmUUID string) ([]models.Volume, error) {
	var out []models.Volume
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM volumes WHERE vm_instance_uuid = ? ORDER BY device_id`, vmUUID)
	return out, err
}

// HostVMStates returns the UUID and state of every VM the DB places on a
// host.
func (s *Store) HostVMStates(ctx context.Context, hostUUID string) (map[string]string, error) {
	var rows []struct {
		UUID  string `db:"uuid"`
		State string `db:"state"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT uuid, state FROM vm_instances WHERE host_uuid = ?`, hostUUID); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.UUID] = r.State
	}
	return out, nil
}

// SyncVMState applies a state the host reported, unless an operation holds
// the VM (an intermediate state): the operation's own result wins then.
func (s *Store) SyncVMState(ctx context.Context, vmUUID, hostUUID, state string) (bool, error) {
	busy := []string{models.VMStarting, models.VMStopping, models.VMRebooting, models.VMDestroying, models.VMMigrating,
		models.VMExpunging, models.VMPausing, models.VMResuming, models.VMCreated, models.VMDestroyed}
	q := `UPDATE vm_instances SET state = ?, last_op_date = ? WHERE uuid = ? AND host_uuid = ? AND state <> ? AND state NOT IN (?` +
		strings.Repeat(", ?", len(busy)-1) + `)`
	args := []any{state, models.Now(), vmUUID, hostUUID, state}
	for _, b := range busy {
		args = append(args, b)
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return false, fmt.Errorf("sync vm state: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// GlobalConfigValue returns a global config's value, or def when unset.
func (s *Store) GlobalConfigValue(ctx context.Context, category, name, def string) string {
	var v string
	if err := s.db.GetContext(ctx, &v, `SELECT value FROM global_configs WHERE category = ? AND name = ?`, category, name); err != nil {
		return def
	}
	return v
}

// EnsureGlobalConfig registers a global config with its default value; an
// existing value is kept.
func (s *Store) EnsureGlobalConfig(ctx context.Context, g models.GlobalConfig) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO global_configs (category, name, value, default_value, description) VALUES (?, ?, ?, ?, ?)`,
		g.Category, g.Name, g.DefaultValue, g.DefaultValue, g.Description)
	if err != nil && !isDuplicateKey(err) {
		return fmt.Errorf("ensure global config %s.%s: %w", g.Category, g.Name, err)
	}
	return nil
}

// SetGlobalConfig updates a registered global config.
func (s *Store) SetGlobalConfig(ctx context.Context, category, name, value string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE global_configs SET value = ? WHERE category = ? AND name = ?`, value, category, name)
	if err != nil {
		return fmt.Errorf("set global config: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return models.NotFound("cannot find global config[category:%s, name:%s]", category, name)
	}
	return nil
}

// SetVolumeHost records the host a volume's bits live on (local storage).
func (s *Store) SetVolumeHost(ctx context.Context, volUUID, hostUUID string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE volumes SET host_uuid = ? WHERE uuid = ?`, models.Ref(hostUUID), volUUID); err != nil {
		return fmt.Errorf("set volume host: %w", err)
	}
	return nil
}
