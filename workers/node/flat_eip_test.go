package node_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/db"
	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/api/apitest"
	"github.com/zcloud/zcloud/hostworker/testhost"
	"github.com/zcloud/zcloud/workers/embedded"
	"github.com/zcloud/zcloud/workers/node"
)

// flatOutside plugs an "outside" namespace into a host's public bridge,
// holding addr (the public network's gateway), as the world beyond a
// public network would be.
func flatOutside(t *testing.T, f flatHost, name, bridge string, addr netip.Prefix) {
	t.Helper()
	f.exec(t, "ip", "netns", "add", name)
	f.exec(t, "ip", "link", "add", "veo"+name, "type", "veth", "peer", "name", "eth0", "netns", name)
	f.exec(t, "ip", "link", "set", "veo"+name, "master", bridge, "up")
	f.exec(t, "ip", "netns", "exec", name, "ip", "addr", "add", addr.String(), "dev", "eth0")
	f.exec(t, "ip", "netns", "exec", name, "ip", "link", "set", "eth0", "mtu", "1450", "up")
	f.exec(t, "ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
}

// eipNamespaces lists a host's flat EIP namespaces (ze-*).
func eipNamespaces(t *testing.T, f flatHost) []string {
	t.Helper()
	_, nss, _, _ := flatHostState(t, f)
	var out []string
	for _, n := range nss {
		if strings.HasPrefix(n, "ze-") {
			out = append(out, n)
		}
	}
	return out
}

// TestFlatEIPEndToEnd drives flat EIPs through the REST API on two test
// hosts running the real agent (sim hypervisor; guests are namespaces
// plugged in as taps): an outside namespace on the public network reaches
// the guest by its EIP and sees the guest's own connections come from the
// EIP; detach, stop and delete remove the EIP's namespace and rules; the
// EIP follows the VM to the host it starts on.
func TestFlatEIPEndToEnd(t *testing.T) {
	start := time.Now()
	h1 := testhost.New(t, "feip1", testhost.Options{})
	h2 := testhost.New(t, "feip2", testhost.Options{})
	for _, bin := range []string{"dnsmasq", "busybox", "bash", "nft", "bridge"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv(testhost.RequireNetEnv) == "1" {
				t.Fatalf("%s not installed", bin)
			}
			t.Skipf("%s not installed", bin)
		}
	}
	port1, port2 := h1.StartSSHD(), h2.StartSSHD()
	for _, h := range []*testhost.Host{h1, h2} {
		for _, argv := range [][]string{{"ip", "netns", "add", "zcloud-probe"}, {"ip", "netns", "del", "zcloud-probe"}} {
			_, err := h.Exec(t.Context(), argv...)
			require.NoError(t, err)
		}
	}
	_, err := h2.Exec(t.Context(), "ip", "route", "add", h1.RootIP().String()+"/32", "via", h2.RootIP().String())
	require.NoError(t, err)
	flatUnderlay(t, h1, h2, netip.MustParsePrefix("10.253.0.0/24"))

	ts, err := embedded.Start(context.Background(), embedded.Options{Host: h1.RootIP().String(), Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ts.Stop() })
	faults := &db.Faults{}
	n, err := node.Start(context.Background(), node.Config{DB: "sqlite::memory:", Temporal: ts.FrontendAddr(), Namespace: ts.Namespace(),
		Listen: "127.0.0.1:0", Worker: true, SimFleet: true, AdminPassword: "password", Faults: faults, Logger: quietLogger(), AgentBinary: buildFlatAgent(t)})
	require.NoError(t, err)
	t.Cleanup(n.Stop)
	c := apitest.New(n.Addr)
	require.NoError(t, c.Login("admin", "password"))
	mustCreate := func(path string, params map[string]any) map[string]any {
		t.Helper()
		inv, err := c.Create(path, params)
		require.NoError(t, err, "create %s", path)
		return inv
	}
	uuid := func(m map[string]any) string { return m["uuid"].(string) }
	zone := uuid(mustCreate("zones", map[string]any{"name": "zone"}))
	cluster := uuid(mustCreate("clusters", map[string]any{"zoneUuid": zone, "name": "kvm", "hypervisorType": "KVM"}))
	addHost := func(h *testhost.Host, port int) flatHost {
		t.Helper()
		inv, err := c.Create("hosts/kvm", map[string]any{"name": h.Name(), "managementIp": h.IP().String(), "username": "root",
			"password": h.RootPassword(), "sshPort": port, "clusterUuid": cluster})
		if err != nil {
			log, _ := os.ReadFile(h.Path("/var/log/zcloud-hostworker.log"))
			t.Fatalf("add host %s: %v; agent log:\n%s", h.Name(), err, log)
		}
		return flatHost{h: h, uuid: uuid(inv)}
	}
	host1, host2 := addHost(h1, port1), addHost(h2, port2)
	ps := uuid(mustCreate("primary-storage/simulators", map[string]any{"name": "ps", "url": "/sim/ps", "zoneUuid": zone, "totalCapacity": int64(1) << 40}))
	_, err = c.Call("POST", "v1/clusters/"+cluster+"/primary-storage/"+ps, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	bs := uuid(mustCreate("backup-storage/simulators", map[string]any{"name": "bs", "url": "/sim/bs", "totalCapacity": int64(1) << 40}))
	_, err = c.Call("POST", "v1/zones/"+zone+"/backup-storage/"+bs, nil)
	require.NoError(t, err)
	image := uuid(mustCreate("images", map[string]any{"name": "image", "url": "http://127.0.0.1/image.qcow2", "backupStorageUuids": []string{bs},
		"format": "qcow2", "platform": "Linux"}))
	offering := uuid(mustCreate("instance-offerings", map[string]any{"name": "small", "cpuNum": 1, "memorySize": int64(64) << 20}))

	// Two VXLAN networks of one pool: a private one and a public one.
	pool := uuid(mustCreate("l2-networks/vxlan-pool", map[string]any{"name": "pool", "zoneUuid": zone}))
	mustCreate("l2-networks/vxlan-pool/"+pool+"/vni-ranges", map[string]any{"name": "r", "startVni": 7100, "endVni": 7110})
	vxPriv := mustCreate("l2-networks/vxlan", map[string]any{"name": "priv", "poolUuid": pool})
	vxPub := mustCreate("l2-networks/vxlan", map[string]any{"name": "pub", "poolUuid": pool})
	privBridge := fmt.Sprintf("br_vx_%d", int(vxPriv["vni"].(float64)))
	pubBridge := fmt.Sprintf("br_vx_%d", int(vxPub["vni"].(float64)))
	_, err = c.Call("POST", "v1/l2-networks/"+pool+"/clusters/"+cluster, map[string]any{
		"systemTags": []string{"l2NetworkUuid::" + pool + "::clusterUuid::" + cluster + "::cidr::{10.253.0.0/24}"}})
	require.NoError(t, err)

	providers, _, err := c.Query("network-services/providers", nil)
	require.NoError(t, err)
	byType := map[string]string{}
	for _, p := range providers {
		byType[p["type"].(string)] = p["uuid"].(string)
	}
	l3 := uuid(mustCreate("l3-networks", map[string]any{"name": "flat", "l2NetworkUuid": uuid(vxPriv), "category": "Private", "type": "L3BasicNetwork"}))
	mustCreate("l3-networks/"+l3+"/ip-ranges/by-cidr", map[string]any{"name": "r", "networkCidr": "192.168.78.0/24"})
	_, err = c.Call("POST", "v1/l3-networks/"+l3+"/network-services", map[string]any{"params": map[string]any{
		"networkServices": map[string]any{byType["Flat"]: []string{"DHCP", "Eip", "DNS"}}}})
	require.NoError(t, err)
	// Flat DNS: the L3's domain is answered by its DHCP server; its DNS
	// server (a documentation address nothing answers) gets the rest.
	_, err = c.Action("l3-networks", l3, "updateL3Network", map[string]any{"dnsDomain": "zcloud.test"})
	require.NoError(t, err)
	_, err = c.Call("POST", "v1/l3-networks/"+l3+"/dns", map[string]any{"params": map[string]any{"dns": "192.0.2.53"}})
	require.NoError(t, err)
	public := uuid(mustCreate("l3-networks", map[string]any{"name": "public", "l2NetworkUuid": uuid(vxPub), "category": "Public", "type": "L3BasicNetwork"}))
	mustCreate("l3-networks/"+public+"/ip-ranges", map[string]any{"name": "r", "startIp": "172.30.0.10", "endIp": "172.30.0.20",
		"netmask": "255.255.255.0", "gateway": "172.30.0.1"})

	inv := mustCreate("vm-instances", map[string]any{"name": "vm-a", "instanceOfferingUuid": offering, "imageUuid": image,
		"l3NetworkUuids": []string{l3}, "hostUuid": host1.uuid})
	vm := uuid(inv)
	nicInv := inv["vmNics"].([]any)[0].(map[string]any)
	nic, mac, ip := nicInv["uuid"].(string), nicInv["mac"].(string), nicInv["ip"].(string)
	plugGuest := func(f flatHost) {
		t.Helper()
		flatGuest(t, f, "ga", nic, mac, privBridge)
		require.Equal(t, ip, flatDHCP(t, f, "ga"))
		f.exec(t, "ip", "netns", "exec", "ga", "ip", "route", "add", "default", "via", "192.168.78.1")
		f.h.StartDaemon("httpd-ga-"+f.h.Name(), "ip", "netns", "exec", "ga", "busybox", "httpd", "-f", "-p", "8080", "-h", "/")
	}
	plugGuest(host1)
	conf, err := os.ReadFile(host1.h.Path("/run/zcloud/network/dhcp-" + l3 + "/dnsmasq.conf"))
	require.NoError(t, err)
	var dnsServer string
	for _, line := range strings.Split(string(conf), "\n") {
		if v, ok := strings.CutPrefix(line, "dhcp-option=option:dns-server,"); ok {
			dnsServer = v
		}
	}
	var serverIP string
	require.NoError(t, n.Store.DB().GetContext(t.Context(), &serverIP, `SELECT ip FROM used_ips WHERE used_for = 'DHCP' AND l3_network_uuid = ?`, l3))
	require.Equal(t, serverIP, dnsServer, "guests get the DHCP server itself as DNS server")
	s := time.Now()
	out := host1.exec(t, "ip", "netns", "exec", "ga", "busybox", "nslookup", "vm-a.zcloud.test", dnsServer)
	require.Contains(t, out, ip, "the guest resolves its own name through the L3's dnsmasq")
	t.Logf("flat dns answered in %s", time.Since(s).Round(time.Millisecond))
	// The outside: the public gateway's address on host 1's public bridge,
	// serving a CGI that answers with the client's address.
	flatOutside(t, host1, "out", pubBridge, netip.MustParsePrefix("172.30.0.1/24"))
	www := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(www, "cgi-bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(www, "cgi-bin", "ip"), []byte("#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"$REMOTE_ADDR\"\n"), 0o755))
	host1.h.StartDaemon("httpd-out", "ip", "netns", "exec", "out", "busybox", "httpd", "-f", "-p", "8081", "-h", www)
	seenAs := func(f flatHost) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			out, err := f.h.Exec(t.Context(), "ip", "netns", "exec", "ga", "timeout", "3", "bash", "-c",
				`exec 3<>/dev/tcp/172.30.0.1/8081 && printf 'GET /cgi-bin/ip HTTP/1.0\r\n\r\n' >&3 && cat <&3`)
			if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); err == nil && strings.HasPrefix(lines[0], "HTTP/1.") {
				// busybox httpd gives an IPv4 client as an IPv4-mapped address.
				return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(lines[len(lines)-1]), "[::ffff:"), "]")
			}
			if time.Now().After(deadline) {
				t.Fatalf("guest cannot reach the outside: %v: %s", err, out)
			}
		}
	}

	// A VIP on the VM's own L3 is refused for a flat EIP.
	ownVip := uuid(mustCreate("vips", map[string]any{"name": "own", "l3NetworkUuid": l3}))
	_, err = c.Create("eips", map[string]any{"name": "bad", "vipUuid": ownVip, "vmNicUuid": nic})
	require.ErrorContains(t, err, "needs a vip of another, public l3 network")
	require.NoError(t, c.Delete("vips", ownVip))

	require.False(t, flatReachable(t, host1, "out", "172.30.0.15", 0), "nothing answers before the EIP")
	vip := mustCreate("vips", map[string]any{"name": "vip", "l3NetworkUuid": public, "requiredIp": "172.30.0.15"})
	// A failure while placing the EIP undoes its creation.
	faults.Set(netapi.NetEIPPlan, "boom")
	_, err = c.Create("eips", map[string]any{"name": "doomed", "vipUuid": uuid(vip), "vmNicUuid": nic})
	require.ErrorContains(t, err, "injected failure")
	faults.Set(netapi.NetEIPPlan, "")
	cnt, err := n.Store.Count(t.Context(), "eips", "1 = 1")
	require.NoError(t, err)
	require.Zero(t, cnt, "the failed EIP is undone")
	require.Empty(t, eipNamespaces(t, host1))

	s = time.Now()
	eip := uuid(mustCreate("eips", map[string]any{"name": "eip", "vipUuid": uuid(vip), "vmNicUuid": nic}))
	t.Logf("create eip in %s", time.Since(s).Round(time.Millisecond))
	require.Len(t, eipNamespaces(t, host1), 1, "host 1 runs the EIP's namespace")
	require.Empty(t, eipNamespaces(t, host2))
	flatEventually(t, host1, "out", "172.30.0.15", 0, true, "the outside pings the guest by its EIP")
	flatEventually(t, host1, "out", "172.30.0.15", 8080, true, "the outside reaches the guest's TCP 8080 by its EIP")
	require.Equal(t, "172.30.0.15", seenAs(host1), "the guest goes out as its EIP")

	// VIP QoS: token buckets on the EIP namespace's links (inbound = to
	// the guest, on priv0; outbound on pub0), removed again.
	qdisc := func(dev string) string {
		return host1.exec(t, "ip", "netns", "exec", eipNamespaces(t, host1)[0], "tc", "qdisc", "show", "dev", dev)
	}
	_, err = c.Action("vips", uuid(vip), "setVipQos", map[string]any{"inboundBandwidth": 1_000_000, "outboundBandwidth": 2_000_000})
	require.NoError(t, err)
	require.Contains(t, qdisc("priv0"), "rate 1Mbit", "inbound bandwidth limited")
	require.Contains(t, qdisc("pub0"), "rate 2Mbit", "outbound bandwidth limited")
	_, err = c.Action("vips", uuid(vip), "setVipQos", map[string]any{"port": 80, "inboundBandwidth": 1_000_000})
	require.ErrorContains(t, err, "not supported")
	_, err = c.Call("DELETE", "v1/vips/"+uuid(vip)+"/vip-qos", nil)
	require.NoError(t, err)
	require.NotContains(t, qdisc("priv0"), "tbf", "inbound limit removed")
	require.NotContains(t, qdisc("pub0"), "tbf", "outbound limit removed")
	flatEventually(t, host1, "out", "172.30.0.15", 0, true, "the EIP still answers")

	eipTables := func(f flatHost) (n int) {
		_, _, tables, _ := flatHostState(t, f)
		for _, x := range tables {
			if strings.Contains(x, "zcloud_eip") {
				n++
			}
		}
		return n
	}
	// Detach: the namespace and the host fence go.
	_, err = c.Call("DELETE", "v1/eips/"+eip+"/vm-instances/nics", nil)
	require.NoError(t, err)
	require.Empty(t, eipNamespaces(t, host1), "detach removes the EIP's namespace")
	require.Zero(t, eipTables(host1), "detach removes the EIP's fence")
	require.False(t, flatReachable(t, host1, "out", "172.30.0.15", 0), "the EIP no longer answers")

	// Attach again, then the VM stops (EIP gone) and starts on host 2
	// (EIP there, reached from the outside on host 1 across the VXLAN).
	_, err = c.Call("POST", "v1/eips/"+eip+"/vm-instances/nics/"+nic, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	require.Len(t, eipNamespaces(t, host1), 1)
	flatEventually(t, host1, "out", "172.30.0.15", 0, true, "the re-attached EIP answers")
	_, err = c.Action("vm-instances", vm, "stopVmInstance", map[string]any{})
	require.NoError(t, err)
	require.Empty(t, eipNamespaces(t, host1), "a stopped VM's EIP leaves its host")
	require.Zero(t, eipTables(host1))
	flatUnplug(t, host1, "ga", nic)
	_, err = c.Action("vm-instances", vm, "startVmInstance", map[string]any{"hostUuid": host2.uuid})
	require.NoError(t, err)
	require.Len(t, eipNamespaces(t, host2), 1, "the EIP follows the VM to host 2")
	require.Empty(t, eipNamespaces(t, host1))
	plugGuest(host2)
	flatEventually(t, host1, "out", "172.30.0.15", 8080, true, "the outside reaches the guest on host 2 by its EIP")
	require.Equal(t, "172.30.0.15", seenAs(host2), "the guest on host 2 goes out as its EIP")

	// Delete: namespace and rules go; the VIP stays until deleted.
	require.NoError(t, c.Delete("eips", eip))
	require.Empty(t, eipNamespaces(t, host2), "delete removes the EIP's namespace")
	require.Zero(t, eipTables(host2), "delete removes the EIP's fence")
	require.False(t, flatReachable(t, host1, "out", "172.30.0.15", 0))

	// Destroying the VM detaches its EIP (database and host).
	eip = uuid(mustCreate("eips", map[string]any{"name": "eip2", "vipUuid": uuid(vip), "vmNicUuid": nic}))
	require.Len(t, eipNamespaces(t, host2), 1)
	require.NoError(t, c.Delete("vm-instances", vm))
	e, err := c.Get("eips", eip)
	require.NoError(t, err)
	require.Empty(t, e["vmNicUuid"], "a destroyed VM's EIP is detached")
	require.Empty(t, eipNamespaces(t, host2), "a destroyed VM's EIP leaves its host")
	require.Zero(t, eipTables(host2))
	require.NoError(t, c.Delete("eips", eip))
	err = c.Delete("l3-networks", public)
	require.ErrorContains(t, err, "vips are on it", "an L3 with VIPs is not deleted")
	require.NoError(t, c.Delete("vips", uuid(vip)))
	flatUnplug(t, host2, "ga", nic)
	_, err = c.Action("vm-instances", vm, "expungeVmInstance", map[string]any{})
	require.NoError(t, err)
	host1.exec(t, "ip", "link", "del", "veoout")
	host1.exec(t, "ip", "netns", "del", "out")
	require.NoError(t, c.Delete("l3-networks", l3))
	require.NoError(t, c.Delete("l3-networks", public))
	_, err = c.Call("DELETE", "v1/l2-networks/"+pool+"/clusters/"+cluster, nil)
	require.NoError(t, err)
	for _, f := range []flatHost{host1, host2} {
		bridges, nss, tables, dm := flatHostState(t, f)
		require.Empty(t, bridges, "bridges left on %s", f.h.Name())
		require.Empty(t, nss, "namespaces left on %s", f.h.Name())
		require.Empty(t, tables, "nft tables left on %s", f.h.Name())
		require.Zero(t, dm, "dnsmasq left on %s", f.h.Name())
	}
	t.Logf("flat eip end to end in %s", time.Since(start).Round(time.Millisecond))
}
