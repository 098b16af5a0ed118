package workers

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker"
	"github.com/zcloud/zcloud/hostworker/sim"
)

// SimFleet hosts simulated host agents in this process, like ZStack's
// in-process simulator: AddSimulatorHost asks it (over activities.SimQueue)
// to start an agent whose worker polls that host's own queue, exactly as a
// real agent would. Its state is in memory; after a restart the hosts'
// liveness loops reconnect them and find them empty.
type SimFleet struct {
	c      client.Client
	logger *slog.Logger

	mu     sync.Mutex
	agents map[string]*simAgent
	w      worker.Worker
}

type simAgent struct {
	driver *sim.Driver
	w      worker.Worker
}

// NewSimFleet creates an empty fleet.
func NewSimFleet(c client.Client, logger *slog.Logger) *SimFleet {
	return &SimFleet{c: c, logger: logger, agents: map[string]*simAgent{}}
}

// Start serves the fleet's own queue.
func (f *SimFleet) Start() error {
	f.w = worker.New(f.c, activities.SimQueue, worker.Options{DisableWorkflowWorker: true, MaxConcurrentActivityTaskPollers: 2})
	f.w.RegisterActivityWithOptions(f.EnsureAgent, activity.RegisterOptions{Name: activities.SimEnsureAgent})
	f.w.RegisterActivityWithOptions(f.StopAgent, activity.RegisterOptions{Name: activities.SimStopAgent})
	return f.w.Start()
}

// EnsureAgent starts the agent of a simulated host unless it runs.
func (f *SimFleet) EnsureAgent(_ context.Context, p activities.SimAgentParams) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.agents[p.HostUUID]; ok {
		return nil
	}
	d, err := sim.New(sim.Config{CPUNum: p.CPUNum, MemoryBytes: p.MemoryBytes})
	if err != nil {
		return fmt.Errorf("simulated host %s: %w", p.HostUUID, err)
	}
	// Simulated hosts migrate to each other by "sim://<host uuid>".
	d.SetMigrationPeers(func(uri string) *sim.Driver {
		if h, ok := strings.CutPrefix(uri, activities.SimMigrationScheme); ok {
			if peer, ok := f.Driver(h); ok {
				return peer
			}
		}
		return nil
	})
	a := hostworker.New(p.HostUUID, d, f.logger)
	w := worker.New(f.c, hostapi.Queue(p.HostUUID), hostworker.DefaultWorkerOptions())
	a.Register(w)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start agent of simulated host %s: %w", p.HostUUID, err)
	}
	f.agents[p.HostUUID] = &simAgent{driver: d, w: w}
	return nil
}

// StopAgent stops a simulated host's agent; stopping a missing one is fine.
func (f *SimFleet) StopAgent(_ context.Context, p activities.SimAgentParams) error {
	f.mu.Lock()
	a, ok := f.agents[p.HostUUID]
	delete(f.agents, p.HostUUID)
	f.mu.Unlock()
	if ok {
		a.w.Stop()
	}
	return nil
}

// Driver returns a running simulated host's driver, for tests and demos
// that inject latency and failures.
func (f *SimFleet) Driver(hostUUID string) (*sim.Driver, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.agents[hostUUID]
	if !ok {
		return nil, false
	}
	return a.driver, true
}

// Stop stops every agent and the fleet's own worker.
func (f *SimFleet) Stop() {
	f.mu.Lock()
	agents := f.agents
	f.agents = map[string]*simAgent{}
	f.mu.Unlock()
	for _, a := range agents {
		a.w.Stop()
	}
	if f.w != nil {
		f.w.Stop()
	}
}
