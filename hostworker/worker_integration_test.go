//go:build integration

// The test here starts a real Temporal server (workers/embedded), which
// links all of go.temporal.io/server into the test binary; run it with
// "go test -tags integration ./hostworker/".

package hostworker_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/sync/errgroup"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker"
	"github.com/zcloud/zcloud/workers/embedded"
)

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

const controlQueue = "zcloud-test"

func hostCtx(ctx workflow.Context, hostUUID string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              hostapi.Queue(hostUUID),
		ScheduleToStartTimeout: hostapi.ScheduleToStart,
		StartToCloseTimeout:    hostapi.StartToClose,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 3},
	})
}

// pingHost is the control plane's host ping in miniature.
func pingHost(ctx workflow.Context, hostUUID string) (hostapi.PingResult, error) {
	var res hostapi.PingResult
	err := workflow.ExecuteActivity(hostCtx(ctx, hostUUID), hostapi.ActPing, hostapi.PingParams{HostUUID: hostUUID}).Get(ctx, &res)
	return res, err
}

// createVM instantiates vm's root volume and creates and starts vm.
func createVM(ctx workflow.Context, hostUUID string, vm hostapi.VMSpec) (hostapi.VMOpResult, error) {
	ctx = hostCtx(ctx, hostUUID)
	var res hostapi.VMOpResult
	err := workflow.ExecuteActivity(ctx, hostapi.ActInstantiateVolume, hostapi.InstantiateVolumeParams{Volume: vm.RootVolume}).Get(ctx, nil)
	if err != nil {
		return res, err
	}
	err = workflow.ExecuteActivity(ctx, hostapi.ActCreateVM, hostapi.CreateVMParams{VM: vm, Start: true}).Get(ctx, &res)
	return res, err
}

// TestRunAllOnTemporal runs many sim agents in one process against a real
// Temporal server and drives them from workflows, as the control plane does.
func TestRunAllOnTemporal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	// The server logs its own shutdown noisily; its start errors come back from Start.
	srv, err := embedded.Start(t.Context(), embedded.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })
	c, err := client.Dial(client.Options{
		HostPort:  srv.FrontendAddr(),
		Namespace: srv.Namespace(),
		Logger:    sdklog.NewStructuredLogger(testLogger()),
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	ctrl := worker.New(c, controlQueue, worker.Options{})
	ctrl.RegisterWorkflow(pingHost)
	ctrl.RegisterWorkflow(createVM)
	require.NoError(t, ctrl.Start())
	t.Cleanup(ctrl.Stop)

	const hosts = 200
	agents, drivers := simAgents(t, hosts)
	drivers[7].InjectFailure(hostapi.ActCreateVM, "boom")
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- hostworker.RunAll(ctx, c, agents, hostworker.DefaultWorkerOptions()) }()

	run := func(ctx context.Context, id string, wf any, out any, args ...any) error {
		r, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: controlQueue}, wf, args...)
		if err != nil {
			return err
		}
		return r.Get(ctx, out)
	}

	t.Run("ping every host", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		var g errgroup.Group
		g.SetLimit(50)
		for i := range hosts {
			g.Go(func() error {
				host := fmt.Sprintf("host-%d", i)
				var res hostapi.PingResult
				if err := run(ctx, "ping-"+host, pingHost, &res, host); err != nil {
					return fmt.Errorf("ping %s: %w", host, err)
				}
				if res.HostUUID != host || res.AgentVersion != hostapi.AgentVersion {
					return fmt.Errorf("ping %s answered %+v", host, res)
				}
				return nil
			})
		}
		require.NoError(t, g.Wait())
		t.Logf("%d hosts started and pinged in %v", hosts, time.Since(start).Round(time.Millisecond))
	})

	vm := hostapi.VMSpec{
		UUID: "vm-1", CPUNum: 1, MemorySize: 1 << 30,
		RootVolume: hostapi.VolumeSpec{UUID: "root-1", PrimaryStorageUUID: "ps-1", Size: 1 << 30},
	}
	t.Run("create vm", func(t *testing.T) {
		var res hostapi.VMOpResult
		require.NoError(t, run(t.Context(), "create-ok", createVM, &res, "host-8", vm))
		require.Equal(t, hostapi.PowerRunning, res.State)
		require.Equal(t, hostapi.PowerRunning, drivers[8].VMs()["vm-1"].State)
	})
	t.Run("injected failure crosses the server typed and non-retryable", func(t *testing.T) {
		err := run(t.Context(), "create-fail", createVM, nil, "host-7", vm)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		require.Equal(t, hostapi.ErrTypeInjected, appErr.Type())
		require.True(t, appErr.NonRetryable())
		require.Empty(t, drivers[7].VMs(), "a failed create left a vm")
	})

	stop()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("RunAll did not return after its context ended")
	}
}
