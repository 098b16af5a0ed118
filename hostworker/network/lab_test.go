package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// requireNet skips tests that need root and the network tools, unless ZCLOUD_REQUIRE_NET=1
// makes their absence a failure (CI).
func requireNet(t *testing.T, bins ...string) {
	t.Helper()
	missing := ""
	if os.Geteuid() != 0 {
		missing = "root"
	}
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil && missing == "" {
			missing = b
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("ZCLOUD_REQUIRE_NET") == "1" {
		t.Fatalf("ZCLOUD_REQUIRE_NET=1 but %s is missing", missing)
	}
	t.Skipf("needs %s (set ZCLOUD_REQUIRE_NET=1 to make this a failure)", missing)
}

// testNS creates a bind-mounted namespace at dir/name, removed when the test ends.
func testNS(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := createNSAt(path); err != nil {
		t.Fatalf("create namespace %s: %v", path, err)
	}
	t.Cleanup(func() {
		_ = unix.Unmount(path, unix.MNT_DETACH)
		_ = os.Remove(path)
	})
	return path
}

func openNS(t *testing.T, path string) netns.NsHandle {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

func nlAt(t *testing.T, path string) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(openNS(t, path))
	if err != nil {
		t.Fatalf("netlink handle at %s: %v", path, err)
	}
	t.Cleanup(h.Close)
	return h
}

// vethBetween creates a veth pair aName (in nsA) <-> bName (in nsB), both up, with optional
// addresses and MAC on the B side.
func vethBetween(t *testing.T, nsA, aName, nsB, bName string, aAddr, bAddr string, bMAC net.HardwareAddr) {
	t.Helper()
	hA, hB := nlAt(t, nsA), nlAt(t, nsB)
	peerNS := openNS(t, nsB)
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: aName}, PeerName: bName,
		PeerNamespace: netlink.NsFd(int(peerNS)), PeerHardwareAddr: bMAC}
	if err := hA.LinkAdd(v); err != nil {
		t.Fatalf("veth %s<->%s: %v", aName, bName, err)
	}
	for _, side := range []struct {
		h    *netlink.Handle
		name string
		addr string
	}{{hA, aName, aAddr}, {hB, bName, bAddr}} {
		l, err := side.h.LinkByName(side.name)
		if err != nil {
			t.Fatal(err)
		}
		if side.addr != "" {
			a, err := netlink.ParseAddr(side.addr)
			if err != nil {
				t.Fatal(err)
			}
			if err := side.h.AddrAdd(l, a); err != nil {
				t.Fatalf("address %s on %s: %v", side.addr, side.name, err)
			}
		}
		if err := side.h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{nsA, nsB} {
		lo, _ := nlAt(t, p).LinkByName("lo")
		_ = nlAt(t, p).LinkSetUp(lo)
	}
}

// lab is two simulated hosts (namespaces) joined by an underlay veth 192.168.77.1 <-> .2.
type lab struct {
	dir          string
	nsA, nsB     string
	hostA, hostB *Host
	vtepA, vtepB netip.Addr
}

func newLab(t *testing.T) *lab {
	t.Helper()
	requireNet(t, "dnsmasq", "busybox", "nsenter")
	dir := t.TempDir()
	l := &lab{dir: dir, vtepA: netip.MustParseAddr("192.168.77.1"), vtepB: netip.MustParseAddr("192.168.77.2")}
	l.nsA = testNS(t, dir, "hostA")
	l.nsB = testNS(t, dir, "hostB")
	vethBetween(t, l.nsA, "uA", l.nsB, "uB", "192.168.77.1/24", "192.168.77.2/24", nil)
	l.hostA = testHost(t, l.nsA, filepath.Join(dir, "A"))
	l.hostB = testHost(t, l.nsB, filepath.Join(dir, "B"))
	return l
}

// testHost opens a Host on the namespace with private namespace and run directories; at the end it
// kills leftover dnsmasq processes and unmounts leftover namespaces even if the test failed.
func testHost(t *testing.T, nsPath, dir string) *Host {
	t.Helper()
	h, err := NewHost(HostOptions{NetNSPath: nsPath, NetNSDir: filepath.Join(dir, "netns"), RunDir: filepath.Join(dir, "run")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pids, _ := filepath.Glob(filepath.Join(dir, "run", "*", "dnsmasq.pid"))
		for _, p := range pids {
			_ = stopByPIDFile(context.Background(), p, "dnsmasq")
		}
		nss, _ := filepath.Glob(filepath.Join(dir, "netns", "*"))
		for _, p := range nss {
			_ = unix.Unmount(p, unix.MNT_DETACH)
			_ = os.Remove(p)
		}
		h.Close()
	})
	return h
}

// guest is a namespace standing in for a VM: its eth0 is one end of a veth whose other end sits
// in the host namespace and is plugged into a bridge exactly as libvirt plugs a guest's tap.
type guest struct {
	ns  string
	tap string
	mac net.HardwareAddr
	ip  netip.Addr
}

func (l *lab) addGuest(t *testing.T, host *Host, hostNS, name, tap, bridge, mac, addr string) *guest {
	t.Helper()
	g := &guest{ns: testNS(t, l.dir, name), tap: tap}
	g.mac, _ = net.ParseMAC(mac)
	vethBetween(t, hostNS, tap, g.ns, "eth0", "", addr, g.mac)
	if addr != "" {
		g.ip = netip.MustParsePrefix(addr).Addr()
	}
	if err := host.AttachPort(t.Context(), bridge, tap); err != nil {
		t.Fatal(err)
	}
	// A real guest learns the L2's MTU from DHCP option 26 (EnsureDHCP's MTU); set it here so a
	// static-address guest matches its tap (veth drops frames above the peer's MTU).
	gl := nlAt(t, g.ns)
	eth0, err := gl.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if err := gl.LinkSetMTU(eth0, mustLink(t, host, tap).Attrs().MTU); err != nil {
		t.Fatal(err)
	}
	return g
}

// inNS runs a command inside a namespace.
func inNS(ctx context.Context, nsPath string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + nsPath}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ping sends one echo request with a one-second deadline.
func ping(ctx context.Context, nsPath string, ip netip.Addr) error {
	out, err := inNS(ctx, nsPath, "busybox", "ping", "-c", "1", "-W", "1", ip.String())
	if err != nil {
		return fmt.Errorf("ping %s: %w: %s", ip, err, strings.TrimSpace(out))
	}
	return nil
}

// eventually polls fn until it succeeds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %v", what, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// never asserts fn keeps failing for three attempts (each of which waits on its own timeout).
func never(t *testing.T, what string, fn func() error) {
	t.Helper()
	for i := range 2 {
		if err := fn(); err == nil {
			t.Fatalf("%s: succeeded on attempt %d, want blocked", what, i+1)
		}
	}
}

// listenTCP opens a TCP listener inside the namespace that answers every connection with "ok".
func listenTCP(t *testing.T, nsPath string, port int) {
	t.Helper()
	serveTCP(t, nsPath, port, func(c net.Conn) { _, _ = c.Write([]byte("ok")) })
}

// serveTCP runs handle for every connection accepted on a listener inside the namespace.
func serveTCP(t *testing.T, nsPath string, port int, handle func(net.Conn)) {
	t.Helper()
	var ln net.Listener
	err := inNetNS(openNS(t, nsPath), func() error {
		var err error
		ln, err = net.Listen("tcp4", ":"+strconv.Itoa(port))
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", nsPath, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
}

// dialIn connects from inside the namespace.
func dialIn(nsPath string, addr netip.AddrPort) (net.Conn, error) {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	var c net.Conn
	err = inNetNS(ns, func() error {
		var err error
		c, err = net.DialTimeout("tcp4", addr.String(), time.Second)
		return err
	})
	return c, err
}

// dialTCP connects from inside the namespace and reads the greeting, with a one-second deadline.
func dialTCP(nsPath string, ip netip.Addr, port int) error {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return err
	}
	defer ns.Close()
	var c net.Conn
	err = inNetNS(ns, func() error {
		var err error
		c, err = net.DialTimeout("tcp4", netip.AddrPortFrom(ip, uint16(port)).String(), time.Second)
		return err
	})
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil {
		return err
	}
	if string(buf) != "ok" {
		return errors.New("bad greeting " + string(buf))
	}
	return nil
}

// linkNames lists the interface names in a namespace.
func linkNames(t *testing.T, nsPath string) []string {
	t.Helper()
	links, err := nlAt(t, nsPath).LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	return names
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mustLink(t *testing.T, h *Host, name string) netlink.Link {
	t.Helper()
	l, err := h.nl.LinkByName(name)
	if err != nil {
		t.Fatalf("link %s: %v", name, err)
	}
	return l
}
