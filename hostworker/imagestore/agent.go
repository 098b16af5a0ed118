package imagestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/models"
)

// Agent serves one backup storage's bsapi activities over a Store.
type Agent struct {
	bsUUID         string
	store          *Store
	logger         *slog.Logger
	heartbeatEvery time.Duration
}

// NewAgent returns the agent of backup storage bsUUID. heartbeatEvery is
// how often a download heartbeats its progress (0: bsapi.HeartbeatEvery);
// a nil logger discards.
func NewAgent(bsUUID string, store *Store, heartbeatEvery time.Duration, logger *slog.Logger) *Agent {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if heartbeatEvery <= 0 {
		heartbeatEvery = bsapi.HeartbeatEvery
	}
	return &Agent{
		bsUUID:         bsUUID,
		store:          store,
		logger:         logger.With(slog.String("bs_uuid", bsUUID)),
		heartbeatEvery: heartbeatEvery,
	}
}

// Register registers one activity per bsapi.Act* name. It takes an
// ActivityRegistry so that a testsuite.TestActivityEnvironment serves as
// well as a worker.Worker.
func (a *Agent) Register(r worker.ActivityRegistry) {
	for _, act := range []struct {
		name string
		fn   any
	}{
		{bsapi.ActConnect, a.Connect},
		{bsapi.ActStats, a.Stats},
		{bsapi.ActDownloadImage, a.DownloadImage},
		{bsapi.ActDeleteImage, a.DeleteImage},
		{bsapi.ActGetImage, a.GetImage},
		{bsapi.ActAllowUpload, a.AllowUpload},
		{bsapi.ActImportFile, a.ImportFile},
	} {
		r.RegisterActivityWithOptions(act.fn, activity.RegisterOptions{Name: act.name})
	}
}

// Connect is bsapi.ActConnect.
func (a *Agent) Connect(_ context.Context, p bsapi.ConnectParams) (bsapi.ConnectResult, error) {
	const op = bsapi.ActConnect
	if err := a.checkBS(op, p.BackupStorageUUID); err != nil {
		return bsapi.ConnectResult{}, err
	}
	c, err := a.store.Capacity()
	if err != nil {
		return bsapi.ConnectResult{}, a.fail(op, err)
	}
	return bsapi.ConnectResult{
		BackupStorageUUID: a.bsUUID,
		AgentVersion:      bsapi.AgentVersion,
		Type:              bsapi.Type,
		URL:               a.store.BaseURL(),
		StoreDir:          a.store.Dir(),
		Capacity:          c,
	}, nil
}

// Stats is bsapi.ActStats.
func (a *Agent) Stats(_ context.Context, p bsapi.StatsParams) (bsapi.Capacity, error) {
	const op = bsapi.ActStats
	if err := a.checkBS(op, p.BackupStorageUUID); err != nil {
		return bsapi.Capacity{}, err
	}
	c, err := a.store.Capacity()
	if err != nil {
		return bsapi.Capacity{}, a.fail(op, err)
	}
	return c, nil
}

// DownloadImage is bsapi.ActDownloadImage. It heartbeats a
// bsapi.DownloadProgress every heartbeatEvery (and when the phase changes)
// and, when retried, resumes from the last one.
func (a *Agent) DownloadImage(ctx context.Context, p bsapi.DownloadImageParams) (bsapi.ImageResult, error) {
	const op = bsapi.ActDownloadImage
	if err := a.checkBS(op, p.BackupStorageUUID); err != nil {
		return bsapi.ImageResult{}, err
	}
	var resume *bsapi.DownloadProgress
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		var last bsapi.DownloadProgress
		if err := activity.GetHeartbeatDetails(ctx, &last); err == nil {
			resume = &last
		}
	}
	hb := a.heartbeat(ctx, p)
	start := time.Now()
	res, err := a.store.Download(ctx, p, resume, hb.set)
	hb.stop()
	a.logger.LogAttrs(ctx, slog.LevelInfo, "image download",
		slog.String("image_uuid", p.ImageUUID), slog.String("url", redact(p.URL)),
		slog.Int64("bytes", res.ActualSize), slog.Duration("duration", time.Since(start)),
		slog.Bool("ok", err == nil))
	if err != nil {
		return bsapi.ImageResult{}, a.fail(op, err)
	}
	return res, nil
}

// DeleteImage is bsapi.ActDeleteImage.
func (a *Agent) DeleteImage(ctx context.Context, p bsapi.DeleteImageParams) error {
	const op = bsapi.ActDeleteImage
	if err := a.checkBS(op, p.BackupStorageUUID); err != nil {
		return err
	}
	if err := a.store.Delete(ctx, p.ImageUUID); err != nil {
		return a.fail(op, err)
	}
	return nil
}

// GetImage is bsapi.ActGetImage.
func (a *Agent) GetImage(ctx context.Context, p bsapi.GetImageParams) (bsapi.ImageResult, error) {
	const op = bsapi.ActGetImage
	if err := a.checkBS(op, p.BackupStorageUUID); err != nil {
		return bsapi.ImageResult{}, err
	}
	res, err := a.store.Get(ctx, p.ImageUUID)
	if err != nil {
		return bsapi.ImageResult{}, a.fail(op, err)
	}
	return res, nil
}

// AllowUpload is bsapi.ActAllowUpload.
func (a *Agent) AllowUpload(ctx context.Context, p bsapi.AllowUploadParams) (bsapi.AllowUploadResult, error) {
	const op = bsapi.ActAllowUpload
	if err := a.checkBS(op, p.BackupStorageUUID); err != nil {
		return bsapi.AllowUploadResult{}, err
	}
	res, err := a.store.AllowUpload(ctx, p.ImageUUID, p.Token, p.ExpiresAt)
	if err != nil {
		return bsapi.AllowUploadResult{}, a.fail(op, err)
	}
	return res, nil
}

// ImportFile is bsapi.ActImportFile.
func (a *Agent) ImportFile(ctx context.Context, p bsapi.ImportFileParams) (bsapi.ImageResult, error) {
	const op = bsapi.ActImportFile
	if err := a.checkBS(op, p.BackupStorageUUID); err != nil {
		return bsapi.ImageResult{}, err
	}
	res, err := a.store.ImportFile(ctx, p.ImageUUID, p.Written)
	if err != nil {
		return bsapi.ImageResult{}, a.fail(op, err)
	}
	return res, nil
}

// checkBS refuses a request meant for another backup storage.
func (a *Agent) checkBS(op, bsUUID string) error {
	if bsUUID != "" && bsUUID != a.bsUUID {
		return a.fail(op, models.Invalid("agent of backup storage %s was asked about %s", a.bsUUID, bsUUID))
	}
	return nil
}

// heartbeater records the latest progress every heartbeatEvery, and at once
// when the phase changes, so that a stalled origin still shows a live agent
// and the SDK learns of a cancellation.
type heartbeater struct {
	mu   sync.Mutex
	last bsapi.DownloadProgress
	send func(bsapi.DownloadProgress)
	stop func()
}

func (h *heartbeater) set(p bsapi.DownloadProgress) {
	h.mu.Lock()
	phaseChange := p.Phase != h.last.Phase
	h.last = p
	h.mu.Unlock()
	if phaseChange {
		h.flush()
	}
}

// flush sends the latest progress, changed or not: an unchanged one still
// says the agent is alive.
func (h *heartbeater) flush() {
	h.mu.Lock()
	p := h.last
	h.mu.Unlock()
	h.send(p)
}

func (a *Agent) heartbeat(ctx context.Context, p bsapi.DownloadImageParams) *heartbeater {
	h := &heartbeater{
		last: bsapi.DownloadProgress{ImageUUID: p.ImageUUID, URL: p.URL, Total: -1},
		send: func(bsapi.DownloadProgress) {},
		stop: func() {},
	}
	if !activity.IsActivity(ctx) {
		return h
	}
	h.send = func(p bsapi.DownloadProgress) { activity.RecordHeartbeat(ctx, p) }
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(a.heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				h.flush()
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	})
	h.stop = func() {
		close(done)
		wg.Wait()
	}
	return h
}

// fail gives err the ApplicationError type the control plane branches on.
// Definite failures are not retried; anything else is. Context errors pass
// through so that Temporal sees a cancellation as one.
func (a *Agent) fail(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	msg := fmt.Sprintf("backup storage %s: %s: %v", a.bsUUID, op, err)
	var se *sourceError
	var ns *noSpaceError
	nonRetryable := func(typ string) error { return temporal.NewNonRetryableApplicationError(msg, typ, nil) }
	switch {
	case errors.As(err, &se):
		return nonRetryable(se.typ)
	case errors.As(err, &ns):
		return nonRetryable(bsapi.ErrTypeNoSpace)
	case isBadImage(err):
		return nonRetryable(bsapi.ErrTypeBadImage)
	case errors.Is(err, errors.ErrUnsupported):
		return nonRetryable(bsapi.ErrTypeUnsupported)
	case errors.Is(err, models.ErrNotFound):
		return nonRetryable(bsapi.ErrTypeNotFound)
	case errors.Is(err, models.ErrConflict):
		return nonRetryable(bsapi.ErrTypeConflict)
	case errors.Is(err, models.ErrInvalid):
		return nonRetryable(bsapi.ErrTypeInvalid)
	default:
		return temporal.NewApplicationError(msg, bsapi.ErrTypeFailed)
	}
}
