package network

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// DefaultNetNSDir is where named namespaces live, the directory `ip netns` uses, so operators can
// `ip netns exec zd-1a2b3c4d ...` into the namespaces this package creates.
const DefaultNetNSDir = "/run/netns"

// DefaultRunDir holds dnsmasq configuration, host files, leases and PID files.
const DefaultRunDir = "/run/zcloud/network"

// HostOptions configures a Host. The zero value targets the calling process's namespace with the
// default directories.
type HostOptions struct {
	// NetNSPath is the network namespace to work in (a /proc/<pid>/ns/net or bind-mounted file);
	// empty means the namespace of the calling process.
	NetNSPath string
	// NetNSDir is where this host's named namespaces (DHCP, EIP) are bind-mounted. Two hosts
	// simulated on one kernel need different directories. Default DefaultNetNSDir.
	NetNSDir string
	// RunDir holds dnsmasq state. Default DefaultRunDir.
	RunDir string
	// DnsmasqPath is the dnsmasq binary. Default "dnsmasq" from PATH.
	DnsmasqPath string
	// MetadataCommand runs RunMetadataServer when given its flags (--dir, --listen, --daemon).
	// Default: this executable's `metadata` subcommand (cmd/zcloud-hostworker).
	MetadataCommand []string
	// Logger receives progress logs. Default slog.Default().
	Logger *slog.Logger
}

// Host is one network namespace that bridges, DHCP servers, security groups and EIPs are built in.
// It holds an open handle on the namespace; Close releases it. Methods may be called concurrently
// for different objects; the caller serialises operations on one object (as workflows do).
type Host struct {
	ns       netns.NsHandle
	nl       *netlink.Handle
	netnsDir string
	runDir   string
	dnsmasq  string
	// metadataCmd starts an L3's metadata server (HostOptions.MetadataCommand).
	metadataCmd []string
	log         *slog.Logger
	// nftMu serialises read-modify-write of the shared nftables tables (id allocation, fences).
	nftMu sync.Mutex
}

// NewHost opens the target namespace and returns a Host working in it.
func NewHost(opts HostOptions) (*Host, error) {
	var (
		ns  netns.NsHandle
		err error
	)
	if opts.NetNSPath == "" {
		ns, err = netns.GetFromPath("/proc/self/ns/net")
	} else {
		ns, err = netns.GetFromPath(opts.NetNSPath)
	}
	if err != nil {
		return nil, fmt.Errorf("open network namespace %q: %w", opts.NetNSPath, err)
	}
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		_ = ns.Close()
		return nil, fmt.Errorf("netlink handle in namespace %q: %w", opts.NetNSPath, err)
	}
	h := &Host{
		ns:       ns,
		nl:       nl,
		netnsDir: opts.NetNSDir,
		runDir:   opts.RunDir,
		dnsmasq:  opts.DnsmasqPath,
		log:      opts.Logger,
	}
	h.metadataCmd = opts.MetadataCommand
	if len(h.metadataCmd) == 0 {
		exe, err := os.Executable()
		if err != nil {
			h.Close()
			return nil, fmt.Errorf("metadata server command: %w", err)
		}
		h.metadataCmd = []string{exe, "metadata"}
	}
	if h.netnsDir == "" {
		h.netnsDir = DefaultNetNSDir
	}
	if h.runDir == "" {
		h.runDir = DefaultRunDir
	}
	if h.dnsmasq == "" {
		h.dnsmasq = "dnsmasq"
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	return h, nil
}

// Close releases the namespace handle. It does not tear anything down.
func (h *Host) Close() error {
	h.nl.Close()
	return h.ns.Close()
}

// nft returns an nftables connection bound to the host's namespace.
func (h *Host) nft() (*nftables.Conn, error) {
	c, err := nftables.New(nftables.WithNetNSFd(int(h.ns)))
	if err != nil {
		return nil, fmt.Errorf("nftables connection: %w", err)
	}
	return c, nil
}

// inNetNS runs fn on an OS thread switched into ns and switches it back afterwards. If the thread
// cannot be switched back it stays locked, so the runtime retires it instead of reusing it.
func inNetNS(ns netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	origin, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get current network namespace: %w", err)
	}
	defer origin.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace: %w", err)
	}
	fnErr := fn()
	if err := netns.Set(origin); err != nil {
		// Leave the thread locked: it dies with this goroutine's end.
		return errors.Join(fnErr, fmt.Errorf("restore network namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return fnErr
}

// writeSysctl writes a /proc/sys value inside ns (net.* sysctls are per namespace and resolve
// against the namespace of the thread that opens the file).
func writeSysctl(ns netns.NsHandle, key, value string) error {
	path := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	return inNetNS(ns, func() error {
		cur, err := os.ReadFile(path)
		if err == nil && strings.TrimSpace(string(cur)) == value {
			return nil
		}
		if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
		}
		return nil
	})
}

// linkByName returns the link or nil when it does not exist.
func linkByName(nl *netlink.Handle, name string) (netlink.Link, error) {
	l, err := nl.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, nil
		}
		return nil, fmt.Errorf("look up link %s: %w", name, err)
	}
	return l, nil
}

// deleteLink deletes the named link; a missing link is not an error.
func deleteLink(nl *netlink.Handle, name string) error {
	l, err := linkByName(nl, name)
	if err != nil || l == nil {
		return err
	}
	if err := nl.LinkDel(l); err != nil {
		if l2, _ := linkByName(nl, name); l2 == nil {
			return nil
		}
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

func checkIfName(name string) error {
	if len(name) == 0 || len(name) > 15 {
		return fmt.Errorf("interface name %q must have 1 to 15 characters", name)
	}
	return nil
}
