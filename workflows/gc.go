package workflows

import (
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
)

// The garbage collector: one long-running workflow per control plane (a
// fixed ID, so replicas share it) that expunges what the Delay deletion
// policy kept recoverable once its expunge period has passed, ZStack's
// expunge tasks of vm.xml, image.xml and volume.xml.
const (
	GC = "zcloud.GC"
	// GCWorkflowID is the collector's workflow ID: one per control plane.
	GCWorkflowID = "zcloud-gc"
	// GCWakeSignal makes the collector re-read its configs at once.
	GCWakeSignal = "wake"
	// GCStatusQuery answers the collector's GCStatus.
	GCStatusQuery = "status"
)

const (
	// gcBatch bounds the resources of a kind one round expunges; a full
	// batch that made progress is followed by another round at once.
	gcBatch = 100
	// gcParallel is how many expunges of a round run at once.
	gcParallel = 10
	// gcHistoryLimit is the history length after which the collector
	// continues as new.
	gcHistoryLimit = 5000
	// gcRetryAfter is the wait after a round that could not read the
	// database.
	gcRetryAfter = time.Minute
)

// GCKindStatus is what the collector did for one kind of resource.
type GCKindStatus struct {
	Kind      string    `json:"kind"`
	Rounds    int64     `json:"rounds"`
	LastRound time.Time `json:"lastRound"`
	Expunged  int64     `json:"expunged"`
	Failed    int64     `json:"failed"`
	LastError string    `json:"lastError,omitempty"`
	// More is set when the last round expunged a full batch: more may be
	// due, so the next round runs at once.
	More bool `json:"more,omitempty"`
}

// GCStatus is the collector's record, carried across continue-as-new.
type GCStatus struct {
	Kinds []GCKindStatus `json:"kinds"`
}

// kind returns the record of a kind, added when missing.
func (s *GCStatus) kind(kind string) *GCKindStatus {
	for i := range s.Kinds {
		if s.Kinds[i].Kind == kind {
			return &s.Kinds[i]
		}
	}
	s.Kinds = append(s.Kinds, GCKindStatus{Kind: kind})
	return &s.Kinds[len(s.Kinds)-1]
}

// GCParams is the collector's state.
type GCParams struct {
	Status GCStatus `json:"status"`
}

// GCWorkflow is the garbage collector. Each kind (VMs, images, data
// volumes) has its round every expungeInterval of its category, read again
// before each wait; a round expunges, through the same workflows as the
// Expunge APIs (children, a few at once), what was deleted longer than
// expungePeriod ago. A failed expunge is logged and tried again next round;
// the others go on. Nothing is expunged of a kind whose deletionPolicy is
// Never. A config change wakes it (GCWakeSignal), so it takes effect at once.
func GCWorkflow(ctx workflow.Context, p GCParams) error {
	st := &p.Status
	if err := workflow.SetQueryHandler(ctx, GCStatusQuery, func() (GCStatus, error) { return *st, nil }); err != nil {
		return err
	}
	wake := workflow.GetSignalChannel(ctx, GCWakeSignal)
	for workflow.GetInfo(ctx).GetCurrentHistoryLength() < gcHistoryLimit {
		wait := gcRetryAfter
		var cfg activities.GCConfigsResult
		if err := local(ctx, activities.GCConfigs, struct{}{}, &cfg); err != nil {
			workflow.GetLogger(ctx).Warn("garbage collector cannot read its configs", "error", err)
		} else {
			wait = gcRounds(ctx, st, cfg.Kinds)
		}
		// Sleep until the next round is due, or until a config changed.
		tctx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(workflow.NewTimer(tctx, wait), func(workflow.Future) {})
		sel.AddReceive(wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.Select(ctx)
		cancel()
	}
	// A buffered wake only asks for what the next run does first.
	for wake.ReceiveAsync(nil) {
	}
	return workflow.NewContinueAsNewError(ctx, GC, p)
}

// gcRounds runs the round of every kind that is due and returns the time
// until the next one is.
func gcRounds(ctx workflow.Context, st *GCStatus, kinds []activities.GCKindConfig) time.Duration {
	now := workflow.Now(ctx)
	var next time.Time
	for _, k := range kinds {
		ks := st.kind(k.Kind)
		due := ks.LastRound.Add(k.Interval)
		if ks.More || !now.Before(due) {
			ks.More = gcRound(ctx, k, ks)
			ks.Rounds++
			ks.LastRound = now
			due = now.Add(k.Interval)
			if ks.More {
				due = now
			}
		}
		if next.IsZero() || due.Before(next) {
			next = due
		}
	}
	if next.IsZero() {
		return gcRetryAfter
	}
	return max(next.Sub(workflow.Now(ctx)), 0)
}

// gcRound expunges the resources of one kind that are due; it tells whether
// more may be due (the list was cut short) after a round that made
// progress.
func gcRound(ctx workflow.Context, k activities.GCKindConfig, ks *GCKindStatus) bool {
	if k.Policy == models.DeletePolicyNever {
		return false
	}
	var c activities.GCCandidatesResult
	if err := local(ctx, activities.GCCandidates, activities.GCCandidatesParams{Kind: k.Kind, Period: k.Period, Limit: gcBatch}, &c); err != nil {
		workflow.GetLogger(ctx).Warn("garbage collector cannot list what is due", "kind", k.Kind, "error", err)
		ks.LastError = err.Error()
		return false
	}
	done := 0
	for start := 0; start < len(c.Candidates); start += gcParallel {
		batch := c.Candidates[start:min(start+gcParallel, len(c.Candidates))]
		futures := make([]workflow.ChildWorkflowFuture, len(batch))
		for i, cand := range batch {
			futures[i] = gcExpunge(ctx, k.Kind, cand)
		}
		for i, f := range futures {
			if err := f.Get(ctx, nil); err != nil {
				workflow.GetLogger(ctx).Warn("expunge failed; tried again next round", "kind", k.Kind, "uuid", batch[i].UUID, "error", err)
				ks.Failed++
				ks.LastError = err.Error()
				continue
			}
			ks.Expunged++
			done++
		}
	}
	return done > 0 && c.More
}

// gcExpunge starts the expunge workflow of one resource as a child. The
// child is abandoned should the collector end: an expunge cut short would
// leave its resource half expunged.
func gcExpunge(ctx workflow.Context, kind string, c activities.GCCandidate) workflow.ChildWorkflowFuture {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            "gc-expunge-" + kind + "-" + c.UUID,
		TaskQueue:             activities.TaskQueue,
		ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	})
	switch kind {
	case activities.GCKindVM:
		return workflow.ExecuteChildWorkflow(cctx, ExpungeVM, VMOpParams{VMUUID: c.UUID})
	case activities.GCKindImage:
		return workflow.ExecuteChildWorkflow(cctx, ExpungeImage, activities.ImageOpParams{ImageUUID: c.UUID, BSUUIDs: c.BSUUIDs})
	default:
		return workflow.ExecuteChildWorkflow(cctx, ExpungeVolume, VolumeOpParams{VolumeUUID: c.UUID})
	}
}
