// Package embedded runs a complete Temporal server (frontend, history, matching
// and worker services) inside the calling process, persisted in SQLite, with
// an optional Temporal Web UI.
//
// It backs `zcloud dev`, where state lives in a file and survives restarts, and
// integration tests, where state lives in memory. The server is tuned for low
// task-dispatch latency on a single machine; see dynamicConfig.
//
// Every binary that imports this package compiles go.temporal.io/server (about
// 200 modules), so keep the importers few.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	"go.temporal.io/server/temporal"
)

const (
	defaultHost      = "127.0.0.1"
	defaultNamespace = "default"
	// defaultStartTimeout bounds Start when its context has no deadline. A cold
	// start takes well under a second; the margin is for loaded CI machines.
	defaultStartTimeout = time.Minute
)

// Options configures an embedded server. The zero value is an in-memory server
// on 127.0.0.1 with free ports, no Web UI and the namespace "default".
type Options struct {
	// DBFile is the SQLite file for Temporal's persistence; empty = in-memory (tests).
	DBFile string
	// Host to bind, default "127.0.0.1". FrontendPort 0 = pick a free port.
	Host         string
	FrontendPort int
	// UIPort: 0 = no Web UI; otherwise serve the Temporal Web UI (github.com/temporalio/ui-server/v2) on that port.
	UIPort    int
	Namespace string // default "default"
	// Logger may be nil = discard; the server's own logs go here at warn level or above.
	Logger *slog.Logger
}

// Server is a running embedded Temporal server. Its methods are safe for
// concurrent use.
type Server struct {
	frontendAddr string
	uiURL        string
	namespace    string
	logger       *slog.Logger

	temporal temporal.Server
	ui       *uiserver.Server
	uiDone   chan struct{} // closed when the UI server's goroutine returns
	unlock   func()        // releases the database file
	// phase tells the server's logger which expected errors to drop.
	phase atomic.Int32

	stopOnce sync.Once
	stopErr  error
}

// Start starts a server and returns once it is ready: the frontend answers, the
// namespace exists and the history service owns its shard, so clients can
// start workflows at once. ctx bounds only the start-up (one minute when it
// has no deadline); it does not stop the server later, Stop does.
func Start(ctx context.Context, o Options) (*Server, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}

	cfg, err := buildConfig(o)
	if err != nil {
		return nil, err
	}
	s := &Server{
		frontendAddr: cfg.frontendAddr,
		namespace:    o.Namespace,
		logger:       o.Logger,
		unlock:       func() {},
	}
	if cfg.dbFile != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.dbFile), 0o750); err != nil {
			return nil, fmt.Errorf("create db dir: %w", err)
		}
		if s.unlock, err = lockDBFile(cfg.dbFile); err != nil {
			return nil, err
		}
	}
	if err := s.start(ctx, o, cfg); err != nil {
		s.unlock()
		return nil, err
	}
	o.Logger.Info("temporal server started", "frontend_addr", s.frontendAddr,
		"namespace", s.namespace, "ui_url", s.uiURL, "db_file", cfg.dbFile)
	return s, nil
}

// start prepares the database, then starts the server and the UI and waits
// for them.
func (s *Server) start(ctx context.Context, o Options, cfg *serverConfig) error {
	if err := preparePersistence(ctx, o, cfg); err != nil {
		return err
	}
	// The server creates its listeners while it is built and reports a
	// failure through Logger.Fatal, which serverLogger turns into a panic.
	var ts temporal.Server
	err := recoverFatal(func() (err error) {
		ts, err = temporal.NewServer(
			temporal.WithConfig(cfg.server),
			temporal.ForServices(temporal.DefaultServices),
			temporal.WithLogger(newServerLogger(o.Logger, &s.phase)),
			temporal.WithDynamicConfigClient(dynamicConfig()),
		)
		return err
	})
	if err != nil {
		return fmt.Errorf("create temporal server: %w", err)
	}
	if err := recoverFatal(ts.Start); err != nil {
		return fmt.Errorf("start temporal server: %w", err)
	}
	s.temporal = ts
	if err := waitReady(ctx, s.frontendAddr, s.namespace, o.Logger); err != nil {
		return errors.Join(err, s.stop())
	}
	s.phase.Store(phaseRunning)
	if o.UIPort != 0 {
		if err := s.startUI(ctx, o.Host, o.UIPort); err != nil {
			return errors.Join(err, s.stop())
		}
	}
	return nil
}

// recoverFatal calls f and returns a panic from serverLogger.Fatal or Panic
// as an error, so that a server that cannot start does not take the process
// down.
func recoverFatal(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return f()
}

// FrontendAddr returns the frontend's host:port for client.Dial.
func (s *Server) FrontendAddr() string { return s.frontendAddr }

// UIURL returns the Web UI's base URL, or "" when the UI is off. A workflow's
// page is UIURL()+"/namespaces/<namespace>/workflows/<workflowID>".
func (s *Server) UIURL() string { return s.uiURL }

// Namespace returns the namespace that Start created.
func (s *Server) Namespace() string { return s.namespace }

// Stop stops the Web UI and the server and releases the database file.
// Calling it again returns the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.stopErr = s.stop()
		s.unlock()
	})
	return s.stopErr
}

func (s *Server) stop() error {
	s.phase.Store(phaseStopping)
	if s.ui != nil {
		s.ui.Stop()
		<-s.uiDone
	}
	if err := s.temporal.Stop(); err != nil {
		return fmt.Errorf("stop temporal server: %w", err)
	}
	return nil
}

// withDefaults validates o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	if o.Host == "" || o.Host == "localhost" {
		o.Host = defaultHost
	}
	if net.ParseIP(o.Host) == nil {
		return o, fmt.Errorf("host %q is not an IP address", o.Host)
	}
	if o.FrontendPort < 0 || o.FrontendPort > 65535 {
		return o, fmt.Errorf("frontend port %d out of range", o.FrontendPort)
	}
	if o.UIPort < 0 || o.UIPort > 65535 {
		return o, fmt.Errorf("ui port %d out of range", o.UIPort)
	}
	if o.FrontendPort != 0 && o.FrontendPort == o.UIPort {
		return o, fmt.Errorf("frontend and ui port are both %d", o.UIPort)
	}
	if o.Namespace == "" {
		o.Namespace = defaultNamespace
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// dialHost returns the address clients use to reach a listener bound to host:
// the loopback address of the same family when host is a wildcard.
func dialHost(host string) string {
	ip := net.ParseIP(host)
	switch {
	case ip.Equal(net.IPv4zero):
		return "127.0.0.1"
	case ip.Equal(net.IPv6unspecified):
		return "::1"
	}
	return host
}

// hostPort joins host and port, bracketing IPv6 hosts.
func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
