package hostworker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/zcloud/zcloud/activities/hostapi"
)

// startStopConcurrency bounds how many workers RunAll starts or stops at
// once, so that ten thousand simulated hosts do not hit the server together.
const startStopConcurrency = 32

// DefaultWorkerOptions sizes a host worker so that thousands fit in one
// process: one activity poller (a host sees a few tasks a second at most),
// no workflow worker, and a bounded wait for running operations on stop.
// It suits a real host's single agent as well.
func DefaultWorkerOptions() worker.Options {
	return worker.Options{
		MaxConcurrentActivityTaskPollers:   1,
		MaxConcurrentActivityExecutionSize: 64,
		DisableWorkflowWorker:              true,
		WorkerStopTimeout:                  10 * time.Second,
	}
}

// Run serves the agent's host queue on c until ctx is done, then stops the
// worker, giving running operations opts.WorkerStopTimeout to finish. It
// returns nil after a clean stop, or the error that kept the worker from
// starting or stopped it early.
func (a *Agent) Run(ctx context.Context, c client.Client, opts worker.Options) error {
	return RunAll(ctx, c, []*Agent{a}, opts)
}

// RunAll serves many agents on one client until ctx is done: the control
// plane's way to run simulated hosts in-process. Workers start and stop a
// few at a time. If one fails to start or dies, all are stopped and its
// error is returned.
func RunAll(ctx context.Context, c client.Client, agents []*Agent, opts worker.Options) error {
	seen := make(map[string]bool, len(agents))
	for _, a := range agents {
		switch {
		case a.hostUUID == "":
			return errors.New("agent without a host uuid")
		case seen[a.hostUUID]:
			return fmt.Errorf("two agents for host %s", a.hostUUID)
		}
		seen[a.hostUUID] = true
	}

	fatal := make(chan error, 1)
	workers := make([]worker.Worker, len(agents))
	for i, a := range agents {
		o := opts
		o.DisableWorkflowWorker = true
		next := opts.OnFatalError
		o.OnFatalError = func(err error) {
			if next != nil {
				next(err)
			}
			select {
			case fatal <- fmt.Errorf("worker of host %s: %w", a.hostUUID, err):
			default:
			}
		}
		w := worker.New(c, hostapi.Queue(a.hostUUID), o)
		a.Register(w)
		workers[i] = w
	}

	started := make([]bool, len(workers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(startStopConcurrency)
	for i, w := range workers {
		g.Go(func() error {
			if gctx.Err() != nil {
				return nil // shutting down, or another worker failed
			}
			if err := w.Start(); err != nil {
				return fmt.Errorf("start worker of host %s: %w", agents[i].hostUUID, err)
			}
			started[i] = true
			return nil
		})
	}
	err := g.Wait()
	if err == nil {
		select {
		case <-ctx.Done():
		case err = <-fatal:
		}
	}

	var stops errgroup.Group
	stops.SetLimit(startStopConcurrency)
	for i, w := range workers {
		if started[i] {
			stops.Go(func() error {
				w.Stop()
				return nil
			})
		}
	}
	_ = stops.Wait() // Stop returns no error
	return err
}
