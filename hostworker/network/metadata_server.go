package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MetadataServerConfig configures the metadata server of one L3 (the agent's `metadata`
// subcommand, started by EnsureDHCP inside the L3's DHCP namespace).
type MetadataServerConfig struct {
	// Dir is the L3's DHCP state directory: the server reads metadata.json there and writes its
	// PID to metadata.pid once it listens.
	Dir string
	// Listen is the TCP address to serve on (MetadataAddr:80).
	Listen string
	// Daemon starts the server as a new process in its own session (the running executable with
	// this process's arguments minus --daemon, output appended to metadata.log) and returns once
	// it listens, or with its error when it exits first.
	Daemon bool
	Logger *slog.Logger
}

// RunMetadataServer serves the guests of an L3 their meta-data and user-data until ctx ends. A
// request is answered from the entry of its source address in the data file, which is re-read
// whenever it was replaced; an address without an entry gets 404.
func RunMetadataServer(ctx context.Context, cfg MetadataServerConfig) error {
	if cfg.Dir == "" || cfg.Listen == "" {
		return errors.New("metadata server needs --dir and --listen")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Daemon {
		return daemonizeMetadata(ctx, cfg.Dir)
	}
	ln, err := net.Listen("tcp4", cfg.Listen)
	if err != nil {
		return fmt.Errorf("metadata server: %w", err)
	}
	srv := &http.Server{Handler: &metadataHandler{data: &metadataData{path: filepath.Join(cfg.Dir, metadataFile)}, log: cfg.Logger},
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	if _, err := writeFileIfChanged(filepath.Join(cfg.Dir, metadataPID), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		ln.Close()
		return err
	}
	cfg.Logger.Info("metadata server listening", "listen", cfg.Listen, "dir", cfg.Dir)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metadata server: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// daemonizeMetadata starts the server in its own session and waits until its PID file names it.
func daemonizeMetadata(ctx context.Context, dir string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("metadata server executable: %w", err)
	}
	args := slices.DeleteFunc(slices.Clone(os.Args[1:]), func(a string) bool { return a == "--daemon" || a == "--daemon=true" })
	logPath := filepath.Join(dir, metadataLog)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("metadata server log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start metadata server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		if pid, _ := pidFromFile(filepath.Join(dir, metadataPID), dir); pid == cmd.Process.Pid {
			return nil
		}
		select {
		case err := <-exited:
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("metadata server exited: %v: %s", err, lastLines(out, 5))
		case <-deadline:
			_ = cmd.Process.Kill()
			return errors.New("metadata server did not write its pid file within 10s")
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// lastLines is the end of a log for an error message.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// metadataData is the data file, re-read when its inode, size or mtime changed (the agent
// replaces it by rename).
type metadataData struct {
	path  string
	mu    sync.Mutex
	stamp [3]int64
	byIP  map[string]Metadata
}

// lookup returns the entry of ip; a missing file has no entries.
func (d *metadataData) lookup(ip string) (Metadata, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, err := os.Stat(d.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		d.byIP, d.stamp = nil, [3]int64{}
	case err != nil:
		return Metadata{}, false, err
	default:
		var ino int64
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			ino = int64(sys.Ino)
		}
		stamp := [3]int64{ino, st.Size(), st.ModTime().UnixNano()}
		if d.byIP == nil || stamp != d.stamp {
			b, err := os.ReadFile(d.path)
			if err != nil {
				return Metadata{}, false, err
			}
			byIP := map[string]Metadata{}
			if err := json.Unmarshal(b, &byIP); err != nil {
				return Metadata{}, false, fmt.Errorf("parse %s: %w", d.path, err)
			}
			d.byIP, d.stamp = byIP, stamp
		}
	}
	md, ok := d.byIP[ip]
	return md, ok, nil
}

// metadataHandler answers EC2-style paths by the request's source address.
type metadataHandler struct {
	data *metadataData
	log  *slog.Logger
}

func (h *metadataHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	src, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		http.Error(w, "bad source address", http.StatusBadRequest)
		return
	}
	ip := src.Addr().Unmap()
	md, ok, err := h.data.lookup(ip.String())
	if err != nil {
		h.log.Error("metadata unreadable", "error", err)
		http.Error(w, "metadata unavailable", http.StatusInternalServerError)
		return
	}
	body, found := "", false
	if ok {
		body, found = metadataPath(md, ip, r.URL.Path)
	}
	h.log.Debug("metadata request", "src", ip.String(), "path", r.URL.Path, "found", found)
	if !found {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, body)
}

// metadataPath answers one path of the EC2 layout: /, /<version>/, /<version>/user-data and
// /<version>/meta-data/... where version is "latest" or a date (2009-04-04).
func metadataPath(md Metadata, ip netip.Addr, path string) (string, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if parts[0] == "" {
		return "latest\n", true
	}
	if _, err := time.Parse(time.DateOnly, parts[0]); err != nil && parts[0] != "latest" {
		return "", false
	}
	rest := parts[1:]
	switch {
	case len(rest) == 0:
		if md.UserData == "" {
			return "meta-data/\n", true
		}
		return "meta-data/\nuser-data\n", true
	case rest[0] == "user-data" && len(rest) == 1:
		return md.UserData, md.UserData != ""
	case rest[0] == "meta-data":
		return metaData(md, ip, rest[1:])
	}
	return "", false
}

// metaData answers below /<version>/meta-data/.
func metaData(md Metadata, ip netip.Addr, rest []string) (string, bool) {
	values := map[string]string{"instance-id": md.InstanceID, "hostname": md.Hostname, "local-hostname": md.Hostname,
		"local-ipv4": ip.String()}
	switch {
	case len(rest) == 0:
		var keys []string
		for k, v := range values {
			if v != "" {
				keys = append(keys, k)
			}
		}
		if len(md.SSHKeys) > 0 {
			keys = append(keys, "public-keys/")
		}
		slices.Sort(keys)
		return strings.Join(keys, "\n") + "\n", true
	case len(rest) == 1 && rest[0] != "public-keys":
		v := values[rest[0]]
		return v, v != ""
	case rest[0] != "public-keys" || len(md.SSHKeys) == 0:
		return "", false
	case len(rest) == 1:
		var b strings.Builder
		for i := range md.SSHKeys {
			fmt.Fprintf(&b, "%d=key-%d\n", i, i)
		}
		return b.String(), true
	}
	i, err := strconv.Atoi(rest[1])
	switch {
	case err != nil || i < 0 || i >= len(md.SSHKeys) || len(rest) > 3:
		return "", false
	case len(rest) == 2:
		return "openssh-key\n", true
	case rest[2] == "openssh-key":
		return strings.TrimSpace(md.SSHKeys[i]) + "\n", true
	}
	return "", false
}
