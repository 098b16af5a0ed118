package aliyunsim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults used when Options leaves a field zero.
const (
	DefaultTransitionDelay = 200 * time.Millisecond
	DefaultRegion          = "cn-hangzhou"
	DefaultInstanceQuota   = 100
	// MaxClockSkew is how far a request timestamp may be from the server clock.
	MaxClockSkew = 15 * time.Minute
)

// AccessKey is one AccessKey pair the simulator accepts, and the account it belongs to.
type AccessKey struct {
	ID        string
	Secret    string
	AccountID string
}

// Options configures a Server. The zero value is usable: no keys (add them with AddAccessKey),
// no state file, 200 ms transitions.
type Options struct {
	// Keys are the AccessKeys accepted from the start.
	Keys []AccessKey
	// StateFile, when set, is loaded by New and rewritten after every change and on Close.
	StateFile string
	// TransitionDelay is how long each asynchronous state step takes (Pending→Stopped, Starting→Running...).
	TransitionDelay time.Duration
	// InstanceQuota is the maximum number of ECS instances per account and region.
	InstanceQuota int
	// Clock returns the server's notion of now; tests use it to simulate clock skew.
	Clock func() time.Time
	// Logger receives one debug line per request and errors of persistence.
	Logger *slog.Logger
	// VPNRealizer, when set, makes VPN connections real: it is called after
	// a connection is created (and again when a retried create finds it) and
	// after one is deleted.
	VPNRealizer VPNRealizer
}

// VPNRealizer realizes VPN connections outside the simulator, e.g. as a
// strongSwan endpoint in a network namespace standing for the VPN
// gateway's public IP. Both methods must be idempotent.
type VPNRealizer interface {
	// Ensure makes the tunnel of conn exist: gw's public IP as the local
	// end, cg's IP as the peer, conn.LocalSubnet behind gw.
	Ensure(ctx context.Context, conn VpnConnection, gw VpnGateway, cg CustomerGateway) error
	// Delete removes the tunnel of a connection; a missing one is no error.
	Delete(ctx context.Context, connectionID string) error
}

// Server is a fake Alibaba Cloud endpoint (ECS, VPC, STS and an OSS subset) on one HTTP listener.
// It is safe for concurrent use.
type Server struct {
	log   *slog.Logger
	clock func() time.Time
	file  string

	mu     sync.Mutex
	keys   map[string]AccessKey
	st     *state
	faults faults
	delay  time.Duration
	quota  int
	rpc    map[string]rpcHandler
	vpn    VPNRealizer

	httpSrv  *http.Server
	listener net.Listener
	done     chan struct{}
}

// New builds a Server and loads its state file when one is configured and exists.
func New(opts Options) (*Server, error) {
	s := &Server{
		log:   opts.Logger,
		clock: opts.Clock,
		file:  opts.StateFile,
		keys:  map[string]AccessKey{},
		st:    newState(),
		delay: opts.TransitionDelay,
		quota: opts.InstanceQuota,
		vpn:   opts.VPNRealizer,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.delay <= 0 {
		s.delay = DefaultTransitionDelay
	}
	if s.quota <= 0 {
		s.quota = DefaultInstanceQuota
	}
	s.faults.init()
	s.rpc = rpcTable()
	for _, k := range opts.Keys {
		s.AddAccessKey(k.ID, k.Secret, k.AccountID)
	}
	if s.file != "" {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// AddAccessKey makes the server accept id/secret as a key of accountID (RAM is just this map).
func (s *Server) AddAccessKey(id, secret, accountID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[id] = AccessKey{ID: id, Secret: secret, AccountID: accountID}
}

// RemoveAccessKey makes the server reject id from now on.
func (s *Server) RemoveAccessKey(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, id)
}

func (s *Server) key(id string) (AccessKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	return k, ok
}

// SetTransitionDelay changes how long each later asynchronous state step takes.
func (s *Server) SetTransitionDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetInstanceQuota changes the maximum number of instances per account and region.
func (s *Server) SetInstanceQuota(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quota = n
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves in the background.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	s.listener = ln
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("aliyunsim serve", "err", err)
		}
	}()
	s.log.Info("aliyunsim listening", "addr", ln.Addr().String())
	return nil
}

// Endpoint is the host:port the server listens on, the value for the classic SDK's Domain.
func (s *Server) Endpoint() string {
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}

// URL is http://host:port, the endpoint for the OSS SDK.
func (s *Server) URL() string {
	return "http://" + s.Endpoint()
}

// Close stops the listener and writes the state file.
func (s *Server) Close() error {
	var errs []error
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
		<-s.done
		s.httpSrv = nil
	}
	if s.file != "" {
		s.mu.Lock()
		err := s.saveLocked()
		s.mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ServeHTTP routes a request: OSS when it carries an OSS Authorization or is not an RPC call,
// RPC (ECS/VPC/STS) when it carries Action and Version.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(auth, "OSS"):
		s.serveOSS(w, r)
	case strings.HasPrefix(auth, "ACS3-"):
		s.serveRPC(w, r)
	case r.URL.Path == "/" && (r.URL.Query().Get("Action") != "" || r.Method == http.MethodPost):
		s.serveRPC(w, r)
	default:
		s.serveOSS(w, r)
	}
}

func (s *Server) now() time.Time { return s.clock().UTC() }

// newRequestID returns an id shaped like Alibaba's (uppercase UUID).
func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := strings.ToUpper(hex.EncodeToString(b))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// newID returns prefix followed by 20 random lowercase alphanumerics, the shape of Alibaba ids.
func newID(prefix string) string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return prefix + string(b)
}
