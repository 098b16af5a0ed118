package network

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets this test binary stand in for `zcloud-hostworker metadata`, the command
// EnsureDHCP starts by default (this executable, "metadata", flags).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "metadata" {
		fs := flag.NewFlagSet("metadata", flag.ExitOnError)
		var cfg MetadataServerConfig
		fs.StringVar(&cfg.Dir, "dir", "", "")
		fs.StringVar(&cfg.Listen, "listen", "", "")
		fs.BoolVar(&cfg.Daemon, "daemon", false, "")
		_ = fs.Parse(os.Args[2:])
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := RunMetadataServer(ctx, cfg)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// udhcpcRoutes leases an address in the guest and installs the classless static routes
// (option 121) of the lease, as a guest's DHCP client does; it returns the routes option.
func udhcpcRoutes(t *testing.T, g *guest) string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "routes")
	script := filepath.Join(dir, "script.sh")
	body := fmt.Sprintf(`#!/bin/sh
[ "$1" = bound ] || exit 0
busybox ip addr add "$ip/$mask" dev "$interface"
echo "$staticroutes" > %s
set -- $staticroutes
while [ $# -ge 2 ]; do busybox ip route add "$1" via "$2" dev "$interface" || exit 1; shift 2; done
`, out)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	if res, err := inNS(t.Context(), g.ns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f",
		"-t", "5", "-T", "1", "-O", "staticroutes", "-s", script); err != nil {
		t.Fatalf("udhcpc in %s: %v: %s", g.ns, err, res)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("udhcpc bound nothing: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// fetchMetadata GETs a path of 169.254.169.254 from inside the guest with curl and returns the
// HTTP status and body (status 0: no connection).
func fetchMetadata(ctx context.Context, g *guest, path string) (int, string) {
	out, _ := inNS(ctx, g.ns, "curl", "-s", "-m", "2", "-w", "\n%{http_code}", "http://169.254.169.254"+path)
	i := strings.LastIndexByte(out, '\n')
	if i < 0 {
		return 0, out
	}
	var code int
	_, _ = fmt.Sscan(out[i+1:], &code)
	return code, out[:i]
}

// procParentSession reads a process's parent PID and session ID from /proc.
func procParentSession(t *testing.T, pid int) (ppid, sid int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // state ppid pgrp session ...
	_, _ = fmt.Sscan(f[1], &ppid)
	_, _ = fmt.Sscan(f[3], &sid)
	return ppid, sid
}

func metadataPIDOf(h *Host, l3 string) int {
	n := h.dhcpNames(l3)
	pid, _ := pidFromFile(filepath.Join(n.dir, metadataPID), n.dir)
	return pid
}

// TestMetadataService runs an L3's metadata service in its DHCP namespace: guests (namespaces
// plugged into the bridge) lease their address with the option-121 route to 169.254.169.254
// through the DHCP server and fetch their own user-data and meta-data by source address; another
// guest gets its own; an address without an entry gets 404; changed data is served without a
// restart; a killed server comes back when the DHCP is ensured again; turning the service off
// and deleting the DHCP leave no process, address or file.
func TestMetadataService(t *testing.T) {
	l := newLab(t)
	requireNet(t, "curl")
	ctx := t.Context()
	const l3 = "8f5c1a2e-0000-4000-8000-0000000000a9"
	t.Cleanup(func() {
		pids, _ := filepath.Glob(filepath.Join(l.dir, "*", "run", "*", metadataPID))
		for _, p := range pids {
			_ = stopByPIDFile(context.Background(), p, filepath.Dir(p))
		}
	})
	l2 := L2{Type: L2VXLAN, VNI: 5004, VTEPIP: l.vtepA, Peers: []netip.Addr{l.vtepB}}
	if _, err := l.hostA.EnsureBridge(ctx, l2); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.hostA.DeleteBridge(ctx, l2) })
	macA, _ := net.ParseMAC("fa:16:3e:00:0a:01")
	macB, _ := net.ParseMAC("fa:16:3e:00:0a:02")
	mdA := &Metadata{InstanceID: "vm-uuid-a", Hostname: "vm-a", UserData: "#cloud-config\nrunrootcmd: [a]\n",
		SSHKeys: []string{"ssh-ed25519 AAAAkeyA a@test"}}
	mdB := &Metadata{InstanceID: "vm-uuid-b", Hostname: "vm-b", UserData: "#!/bin/sh\necho b\n"}
	spec := DHCPSpec{L3UUID: l3, Bridge: l2.BridgeName(), Uplink: l2.UplinkName(), ServerIP: netip.MustParsePrefix("10.54.0.2/24"),
		Gateway: netip.MustParseAddr("10.54.0.1"), MTU: 1450, Metadata: true, Hosts: []DHCPHost{
			{MAC: macA, IP: netip.MustParseAddr("10.54.0.21"), Hostname: "vm-a", Metadata: mdA},
			{MAC: macB, IP: netip.MustParseAddr("10.54.0.22"), Hostname: "vm-b", Metadata: mdB}}}
	start := time.Now()
	if err := l.hostA.EnsureDHCP(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t.Logf("EnsureDHCP with metadata: %s", time.Since(start))
	t.Cleanup(func() { _ = l.hostA.DeleteDHCP(ctx, l3) })
	pid := metadataPIDOf(l.hostA, l3)
	if pid == 0 {
		t.Fatal("no metadata server after EnsureDHCP")
	}
	// Like dnsmasq, the server is in its own session and no child of the agent, whose restart
	// therefore leaves it running.
	if ppid, sid := procParentSession(t, pid); sid != pid || ppid == os.Getpid() {
		t.Fatalf("metadata server %d: parent %d, session %d; want its own session, not a child of the agent (%d)", pid, ppid, sid, os.Getpid())
	}

	gA := l.addGuest(t, l.hostA, l.nsA, "gA", "vnic9.1", l2.BridgeName(), macA.String(), "")
	gB := l.addGuest(t, l.hostA, l.nsA, "gB", "vnic9.2", l2.BridgeName(), macB.String(), "")
	if routes := udhcpcRoutes(t, gA); routes != "169.254.169.254/32 10.54.0.2 0.0.0.0/0 10.54.0.1" {
		t.Fatalf("option 121 = %q, want the metadata route via the dhcp server and the default route", routes)
	}
	udhcpcRoutes(t, gB)
	type want struct {
		path string
		code int
		body string
	}
	check := func(g *guest, wants []want) {
		t.Helper()
		for _, w := range wants {
			code, body := fetchMetadata(ctx, g, w.path)
			if code != w.code || (w.body != "" && body != w.body) {
				t.Errorf("%s GET %s = %d %q, want %d %q", g.ns, w.path, code, body, w.code, w.body)
			}
		}
	}
	check(gA, []want{
		{"/latest/user-data", 200, mdA.UserData},
		{"/latest/meta-data/instance-id", 200, "vm-uuid-a"},
		{"/latest/meta-data/hostname", 200, "vm-a"},
		{"/latest/meta-data/local-ipv4", 200, "10.54.0.21"},
		{"/latest/meta-data/public-keys/", 200, "0=key-0\n"},
		{"/latest/meta-data/public-keys/0/openssh-key", 200, "ssh-ed25519 AAAAkeyA a@test\n"},
		{"/2009-04-04/meta-data/", 200, "hostname\ninstance-id\nlocal-hostname\nlocal-ipv4\npublic-keys/\n"},
		{"/latest/meta-data/public-keys/1/openssh-key", 404, ""},
	})
	check(gB, []want{
		{"/latest/user-data", 200, mdB.UserData},
		{"/latest/meta-data/instance-id", 200, "vm-uuid-b"},
		{"/latest/meta-data/local-ipv4", 200, "10.54.0.22"},
		{"/latest/meta-data/public-keys/0/openssh-key", 404, ""},
	})

	// An address nobody leased (a guest that set its own) gets nothing.
	gU := l.addGuest(t, l.hostA, l.nsA, "gU", "vnic9.3", l2.BridgeName(), "fa:16:3e:00:0a:03", "10.54.0.99/24")
	if out, err := inNS(ctx, gU.ns, "busybox", "ip", "route", "add", "169.254.169.254/32", "via", "10.54.0.2"); err != nil {
		t.Fatalf("route in gU: %v: %s", err, out)
	}
	check(gU, []want{{"/latest/user-data", 404, ""}, {"/latest/meta-data/instance-id", 404, ""}})

	// New data (a new key) is served at once by the same process.
	mdA.SSHKeys = []string{"ssh-rsa AAAAkeyA2 a@test"}
	if err := l.hostA.EnsureDHCP(ctx, spec); err != nil {
		t.Fatal(err)
	}
	check(gA, []want{{"/latest/meta-data/public-keys/0/openssh-key", 200, "ssh-rsa AAAAkeyA2 a@test\n"}})
	if p := metadataPIDOf(l.hostA, l3); p != pid {
		t.Fatalf("changed data restarted the server: pid %d -> %d", pid, p)
	}

	// A killed server is started again by the next ensure (the agent's reconcile).
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "killed server gone", func() error {
		if processAlive(pid) {
			return fmt.Errorf("pid %d alive", pid)
		}
		return nil
	})
	if code, _ := fetchMetadata(ctx, gA, "/latest/user-data"); code != 0 {
		t.Fatalf("user-data answered %d with the server killed", code)
	}
	start = time.Now()
	if err := l.hostA.EnsureDHCP(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t.Logf("EnsureDHCP restarting the metadata server: %s", time.Since(start))
	pid2 := metadataPIDOf(l.hostA, l3)
	if pid2 == 0 || pid2 == pid {
		t.Fatalf("after reconcile metadata pid = %d (killed %d)", pid2, pid)
	}
	check(gA, []want{{"/latest/user-data", 200, mdA.UserData}})

	// The service turned off: server, address and data go; DHCP stays.
	spec.Metadata = false
	if err := l.hostA.EnsureDHCP(ctx, spec); err != nil {
		t.Fatal(err)
	}
	n := l.hostA.dhcpNames(l3)
	if processAlive(pid2) {
		t.Errorf("metadata server %d runs with the service off", pid2)
	}
	if _, err := os.Stat(filepath.Join(n.dir, metadataFile)); !os.IsNotExist(err) {
		t.Errorf("metadata file left with the service off: %v", err)
	}
	if out, _ := inNS(ctx, l.hostA.nsPath(n.ns), "ip", "-o", "addr", "show", "dev", "lo"); strings.Contains(out, "169.254.169.254") {
		t.Errorf("metadata address left on lo: %s", out)
	}
	_ = dnsmasqPID(t, l.hostA, l3)

	spec.Metadata = true
	if err := l.hostA.EnsureDHCP(ctx, spec); err != nil {
		t.Fatal(err)
	}
	pid3 := metadataPIDOf(l.hostA, l3)
	check(gB, []want{{"/latest/meta-data/hostname", 200, "vm-b"}})
	if err := l.hostA.DeleteDHCP(ctx, l3); err != nil {
		t.Fatal(err)
	}
	assertDHCPGone(t, l.hostA, l.nsA, l3, pid3)
}
