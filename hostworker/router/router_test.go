package router

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

// TestRouter builds one host namespace with a public bridge and VPC bridges, guests plugged in
// like taps, an "outside" namespace on the public bridge acting as the upstream gateway, and
// proves every router service end to end on the real kernel and real daemons.
func TestRouter(t *testing.T) {
	requireNet(t, "/usr/sbin/dnsmasq", "/usr/sbin/haproxy")
	l := newLab(t)
	brPub, brA, brB, brC := l.bridge(l.prefix+"pub"), l.bridge(l.prefix+"a"), l.bridge(l.prefix+"b"), l.bridge(l.prefix+"c")

	outside := l.guest("out", brPub, pfx("203.0.113.254/24"), netip.Addr{}, "")
	gA := l.guest("ga", brA, pfx("10.1.0.10/24"), addr("10.1.0.1"), "")
	gA2 := l.guest("ga2", brA, pfx("10.1.0.11/24"), addr("10.1.0.1"), "")
	gB := l.guest("gb", brB, pfx("10.2.0.10/24"), addr("10.2.0.1"), "")
	gDHCP := l.guest("gd", brA, netip.Prefix{}, netip.Addr{}, "52:54:00:aa:00:32")
	gC := l.guest("gc", brC, pfx("10.3.0.10/24"), addr("10.3.0.1"), "")

	m, err := New(Config{StateDir: t.TempDir(), HostNetNS: l.hostPath()})
	if err != nil {
		t.Fatal(err)
	}
	uuid := randHex(t, 16)
	t.Cleanup(func() {
		if err := m.Delete(cleanupCtx(t), uuid); err != nil {
			t.Errorf("cleanup delete: %v", err)
		}
	})
	netA := Network{NetworkUUID: randHex(t, 16), Bridge: brA, MTU: 1450, Gateway: pfx("10.1.0.1/24"), SNAT: true, DHCP: true,
		Hosts: []DHCPHost{{MAC: "52:54:00:aa:00:32", IP: addr("10.1.0.50"), Hostname: "vm-dhcp"}}}
	netB := Network{NetworkUUID: randHex(t, 16), Bridge: brB, Gateway: pfx("10.2.0.1/24"), SNAT: true}
	netC := Network{NetworkUUID: randHex(t, 16), Bridge: brC, Gateway: pfx("10.3.0.1/24"), SNAT: true}
	spec := Spec{
		UUID:        uuid,
		Public:      PublicNetwork{NetworkUUID: randHex(t, 16), Bridge: brPub, Address: pfx("203.0.113.2/24"), Gateway: addr("203.0.113.254")},
		Networks:    []Network{netA, netB},
		UpstreamDNS: []netip.Addr{addr("203.0.113.254")},
		Routes:      []Route{{Destination: pfx("198.51.100.0/24"), NextHop: addr("203.0.113.254"), Distance: 10}, {Destination: pfx("192.0.2.0/24")}},
		EIPs:        []EIP{{VIP: addr("203.0.113.10"), GuestIP: addr("10.1.0.10")}},
		PortForwards: []PortForward{
			{VIP: addr("203.0.113.11"), Protocol: "tcp", VIPPortStart: 2222, GuestIP: addr("10.2.0.10"), GuestPortStart: 8022},
			{VIP: addr("203.0.113.11"), Protocol: "tcp", VIPPortStart: 3000, VIPPortEnd: 3001, GuestIP: addr("10.2.0.10"), GuestPortStart: 8030, GuestPortEnd: 8031},
		},
		LoadBalancers: []LoadBalancer{{UUID: randHex(t, 16), VIP: addr("203.0.113.12"), Listeners: []Listener{{
			UUID: randHex(t, 16), Protocol: "http", LoadBalancerPort: 80, InstancePort: 8080, Algorithm: "roundrobin",
			HealthCheck: HealthCheck{Interval: 300 * time.Millisecond, Timeout: 300 * time.Millisecond, HealthyThreshold: 1, UnhealthyThreshold: 2, HTTPPath: "/"},
			Backends:    []netip.Addr{addr("10.1.0.10"), addr("10.1.0.11")},
		}}}},
	}

	t0 := time.Now()
	st, err := m.Ensure(t.Context(), spec)
	if err != nil {
		t.Fatalf("first ensure: %v", err)
	}
	first := time.Since(t0)
	t0 = time.Now()
	st2, err := m.Ensure(t.Context(), spec)
	if err != nil {
		t.Fatalf("second ensure: %v", err)
	}
	again := time.Since(t0)
	t.Logf("TIMING Ensure, router with 3 networks (public + 2 VPC) + EIP/PF/DHCP/LB: first %v, converged again %v", first, again)
	if st2.DnsmasqPID != st.DnsmasqPID || st2.HAProxyPID != st.HAProxyPID || st.DnsmasqPID == 0 || st.HAProxyPID == 0 {
		t.Fatalf("idempotent ensure restarted daemons: first %+v, second %+v", st, st2)
	}
	routerNS := st.Namespace

	t.Run("routes", func(t *testing.T) {
		out, err := exec.Command("ip", "-n", routerNS, "route", "show").CombinedOutput()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"default via 203.0.113.254", "198.51.100.0/24 via 203.0.113.254", "blackhole 192.0.2.0/24", "10.1.0.0/24 dev"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("router routes lack %q:\n%s", want, out)
			}
		}
		fw, _ := exec.Command("ip", "netns", "exec", routerNS, "cat", "/proc/sys/net/ipv4/ip_forward").Output()
		if strings.TrimSpace(string(fw)) != "1" {
			t.Errorf("ip_forward = %q, want 1", fw)
		}
	})

	peerServer(t, outside, "0.0.0.0:9000")
	t.Run("snat", func(t *testing.T) {
		got, err := seenPeer(t, gB, "203.0.113.254:9000")
		if err != nil || got != "203.0.113.2" {
			t.Fatalf("outside saw guest B as %q (err %v), want the router's public IP 203.0.113.2", got, err)
		}
	})
	t.Run("eip", func(t *testing.T) {
		peerServer(t, gA, "0.0.0.0:7000")
		got, err := seenPeer(t, outside, "203.0.113.10:7000")
		if err != nil || got != "203.0.113.254" {
			t.Fatalf("EIP inbound: guest A saw %q (err %v), want 203.0.113.254", got, err)
		}
		got, err = seenPeer(t, gA, "203.0.113.254:9000")
		if err != nil || got != "203.0.113.10" {
			t.Fatalf("EIP outbound: outside saw guest A as %q (err %v), want its EIP 203.0.113.10", got, err)
		}
		// Without an EIP or port forward nothing reaches a guest from outside: the forward filter.
		if _, err := seenPeer(t, outside, "203.0.113.2:7000"); err == nil {
			t.Fatal("router public IP port 7000 reached something, want refused")
		}
	})
	t.Run("port_forward", func(t *testing.T) {
		peerServer(t, gB, "0.0.0.0:8022")
		peerServer(t, gB, "0.0.0.0:8031")
		if got, err := seenPeer(t, outside, "203.0.113.11:2222"); err != nil || got != "203.0.113.254" {
			t.Fatalf("PF 2222->8022: got %q, %v", got, err)
		}
		if got, err := seenPeer(t, outside, "203.0.113.11:3001"); err != nil || got != "203.0.113.254" {
			t.Fatalf("PF range 3000-3001->8030-8031 (port 3001): got %q, %v", got, err)
		}
		if _, err := seenPeer(t, outside, "203.0.113.11:2223"); err == nil {
			t.Fatal("unforwarded VIP port 2223 answered")
		}
	})
	t.Run("vpc_routing", func(t *testing.T) {
		eventually(t, 5*time.Second, "guest A pings guest B", func() error { return pingFrom(gA, "10.2.0.10") })
	})
	t.Run("dhcp", func(t *testing.T) {
		out, err := exec.Command("ip", "netns", "exec", gDHCP, "/bin/busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5", "-T", "1", "-s", "/bin/true").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "lease of 10.1.0.50 obtained") {
			t.Fatalf("udhcpc: %v\n%s", err, out)
		}
		leases, _ := os.ReadFile(filepath.Join(m.routerDir(uuid), "dnsmasq.leases"))
		if !strings.Contains(string(leases), "52:54:00:aa:00:32 10.1.0.50 vm-dhcp") {
			t.Fatalf("lease file lacks the static lease:\n%s", leases)
		}
	})
	t.Run("load_balancer", func(t *testing.T) {
		httpServer(t, gA, "10.1.0.10:8080", "A")
		stopA2 := httpServer(t, gA2, "10.1.0.11:8080", "A2")
		c := httpClientIn(getNS(t, outside))
		seen := map[string]int{}
		eventually(t, 10*time.Second, "both backends answer", func() error {
			body, err := httpGet(c, "http://203.0.113.12/")
			if err != nil {
				return err
			}
			seen[body]++
			if seen["A"] == 0 || seen["A2"] == 0 {
				return fmt.Errorf("seen %v", seen)
			}
			return nil
		})
		stopA2()
		run := 0
		eventually(t, 10*time.Second, "dead backend dropped", func() error {
			body, err := httpGet(c, "http://203.0.113.12/")
			if err != nil || body != "A" {
				run = 0
				return fmt.Errorf("got %q, %v", body, err)
			}
			if run++; run < 6 {
				return fmt.Errorf("%d answers from A in a row", run)
			}
			return nil
		})
		// Remove the dead backend at runtime: graceful reload with a new PID, old one gone.
		spec.LoadBalancers[0].Listeners[0].Backends = []netip.Addr{addr("10.1.0.10")}
		st3, err := m.Ensure(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if st3.HAProxyPID == st.HAProxyPID {
			t.Fatalf("haproxy not reloaded (pid %d)", st3.HAProxyPID)
		}
		if !waitGone(t.Context(), st.HAProxyPID, 10*time.Second) {
			t.Fatalf("old haproxy %d still running after reload", st.HAProxyPID)
		}
		if body, err := httpGet(c, "http://203.0.113.12/"); err != nil || body != "A" {
			t.Fatalf("after reload: %q, %v", body, err)
		}
		// Add a backend at runtime.
		httpServer(t, gA2, "10.1.0.11:8080", "A2-new")
		spec.LoadBalancers[0].Listeners[0].Backends = []netip.Addr{addr("10.1.0.10"), addr("10.1.0.11")}
		if st3, err = m.Ensure(t.Context(), spec); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "added backend answers", func() error {
			body, err := httpGet(c, "http://203.0.113.12/")
			if err != nil || body != "A2-new" {
				return fmt.Errorf("got %q, %v", body, err)
			}
			return nil
		})
		st = st3
	})
	t.Run("attach_detach", func(t *testing.T) {
		dnsBefore := st.DnsmasqPID
		withC := spec
		t0 := time.Now()
		st4, err := m.AttachNetwork(t.Context(), spec, netC)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("TIMING AttachNetwork at runtime: %v", time.Since(t0))
		withC.Networks = append(append([]Network{}, spec.Networks...), netC)
		eventually(t, 5*time.Second, "guest A pings guest C on the attached network", func() error { return pingFrom(gA, "10.3.0.10") })
		if got, err := seenPeer(t, gC, "203.0.113.254:9000"); err != nil || got != "203.0.113.2" {
			t.Fatalf("SNAT for attached network: %q, %v", got, err)
		}
		if st4.HAProxyPID != st.HAProxyPID {
			t.Errorf("attach restarted haproxy")
		}
		t0 = time.Now()
		st5, err := m.DetachNetwork(t.Context(), withC, netC.NetworkUUID)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("TIMING DetachNetwork at runtime: %v (dnsmasq pid %d -> %d -> %d: its interface list changed)", time.Since(t0), dnsBefore, st4.DnsmasqPID, st5.DnsmasqPID)
		if err := pingFrom(gA, "10.3.0.10"); err == nil {
			t.Fatal("guest C still reachable after detach")
		}
		if _, err := l.hostH.LinkByName(hostIfName(uuid, netC.NetworkUUID)); err == nil {
			t.Fatal("host end of the detached network still exists")
		}
		if err := pingFrom(gA, "10.2.0.10"); err != nil {
			t.Fatalf("other VPC network broken by detach: %v", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		final, err := m.Ensure(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		assertDeleted(t, m, l, uuid, final)
	})
}

// assertDeleted deletes the router and checks that nothing it made remains: namespace, host
// interfaces, daemon processes (by PID), state directory; a second delete succeeds.
func assertDeleted(t *testing.T, m *Manager, l *lab, uuid string, st Status) {
	t.Helper()
	t0 := time.Now()
	if err := m.Delete(t.Context(), uuid); err != nil {
		t.Fatalf("delete: %v", err)
	}
	t.Logf("TIMING Delete: %v", time.Since(t0))
	if namedNetNSExists(Namespace(uuid)) {
		t.Errorf("namespace %s still exists", Namespace(uuid))
	}
	links, err := l.hostH.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, link := range links {
		if strings.HasPrefix(link.Attrs().Name, hostIfPrefix(uuid)) {
			t.Errorf("host interface %s still exists", link.Attrs().Name)
		}
	}
	for _, pid := range []int{st.DnsmasqPID, st.HAProxyPID, st.CharonPID} {
		if pid > 0 && processAlive(pid, "") {
			t.Errorf("daemon pid %d still running", pid)
		}
	}
	if _, err := os.Stat(m.routerDir(uuid)); !os.IsNotExist(err) {
		t.Errorf("state dir still exists: %v", err)
	}
	if err := m.Delete(t.Context(), uuid); err != nil {
		t.Errorf("second delete: %v", err)
	}
}

// TestNATRulesetAtomic checks the nftables table content after Ensure and that removing an EIP
// converges the table (the rule disappears) without touching the rest.
func TestNATRulesetAtomic(t *testing.T) {
	requireNet(t, "/usr/sbin/nft")
	l := newLab(t)
	brPub, brA := l.bridge(l.prefix+"pub"), l.bridge(l.prefix+"a")
	m, err := New(Config{StateDir: t.TempDir(), HostNetNS: l.hostPath()})
	if err != nil {
		t.Fatal(err)
	}
	uuid := randHex(t, 16)
	t.Cleanup(func() { _ = m.Delete(cleanupCtx(t), uuid) })
	spec := Spec{UUID: uuid,
		Public:   PublicNetwork{NetworkUUID: randHex(t, 16), Bridge: brPub, Address: pfx("203.0.113.2/24")},
		Networks: []Network{{NetworkUUID: randHex(t, 16), Bridge: brA, Gateway: pfx("10.1.0.1/24"), SNAT: true}},
		EIPs:     []EIP{{VIP: addr("203.0.113.10"), GuestIP: addr("10.1.0.10")}},
	}
	ruleset := func() string {
		out, err := exec.Command("ip", "netns", "exec", Namespace(uuid), "nft", "list", "table", "ip", TableName).CombinedOutput()
		if err != nil {
			t.Fatalf("nft list: %v: %s", err, out)
		}
		return regexp.MustCompile(`packets \d+ bytes \d+`).ReplaceAllString(string(out), "")
	}
	if _, err := m.Ensure(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	got := ruleset()
	for _, want := range []string{"ip daddr 203.0.113.10", "dnat to 10.1.0.10", "snat to 203.0.113.10", "ip saddr 10.1.0.0/24", "snat to 203.0.113.2", "ct state established,related accept", "ct status dnat accept", "drop"} {
		if !strings.Contains(got, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, got)
		}
	}
	if _, err := m.Ensure(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if again := ruleset(); again != got {
		t.Errorf("second ensure changed the ruleset:\n%s\nvs\n%s", got, again)
	}
	spec.EIPs = nil
	if _, err := m.Ensure(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if got := ruleset(); strings.Contains(got, "203.0.113.10") || !strings.Contains(got, "snat to 203.0.113.2") {
		t.Errorf("after removing the EIP:\n%s", got)
	}
	ns, _ := netns.GetFromName(Namespace(uuid))
	defer ns.Close()
	h, _ := handleAt(ns)
	defer h.Close()
	pub, err := h.LinkByName(routerIfName(spec.Public.NetworkUUID))
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := h.AddrList(pub, 2)
	for _, a := range addrs {
		if a.IP.String() == "203.0.113.10" {
			t.Errorf("VIP address still on the public interface after the EIP was removed")
		}
	}
}
