package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// IPsecConnection is a site-to-site IPsec tunnel from a VIP of the router to a peer gateway
// (ZStack's IPsecConnection). Empty algorithm fields take the defaults noted.
type IPsecConnection struct {
	UUID        string
	VIP         netip.Addr // local public address (must be on the router)
	PeerAddress netip.Addr
	AuthKey     string // pre-shared key
	LocalCIDRs  []netip.Prefix
	PeerCIDRs   []netip.Prefix
	IKEVersion  string // "ikev1" (default, main mode) or "ikev2"
	// IKE proposal: encryption aes-128|aes-192|aes-256 (default aes-128), auth sha1|sha256|
	// sha384|sha512 (default sha256), DH group 2, 5, 14-18 (default 14).
	IKEEncryptionAlgorithm, IKEAuthAlgorithm string
	IKEDHGroup                               int
	// ESP proposal: encryption and auth as above; PFS "" (none) or "dh-groupN".
	PolicyEncryptionAlgorithm, PolicyAuthAlgorithm, PFS string
	IKELifeTime, LifeTime                               time.Duration // defaults 24h / 1h
}

// IPsecSA is the state of one connection as charon reports it.
type IPsecSA struct {
	IKEState   string // e.g. ESTABLISHED, CONNECTING; "" when no IKE SA exists
	ChildState string // INSTALLED when any CHILD SA is; "" when none exists
	Raw        string // swanctl --list-sas output for the connection
}

// EnsureIPsec converges only the router's charon daemon and its connections and returns the
// charon PID (0 without connections) and the data plane in use.
func (m *Manager) EnsureIPsec(ctx context.Context, spec Spec) (int, string, error) {
	if err := spec.validate(); err != nil {
		return 0, "", fmt.Errorf("ensure ipsec: %w", err)
	}
	unlock := m.lock(spec.UUID)
	defer unlock()
	return m.ensureIPsec(ctx, spec)
}

type ipsecPaths struct {
	dir, strongswanConf, swanctlConf, vici, pid, log string
}

func (m *Manager) ipsecPaths(routerUUID string) ipsecPaths {
	dir := filepath.Join(m.routerDir(routerUUID), "ipsec")
	return ipsecPaths{
		dir:            dir,
		strongswanConf: filepath.Join(dir, "strongswan.conf"),
		swanctlConf:    filepath.Join(dir, "swanctl.conf"),
		vici:           filepath.Join(dir, "charon.vici"),
		pid:            filepath.Join(dir, "charon.pid"),
		log:            filepath.Join(dir, "charon.log"),
	}
}

// Data planes of IPsec.
const (
	IPsecKernel    = "kernel"    // XFRM ESP states in the router namespace
	IPsecUserspace = "userspace" // strongSwan kernel-libipsec: ESP in charon, packets via a TUN device
)

// probeKernelESP reports whether the kernel accepts an ESP state in ns (CONFIG_INET_ESP and the
// AEAD/cipher modules). Kernels without it still run IPsec through kernel-libipsec.
func probeKernelESP(ns netns.NsHandle) bool {
	h, err := handleAt(ns)
	if err != nil {
		return false
	}
	defer h.Close()
	st := &netlink.XfrmState{
		Src: net.ParseIP("192.0.2.1"), Dst: net.ParseIP("192.0.2.2"), Proto: netlink.XFRM_PROTO_ESP,
		Mode: netlink.XFRM_MODE_TUNNEL, Spi: 0x7a7a0001, Reqid: 0x7a7a,
		Auth:  &netlink.XfrmStateAlgo{Name: "hmac(sha256)", Key: make([]byte, 32), TruncateLen: 128},
		Crypt: &netlink.XfrmStateAlgo{Name: "cbc(aes)", Key: make([]byte, 16)},
	}
	if err := h.XfrmStateAdd(st); err != nil {
		return false
	}
	_ = h.XfrmStateDel(st)
	return true
}

var ikeEnc = map[string]string{"": "aes128", "aes-128": "aes128", "aes128": "aes128", "aes-192": "aes192", "aes192": "aes192", "aes-256": "aes256", "aes256": "aes256"}
var ikeAuth = map[string]string{"": "sha256", "sha1": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}
var dhGroups = map[int]string{0: "modp2048", 2: "modp1024", 5: "modp1536", 14: "modp2048", 15: "modp3072", 16: "modp4096", 17: "modp6144", 18: "modp8192"}

func proposal(enc, auth string, dh int, withDH bool) (string, error) {
	e, ok := ikeEnc[strings.ToLower(enc)]
	if !ok {
		return "", fmt.Errorf("encryption %q: %w", enc, errors.ErrUnsupported)
	}
	a, ok := ikeAuth[strings.ToLower(auth)]
	if !ok {
		return "", fmt.Errorf("auth %q: %w", auth, errors.ErrUnsupported)
	}
	if !withDH {
		return e + "-" + a, nil
	}
	g, ok := dhGroups[dh]
	if !ok {
		return "", fmt.Errorf("dh group %d: %w", dh, errors.ErrUnsupported)
	}
	return e + "-" + a + "-" + g, nil
}

func connName(c IPsecConnection) string { return "c-" + shortID(c.UUID, 32) }

func cidrList(ps []netip.Prefix) (string, error) {
	if len(ps) == 0 {
		return "", errors.New("needs at least one cidr")
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		if !p.IsValid() {
			return "", fmt.Errorf("invalid cidr %v", p)
		}
		s[i] = p.Masked().String()
	}
	return strings.Join(s, ","), nil
}

func durationOr(d, def time.Duration) int64 {
	if d <= 0 {
		d = def
	}
	return int64(d / time.Second)
}

// swanctlConfig renders the connections and their pre-shared keys.
func swanctlConfig(conns []IPsecConnection, userspace bool) ([]byte, error) {
	var c, s bytes.Buffer
	c.WriteString("connections {\n")
	s.WriteString("secrets {\n")
	for _, conn := range conns {
		name := connName(conn)
		if !conn.VIP.Is4() || !conn.PeerAddress.Is4() || conn.AuthKey == "" {
			return nil, fmt.Errorf("ipsec %s: needs IPv4 VIP and peer and a pre-shared key", conn.UUID)
		}
		if strings.ContainsAny(conn.AuthKey, "\"\n") {
			return nil, fmt.Errorf("ipsec %s: pre-shared key must not contain quotes or newlines", conn.UUID)
		}
		version := 1
		switch strings.ToLower(conn.IKEVersion) {
		case "", "ikev1", "1":
		case "ikev2", "2":
			version = 2
		default:
			return nil, fmt.Errorf("ipsec %s: ike version %q: %w", conn.UUID, conn.IKEVersion, errors.ErrUnsupported)
		}
		ike, err := proposal(conn.IKEEncryptionAlgorithm, conn.IKEAuthAlgorithm, conn.IKEDHGroup, true)
		if err != nil {
			return nil, fmt.Errorf("ipsec %s ike proposal: %w", conn.UUID, err)
		}
		esp, err := proposal(conn.PolicyEncryptionAlgorithm, conn.PolicyAuthAlgorithm, 0, false)
		if err != nil {
			return nil, fmt.Errorf("ipsec %s esp proposal: %w", conn.UUID, err)
		}
		if conn.PFS != "" {
			var g int
			if _, err := fmt.Sscanf(strings.ToLower(conn.PFS), "dh-group%d", &g); err != nil || dhGroups[g] == "" || g == 0 {
				return nil, fmt.Errorf("ipsec %s: pfs %q: %w", conn.UUID, conn.PFS, errors.ErrUnsupported)
			}
			esp += "-" + dhGroups[g]
		}
		local, err := cidrList(conn.LocalCIDRs)
		if err != nil {
			return nil, fmt.Errorf("ipsec %s local: %w", conn.UUID, err)
		}
		peer, err := cidrList(conn.PeerCIDRs)
		if err != nil {
			return nil, fmt.Errorf("ipsec %s peer: %w", conn.UUID, err)
		}
		fmt.Fprintf(&c, "  %s {\n    version = %d\n    aggressive = no\n    local_addrs = %s\n    remote_addrs = %s\n", name, version, conn.VIP, conn.PeerAddress)
		fmt.Fprintf(&c, "    proposals = %s\n    rekey_time = %ds\n    dpd_delay = 10s\n", ike, durationOr(conn.IKELifeTime, 24*time.Hour))
		if userspace {
			// kernel-libipsec speaks only UDP-encapsulated ESP.
			c.WriteString("    encap = yes\n")
		}
		fmt.Fprintf(&c, "    local {\n      auth = psk\n      id = %s\n    }\n    remote {\n      auth = psk\n      id = %s\n    }\n", conn.VIP, conn.PeerAddress)
		fmt.Fprintf(&c, "    children {\n      %s {\n        mode = tunnel\n        local_ts = %s\n        remote_ts = %s\n", name, local, peer)
		fmt.Fprintf(&c, "        esp_proposals = %s\n        rekey_time = %ds\n", esp, durationOr(conn.LifeTime, time.Hour))
		c.WriteString("        start_action = start\n        dpd_action = restart\n        close_action = start\n      }\n    }\n  }\n")
		fmt.Fprintf(&s, "  ike-%s {\n    id-local = %s\n    id-peer = %s\n    secret = \"%s\"\n  }\n", name, conn.VIP, conn.PeerAddress, conn.AuthKey)
	}
	c.WriteString("}\n")
	s.WriteString("}\n")
	return append(c.Bytes(), s.Bytes()...), nil
}

func strongswanConfig(p ipsecPaths, userspace bool) []byte {
	plugins := "random nonce aes sha1 sha2 hmac gmp kdf pem pkcs1 x509 pubkey"
	charonPlugins := plugins + " kernel-netlink socket-default vici"
	if userspace {
		charonPlugins = plugins + " kernel-libipsec kernel-netlink socket-default vici"
	}
	return fmt.Appendf(nil, `# generated by zcloud
charon {
  load = %s
  install_virtual_ip = no
  plugins {
    vici {
      socket = unix://%s
    }
  }
  filelog {
    zcloud {
      path = %s
      append = yes
      flush_line = yes
      time_format = %%b %%e %%T
      default = 1
      ike = 2
    }
  }
  syslog {
    daemon {
      default = -1
    }
  }
}
swanctl {
  load = %s
}
`, charonPlugins, p.vici, p.log, plugins)
}

func (m *Manager) ensureIPsec(ctx context.Context, spec Spec) (int, string, error) {
	if len(spec.IPsec) == 0 {
		return 0, "", m.stopIPsec(ctx, spec.UUID)
	}
	p := m.ipsecPaths(spec.UUID)
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return 0, "", fmt.Errorf("create ipsec dir: %w", err)
	}
	ns, err := netns.GetFromName(Namespace(spec.UUID))
	if err != nil {
		return 0, "", fmt.Errorf("router namespace: %w", err)
	}
	plane := IPsecUserspace
	if probeKernelESP(ns) {
		plane = IPsecKernel
	}
	ns.Close()
	conns := slices.Clone(spec.IPsec)
	slices.SortFunc(conns, func(a, b IPsecConnection) int { return strings.Compare(a.UUID, b.UUID) })
	swan, err := swanctlConfig(conns, plane == IPsecUserspace)
	if err != nil {
		return 0, "", err
	}
	daemonChanged, err := updateFile(p.strongswanConf, strongswanConfig(p, plane == IPsecUserspace), 0o600)
	if err != nil {
		return 0, "", err
	}
	connsChanged, err := updateFile(p.swanctlConf, swan, 0o600)
	if err != nil {
		return 0, "", err
	}
	pid := runningPID(p.pid, p.strongswanConf)
	if pid > 0 && daemonChanged {
		if err := stopPID(ctx, pid, p.strongswanConf); err != nil {
			return 0, "", fmt.Errorf("restart charon: %w", err)
		}
		pid = 0
	}
	if pid == 0 {
		_ = os.Remove(p.vici)
		// charon insists on /var/run/charon.pid; a private /run per router lets one charon run in
		// every router namespace. `ip netns exec` already gives the command its own mount namespace.
		pid, err = m.startDaemon(daemonSpec{
			netns:   Namespace(spec.UUID),
			args:    []string{"/bin/sh", "-c", `mount -t tmpfs -o size=1m,mode=0755 zcloud-charon /run && exec "$0"`, m.cfg.CharonPath},
			env:     []string{"STRONGSWAN_CONF=" + p.strongswanConf},
			pidFile: p.pid,
			logFile: filepath.Join(p.dir, "charon.out"),
			marker:  p.strongswanConf,
		})
		if err != nil {
			return 0, "", err
		}
		ok, err := poll(ctx, 15*time.Second, func() (bool, error) {
			if !processAlive(pid, "") {
				return false, errors.New("charon exited at start, see charon.out and charon.log")
			}
			_, err := os.Stat(p.vici)
			return err == nil, nil
		})
		if err != nil {
			return 0, "", err
		}
		if !ok {
			return 0, "", fmt.Errorf("charon pid %d: no vici socket after 15s", pid)
		}
		connsChanged = true
		m.log.Info("charon started", "router_uuid", spec.UUID, "pid", pid, "data_plane", plane)
	}
	if connsChanged {
		// --load-all replaces the loaded connections and secrets with the file's and unloads
		// connections that are gone from it.
		if out, err := m.swanctl(ctx, p, "--load-all", "--noprompt", "--clear", "--file", p.swanctlConf); err != nil {
			// Forget the file, so that a retry finds it changed and loads it
			// rather than taking the unloaded connections for done.
			_ = os.Remove(p.swanctlConf)
			return pid, plane, fmt.Errorf("load ipsec connections: %w: %s", err, out)
		}
		if err := m.terminateStale(ctx, p, conns); err != nil {
			return pid, plane, err
		}
	}
	return pid, plane, nil
}

var saNameRE = regexp.MustCompile(`(?m)^(c-[0-9a-f]+): #\d+`)

// terminateStale ends IKE SAs of connections no longer configured (unloading a connection
// leaves its established SAs alone).
func (m *Manager) terminateStale(ctx context.Context, p ipsecPaths, conns []IPsecConnection) error {
	out, err := m.swanctl(ctx, p, "--list-sas", "--noblock")
	if err != nil {
		return fmt.Errorf("list ipsec sas: %w", err)
	}
	want := map[string]bool{}
	for _, c := range conns {
		want[connName(c)] = true
	}
	for _, mm := range saNameRE.FindAllStringSubmatch(string(out), -1) {
		if !want[mm[1]] {
			if o, err := m.swanctl(ctx, p, "--terminate", "--ike", mm[1], "--force", "--timeout", "5"); err != nil {
				return fmt.Errorf("terminate ipsec %s: %w: %s", mm[1], err, o)
			}
		}
	}
	return nil
}

// swanctl runs swanctl against the router's charon.
func (m *Manager) swanctl(ctx context.Context, p ipsecPaths, args ...string) ([]byte, error) {
	args = append(args, "--uri", "unix://"+p.vici)
	cmd := exec.CommandContext(ctx, m.cfg.SwanctlPath, args...)
	cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+p.strongswanConf)
	out, err := cmd.CombinedOutput()
	return out, err
}

var (
	ikeStateRE   = regexp.MustCompile(`(?m)^c-[0-9a-f]+: #\d+, (\w+),`)
	childStateRE = regexp.MustCompile(`(?m)^\s+c-[0-9a-f]+: #\d+, reqid \d+, (\w+),`)
)

// IPsecStatus reports the SA state of one connection of a router.
func (m *Manager) IPsecStatus(ctx context.Context, routerUUID, connectionUUID string) (IPsecSA, error) {
	p := m.ipsecPaths(routerUUID)
	if runningPID(p.pid, p.strongswanConf) == 0 {
		return IPsecSA{}, fmt.Errorf("ipsec status of router %s: charon not running", routerUUID)
	}
	name := connName(IPsecConnection{UUID: connectionUUID})
	out, err := m.swanctl(ctx, p, "--list-sas", "--noblock", "--ike", name)
	if err != nil {
		return IPsecSA{}, fmt.Errorf("ipsec status: %w: %s", err, out)
	}
	sa := IPsecSA{Raw: string(out)}
	for _, mm := range ikeStateRE.FindAllStringSubmatch(sa.Raw, -1) {
		if sa.IKEState == "" || mm[1] == "ESTABLISHED" {
			sa.IKEState = mm[1]
		}
	}
	// Both ends initiate, so a collision can leave a REKEYED duplicate next to the live child.
	for _, mm := range childStateRE.FindAllStringSubmatch(sa.Raw, -1) {
		if sa.ChildState == "" || mm[1] == "INSTALLED" {
			sa.ChildState = mm[1]
		}
	}
	return sa, nil
}

func (m *Manager) stopIPsec(ctx context.Context, routerUUID string) error {
	p := m.ipsecPaths(routerUUID)
	if err := stopDaemon(ctx, p.pid, p.strongswanConf); err != nil {
		return fmt.Errorf("stop charon: %w", err)
	}
	if err := os.RemoveAll(p.dir); err != nil {
		return fmt.Errorf("remove ipsec dir: %w", err)
	}
	return nil
}
