package node_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/zcloud/zcloud/activities/db"
	"github.com/zcloud/zcloud/activities/sshdeploy"
	"github.com/zcloud/zcloud/api/apitest"
	"github.com/zcloud/zcloud/hostworker/testhost"
	"github.com/zcloud/zcloud/workers/embedded"
	"github.com/zcloud/zcloud/workers/node"
	"github.com/zcloud/zcloud/workflows"
)

// migrateHost is a KVM host of the migration bed: a test host running the
// real agent, deployed over SSH by AddKVMHost (sim hypervisor driver).
type migrateHost struct {
	h    *testhost.Host
	uuid string
}

func (m migrateHost) exec(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := m.h.Exec(t.Context(), argv...)
	require.NoError(t, err, "%v: %s", argv, out)
	return string(out)
}

// routerLeft is what a router left on a host: its namespace, the host ends
// of its veths and its state directory (its daemons: routerDaemons).
func (m migrateHost) routerLeft(t *testing.T, router string) []string {
	t.Helper()
	var left []string
	ns := "zr-" + router[:8]
	if strings.Contains(m.exec(t, "ip", "netns", "list"), ns) {
		left = append(left, "namespace "+ns)
	}
	for _, l := range strings.Split(m.exec(t, "ip", "-o", "link", "show"), "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[1], "zr"+router[:6]) {
			left = append(left, "link "+f[1])
		}
	}
	if _, err := os.Stat(m.h.Path("/var/lib/zcloud-hostworker/routers/" + router)); err == nil {
		left = append(left, "state dir")
	}
	return left
}

// routerDaemons are the PIDs of every process of the router on any host
// (their command lines name its state directory). `ip netns exec` gives
// them a mount namespace of their own, so the host is told by the network
// namespace: daemons(router) are those in the host's router namespace.
func routerDaemons(router string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.Contains(string(b), "/routers/"+router) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (m migrateHost) daemons(router string) []int {
	var st syscall.Stat_t
	if syscall.Stat(m.h.Path("/run/netns/zr-"+router[:8]), &st) != nil {
		return nil
	}
	want := fmt.Sprintf("net:[%d]", st.Ino)
	var pids []int
	for _, pid := range routerDaemons(router) {
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && ns == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// patchLink joins two hosts with a veth pair named name in both, without
// addresses: a provider network's wire between the hosts' NoVlan bridges.
func patchLink(t *testing.T, a, b *testhost.Host, name string) {
	t.Helper()
	nsA, err := netns.GetFromPid(a.PID())
	require.NoError(t, err)
	defer nsA.Close()
	nsB, err := netns.GetFromPid(b.PID())
	require.NoError(t, err)
	defer nsB.Close()
	h, err := netlink.NewHandleAt(nsA)
	require.NoError(t, err)
	defer h.Close()
	require.NoError(t, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name, PeerNamespace: netlink.NsFd(int(nsB))}))
	for _, x := range []*testhost.Host{a, b} {
		_, err := x.Exec(t.Context(), "ip", "link", "set", name, "up")
		require.NoError(t, err)
	}
}

// migrateGuest plugs a namespace into a bridge of a host with an address
// and a default route, standing for a VM's NIC.
func migrateGuest(t *testing.T, m migrateHost, name, bridge, cidr, gw string) {
	t.Helper()
	m.exec(t, "ip", "netns", "add", name)
	m.exec(t, "ip", "link", "add", "v-"+name, "type", "veth", "peer", "name", "eth0", "netns", name)
	m.exec(t, "ip", "link", "set", "v-"+name, "mtu", "1450", "master", bridge, "up")
	m.exec(t, "ip", "-n", name, "link", "set", "eth0", "mtu", "1400", "up")
	m.exec(t, "ip", "-n", name, "link", "set", "lo", "up")
	m.exec(t, "ip", "-n", name, "addr", "add", cidr, "dev", "eth0")
	if gw != "" {
		m.exec(t, "ip", "-n", name, "route", "add", "default", "via", gw)
	}
}

// migrateServer runs busybox httpd in a guest: / names the guest,
// /cgi-bin/peer answers the client's address as the server saw it.
func migrateServer(t *testing.T, m migrateHost, guest string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), guest)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "cgi-bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.html"), []byte(guest+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cgi-bin", "peer"),
		[]byte("#!/bin/busybox sh\necho 'Content-Type: text/plain'\necho\necho \"$REMOTE_ADDR\"\n"), 0o755))
	m.h.StartDaemon("httpd-"+guest, "ip", "netns", "exec", guest, "/bin/busybox", "httpd", "-f", "-p", "80", "-h", dir)
}

func migrateFetch(t *testing.T, m migrateHost, guest, url string) (string, error) {
	out, err := m.h.Exec(t.Context(), "ip", "netns", "exec", guest, "curl", "-sS", "--fail", "-m", "2", url)
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(string(out)), "[::ffff:"), "]"), err
}

// TestRouterMigrateAndReconcile drives a VPC router's lifecycle beyond its
// creation through the REST API on two KVM test hosts running the real
// agent: VPC networks on VXLAN across the hosts' underlay and a public
// NoVlan network wired between them. Traffic through the router (VPC
// routing across hosts, SNAT, EIP) works before and after MigrateVm moves
// the router, nothing is left on the source, and a migration failing
// half-way removes the destination and leaves the source untouched. Then
// the router's namespace and daemons vanish behind the control plane's
// back while its host's agent is down: the router shows Unknown and
// Disconnected, a router change fails clearly, and ReconnectHost realises
// the router again so that traffic flows. Lost once more, the router is
// evacuated by MigrateVm to the other host, and the lost host removes what
// it kept of the router when it is back.
func TestRouterMigrateAndReconcile(t *testing.T) {
	requireRouterLab(t)
	start := time.Now()
	h1 := testhost.New(t, "rmig1", testhost.Options{})
	h2 := testhost.New(t, "rmig2", testhost.Options{})
	port1, port2 := h1.StartSSHD(), h2.StartSSHD()
	for _, h := range []*testhost.Host{h1, h2} {
		// iproute2 sets /run/netns up before the agent mounts namespaces
		// there (see TestFlatNetworkEndToEnd).
		for _, argv := range [][]string{{"ip", "netns", "add", "zcloud-probe"}, {"ip", "netns", "del", "zcloud-probe"}} {
			_, err := h.Exec(t.Context(), argv...)
			require.NoError(t, err)
		}
	}
	_, err := h2.Exec(t.Context(), "ip", "route", "add", h1.RootIP().String()+"/32", "via", h2.RootIP().String())
	require.NoError(t, err)
	flatUnderlay(t, h1, h2, netip.MustParsePrefix("10.253.0.0/24"))
	patchLink(t, h1, h2, "pub0")

	ts, err := embedded.Start(context.Background(), embedded.Options{Host: h1.RootIP().String(), Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ts.Stop() })
	faults := &db.Faults{}
	n, err := node.Start(context.Background(), node.Config{DB: "sqlite::memory:", Temporal: ts.FrontendAddr(), Namespace: ts.Namespace(),
		Listen: "127.0.0.1:0", Worker: true, SimFleet: true, AdminPassword: "password", Faults: faults, Logger: quietLogger(),
		AgentBinary: buildFlatAgent(t)})
	require.NoError(t, err)
	t.Cleanup(n.Stop)
	c := apitest.New(n.Addr)
	require.NoError(t, c.Login("admin", "password"))
	mustCreate := func(path string, params map[string]any, tags ...string) map[string]any {
		t.Helper()
		inv, err := c.Create(path, params, tags...)
		require.NoError(t, err, "create %s", path)
		return inv
	}
	uuid := func(m map[string]any) string { return m["uuid"].(string) }
	call := func(method, path string, body any) {
		t.Helper()
		_, err := c.Call(method, "v1/"+path, body)
		require.NoError(t, err, "%s %s", method, path)
	}
	// Pings every second; the test reconnects hosts itself.
	for k, v := range map[string]string{"ping.interval": "1", "ping.maxFailure": "1000"} {
		call("PUT", "global-configurations/host/"+k+"/actions", map[string]any{"updateGlobalConfig": map[string]any{"value": v}})
	}

	zone := uuid(mustCreate("zones", map[string]any{"name": "zone"}))
	cluster := uuid(mustCreate("clusters", map[string]any{"zoneUuid": zone, "name": "kvm", "hypervisorType": "KVM"}))
	addHost := func(h *testhost.Host, port int) migrateHost {
		t.Helper()
		inv, err := c.Create("hosts/kvm", map[string]any{"name": h.Name(), "managementIp": h.IP().String(), "username": "root",
			"password": h.RootPassword(), "sshPort": port, "clusterUuid": cluster})
		if err != nil {
			log, _ := os.ReadFile(h.Path("/var/log/zcloud-hostworker.log"))
			t.Fatalf("add host %s: %v; agent log:\n%s", h.Name(), err, log)
		}
		return migrateHost{h: h, uuid: uuid(inv)}
	}
	hosts := []migrateHost{addHost(h1, port1), addHost(h2, port2)}
	byUUID := map[string]migrateHost{hosts[0].uuid: hosts[0], hosts[1].uuid: hosts[1]}
	t.Cleanup(func() {
		if t.Failed() {
			for _, h := range hosts {
				log, _ := os.ReadFile(h.h.Path("/var/log/zcloud-hostworker.log"))
				t.Logf("agent log of %s:\n%s", h.h.Name(), routerTail(string(log), 40))
			}
		}
	})
	ps := uuid(mustCreate("primary-storage/simulators", map[string]any{"name": "ps", "url": "/sim/ps", "zoneUuid": zone, "totalCapacity": int64(1) << 40}))
	call("POST", "clusters/"+cluster+"/primary-storage/"+ps, map[string]any{"params": map[string]any{}})
	bs := uuid(mustCreate("backup-storage/simulators", map[string]any{"name": "bs", "url": "/sim/bs", "totalCapacity": int64(1) << 40}))
	call("POST", "zones/"+zone+"/backup-storage/"+bs, nil)
	image := uuid(mustCreate("images", map[string]any{"name": "vrouter", "url": "http://127.0.0.1/vrouter.qcow2", "backupStorageUuids": []string{bs},
		"format": "qcow2", "platform": "Linux"}))
	offering := uuid(mustCreate("instance-offerings", map[string]any{"name": "small", "cpuNum": 1, "memorySize": int64(64) << 20}))

	// Public network: NoVlan on the wire between the hosts. VPC networks:
	// two VXLAN networks over the underlay, realised by ZCloud on both.
	pubL2 := uuid(mustCreate("l2-networks/no-vlan", map[string]any{"name": "pub", "zoneUuid": zone, "physicalInterface": "pub0"}))
	call("POST", "l2-networks/"+pubL2+"/clusters/"+cluster, map[string]any{})
	pool := uuid(mustCreate("l2-networks/vxlan-pool", map[string]any{"name": "pool", "zoneUuid": zone}))
	mustCreate("l2-networks/vxlan-pool/"+pool+"/vni-ranges", map[string]any{"name": "r", "startVni": 7100, "endVni": 7110})
	vxA := mustCreate("l2-networks/vxlan", map[string]any{"name": "vx-a", "poolUuid": pool})
	vxB := mustCreate("l2-networks/vxlan", map[string]any{"name": "vx-b", "poolUuid": pool})
	call("POST", "l2-networks/"+pool+"/clusters/"+cluster, map[string]any{
		"systemTags": []string{"l2NetworkUuid::" + pool + "::clusterUuid::" + cluster + "::cidr::{10.253.0.0/24}"}})
	brA, brB := fmt.Sprintf("br_vx_%d", int(vxA["vni"].(float64))), fmt.Sprintf("br_vx_%d", int(vxB["vni"].(float64)))
	l3 := func(name, l2, category, cidr string) string {
		u := uuid(mustCreate("l3-networks", map[string]any{"name": name, "l2NetworkUuid": l2, "category": category}))
		mustCreate("l3-networks/"+u+"/ip-ranges/by-cidr", map[string]any{"name": name, "networkCidr": cidr})
		return u
	}
	public := l3("public", pubL2, "Public", "198.51.100.0/24")
	vpcA := l3("vpc-a", uuid(vxA), "Private", "172.31.1.0/24")
	vpcB := l3("vpc-b", uuid(vxB), "Private", "172.31.2.0/24")

	vro := uuid(mustCreate("instance-offerings/virtual-routers", map[string]any{"name": "vro", "zoneUuid": zone, "managementNetworkUuid": public,
		"publicNetworkUuid": public, "imageUuid": image, "cpuNum": 1, "memorySize": int64(256) << 20}))
	vr := mustCreate("vpc/virtual-routers", map[string]any{"name": "vr", "virtualRouterOfferingUuid": vro, "hostUuid": hosts[0].uuid})
	router := uuid(vr)
	publicIP := vr["vmNics"].([]any)[0].(map[string]any)["ip"].(string)
	for _, l := range []string{vpcA, vpcB} {
		call("POST", "vm-instances/"+router+"/l3-networks/"+l, map[string]any{"params": map[string]any{}})
	}

	// Guests: A on host 1, B on host 2, each on its own VPC network, and
	// the outside (the public network's gateway) on host 1.
	vm := func(name, l3, host string) (nic, ip string) {
		inv := mustCreate("vm-instances", map[string]any{"name": name, "instanceOfferingUuid": offering, "imageUuid": image,
			"l3NetworkUuids": []string{l3}, "hostUuid": host})
		n := inv["vmNics"].([]any)[0].(map[string]any)
		return n["uuid"].(string), n["ip"].(string)
	}
	_, ipA := vm("vm-a", vpcA, hosts[0].uuid)
	nicB, ipB := vm("vm-b", vpcB, hosts[1].uuid)
	migrateGuest(t, hosts[0], "ga", brA, ipA+"/24", "172.31.1.1")
	migrateGuest(t, hosts[1], "gb", brB, ipB+"/24", "172.31.2.1")
	migrateGuest(t, hosts[0], "out", "br_pub0", "198.51.100.1/24", "")
	migrateServer(t, hosts[1], "gb")
	migrateServer(t, hosts[0], "out")
	vip := mustCreate("vips", map[string]any{"name": "eip", "l3NetworkUuid": public})
	mustCreate("eips", map[string]any{"name": "eip", "vipUuid": uuid(vip), "vmNicUuid": nicB})
	eipIP := vip["ip"].(string)

	traffic := func(when string) {
		t.Helper()
		routerPoll(t, 15*time.Second, when+": A pings B through the router across hosts", func() error {
			_, err := hosts[0].h.Exec(t.Context(), "ip", "netns", "exec", "ga", "/bin/busybox", "ping", "-c", "1", "-W", "1", ipB)
			return err
		})
		var seen string
		routerPoll(t, 10*time.Second, when+": A reaches the outside", func() (err error) {
			seen, err = migrateFetch(t, hosts[0], "ga", "http://198.51.100.1/cgi-bin/peer")
			return err
		})
		require.Equal(t, publicIP, seen, "%s: SNAT shows A as the router's public IP", when)
		routerPoll(t, 10*time.Second, when+": B reaches the outside", func() (err error) {
			seen, err = migrateFetch(t, hosts[1], "gb", "http://198.51.100.1/cgi-bin/peer")
			return err
		})
		require.Equal(t, eipIP, seen, "%s: B with an EIP goes out as its EIP", when)
		var got string
		routerPoll(t, 10*time.Second, when+": the outside reaches B by its EIP", func() (err error) {
			got, err = migrateFetch(t, hosts[0], "out", "http://"+eipIP+"/")
			return err
		})
		require.Equal(t, "gb", got, when)
	}
	where := func() (host, state, status string) {
		t.Helper()
		inv, err := c.Get("vpc/virtual-routers", router)
		require.NoError(t, err)
		h, _ := inv["hostUuid"].(string)
		return h, inv["state"].(string), inv["status"].(string)
	}
	traffic("on host 1")
	t.Logf("TIMING bed ready and traffic checked: %s", time.Since(start).Round(time.Millisecond))

	// Bad input changes nothing.
	_, err = c.Action("vm-instances", router, "migrateVm", map[string]any{"hostUuid": hosts[0].uuid})
	require.ErrorContains(t, err, "already runs on host")
	_, err = c.Action("vm-instances", router, "migrateVm", map[string]any{"hostUuid": "0123456789abcdef0123456789abcdef"})
	require.ErrorContains(t, err, "cannot find")
	host, state, _ := where()
	require.Equal(t, []string{hosts[0].uuid, "Running"}, []string{host, state})

	// A failure half-way (the destination built, the switch-over fails)
	// removes the destination and leaves the source untouched.
	daemons := hosts[0].daemons(router)
	require.NotEmpty(t, daemons, "the router runs dnsmasq on host 1")
	faults.Set(workflows.ActRouterMoveHost, "boom")
	_, err = c.Action("vm-instances", router, "migrateVm", map[string]any{"hostUuid": hosts[1].uuid})
	faults.Set(workflows.ActRouterMoveHost, "")
	require.ErrorContains(t, err, "injected failure")
	require.Empty(t, hosts[1].routerLeft(t, router), "the failed migration left nothing on the destination")
	require.Equal(t, daemons, hosts[0].daemons(router), "the source's daemons were not restarted")
	require.Equal(t, daemons, routerDaemons(router), "no daemon of the router runs elsewhere")
	host, state, _ = where()
	require.Equal(t, []string{hosts[0].uuid, "Running"}, []string{host, state})
	traffic("after a failed migration")

	// The migration: the router moves to host 2 (chosen by the control
	// plane), and nothing is left on host 1.
	s := time.Now()
	inv, err := c.Action("vm-instances", router, "migrateVm", map[string]any{})
	require.NoError(t, err)
	t.Logf("TIMING MigrateVm (router): %s", time.Since(s).Round(time.Millisecond))
	require.Equal(t, hosts[1].uuid, inv["hostUuid"])
	require.Equal(t, hosts[0].uuid, inv["lastHostUuid"])
	require.Equal(t, "Running", inv["state"])
	require.Empty(t, hosts[0].routerLeft(t, router), "nothing of the router is left on the source")
	require.NotEmpty(t, hosts[1].daemons(router))
	require.Equal(t, hosts[1].daemons(router), routerDaemons(router), "the router's daemons run on the destination only")
	require.Contains(t, hosts[1].exec(t, "ip", "netns", "list"), "zr-"+router[:8])
	traffic("after the migration to host 2")

	// The agent crashes, and the router's daemons and namespace go with it
	// (a service manager stopping the agent's children): the restarted
	// agent's first ping makes the control plane realise the router again,
	// with no API call.
	dst := byUUID[inv["hostUuid"].(string)]
	pidOf := func(file string) int {
		t.Helper()
		b, err := os.ReadFile(dst.h.Path(file))
		require.NoError(t, err)
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		require.NoError(t, err)
		return pid
	}
	breakRouter := func() {
		t.Helper()
		for _, pid := range dst.daemons(router) {
			require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		}
		dst.exec(t, "ip", "netns", "del", "zr-"+router[:8])
	}
	s = time.Now()
	require.NoError(t, syscall.Kill(pidOf(sshdeploy.PIDFile), syscall.SIGKILL))
	breakRouter()
	traffic("after the agent restarted")
	t.Logf("TIMING agent crash to router realised again: %s", time.Since(s).Round(time.Millisecond))

	// The router's host loses its agent for good; behind ZCloud's back the
	// router's daemons die and its namespace goes (as in a reboot).
	require.NoError(t, syscall.Kill(pidOf(sshdeploy.SupervisorPIDFile), syscall.SIGTERM), "stop the agent's supervisor")
	routerPoll(t, 15*time.Second, "router Unknown and Disconnected", func() error {
		if _, state, status := where(); state != "Unknown" || status != "Disconnected" {
			return fmt.Errorf("router is %s/%s", state, status)
		}
		return nil
	})
	_, err = c.Create("vips", map[string]any{"name": "late", "l3NetworkUuid": public})
	require.NoError(t, err, "a VIP alone needs no router")
	_, err = c.Call("POST", "v1/vm-instances/"+router+"/l3-networks/"+l3("vpc-c", uuid(vxA), "Private", "172.31.3.0/24"),
		map[string]any{"params": map[string]any{}})
	require.ErrorContains(t, err, "disconnected", "a change of a router whose host is lost fails clearly")
	breakRouter()
	// A namespace goes once the last process in it has exited: poll.
	routerPoll(t, 10*time.Second, "the router is gone", func() error {
		if _, err := migrateFetch(t, hosts[0], "out", "http://"+eipIP+"/"); err == nil {
			return errors.New("the EIP still answers")
		}
		return nil
	})

	// ReconnectHost brings the agent back and realises the router again.
	s = time.Now()
	_, err = c.Action("hosts", dst.uuid, "reconnectHost", map[string]any{})
	require.NoError(t, err)
	t.Logf("TIMING ReconnectHost with one router to realise: %s", time.Since(s).Round(time.Millisecond))
	host, state, status := where()
	require.Equal(t, []string{dst.uuid, "Running", "Connected"}, []string{host, state, status})
	traffic("after the reconnect")

	// The host is lost again and the operator evacuates the router:
	// MigrateVm rebuilds it on host 1 without touching the lost source.
	// When host 2 answers again it removes what it kept of the router (its
	// state directory, and here an empty namespace left in its name).
	require.NoError(t, syscall.Kill(pidOf(sshdeploy.SupervisorPIDFile), syscall.SIGTERM), "stop the agent's supervisor again")
	routerPoll(t, 15*time.Second, "router Unknown and Disconnected again", func() error {
		if _, state, status := where(); state != "Unknown" || status != "Disconnected" {
			return fmt.Errorf("router is %s/%s", state, status)
		}
		return nil
	})
	breakRouter()
	routerPoll(t, 10*time.Second, "the router is gone again", func() error {
		if _, err := migrateFetch(t, hosts[0], "out", "http://"+eipIP+"/"); err == nil {
			return errors.New("the EIP still answers")
		}
		return nil
	})
	dst.exec(t, "ip", "netns", "add", "zr-"+router[:8])
	s = time.Now()
	inv, err = c.Action("vm-instances", router, "migrateVm", map[string]any{})
	require.NoError(t, err, "a router on a lost host is evacuated")
	t.Logf("TIMING MigrateVm evacuating a router from a lost host: %s", time.Since(s).Round(time.Millisecond))
	require.Equal(t, []any{hosts[0].uuid, "Running", "Connected"}, []any{inv["hostUuid"], inv["state"], inv["status"]})
	require.NotEmpty(t, hosts[0].daemons(router))
	traffic("after the evacuation to host 1")
	require.NotEmpty(t, dst.routerLeft(t, router), "the lost host still holds what it had of the router")
	_, err = c.Action("hosts", dst.uuid, "reconnectHost", map[string]any{})
	require.NoError(t, err)
	require.Empty(t, dst.routerLeft(t, router), "the host back removed the router it no longer runs")
	host, state, status = where()
	require.Equal(t, []string{hosts[0].uuid, "Running", "Connected"}, []string{host, state, status})
	traffic("after the lost host came back")

	// Destroying the router leaves nothing on either host.
	require.NoError(t, c.Delete("vm-instances", router))
	for _, h := range hosts {
		require.Empty(t, h.routerLeft(t, router), "router left on %s", h.h.Name())
	}
	require.Empty(t, routerDaemons(router), "no daemon of the router is left")
	t.Logf("TIMING router migration and reconcile end to end: %s", time.Since(start).Round(time.Millisecond))
}
