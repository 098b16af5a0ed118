package db

import (
	"context"
	"slices"
	"strconv"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// gcKind is a kind of resource the garbage collector expunges, with
// ZStack's defaults (conf/globalConfig/vm.xml, image.xml, volume.xml), in
// seconds.
type gcKind struct {
	kind             string
	period, interval int
}

// gcKinds are the kinds in the order a collector round handles them.
func gcKinds() []gcKind {
	return []gcKind{
		{kind: activities.GCKindVM, period: 86400, interval: 3600},
		{kind: activities.GCKindImage, period: 86400, interval: 3600},
		{kind: activities.GCKindVolume, period: 259200, interval: 3600},
	}
}

// Names of the collector's global configs in each kind's category.
const (
	gcPolicyConfig   = "deletionPolicy"
	gcPeriodConfig   = "expungePeriod"
	gcIntervalConfig = "expungeInterval"
)

// gcConfigs are the collector's global configs (vm.deletionPolicy and
// image.deletionPolicy are registered with the host configs).
func gcConfigs() []models.GlobalConfig {
	out := []models.GlobalConfig{{Category: activities.GCKindVolume, Name: gcPolicyConfig, DefaultValue: models.DeletePolicyDelay,
		Description: "Direct, Delay or Never: a deleted data volume is expunged at once, after volume.expungePeriod, or never"}}
	for _, k := range gcKinds() {
		out = append(out,
			models.GlobalConfig{Category: k.kind, Name: gcPeriodConfig, DefaultValue: strconv.Itoa(k.period),
				Description: "seconds a deleted " + k.kind + " stays recoverable before it is expunged (Delay policy)"},
			models.GlobalConfig{Category: k.kind, Name: gcIntervalConfig, DefaultValue: strconv.Itoa(k.interval),
				Description: "seconds between two runs of the task expunging deleted " + k.kind + "s"})
	}
	return out
}

func (a *Activities) registerGC(w worker.Registry) {
	for name, fn := range map[string]any{
		activities.GCConfigs:          a.GCConfigs,
		activities.GCCandidates:       a.GCCandidates,
		activities.VolumeDeletePolicy: a.VolumeDeletePolicy,
		activities.BSRecordCapacity:   a.BSRecordCapacity,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// validateGCConfig checks a new value of a collector config: a policy ZStack
// knows, a period or interval of at least one second.
func validateGCConfig(category, name, value string) error {
	if !slices.ContainsFunc(gcKinds(), func(k gcKind) bool { return k.kind == category }) {
		return nil
	}
	switch name {
	case gcPolicyConfig:
		if !slices.Contains([]string{models.DeletePolicyDirect, models.DeletePolicyDelay, models.DeletePolicyNever}, value) {
			return models.Invalid("global config %s.%s: value [%s] is not one of Direct, Delay, Never", category, name, value).
				WithCode(models.CodeInvalidArgument)
		}
	case gcPeriodConfig, gcIntervalConfig:
		if n, err := strconv.ParseInt(value, 10, 64); err != nil || n <= 0 {
			return models.Invalid("global config %s.%s: value [%s] is not a number of seconds greater than 0", category, name, value).
				WithCode(models.CodeInvalidArgument)
		}
	}
	return nil
}

// wakeGC has the collector re-read its configs at once after one of them
// changed, so a shorter interval does not wait for the end of the longer
// one. The collector not running is no error: it reads them when it starts.
func (a *Activities) wakeGC(ctx context.Context, category, name string) {
	if a.Temporal == nil || !slices.Contains([]string{gcPolicyConfig, gcPeriodConfig, gcIntervalConfig}, name) ||
		!slices.ContainsFunc(gcKinds(), func(k gcKind) bool { return k.kind == category }) {
		return
	}
	if err := a.Temporal.SignalWorkflow(ctx, workflows.GCWorkflowID, "", workflows.GCWakeSignal, nil); err != nil {
		a.Logger.Debug("garbage collector not woken", "error", err)
	}
}

// GCConfigs reads every kind's deletion policy, expunge period and
// interval; a value that does not parse counts as its default.
func (a *Activities) GCConfigs(ctx context.Context, _ struct{}) (activities.GCConfigsResult, error) {
	var out activities.GCConfigsResult
	for _, k := range gcKinds() {
		out.Kinds = append(out.Kinds, activities.GCKindConfig{Kind: k.kind,
			Policy:   a.Store.GlobalConfigValue(ctx, k.kind, gcPolicyConfig, models.DeletePolicyDelay),
			Period:   time.Duration(a.intConfig(ctx, k.kind, gcPeriodConfig, k.period)) * time.Second,
			Interval: time.Duration(a.intConfig(ctx, k.kind, gcIntervalConfig, k.interval)) * time.Second})
	}
	return out, nil
}

// GCCandidates lists the resources of a kind deleted (their last operation,
// the delete, as ZStack reads lastOpDate) longer than the period ago:
// Destroyed VMs, Deleted data volumes, images' Deleted copies grouped by
// image.
func (a *Activities) GCCandidates(ctx context.Context, p activities.GCCandidatesParams) (activities.GCCandidatesResult, error) {
	var out activities.GCCandidatesResult
	cutoff := models.TimeOf(time.Now().Add(-p.Period))
	db := a.Store.DB()
	switch p.Kind {
	case activities.GCKindVM, activities.GCKindVolume:
		q := `SELECT uuid FROM vm_instances WHERE state = ? AND last_op_date <= ? ORDER BY last_op_date, uuid LIMIT ?`
		args := []any{models.VMDestroyed, cutoff, p.Limit}
		if p.Kind == activities.GCKindVolume {
			q = `SELECT uuid FROM volumes WHERE status = ? AND type = ? AND last_op_date <= ? ORDER BY last_op_date, uuid LIMIT ?`
			args = []any{models.VolumeDeleted, models.VolumeData, cutoff, p.Limit}
		}
		var uuids []string
		if err := db.SelectContext(ctx, &uuids, q, args...); err != nil {
			return out, err
		}
		for _, u := range uuids {
			out.Candidates = append(out.Candidates, activities.GCCandidate{UUID: u})
		}
		out.More = len(uuids) == p.Limit
	case activities.GCKindImage:
		var refs []struct {
			Image string `db:"image_uuid"`
			BS    string `db:"backup_storage_uuid"`
		}
		if err := db.SelectContext(ctx, &refs, `SELECT image_uuid, backup_storage_uuid FROM image_backup_storage_refs
			WHERE status = ? AND last_op_date <= ? ORDER BY last_op_date, image_uuid, backup_storage_uuid LIMIT ?`,
			models.ImageDeleted, cutoff, p.Limit); err != nil {
			return out, err
		}
		at := map[string]int{}
		for _, r := range refs {
			i, ok := at[r.Image]
			if !ok {
				i = len(out.Candidates)
				at[r.Image] = i
				out.Candidates = append(out.Candidates, activities.GCCandidate{UUID: r.Image})
			}
			out.Candidates[i].BSUUIDs = append(out.Candidates[i].BSUUIDs, r.BS)
		}
		out.More = len(refs) == p.Limit
	default:
		return out, wrap(models.Invalid("no garbage collection of %q", p.Kind))
	}
	return out, nil
}

// VolumeDeletePolicy returns the global volume.deletionPolicy.
func (a *Activities) VolumeDeletePolicy(ctx context.Context, _ activities.VolumeRef) (string, error) {
	return a.Store.GlobalConfigValue(ctx, activities.GCKindVolume, gcPolicyConfig, models.DeletePolicyDelay), nil
}

// BSRecordCapacity records what a backup storage's agent reports of its
// file system: the truth, whatever images came and went.
func (a *Activities) BSRecordCapacity(ctx context.Context, p activities.BSCapacityParams) error {
	return wrap(a.Store.Update(ctx, store.ResBackupStorage, p.BSUUID, map[string]any{
		"totalCapacity": p.TotalCapacity, "availableCapacity": p.AvailableCapacity}))
}
