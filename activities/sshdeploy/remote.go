package sshdeploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/zcloud/zcloud/models"
)

// connectTimeout bounds the TCP connect plus the SSH handshake.
const connectTimeout = 20 * time.Second

// remote is one SSH connection to a host, with its SFTP channel.
type remote struct {
	addr    string
	client  *ssh.Client
	sftp    *sftp.Client
	hostKey string // SHA256 fingerprint
}

// dial logs in to t. An address that does not answer is Unavailable (code
// HOST.1003); a refused login or an unexpected host key is Auth.
func dial(ctx context.Context, t Target) (*remote, error) {
	if t.ManagementIP == "" {
		return nil, models.Invalid("management ip is empty")
	}
	port := t.SSHPort
	if port == 0 {
		port = DefaultSSHPort
	}
	user := t.Username
	if user == "" {
		user = DefaultUsername
	}
	addr := net.JoinHostPort(t.ManagementIP, strconv.Itoa(port))

	var tried atomic.Bool // an auth method was offered to the server
	var auth []ssh.AuthMethod
	if t.PrivateKey != "" {
		signer, err := ssh.ParsePrivateKey([]byte(t.PrivateKey))
		if err != nil {
			return nil, withCause(models.Invalid("private key for %s", addr), err)
		}
		auth = append(auth, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			tried.Store(true)
			return []ssh.Signer{signer}, nil
		}))
	}
	if t.Password != "" {
		auth = append(auth, ssh.PasswordCallback(func() (string, error) {
			tried.Store(true)
			return t.Password, nil
		}))
	}
	if len(auth) == 0 {
		return nil, models.Invalid("no password or private key for %s", addr)
	}
	// The callbacks run on the handshake's goroutine.
	var seen atomic.Pointer[string]
	var keyMismatch atomic.Bool
	cfg := &ssh.ClientConfig{
		User: user,
		Auth: auth,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			fp := ssh.FingerprintSHA256(key)
			seen.Store(&fp)
			if t.HostKey != "" && t.HostKey != fp {
				keyMismatch.Store(true)
				return fmt.Errorf("host key %s, want %s", fp, t.HostKey)
			}
			return nil
		},
		Timeout: connectTimeout,
	}

	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, ctx.Err()
		}
		return nil, withCause(models.Unavailable("ssh to %s: host unreachable", addr).WithCode(models.CodeHostUnavailable), err)
	}
	// The handshake has no context: a deadline and a watcher bound it.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	stopped := stop()
	if err != nil {
		conn.Close()
		switch {
		case keyMismatch.Load():
			return nil, withCause(authError("ssh to %s: host key mismatch", addr), err)
		case tried.Load() || strings.Contains(err.Error(), "unable to authenticate"):
			return nil, withCause(authError("ssh to %s: login as %s refused", addr, user), err)
		case !stopped && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded):
			return nil, ctx.Err()
		}
		return nil, withCause(models.Unavailable("ssh to %s: handshake failed", addr).WithCode(models.CodeHostUnavailable), err)
	}
	_ = conn.SetDeadline(time.Time{})
	client := ssh.NewClient(sc, chans, reqs)
	fc, err := sftp.NewClient(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("sftp to %s: %w", addr, err)
	}
	r := &remote{addr: addr, client: client, sftp: fc}
	if fp := seen.Load(); fp != nil {
		r.hostKey = *fp
	}
	return r, nil
}

func authError(format string, args ...any) *models.Error {
	return &models.Error{Kind: models.KindAuth, Code: models.DefaultCode(models.KindAuth), Message: fmt.Sprintf(format, args...)}
}

func withCause(e *models.Error, cause error) *models.Error {
	e.Cause = cause
	return e
}

func (r *remote) close() {
	r.sftp.Close()
	r.client.Close()
}

// run runs a shell command on the host and returns its stdout; a non-zero
// exit is an error carrying stderr.
func (r *remote) run(ctx context.Context, cmd string) (string, error) {
	s, err := r.client.NewSession()
	if err != nil {
		return "", fmt.Errorf("ssh session to %s: %w", r.addr, err)
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr = &stdout, &stderr
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	if err := s.Run(cmd); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return stdout.String(), fmt.Errorf("%s on %s: %w: %s", firstWord(cmd), r.addr, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func firstWord(cmd string) string {
	if f := strings.Fields(cmd); len(f) > 0 {
		return f[0]
	}
	return cmd
}

// readFile returns the content of p, or ok false when it does not exist.
func (r *remote) readFile(p string) (b []byte, ok bool, err error) {
	f, err := r.sftp.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open %s on %s: %w", p, r.addr, err)
	}
	defer f.Close()
	b, err = io.ReadAll(f)
	if err != nil {
		return nil, false, fmt.Errorf("read %s on %s: %w", p, r.addr, err)
	}
	return b, true, nil
}

// ensureFile writes content to p unless p already holds it, and reports
// whether it wrote.
func (r *remote) ensureFile(ctx context.Context, p string, mode os.FileMode, content string) (bool, error) {
	old, ok, err := r.readFile(p)
	if err != nil {
		return false, err
	}
	if ok && string(old) == content {
		// Mode drift alone does not warrant a restart; fix it quietly.
		return false, r.sftp.Chmod(p, mode)
	}
	return true, r.writeFile(ctx, p, mode, strings.NewReader(content), nil)
}

// writeFile writes src to p atomically: a temp file beside p, then a
// rename, so that a running agent or a reader never sees half a file.
func (r *remote) writeFile(ctx context.Context, p string, mode os.FileMode, src io.Reader, progress func(int64)) error {
	dir := path.Dir(p)
	if err := r.sftp.MkdirAll(dir); err != nil {
		return fmt.Errorf("mkdir %s on %s: %w", dir, r.addr, err)
	}
	tmp := path.Join(dir, "."+path.Base(p)+".zcloud-"+randomHex(6))
	f, err := r.sftp.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return fmt.Errorf("create %s on %s: %w", tmp, r.addr, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			_ = r.sftp.Remove(tmp) // best effort: the temp name is unique
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s on %s: %w", tmp, r.addr, err)
	}
	if _, err := io.Copy(f, &ctxReader{ctx: ctx, r: src, progress: progress}); err != nil {
		return fmt.Errorf("write %s on %s: %w", tmp, r.addr, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s on %s: %w", tmp, r.addr, err)
	}
	if err := r.sftp.PosixRename(tmp, p); err != nil {
		return fmt.Errorf("rename %s to %s on %s: %w", tmp, p, r.addr, err)
	}
	ok = true
	return nil
}

// ctxReader stops a copy when ctx is done and reports progress.
type ctxReader struct {
	ctx      context.Context
	r        io.Reader
	n        int64
	progress func(int64)
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil {
		c.progress(c.n)
	}
	return n, err
}

// sha256 is the SHA-256 of p on the host, "" when p does not exist.
func (r *remote) sha256(ctx context.Context, p string) (string, error) {
	q := quote(p)
	out, err := r.run(ctx, "if [ -e "+q+" ]; then sha256sum "+q+"; fi")
	if err != nil {
		return "", err
	}
	if f := strings.Fields(out); len(f) > 0 {
		return f[0], nil
	}
	return "", nil
}

// readPID reads a PID file; 0 when it is missing or holds no number.
func (r *remote) readPID(p string) (int, error) {
	b, ok, err := r.readFile(p)
	if err != nil || !ok {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, nil
	}
	return pid, nil
}

// running reports whether pid is alive and its command line contains
// want, which guards against a PID that a finished process left behind
// and the kernel gave to another.
func (r *remote) running(ctx context.Context, pid int, want string) (bool, error) {
	if pid <= 0 {
		return false, nil
	}
	out, err := r.run(ctx, "cat /proc/"+strconv.Itoa(pid)+"/cmdline 2>/dev/null || true")
	if err != nil {
		return false, err
	}
	return strings.Contains(out, want), nil
}

// quote makes s one word for a POSIX shell.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
