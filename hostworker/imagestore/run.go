package imagestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/models"
)

// DefaultListen is the address the HTTP server binds when Config names none.
const DefaultListen = "0.0.0.0:7090"

// shutdownTimeout bounds how long Run waits for HTTP transfers on stop.
const shutdownTimeout = 10 * time.Second

// Config configures Run.
type Config struct {
	// BackupStorageUUID is the backup storage this agent serves; its task
	// queue is bsapi.Queue(BackupStorageUUID).
	BackupStorageUUID string
	// Dir is the store directory (created when missing).
	Dir string
	// Listen is the HTTP server's bind address; "" means DefaultListen.
	Listen string
	// Listener, when set, is used instead of binding Listen (tests pass
	// one bound to port 0).
	Listener net.Listener
	// AdvertiseURL is the HTTP server's base as hosts reach it, e.g.
	// "http://10.0.0.5:7090". It may be omitted when the server binds a
	// specific address, which it is then derived from.
	AdvertiseURL string
	// Client is the Temporal client the worker polls with; Run does not
	// close it.
	Client client.Client
	// WorkerOptions are the worker's options; nil means
	// DefaultWorkerOptions. The workflow worker is always disabled.
	WorkerOptions *worker.Options
	// HeartbeatEvery is how often a download heartbeats; 0 means
	// bsapi.HeartbeatEvery.
	HeartbeatEvery time.Duration
	// Logger receives the agent's records; nil discards.
	Logger *slog.Logger
}

// DefaultWorkerOptions sizes the agent's worker: no workflow worker, a
// few concurrent downloads, and a bounded wait for running ones on stop.
// Heartbeats reach the server at least every bsapi.HeartbeatEvery (the SDK
// would otherwise hold them for 80% of the heartbeat timeout), so that
// progress shows and a cancellation arrives within seconds.
func DefaultWorkerOptions() worker.Options {
	return worker.Options{
		MaxHeartbeatThrottleInterval:       bsapi.HeartbeatEvery,
		MaxConcurrentActivityTaskPollers:   2,
		MaxConcurrentActivityExecutionSize: 16,
		DisableWorkflowWorker:              true,
		WorkerStopTimeout:                  10 * time.Second,
	}
}

// Run serves the backup storage until ctx is done: the HTTP server on
// cfg's address and the bsapi activities on the storage's task queue. It
// returns nil after a clean stop, or the error that kept either part from
// starting or stopped it early; then the other part is stopped too.
func Run(ctx context.Context, cfg Config) error {
	if !models.IsUUID(cfg.BackupStorageUUID) {
		return fmt.Errorf("backup storage uuid %q is not 32 hex characters", cfg.BackupStorageUUID)
	}
	if cfg.Client == nil {
		return errors.New("no temporal client")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln := cfg.Listener
	if ln == nil {
		addr := cfg.Listen
		if addr == "" {
			addr = DefaultListen
		}
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("http server: %w", err)
		}
	}
	defer ln.Close() // after Shutdown it is closed already
	base, err := advertiseURL(cfg.AdvertiseURL, ln.Addr())
	if err != nil {
		return err
	}
	store, err := NewStore(StoreConfig{Dir: cfg.Dir, BaseURL: base, Logger: logger})
	if err != nil {
		return err
	}
	agent := NewAgent(cfg.BackupStorageUUID, store, cfg.HeartbeatEvery, logger)

	opts := DefaultWorkerOptions()
	if cfg.WorkerOptions != nil {
		opts = *cfg.WorkerOptions
	}
	opts.DisableWorkflowWorker = true
	fatal := make(chan error, 2)
	next := opts.OnFatalError
	opts.OnFatalError = func(err error) {
		if next != nil {
			next(err)
		}
		fatal <- fmt.Errorf("worker of backup storage %s: %w", cfg.BackupStorageUUID, err)
	}
	w := worker.New(cfg.Client, bsapi.Queue(cfg.BackupStorageUUID), opts)
	agent.Register(w)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker of backup storage %s: %w", cfg.BackupStorageUUID, err)
	}
	defer w.Stop()

	srv := &http.Server{
		Handler:           store.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("image store agent started",
		slog.String("bs_uuid", cfg.BackupStorageUUID),
		slog.String("task_queue", bsapi.Queue(cfg.BackupStorageUUID)),
		slog.String("dir", store.Dir()),
		slog.String("listen", ln.Addr().String()),
		slog.String("url", base))

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-fatal:
	case err := <-served:
		runErr = fmt.Errorf("http server: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if runErr == nil {
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("http server: %w", err)
		}
	}
	logger.Info("image store agent stopped", slog.String("bs_uuid", cfg.BackupStorageUUID))
	return runErr
}

// advertiseURL is the given base URL, or one derived from a listener bound
// to a specific address.
func advertiseURL(given string, addr net.Addr) (string, error) {
	if given != "" {
		return given, nil
	}
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		return "", fmt.Errorf("listening on %s: set the advertise url that hosts reach the image store at", addr)
	}
	return "http://" + tcp.String(), nil
}
