//go:build integration

// The test here starts a real Temporal server (workers/embedded), which
// links all of go.temporal.io/server into the test binary; run it with
// "go test -tags integration ./hostworker/imagestore/".

package imagestore

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/workers/embedded"
)

const controlQueue = "zcloud-test"

// addImage is the control plane's image download in miniature: it
// connects to the backup storage and downloads an image there.
func addImage(ctx workflow.Context, bsUUID string, p bsapi.DownloadImageParams) (bsapi.ImageResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              bsapi.Queue(bsUUID),
		ScheduleToStartTimeout: bsapi.ScheduleToStart,
		StartToCloseTimeout:    bsapi.DownloadStartToClose,
		HeartbeatTimeout:       bsapi.HeartbeatTimeout,
		WaitForCancellation:    true,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 3},
	})
	var c bsapi.ConnectResult
	if err := workflow.ExecuteActivity(ctx, bsapi.ActConnect, bsapi.ConnectParams{BackupStorageUUID: bsUUID}).Get(ctx, &c); err != nil {
		return bsapi.ImageResult{}, err
	}
	var res bsapi.ImageResult
	err := workflow.ExecuteActivity(ctx, bsapi.ActDownloadImage, p).Get(ctx, &res)
	return res, err
}

// TestRunOnTemporal runs the agent with Run against a real Temporal server
// and drives it from a workflow: a download that completes and is served,
// and one that is cancelled half-way while its progress shows.
func TestRunOnTemporal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	srv, err := embedded.Start(t.Context(), embedded.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })
	c, err := client.Dial(client.Options{
		HostPort:  srv.FrontendAddr(),
		Namespace: srv.Namespace(),
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	w := worker.New(c, controlQueue, worker.Options{})
	w.RegisterWorkflow(addImage)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dir := t.TempDir()
	const bsUUID = "fedcba9876543210fedcba9876543210"
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() {
		ran <- Run(ctx, Config{
			BackupStorageUUID: bsUUID, Dir: dir, Listener: ln, Client: c,
			HeartbeatEvery: 50 * time.Millisecond,
		})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-ran)
	})
	base := "http://" + ln.Addr().String()

	o := newOrigin(t)
	content := randomBytes(t, 4<<20)
	url := o.add("img", content)
	run := func(t *testing.T, id, url string) client.WorkflowRun {
		t.Helper()
		r, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{ID: "add-image-" + id, TaskQueue: controlQueue},
			addImage, bsUUID, bsapi.DownloadImageParams{BackupStorageUUID: bsUUID, ImageUUID: id, URL: url, Format: "raw"})
		require.NoError(t, err)
		return r
	}

	t.Run("download", func(t *testing.T) {
		id := newUUID()
		start := time.Now()
		var res bsapi.ImageResult
		require.NoError(t, run(t, id, url).Get(t.Context(), &res))
		t.Logf("4 MiB image added through Temporal in %v", time.Since(start).Round(time.Millisecond))
		require.Equal(t, base+"/images/"+id+".raw", res.InstallURL)
		require.Equal(t, md5Hex(content), res.MD5Sum)
		_, _, body := httpGet(t, http.MethodGet, res.InstallURL, nil)
		require.Equal(t, content, body)
	})

	t.Run("cancel shows progress and leaves nothing", func(t *testing.T) {
		o.mu.Lock()
		o.stallAfter = 1 << 20
		o.mu.Unlock()
		id := newUUID()
		r := run(t, id, o.add("stalls", randomBytes(t, 4<<20)))
		// The control plane reads progress from the pending activity.
		var seen bsapi.DownloadProgress
		deadline := time.Now().Add(30 * time.Second)
		for seen.Done < 1<<20 {
			require.True(t, time.Now().Before(deadline), "no progress within 30 s (last %+v)", seen)
			desc, err := c.DescribeWorkflowExecution(t.Context(), r.GetID(), "")
			require.NoError(t, err)
			for _, pa := range desc.GetPendingActivities() {
				if pa.GetActivityType().GetName() == bsapi.ActDownloadImage && pa.GetHeartbeatDetails() != nil {
					require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(pa.GetHeartbeatDetails(), &seen))
				}
			}
			time.Sleep(20 * time.Millisecond) // polling interval, not a wait for state
		}
		require.Equal(t, int64(4<<20), seen.Total)
		require.NoError(t, c.CancelWorkflow(t.Context(), r.GetID(), ""))
		err := r.Get(t.Context(), nil)
		var canceled *temporal.CanceledError
		require.True(t, errors.As(err, &canceled), "want a cancellation, got %v", err)
		desc, err := c.DescribeWorkflowExecution(t.Context(), r.GetID(), "")
		require.NoError(t, err)
		require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, desc.GetWorkflowExecutionInfo().GetStatus())
		// WaitForCancellation: the workflow ended after the agent gave up.
		entries, err := os.ReadDir(filepath.Join(dir, partialDir))
		require.NoError(t, err)
		require.Empty(t, entries, "partial files left")
	})
}
