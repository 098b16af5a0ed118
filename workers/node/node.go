// Package node assembles a ZCloud control-plane process: store, Temporal
// client, REST API, control-plane worker and (optionally) the simulated
// host fleet. `zcloud server`, `zcloud worker`, `zcloud dev` and the
// integration tests all start through it, so they run the same wiring.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/aliyun"
	"github.com/zcloud/zcloud/activities/db"
	"github.com/zcloud/zcloud/activities/sshdeploy"
	"github.com/zcloud/zcloud/api"
	"github.com/zcloud/zcloud/models/secret"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workers"
	"github.com/zcloud/zcloud/workflows"
)

// Config selects what a node runs.
type Config struct {
	DB            string // store DSN: sqlite:<path>, sqlite::memory:, mysql://...
	Temporal      string // host:port of the Temporal frontend
	Namespace     string
	TemporalUIURL string
	Listen        string // API address, e.g. ":8080"; empty = no API
	Worker        bool   // run the control-plane worker
	SimFleet      bool   // host simulated agents in this process
	AdminPassword string // created on first start when no admin exists
	Faults        *db.Faults
	Logger        *slog.Logger
	// AgentBinary is the zcloud-hostworker binary deployed to KVM hosts
	// over SSH; empty means KVM hosts can't be added by this node.
	AgentBinary string
	// AgentTemporal is the Temporal frontend as hosts must dial it;
	// empty means Temporal.
	AgentTemporal string
	// AgentConfig holds extra settings written into every deployed agent's
	// configuration (flag name → value).
	AgentConfig map[string]string
	// AgentDriver is the driver of deployed KVM agents: libvirt (empty) or
	// sim (tests and demos that need no hypervisor).
	AgentDriver string
	Aliyun      aliyun.Config // hybrid cloud: secret key (or key file) and endpoint override
}

// Node is a running control-plane process.
type Node struct {
	Store    *store.Store
	Temporal client.Client
	Fleet    *workers.SimFleet
	API      *api.Server
	Addr     string // the API's bound address
	http     *http.Server
	worker   worker.Worker
	logger   *slog.Logger
}

// Start starts a node; Stop releases everything it started.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	n := &Node{logger: cfg.Logger}
	if err := n.start(ctx, cfg); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}

func (n *Node) start(ctx context.Context, cfg Config) (err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if n.Store, err = store.Open(ctx, cfg.DB); err != nil {
		return err
	}
	acts := &db.Activities{Store: n.Store, Logger: cfg.Logger, Faults: cfg.Faults}
	// The hybrid key is the control plane's secret key: it also keeps the
	// routers' IPsec pre-shared keys encrypted.
	if acts.Secrets, err = secret.LoadControlPlane(cfg.Aliyun.SecretKey, cfg.Aliyun.KeyFile); err != nil {
		return err
	}
	if cfg.AgentBinary != "" {
		addr := cfg.AgentTemporal
		if addr == "" {
			addr = cfg.Temporal
		}
		acts.Agents = &db.AgentDeployment{Deployer: sshdeploy.New(cfg.AgentBinary, cfg.Logger), TemporalAddress: addr,
			TemporalNamespace: cfg.Namespace, Config: cfg.AgentConfig, Driver: cfg.AgentDriver}
	}
	if err = n.Store.EnsureNetworkProviders(ctx); err != nil {
		return err
	}
	if err = acts.EnsureGlobalConfigs(ctx); err != nil {
		return err
	}
	if cfg.AdminPassword != "" {
		if _, err = n.Store.EnsureAdmin(ctx, "admin", cfg.AdminPassword); err != nil {
			return err
		}
	}
	copts := client.Options{HostPort: cfg.Temporal, Namespace: cfg.Namespace,
		Logger: tlog.NewStructuredLogger(cfg.Logger.With("component", "temporal-client"))}
	if isLoopback(cfg.Temporal) {
		// Compressing every gRPC call costs CPU and buys nothing on loopback.
		copts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	n.Temporal, err = client.DialContext(ctx, copts)
	if err != nil {
		return fmt.Errorf("connect to temporal at %s: %w", cfg.Temporal, err)
	}
	acts.Temporal = n.Temporal
	if cfg.SimFleet {
		n.Fleet = workers.NewSimFleet(n.Temporal, cfg.Logger)
		if err = n.Fleet.Start(); err != nil {
			return err
		}
	}
	if cfg.Worker {
		n.worker = workers.NewControlPlane(n.Temporal, acts)
		if err = aliyun.RegisterOn(ctx, n.worker, n.Store, cfg.Aliyun, cfg.Logger); err != nil {
			return err
		}
		if err = n.worker.Start(); err != nil {
			return fmt.Errorf("start control-plane worker: %w", err)
		}
	}
	if cfg.SimFleet && cfg.Worker {
		// Simulated agents live in memory: after a restart, reconnect the
		// simulated hosts at once instead of at their next failed pings.
		if err = n.reconnectSimHosts(ctx); err != nil {
			return err
		}
	}
	if cfg.Worker {
		// Every data center keeps its periodic sync across restarts.
		if err = aliyun.StartSyncLoops(ctx, n.Temporal, n.Store); err != nil {
			return err
		}
		if err = startGC(ctx, n.Temporal); err != nil {
			return err
		}
	}
	if cfg.Listen != "" {
		n.API, err = api.New(api.Options{Store: n.Store, Temporal: n.Temporal, Logger: cfg.Logger,
			TemporalUIURL: cfg.TemporalUIURL, Namespace: cfg.Namespace})
		if err != nil {
			return err
		}
		ln, lerr := net.Listen("tcp", cfg.Listen)
		if lerr != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Listen, lerr)
		}
		n.Addr = ln.Addr().String()
		n.http = &http.Server{Handler: n.API.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := n.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				cfg.Logger.Error("api server stopped", "error", err)
			}
		}()
	}
	return nil
}

func (n *Node) reconnectSimHosts(ctx context.Context) error {
	var hosts []string
	if err := n.Store.DB().SelectContext(ctx, &hosts, `SELECT uuid FROM hosts WHERE hypervisor_type = 'Simulator'`); err != nil {
		return fmt.Errorf("list simulated hosts: %w", err)
	}
	for _, h := range hosts {
		_, err := n.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "host-reconnect-" + h, TaskQueue: activities.TaskQueue},
			workflows.Reconnect, activities.HostRef{HostUUID: h})
		if err != nil {
			n.logger.Warn("cannot start reconnect of simulated host", "host_uuid", h, "error", err)
		}
	}
	return nil
}

// Stop stops what Start started, in reverse order.
func (n *Node) Stop() {
	if n.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = n.http.Shutdown(ctx)
		cancel()
	}
	if n.worker != nil {
		n.worker.Stop()
	}
	if n.Fleet != nil {
		n.Fleet.Stop()
	}
	if n.Temporal != nil {
		n.Temporal.Close()
	}
	if n.Store != nil {
		_ = n.Store.Close()
	}
}

func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
