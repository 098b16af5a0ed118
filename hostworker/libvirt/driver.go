//go:build libvirt

// Package libvirt is the host driver for real KVM/QEMU hosts: domains through
// libvirt (libvirt.org/go/libvirt, cgo), volumes as qcow2 files made by
// qemu-img on a local primary storage. It serves the same driver.Driver
// contract as the simulator and is built only with the libvirt build tag, so
// that a machine without libvirt-dev builds everything else.
//
// libvirt is the truth: every operation looks the domain up first and only
// then acts (lookup-or-create), so that an activity run again after the agent
// died half way finds what the first run did. Domains are ZCloud's when their
// metadata says so (domainxml.ParseOwner); others are never listed or touched.
//
// Beyond the lifecycle it hot-plugs data volumes (attach.go), pauses,
// resumes and live-migrates domains peer-to-peer (vmops.go), and resizes
// and snapshots qcow2 volumes with internal snapshots, online through QEMU
// when a domain runs on the volume (snapshot.go). The host needs what a
// systemd host gives libvirt: virtlogd running beside libvirtd and /dev/kvm
// root:kvm 0660 (deploy/scripts/libvirtd.sh does both).
package libvirt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	virt "libvirt.org/go/libvirt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/domainxml"
	"github.com/zcloud/zcloud/hostworker/driver"
	"github.com/zcloud/zcloud/models"
)

// Name is the driver's name in the registry and in HostFacts.Driver.
const Name = "libvirt"

// Defaults of Config.
const (
	DefaultURI          = "qemu:///system"
	DefaultStorageDir   = "/var/lib/zcloud/ps"
	DefaultImageCache   = "/var/lib/zcloud/imagecache"
	DefaultGrace        = time.Minute
	DefaultProbeTimeout = 20 * time.Second
)

// Config says where the driver finds libvirt and keeps its files.
type Config struct {
	// URI is the libvirt connection URI; empty means DefaultURI.
	URI string
	// StorageDir holds the volumes of local primary storages, one directory
	// per primary storage: <StorageDir>/<psUuid>/<volUuid>.qcow2. Serial
	// console logs go to <StorageDir>/../console/<vmUuid>.log.
	StorageDir string
	// ImageCacheDir holds the images root volumes are made from, each
	// downloaded once and used as a read-only backing file.
	ImageCacheDir string
	// DomainType is domainxml.DomainKVM or domainxml.DomainQEMU; empty means
	// decided by Probe on first use.
	DomainType string
	// Grace is how long a graceful stop or a reboot waits for the guest
	// before forcing; zero means DefaultGrace.
	Grace time.Duration
	// ProbeTimeout bounds the real KVM probe; zero means DefaultProbeTimeout.
	ProbeTimeout time.Duration
	// VNCListen is the address every domain's VNC console listens on: the
	// host's management IP; empty means 0.0.0.0 (every address), which the
	// control plane reports as the host's management IP.
	VNCListen string
}

func (c Config) withDefaults() (Config, error) {
	if c.URI == "" {
		c.URI = DefaultURI
	}
	if c.StorageDir == "" {
		c.StorageDir = DefaultStorageDir
	}
	if c.ImageCacheDir == "" {
		c.ImageCacheDir = DefaultImageCache
	}
	if c.Grace == 0 {
		c.Grace = DefaultGrace
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = DefaultProbeTimeout
	}
	switch {
	case !filepath.IsAbs(c.StorageDir):
		return c, models.Invalid("storage dir %q is not an absolute path", c.StorageDir)
	case !filepath.IsAbs(c.ImageCacheDir):
		return c, models.Invalid("image cache dir %q is not an absolute path", c.ImageCacheDir)
	case c.VNCListen != "" && !validIP(c.VNCListen):
		return c, models.Invalid("vnc listen %q is not an ip address", c.VNCListen)
	case c.Grace < 0 || c.ProbeTimeout < 0:
		return c, models.Invalid("grace %s and probe timeout %s must not be negative", c.Grace, c.ProbeTimeout)
	}
	switch c.DomainType {
	case "", domainxml.DomainKVM, domainxml.DomainQEMU:
	default:
		return c, models.Invalid("domain type %q is not %s, %s or empty (probe)",
			c.DomainType, domainxml.DomainKVM, domainxml.DomainQEMU)
	}
	c.StorageDir = filepath.Clean(c.StorageDir)
	c.ImageCacheDir = filepath.Clean(c.ImageCacheDir)
	return c, nil
}

// Driver runs domains through one libvirt connection, opened on first use
// and reopened when it dies. It is safe for concurrent use.
type Driver struct {
	cfg Config

	mu   sync.Mutex
	conn *virt.Connect

	probeMu sync.Mutex
	probed  ProbeResult

	images singleflight.Group
	// cacheUse marks the cached images being fetched now, which a cleanup
	// keeps; cleanMu runs one cleanup at a time (image_cache.go).
	cacheUse cacheUse
	cleanMu  sync.Mutex
	// cpuCaps caches the domain capabilities' vCPU models (guest.go).
	cpuCaps cpuCapsCache
	// http fetches images from the host itself, never through a proxy.
	http *http.Client
	// openSecret opens what the control plane sealed to this host's agent
	// (sftp.go); nil until SetSecretOpener.
	openSecret func(sealed string) (string, error)
}

var _ driver.Driver = (*Driver)(nil)

// New checks cfg and returns a driver; it does not connect yet, so that an
// agent starts even while libvirtd is still coming up.
func New(cfg Config) (*Driver, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("libvirt config: %w", err)
	}
	d := &Driver{cfg: cfg, http: &http.Client{Transport: &http.Transport{Proxy: nil}}}
	if cfg.DomainType != "" {
		d.probed = ProbeResult{DomainType: cfg.DomainType, Reason: "configured"}
	}
	return d, nil
}

// Close drops the connection. The driver stays usable: the next call
// connects again.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		return nil
	}
	_, err := d.conn.Close()
	d.conn = nil
	if err != nil {
		return fmt.Errorf("libvirt: close %s: %w", d.cfg.URI, err)
	}
	return nil
}

// acquire returns the live connection with a reference of the caller's own,
// which release gives back; a connection dropped meanwhile by another
// goroutine stays valid until then.
func (d *Driver) acquire() (conn *virt.Connect, release func(), err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		if alive, err := d.conn.IsAlive(); err != nil || !alive {
			_, _ = d.conn.Close() // dead already; nothing to report
			d.conn = nil
		}
	}
	if d.conn == nil {
		c, err := virt.NewConnect(d.cfg.URI)
		if err != nil {
			return nil, nil, fmt.Errorf("libvirt: connect %s: %w", d.cfg.URI, err)
		}
		d.conn = c
	}
	if err := d.conn.Ref(); err != nil {
		return nil, nil, fmt.Errorf("libvirt: ref connection: %w", err)
	}
	c := d.conn
	return c, func() { _, _ = c.Close() }, nil
}

// dropIfBroken forgets the connection when err says it is gone, so that the
// next call reconnects instead of failing the same way.
func (d *Driver) dropIfBroken(c *virt.Connect, err error) {
	var lerr virt.Error
	if !errors.As(err, &lerr) {
		return
	}
	switch lerr.Code {
	case virt.ERR_NO_CONNECT, virt.ERR_INVALID_CONN, virt.ERR_RPC:
	case virt.ERR_SYSTEM_ERROR:
		if lerr.Domain != virt.FROM_RPC {
			return
		}
	default:
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == c {
		_, _ = d.conn.Close()
		d.conn = nil
	}
}

// with runs fn on the live connection.
func with[T any](d *Driver, fn func(c *virt.Connect) (T, error)) (T, error) {
	c, release, err := d.acquire()
	if err != nil {
		var zero T
		return zero, err
	}
	defer release()
	v, err := fn(c)
	if err != nil {
		d.dropIfBroken(c, err)
	}
	return v, err
}

// Facts reports the host as libvirt sees it, with the domain type decided by
// the probe.
func (d *Driver) Facts(ctx context.Context) (hostapi.HostFacts, error) {
	probed, err := d.Probed(ctx)
	if err != nil {
		return hostapi.HostFacts{}, err
	}
	facts, err := with(d, func(c *virt.Connect) (hostapi.HostFacts, error) {
		info, err := c.GetNodeInfo()
		if err != nil {
			return hostapi.HostFacts{}, fmt.Errorf("node info: %w", err)
		}
		typ, err := c.GetType()
		if err != nil {
			return hostapi.HostFacts{}, fmt.Errorf("hypervisor type: %w", err)
		}
		hvVer, err := c.GetVersion()
		if err != nil {
			return hostapi.HostFacts{}, fmt.Errorf("hypervisor version: %w", err)
		}
		libVer, err := c.GetLibVersion()
		if err != nil {
			return hostapi.HostFacts{}, fmt.Errorf("libvirt version: %w", err)
		}
		sockets := int(info.Sockets) * int(max(info.Nodes, 1))
		// The node info counts the memory of the NUMA cells, which can miss
		// memory the kernel has (hot-added memory outside node 0 on some
		// hypervisors); the node's memory stats are /proc/meminfo's total.
		memKiB := info.Memory
		if stats, err := c.GetMemoryStats(virt.NODE_MEMORY_STATS_ALL_CELLS, 0); err == nil && stats.TotalSet && stats.Total > 0 {
			memKiB = stats.Total
		}
		return hostapi.HostFacts{
			Driver:        Name,
			CPUNum:        int(info.Cpus),
			CPUSockets:    max(sockets, 1),
			MemoryBytes:   int64(memKiB) * 1024,
			Architecture:  info.Model,
			HypervisorVer: fmt.Sprintf("%s %s, libvirt %s", typ, version(hvVer), version(libVer)),
		}, nil
	})
	if err != nil {
		return hostapi.HostFacts{}, fail("facts", err)
	}
	facts.DomainType = probed.DomainType
	facts.OSDistro, facts.OSRelease, facts.OSVersion = osRelease("/etc/os-release")
	return facts, nil
}

// version formats libvirt's major*1000000 + minor*1000 + micro.
func version(v uint32) string {
	return fmt.Sprintf("%d.%d.%d", v/1000000, v/1000%1000, v%1000)
}

// osRelease reads the distribution id, codename and version from an
// os-release file; what it cannot read stays empty.
func osRelease(path string) (distro, release, ver string) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			distro = v
		case "VERSION_CODENAME":
			release = v
		case "VERSION_ID":
			ver = v
		}
	}
	return distro, release, ver
}

// Probed is the domain type new domains get and why: Config.DomainType, or
// what Probe decided on first use, kept for the driver's life.
func (d *Driver) Probed(ctx context.Context) (ProbeResult, error) {
	d.probeMu.Lock()
	defer d.probeMu.Unlock()
	if d.probed.DomainType != "" {
		return d.probed, nil
	}
	in, err := with(d, func(c *virt.Connect) (ProbeInput, error) {
		caps, err := c.GetCapabilities()
		if err != nil {
			return ProbeInput{}, fmt.Errorf("capabilities: %w", err)
		}
		_, statErr := os.Stat(kvmDevice)
		return ProbeInput{
			KVMDevice:    statErr == nil,
			Capabilities: caps,
			TryKVM:       d.tryKVM,
		}, nil
	})
	if err != nil {
		return ProbeResult{}, fail("probe", err)
	}
	probeCtx, cancel := context.WithTimeout(ctx, d.cfg.ProbeTimeout)
	defer cancel()
	res := Probe(probeCtx, in)
	if err := ctx.Err(); err != nil {
		// The caller gave up, not KVM: decide another time.
		return ProbeResult{}, fmt.Errorf("libvirt: probe: %w", err)
	}
	d.probed = res
	return d.probed, nil
}
