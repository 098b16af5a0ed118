package testhost

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/google/uuid"
)

// LibvirtTCPPort is the port libvirtd listens on for remote clients and
// migration, on the host's IP.
const LibvirtTCPPort = 16509

// Libvirtd is a libvirtd running inside a host.
type Libvirtd struct {
	// URI reaches the daemon from the root namespace (or another host), over
	// TCP without authentication.
	URI string
	// LocalURI reaches it from inside the host, over its UNIX socket.
	LocalURI string
	// HostUUID is the daemon's host_uuid, which tells it apart from the
	// daemons of other hosts (migration refuses a same-UUID destination).
	HostUUID string
	// PID is the libvirtd process.
	PID int
}

// StartLibvirtd runs virtlogd and then libvirtd inside the host, with their
// sockets in the host's private /run, their state in its /var/lib/libvirt
// and /var/cache/libvirt overlays, host_uuid set (from Options or random)
// and a TCP listener on IP():16509. It returns once both the UNIX socket and
// the TCP port accept. It skips the test when libvirtd or virtlogd are
// missing, unless ZCLOUD_REQUIRE_LIBVIRT=1.
func (h *Host) StartLibvirtd() Libvirtd {
	h.t.Helper()
	need(h.t, RequireLibvirtEnv, "libvirtd", "virtlogd")
	l, err := h.startLibvirtd(h.opts.LibvirtHostUUID)
	if err != nil {
		h.t.Fatalf("testhost %s: libvirtd: %v", h.name, err)
	}
	return l
}

func (h *Host) startLibvirtd(hostUUID string) (Libvirtd, error) {
	if hostUUID == "" {
		hostUUID = uuid.NewString()
	}
	conf := strings.Join([]string{
		"listen_tls = 0",
		"listen_tcp = 1",
		fmt.Sprintf("listen_addr = %q", h.ip),
		fmt.Sprintf("tcp_port = \"%d\"", LibvirtTCPPort),
		`auth_tcp = "none"`,
		`auth_unix_rw = "none"`,
		fmt.Sprintf("host_uuid = %q", hostUUID),
		`log_outputs = "3:file:/var/log/libvirt/libvirtd.log"`,
		"",
	}, "\n")
	// The host has no cgroup tree of its own: two daemons must not fight
	// over the same machine slices.
	qemuConf := "cgroup_controllers = [ ]\n"
	// The host's /etc is an overlay of the real one: without an empty
	// /etc/libvirt/qemu of its own, its libvirtd would load the domains
	// (and autostart the networks) defined on the machine's own libvirtd,
	// such as the guests of tests running beside it. Removing it through
	// the overlay leaves the real directory untouched.
	if err := os.RemoveAll(h.Path("/etc/libvirt/qemu")); err != nil {
		return Libvirtd{}, err
	}
	for _, d := range []string{"/etc/libvirt/qemu", "/var/log/libvirt", "/run/libvirt"} {
		if err := os.MkdirAll(h.Path(d), 0o755); err != nil {
			return Libvirtd{}, err
		}
	}
	for path, body := range map[string]string{"/etc/libvirt/libvirtd.conf": conf, "/etc/libvirt/qemu.conf": qemuConf} {
		if err := os.WriteFile(h.Path(path), []byte(body), 0o644); err != nil {
			return Libvirtd{}, err
		}
	}
	if _, err := h.startDaemon("virtlogd", []string{"virtlogd"}); err != nil {
		return Libvirtd{}, err
	}
	if err := h.waitReady("virtlogd", exists(h.Path("/run/libvirt/virtlogd-sock"))); err != nil {
		return Libvirtd{}, err
	}
	pid, err := h.startDaemon("libvirtd", []string{"libvirtd", "--listen", "-f", "/etc/libvirt/libvirtd.conf"})
	if err != nil {
		return Libvirtd{}, err
	}
	addr := netip.AddrPortFrom(h.ip, LibvirtTCPPort).String()
	sock := exists(h.Path("/run/libvirt/libvirt-sock"))
	if err := h.waitReady("libvirtd", func() bool { return sock() && dialable(addr) }); err != nil {
		return Libvirtd{}, fmt.Errorf("%w; libvirtd.log: %s", err, tail(readFile(h.Path("/var/log/libvirt/libvirtd.log"))))
	}
	return Libvirtd{
		URI:      fmt.Sprintf("qemu+tcp://%s/system", h.ip),
		LocalURI: "qemu:///system",
		HostUUID: hostUUID,
		PID:      pid,
	}, nil
}

func exists(path string) func() bool {
	return func() bool {
		_, err := os.Stat(path)
		return err == nil
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
