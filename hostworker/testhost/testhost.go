// Package testhost makes a "host" out of Linux namespaces for end-to-end
// tests of the host agent, its deployment, compute and networking: a network
// namespace joined to the root namespace by a veth pair, and a private mount
// namespace whose /etc, /root, /usr/local, /var/lib, /var/cache and /var/log
// are copy-on-write overlays of the real ones and whose /run is empty. Inside
// it tests run sshd (root logs in with a password), libvirtd with its own host
// UUID, or the deployed agent, as on a separate machine, without writing to
// the real system's files.
//
// Everything a Host starts is stopped by PID when the test ends, the
// namespaces and the veth pair disappear with it, and the cleanup fails the
// test if anything is left.
package testhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/crypto/ssh"
)

// Environment variables that turn a skip for missing root or binaries into
// a failure (CI sets them).
const (
	RequireNetEnv     = "ZCLOUD_REQUIRE_NET"
	RequireLibvirtEnv = "ZCLOUD_REQUIRE_LIBVIRT"
)

// HostLink is the name of the host's end of the veth pair.
const HostLink = "eth0"

// overlayDirs are the directories a host sees as copy-on-write copies of the
// real ones: what an agent deployment, sshd and libvirtd write lands in the
// test's temp dir.
var overlayDirs = []string{"/etc", "/root", "/usr/local", "/var/lib", "/var/cache", "/var/log", "/var/tmp"}

// Time limits of the polls in this package.
const (
	startTimeout = 90 * time.Second // a daemon becoming ready (libvirtd probes QEMU)
	stopTimeout  = 10 * time.Second // a process exiting after SIGTERM
	pollEvery    = 20 * time.Millisecond
)

// Options configures a Host. The zero value is fine.
type Options struct {
	// Subnet is the link between the root namespace and the host: the root
	// side takes its first address and the host its second. The zero value
	// picks a free /30 in 10.251.0.0/16.
	Subnet netip.Prefix
	// LibvirtHostUUID is the host_uuid of the host's libvirtd; empty picks a
	// random one.
	LibvirtHostUUID string
	// Lab puts the host on a lab's bridge, in one subnet with the lab's
	// other hosts (so that they reach each other: migration, image
	// downloads), instead of its own /30; Subnet is then ignored.
	Lab *Lab
}

// Lab is a bridge in the root namespace joining test hosts into one
// subnet; the root side holds the subnet's first address.
type Lab struct {
	bridge string
	subnet netip.Prefix
	mu     sync.Mutex
	next   netip.Addr
}

// NewLab creates a lab bridge with subnet's first address and registers
// its removal with t (after the hosts', which are created later).
func NewLab(t testing.TB, name string, subnet netip.Prefix) *Lab {
	t.Helper()
	need(t, RequireNetEnv, "unshare", "nsenter", "chpasswd", "mount")
	subnet = subnet.Masked()
	l := &Lab{bridge: linkName(t.Name() + "/lab/" + name), subnet: subnet, next: subnet.Addr().Next().Next()}
	la := netlink.NewLinkAttrs()
	la.Name = l.bridge
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil {
		t.Fatalf("testhost lab %s: add bridge: %v", name, err)
	}
	t.Cleanup(func() {
		if br, err := netlink.LinkByName(l.bridge); err == nil {
			if err := netlink.LinkDel(br); err != nil {
				t.Errorf("testhost lab %s: delete bridge %s: %v", name, l.bridge, err)
			}
		}
	})
	if err := addrUp(nil, l.bridge, netip.PrefixFrom(l.RootIP(), subnet.Bits())); err != nil {
		t.Fatalf("testhost lab %s: %v", name, err)
	}
	return l
}

// RootIP is the root namespace's address in the lab.
func (l *Lab) RootIP() netip.Addr { return l.subnet.Addr().Next() }

// Bridge is the lab bridge's name.
func (l *Lab) Bridge() string { return l.bridge }

func (l *Lab) take() (netip.Addr, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ip := l.next
	if !l.subnet.Contains(ip) || !l.subnet.Contains(ip.Next()) {
		return netip.Addr{}, fmt.Errorf("lab %s is full", l.subnet)
	}
	l.next = ip.Next()
	return ip, nil
}

// Host is a test host: a holder process that owns the host's network and
// mount namespaces, and whatever the test started inside them. Its methods
// fail the test given to New, so call them from that test's goroutine, not
// from subtests.
type Host struct {
	t        testing.TB
	name     string
	opts     Options
	dir      string
	rootLink string
	subnet   netip.Prefix
	rootIP   netip.Addr
	ip       netip.Addr
	password string

	holder   *exec.Cmd
	holderIn io.WriteCloser
	netNS    string // "net:[inode]" of the host
	mntNS    string // "mnt:[inode]" of the host

	mu      sync.Mutex
	daemons []*daemon
	sshKey  ssh.PublicKey
}

// daemon is a long-lived process that the Host started and reaps.
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once cmd.Wait returned
}

// New creates a host named name (used in logs and link names) and registers
// its cleanup with t. It skips the test when not root or when unshare,
// nsenter or chpasswd are missing, unless ZCLOUD_REQUIRE_NET=1.
func New(t testing.TB, name string, opts Options) *Host {
	t.Helper()
	need(t, RequireNetEnv, "unshare", "nsenter", "chpasswd", "mount")
	h := &Host{
		t:        t,
		name:     name,
		opts:     opts,
		dir:      t.TempDir(),
		rootLink: linkName(t.Name() + "/" + name),
		password: randomHex(8),
	}
	if err := h.startHolder(); err != nil {
		t.Fatalf("testhost %s: %v", name, err)
	}
	t.Cleanup(h.cleanup)
	if err := h.mountFilesystems(); err != nil {
		t.Fatalf("testhost %s: %v", name, err)
	}
	if err := h.setPassword(); err != nil {
		t.Fatalf("testhost %s: %v", name, err)
	}
	if err := h.link(opts.Subnet); err != nil {
		t.Fatalf("testhost %s: %v", name, err)
	}
	t.Logf("testhost %s: holder pid %d, %s, host %s, root side %s (%s)", name, h.PID(), h.netNS, h.ip, h.rootIP, h.rootLink)
	return h
}

// Name is the name given to New.
func (h *Host) Name() string { return h.name }

// PID is the holder process: nsenter --target PID enters the host.
func (h *Host) PID() int { return h.holder.Process.Pid }

// IP is the host's address on its link to the root namespace: its
// management IP.
func (h *Host) IP() netip.Addr { return h.ip }

// RootIP is the root namespace's address on the link, where the host
// reaches services of the control plane (Temporal) that listen on it.
func (h *Host) RootIP() netip.Addr { return h.rootIP }

// Subnet is the link's prefix.
func (h *Host) Subnet() netip.Prefix { return h.subnet }

// RootLink is the name of the root namespace's end of the veth pair.
func (h *Host) RootLink() string { return h.rootLink }

// RootPassword is root's password inside the host.
func (h *Host) RootPassword() string { return h.password }

// NetNS identifies the host's network namespace as /proc/PID/ns/net
// reads ("net:[inode]").
func (h *Host) NetNS() string { return h.netNS }

// Path is p (an absolute path as the host sees it) as the test process can
// open it: through the holder's root, so inside the host's mounts.
func (h *Host) Path(p string) string {
	return filepath.Join("/proc", strconv.Itoa(h.PID()), "root", p)
}

// Contains reports whether process pid runs inside the host (in its network
// or mount namespace).
func (h *Host) Contains(pid int) bool {
	netNS, mntNS := namespacesOf(pid)
	return netNS == h.netNS || mntNS == h.mntNS
}

// Processes lists the PIDs of every process inside the host, the holder
// included.
func (h *Host) Processes() []int {
	var pids []int
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if h.Contains(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Exec runs argv inside the host's namespaces and returns its combined
// output.
func (h *Host) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	return h.ExecInput(ctx, nil, argv...)
}

// ExecInput is Exec with stdin read from in.
func (h *Host) ExecInput(ctx context.Context, in io.Reader, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("exec: empty command")
	}
	cmd := exec.CommandContext(ctx, "nsenter", h.nsenterArgs(argv)...)
	cmd.Stdin = in
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s in host %s: %w: %s", strings.Join(argv, " "), h.name, err, bytes.TrimSpace(out))
	}
	return out, nil
}

func (h *Host) nsenterArgs(argv []string) []string {
	return append([]string{"--target", strconv.Itoa(h.PID()), "--net", "--mount", "--"}, argv...)
}

// StartDaemon runs argv in the foreground inside the host, with its output
// in a log file (see DaemonLog), and returns its PID. The process is
// stopped (SIGTERM, then SIGKILL) when the test ends.
func (h *Host) StartDaemon(name string, argv ...string) int {
	h.t.Helper()
	pid, err := h.startDaemon(name, argv)
	if err != nil {
		h.t.Fatalf("testhost %s: %v", h.name, err)
	}
	return pid
}

// DaemonLog returns what the daemon started as name has written so far.
func (h *Host) DaemonLog(name string) string {
	b, err := os.ReadFile(filepath.Join(h.dir, "log", name+".log"))
	if err != nil {
		return ""
	}
	return string(b)
}

func (h *Host) startDaemon(name string, argv []string) (int, error) {
	if len(argv) == 0 {
		return 0, fmt.Errorf("daemon %s: empty command", name)
	}
	logDir := filepath.Join(h.dir, "log")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return 0, err
	}
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logFile.Close()
	cmd := exec.Command("nsenter", h.nsenterArgs(argv)...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit status is in the log when it matters
		close(d.done)
	}()
	h.mu.Lock()
	h.daemons = append(h.daemons, d)
	h.mu.Unlock()
	return cmd.Process.Pid, nil
}

// waitReady polls ready until it returns true, the daemon exits or the
// start timeout passes.
func (h *Host) waitReady(name string, ready func() bool) error {
	var d *daemon
	h.mu.Lock()
	for _, x := range h.daemons {
		if x.name == name {
			d = x
		}
	}
	h.mu.Unlock()
	deadline := time.Now().Add(startTimeout)
	for !ready() {
		if d != nil {
			select {
			case <-d.done:
				return fmt.Errorf("%s exited while starting: %s", name, tail(h.DaemonLog(name)))
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %s", name, startTimeout, tail(h.DaemonLog(name)))
		}
		time.Sleep(pollEvery)
	}
	return nil
}

// startHolder starts the process that owns the namespaces. It is cat
// reading a pipe: if the test process dies without cleaning up, the pipe
// closes and the holder exits on its own.
func (h *Host) startHolder() error {
	selfNet, selfMnt := namespacesOf(os.Getpid())
	h.holder = exec.Command("unshare", "--net", "--mount", "--propagation", "private", "--", "cat")
	in, err := h.holder.StdinPipe()
	if err != nil {
		return err
	}
	h.holderIn = in
	if err := h.holder.Start(); err != nil {
		return fmt.Errorf("start namespace holder: %w", err)
	}
	go func() { _ = h.holder.Wait() }()
	pid := h.holder.Process.Pid
	deadline := time.Now().Add(stopTimeout)
	for {
		netNS, mntNS := namespacesOf(pid)
		comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
		// unshare execs cat once both namespaces exist and mounts are private.
		if strings.TrimSpace(string(comm)) == "cat" && netNS != "" && netNS != selfNet && mntNS != selfMnt {
			h.netNS, h.mntNS = netNS, mntNS
			return nil
		}
		if time.Now().After(deadline) {
			_ = h.holder.Process.Kill()
			return fmt.Errorf("namespace holder %d did not enter new namespaces", pid)
		}
		time.Sleep(pollEvery)
	}
}

// mountFilesystems gives the host an empty /run and overlays over the
// directories it may write.
func (h *Host) mountFilesystems() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if _, err := h.Exec(ctx, "mount", "-t", "tmpfs", "-o", "mode=0755", "testhost-run", "/run"); err != nil {
		return err
	}
	for _, d := range overlayDirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			continue
		}
		base := filepath.Join(h.dir, "overlay", strings.ReplaceAll(strings.Trim(d, "/"), "/", "_"))
		upper, work := filepath.Join(base, "upper"), filepath.Join(base, "work")
		for _, p := range []string{upper, work} {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		}
		opts := "lowerdir=" + d + ",upperdir=" + upper + ",workdir=" + work
		if _, err := h.Exec(ctx, "mount", "-t", "overlay", "-o", opts, "testhost", d); err != nil {
			return err
		}
	}
	for _, d := range []string{"/run/lock", "/run/sshd"} {
		if err := os.MkdirAll(h.Path(d), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// setPassword gives root the host's password in the host's copy of
// /etc/shadow.
func (h *Host) setPassword() error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	_, err := h.ExecInput(ctx, strings.NewReader("root:"+h.password+"\n"), "chpasswd", "-c", "SHA512")
	return err
}

// link creates the veth pair and addresses it.
func (h *Host) link(subnet netip.Prefix) error {
	lockDir := "/run/lock"
	if _, err := os.Stat(lockDir); err != nil {
		lockDir = os.TempDir()
	}
	unlock, err := lockFile(filepath.Join(lockDir, "zcloud-testhost.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	lab := h.opts.Lab
	switch {
	case lab != nil:
		subnet = lab.subnet
		h.rootIP = lab.RootIP()
		if h.ip, err = lab.take(); err != nil {
			return err
		}
	case !subnet.IsValid():
		if subnet, err = freeSubnet(h.rootLink); err != nil {
			return err
		}
		fallthrough
	default:
		subnet = subnet.Masked()
		h.rootIP = subnet.Addr().Next()
		h.ip = h.rootIP.Next()
		if !subnet.Contains(h.ip) || subnet.Bits() > 30 {
			return fmt.Errorf("subnet %s holds no two host addresses", subnet)
		}
	}
	h.subnet = subnet
	la := netlink.NewLinkAttrs()
	la.Name = h.rootLink
	veth := &netlink.Veth{LinkAttrs: la, PeerName: HostLink, PeerNamespace: netlink.NsPid(h.PID())}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s: %w", h.rootLink, err)
	}
	if lab != nil {
		if err := enslave(h.rootLink, lab.bridge); err != nil {
			return err
		}
	} else if err := addrUp(nil, h.rootLink, netip.PrefixFrom(h.rootIP, subnet.Bits())); err != nil {
		return err
	}
	ns, err := netns.GetFromPid(h.PID())
	if err != nil {
		return fmt.Errorf("open host netns: %w", err)
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in host netns: %w", err)
	}
	defer nh.Close()
	lo, err := nh.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("host lo: %w", err)
	}
	if err := nh.LinkSetUp(lo); err != nil {
		return fmt.Errorf("host lo up: %w", err)
	}
	return addrUp(nh, HostLink, netip.PrefixFrom(h.ip, subnet.Bits()))
}

// enslave puts a root-namespace link into a bridge and sets it up.
func enslave(link, bridge string) error {
	l, err := netlink.LinkByName(link)
	if err != nil {
		return fmt.Errorf("link %s: %w", link, err)
	}
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", bridge, err)
	}
	if err := netlink.LinkSetMaster(l, br); err != nil {
		return fmt.Errorf("enslave %s to %s: %w", link, bridge, err)
	}
	return netlink.LinkSetUp(l)
}

// addrUp gives link name the address p and sets it up; nh nil is the root
// namespace.
func addrUp(nh *netlink.Handle, name string, p netip.Prefix) error {
	if nh == nil {
		var err error
		if nh, err = netlink.NewHandle(); err != nil {
			return err
		}
		defer nh.Close()
	}
	l, err := nh.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
	if err := nh.AddrAdd(l, addr); err != nil {
		return fmt.Errorf("address %s on %s: %w", p, name, err)
	}
	if err := nh.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// freeSubnet picks a /30 in 10.251.0.0/16 that no address of the root
// namespace overlaps, starting at a place derived from seed so that
// concurrent tests rarely probe the same blocks (the caller holds a lock
// file against races between test processes anyway).
func freeSubnet(seed string) (netip.Prefix, error) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("list addresses: %w", err)
	}
	var used []netip.Prefix
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		used = append(used, netip.PrefixFrom(ip, ones).Masked())
	}
	const blocks = 1 << 14 // /30s in a /16
	start := int(fnv32(seed) % blocks)
	for i := range blocks {
		n := (start + i) % blocks
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 251, byte(n >> 6), byte(n&63) << 2}), 30)
		free := true
		for _, u := range used {
			if u.Overlaps(p) {
				free = false
				break
			}
		}
		if free {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("no free /30 in 10.251.0.0/16")
}

// cleanup stops the daemons, kills every other process inside the host,
// deletes the veth pair and checks that nothing is left.
func (h *Host) cleanup() {
	h.mu.Lock()
	daemons := h.daemons
	h.mu.Unlock()
	for i := len(daemons) - 1; i >= 0; i-- {
		d := daemons[i]
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(stopTimeout):
			h.t.Logf("testhost %s: %s (pid %d) ignored SIGTERM for %s, killing it", h.name, d.name, d.cmd.Process.Pid, stopTimeout)
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	}
	_ = h.holderIn.Close()
	deadline := time.Now().Add(stopTimeout)
	var left []int
	for {
		left = h.Processes()
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(pollEvery)
	}
	if len(left) > 0 {
		h.t.Errorf("testhost %s: processes left inside the host: %v", h.name, left)
	}
	if l, err := netlink.LinkByName(h.rootLink); err == nil {
		if err := netlink.LinkDel(l); err != nil && !isNotFound(err) {
			h.t.Errorf("testhost %s: delete %s: %v", h.name, h.rootLink, err)
		}
	}
	for {
		_, err := netlink.LinkByName(h.rootLink)
		if isNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			h.t.Errorf("testhost %s: link %s still exists (%v)", h.name, h.rootLink, err)
			break
		}
		time.Sleep(pollEvery)
	}
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

// namespacesOf reads the network and mount namespaces of pid; empty when
// the process is gone.
func namespacesOf(pid int) (netNS, mntNS string) {
	base := filepath.Join("/proc", strconv.Itoa(pid), "ns")
	netNS, _ = os.Readlink(filepath.Join(base, "net"))
	mntNS, _ = os.Readlink(filepath.Join(base, "mnt"))
	return netNS, mntNS
}

// need skips (or, with env set to 1, fails) t unless it runs as root and
// every binary is on PATH.
func need(t testing.TB, env string, bins ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("testhost needs %s", strings.Join(missing, ", "))
	if os.Getenv(env) == "1" {
		t.Fatalf("%s (%s=1)", msg, env)
	}
	t.Skipf("%s; set %s=1 to fail instead", msg, env)
}

// lockFile takes an exclusive lock on path, shared by every test process.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// linkName derives a root-side link name (at most 15 bytes) from s.
func linkName(s string) string {
	return fmt.Sprintf("zth%08x", fnv32(s+randomHex(4)))
}

func fnv32(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s)) // a hash.Hash never fails to write
	return h.Sum32()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

// tail is the end of a log, for error messages.
func tail(s string) string {
	const keep = 2000
	s = strings.TrimSpace(s)
	if len(s) > keep {
		s = "..." + s[len(s)-keep:]
	}
	return s
}
