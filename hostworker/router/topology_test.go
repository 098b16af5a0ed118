package router

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// requireNet skips the test without root or the needed programs, unless ZCLOUD_REQUIRE_NET=1
// asks for a failure instead.
func requireNet(t *testing.T, bins ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, b := range append([]string{"/usr/sbin/ip", "/bin/busybox"}, bins...) {
		if _, err := os.Stat(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("ZCLOUD_REQUIRE_NET") == "1" {
		t.Fatalf("ZCLOUD_REQUIRE_NET=1 but missing: %s", strings.Join(missing, ", "))
	}
	t.Skipf("needs %s (set ZCLOUD_REQUIRE_NET=1 to fail instead)", strings.Join(missing, ", "))
}

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// testNS creates a named namespace with lo up, deleted at cleanup.
func testNS(t *testing.T, name string) netns.NsHandle {
	t.Helper()
	ns, err := ensureNamedNetNS(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Close()
		if err := deleteNamedNetNS(name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	h, err := handleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := setLinkUp(h, "lo"); err != nil {
		t.Fatal(err)
	}
	return ns
}

// lab is the test topology: a "host" namespace holding bridges, plus guest and outside
// namespaces plugged into them.
type lab struct {
	t      *testing.T
	prefix string
	host   netns.NsHandle
	hostH  *netlink.Handle
}

func newLab(t *testing.T) *lab {
	prefix := "zrt" + randHex(t, 2)
	l := &lab{t: t, prefix: prefix}
	l.host = testNS(t, prefix+"-host")
	h, err := handleAt(l.host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	l.hostH = h
	return l
}

func (l *lab) hostPath() string { return netnsDir + "/" + l.prefix + "-host" }

func (l *lab) bridge(name string) string {
	l.t.Helper()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := l.hostH.LinkAdd(br); err != nil {
		l.t.Fatalf("add bridge %s: %v", name, err)
	}
	if err := l.hostH.LinkSetUp(br); err != nil {
		l.t.Fatal(err)
	}
	return name
}

// guest makes a namespace whose eth0 is a veth plugged into bridge exactly as a VM's tap
// device would be (host end enslaved to the bridge). addr may be invalid (DHCP guest).
func (l *lab) guest(name, bridge string, addr netip.Prefix, gw netip.Addr, mac string) string {
	l.t.Helper()
	nsName := l.prefix + "-" + name
	ns := testNS(l.t, nsName)
	br, err := l.hostH.LinkByName(bridge)
	if err != nil {
		l.t.Fatal(err)
	}
	hostEnd := l.prefix + "v" + name
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostEnd, MasterIndex: br.Attrs().Index}, PeerName: "eth0", PeerNamespace: netlink.NsFd(ns)}
	if mac != "" {
		hw, _ := net.ParseMAC(mac)
		veth.PeerHardwareAddr = hw
	}
	if err := l.hostH.LinkAdd(veth); err != nil {
		l.t.Fatalf("guest %s veth: %v", name, err)
	}
	if err := setLinkUp(l.hostH, hostEnd); err != nil {
		l.t.Fatal(err)
	}
	gh, err := handleAt(ns)
	if err != nil {
		l.t.Fatal(err)
	}
	defer gh.Close()
	eth, err := gh.LinkByName("eth0")
	if err != nil {
		l.t.Fatal(err)
	}
	if addr.IsValid() {
		if err := ensureAddrs(gh, eth, []netip.Prefix{addr}); err != nil {
			l.t.Fatal(err)
		}
	}
	if err := gh.LinkSetUp(eth); err != nil {
		l.t.Fatal(err)
	}
	if gw.IsValid() {
		if err := gh.RouteAdd(&netlink.Route{Gw: gw.AsSlice()}); err != nil {
			l.t.Fatalf("guest %s default route: %v", name, err)
		}
	}
	return nsName
}

func getNS(t *testing.T, name string) netns.NsHandle {
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// peerServer accepts TCP connections inside a namespace and answers each with the peer address
// it sees, then closes: what the server side observes about NAT.
func peerServer(t *testing.T, nsName, addr string) {
	t.Helper()
	var ln net.Listener
	if err := inNetNS(getNS(t, nsName), func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	}); err != nil {
		t.Fatalf("listen %s in %s: %v", addr, nsName, err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			fmt.Fprintln(c, host)
			c.Close()
		}
	}()
}

// httpServer serves "name" over HTTP inside a namespace; the returned func stops it.
func httpServer(t *testing.T, nsName, addr, name string) func() {
	t.Helper()
	var ln net.Listener
	if err := inNetNS(getNS(t, nsName), func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	}); err != nil {
		t.Fatalf("listen %s in %s: %v", addr, nsName, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) })}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	var once sync.Once
	stop := func() { once.Do(func() { srv.Close(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// dialIn connects from inside a namespace (the socket is created there).
func dialIn(ctx context.Context, ns netns.NsHandle, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetNS(ns, func() (err error) {
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err = d.DialContext(ctx, "tcp4", addr)
		return err
	})
	return c, err
}

// seenPeer connects from nsName to addr and returns the peer address the server reports.
func seenPeer(t *testing.T, nsName, addr string) (string, error) {
	c, err := dialIn(t.Context(), getNS(t, nsName), addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// eventually polls cond until it succeeds or the deadline passes, then fails with its last error.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	var last error
	ok, _ := poll(t.Context(), timeout, func() (bool, error) {
		last = cond()
		return last == nil, nil
	})
	if !ok {
		t.Fatalf("%s: not within %s: %v", what, timeout, last)
	}
}

func pingFrom(nsName, ip string) error {
	out, err := exec.Command("/usr/sbin/ip", "netns", "exec", nsName, "/bin/busybox", "ping", "-c", "1", "-W", "1", ip).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ping %s from %s: %w: %s", ip, nsName, err, out)
	}
	return nil
}

func httpClientIn(ns netns.NsHandle) *http.Client {
	return &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialIn(ctx, ns, addr)
		},
	}}
}

func httpGet(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), err
}

// cleanupCtx is the context for t.Cleanup functions, which run after t.Context() is canceled;
// the operations under test bound their own waits.
func cleanupCtx(*testing.T) context.Context { return context.Background() }
