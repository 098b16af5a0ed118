package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemonSpec describes one daemon started inside a router namespace.
type daemonSpec struct {
	netns   string   // named namespace to run in
	args    []string // command and arguments run inside the namespace
	env     []string // extra environment
	pidFile string   // where the daemon's PID is recorded
	logFile string   // stdout and stderr
	// marker is a string found in the daemon's command line or environment; it tells our
	// daemon from an unrelated process that reused the PID.
	marker string
}

// startDaemon starts the daemon in its own session (so signals aimed at the agent spare it) and
// records its PID. `ip netns exec` execs the command, so the PID is the daemon's. A goroutine
// reaps the process when it exits; it ends with the process.
func (m *Manager) startDaemon(d daemonSpec) (int, error) {
	logf, err := os.OpenFile(d.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("open daemon log: %w", err)
	}
	defer logf.Close()
	args := append([]string{"netns", "exec", d.netns}, d.args...)
	cmd := exec.Command(m.cfg.IPPath, args...)
	cmd.Env = append(os.Environ(), d.env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", d.args[0], err)
	}
	pid := cmd.Process.Pid
	go func() { _ = cmd.Wait() }()
	if err := writeFileAtomic(d.pidFile, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		return pid, err
	}
	return pid, nil
}

// runningPID returns the PID recorded in pidFile when that process is alive and is ours
// (its command line or environment holds marker); otherwise 0.
func runningPID(pidFile, marker string) int {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	if !processAlive(pid, marker) {
		return 0
	}
	return pid
}

// processAlive reports whether pid runs (a zombie counts as gone) and, when marker is set,
// carries marker in its command line or environment.
func processAlive(pid int, marker string) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Field 3 follows the parenthesised command name.
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return false
	}
	if marker == "" {
		return true
	}
	for _, f := range []string{"cmdline", "environ"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, f))
		if err == nil && bytes.Contains(b, []byte(marker)) {
			return true
		}
	}
	return false
}

// stopPID sends SIGTERM, waits for the process to go, then SIGKILLs it. A process that is
// already gone (or is no longer ours) is success.
func stopPID(ctx context.Context, pid int, marker string) error {
	if pid <= 0 || !processAlive(pid, marker) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal pid %d: %w", pid, err)
	}
	if waitGone(ctx, pid, 5*time.Second) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill pid %d: %w", pid, err)
	}
	if waitGone(ctx, pid, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("pid %d still running after SIGKILL", pid)
}

// waitGone polls until pid has exited or the timeout passes.
func waitGone(ctx context.Context, pid int, timeout time.Duration) bool {
	ok, _ := poll(ctx, timeout, func() (bool, error) { return !processAlive(pid, ""), nil })
	return ok
}

// stopDaemon stops the daemon recorded in pidFile, and any older instance carrying the same
// marker (an haproxy still draining after a reload), then removes the file.
func stopDaemon(ctx context.Context, pidFile, marker string) error {
	pids := pidsWithMarker(marker)
	if pid := runningPID(pidFile, marker); pid > 0 && !slices.Contains(pids, pid) {
		pids = append(pids, pid)
	}
	for _, pid := range pids {
		if err := stopPID(ctx, pid, marker); err != nil {
			return err
		}
	}
	if err := os.Remove(pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove pid file: %w", err)
	}
	return nil
}

// pidsWithMarker lists live processes whose command line or environment holds marker (a path
// unique to one router's daemon).
func pidsWithMarker(marker string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if processAlive(pid, marker) && !otherHostsFile(pid, marker) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// otherHostsFile reports whether process pid sees another file at path than this agent does:
// the same path in another host's mounts (test hosts are namespaces that share one PID
// namespace, so their agents see each other's daemons). When either file is missing it cannot
// tell, and answers false.
func otherHostsFile(pid int, path string) bool {
	mine, err := os.Stat(path)
	if err != nil {
		return false
	}
	theirs, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid), "root", path))
	if err != nil {
		return false
	}
	return !os.SameFile(mine, theirs)
}

// poll calls cond every 20–200 ms until it reports true, fails, the timeout passes or ctx ends.
func poll(ctx context.Context, timeout time.Duration, cond func() (bool, error)) (bool, error) {
	deadline := time.Now().Add(timeout)
	wait := 20 * time.Millisecond
	for {
		ok, err := cond()
		if err != nil || ok {
			return ok, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// writeFileAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// updateFile writes data to path when its content differs and reports whether it changed.
func updateFile(path string, data []byte, perm os.FileMode) (bool, error) {
	old, err := os.ReadFile(path)
	if err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	return true, writeFileAtomic(path, data, perm)
}

// runIn runs a short command inside the named namespace and returns its combined output.
func (m *Manager) runIn(ctx context.Context, ns string, args ...string) ([]byte, error) {
	full := append([]string{"netns", "exec", ns}, args...)
	out, err := exec.CommandContext(ctx, m.cfg.IPPath, full...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// listening reports whether the process pid (through its namespace's /proc/<pid>/net table)
// has a socket in state st on port; proto is "tcp" or "udp".
func listening(pid int, proto string, port uint16) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, proto))
	if err != nil {
		return false
	}
	want := fmt.Sprintf(":%04X ", port)
	st := " 0A " // TCP_LISTEN
	if proto == "udp" {
		st = " 07 " // UDP sockets sit in TCP_CLOSE
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[1], want[:len(want)-1]) && " "+f[3]+" " == st {
			return true
		}
	}
	return false
}
