package node_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/db"
	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/api/apitest"
	"github.com/zcloud/zcloud/hostworker/testhost"
	"github.com/zcloud/zcloud/workers/embedded"
	"github.com/zcloud/zcloud/workers/node"
)

// flatHost is a test host running the real agent, added with AddKVMHost.
type flatHost struct {
	h    *testhost.Host
	uuid string
}

// exec runs argv inside the host and fails the test on error.
func (f flatHost) exec(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := f.h.Exec(t.Context(), argv...)
	require.NoError(t, err)
	return string(out)
}

// buildFlatAgent builds zcloud-hostworker and wraps it so that the agent
// AddKVMHost deploys runs the sim hypervisor driver: deployments configure
// driver=libvirt, and a flag on the command line wins over the config file.
// exec -a keeps the installed path as argv[0], which the deployer checks.
// Everything else (networking above all) is the real binary's.
func buildFlatAgent(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "zcloud-hostworker.real")
	start := time.Now()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", bin, "./cmd/zcloud-hostworker")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "build agent: %s", out)
	t.Logf("built the agent in %s", time.Since(start).Round(time.Millisecond))
	wrapper := filepath.Join(dir, "zcloud-hostworker")
	require.NoError(t, os.WriteFile(wrapper, []byte("#!/bin/bash\nexec -a \"$0\" "+bin+" --driver sim \"$@\"\n"), 0o755))
	return wrapper
}

// underlay joins two hosts with a veth pair (ul0 in each) holding a.b.c.1/24
// and .2/24: the network their VTEPs live on.
func flatUnderlay(t *testing.T, a, b *testhost.Host, subnet netip.Prefix) {
	t.Helper()
	nsB, err := netns.GetFromPid(b.PID())
	require.NoError(t, err)
	defer nsB.Close()
	nsA, err := netns.GetFromPid(a.PID())
	require.NoError(t, err)
	defer nsA.Close()
	nlA, err := netlink.NewHandleAt(nsA)
	require.NoError(t, err)
	defer nlA.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ul0"}, PeerName: "ul0", PeerNamespace: netlink.NsFd(int(nsB))}
	require.NoError(t, nlA.LinkAdd(veth))
	ipA, ipB := subnet.Addr().Next(), subnet.Addr().Next().Next()
	for _, x := range []struct {
		h  *testhost.Host
		ip netip.Addr
	}{{a, ipA}, {b, ipB}} {
		_, err := x.h.Exec(t.Context(), "ip", "addr", "add", netip.PrefixFrom(x.ip, subnet.Bits()).String(), "dev", "ul0")
		require.NoError(t, err)
		_, err = x.h.Exec(t.Context(), "ip", "link", "set", "ul0", "up")
		require.NoError(t, err)
	}
}

// guest plugs a "VM NIC" into a host's bridge the way libvirt plugs a tap:
// the sim driver starts no QEMU, so a namespace stands for the guest, with
// a veth whose host end has the tap's name (netapi.TapName of the NIC) and
// whose guest end (eth0) carries the NIC's MAC.
func flatGuest(t *testing.T, f flatHost, name, nicUUID, mac, bridge string) {
	t.Helper()
	tap := netapi.TapName(nicUUID)
	f.exec(t, "ip", "netns", "add", name)
	f.exec(t, "ip", "link", "add", tap, "type", "veth", "peer", "name", "eth0", "netns", name)
	fields := strings.Fields(f.exec(t, "ip", "-o", "link", "show", "dev", bridge))
	mtu := ""
	for i, x := range fields[:len(fields)-1] {
		if x == "mtu" {
			mtu = fields[i+1]
		}
	}
	f.exec(t, "ip", "link", "set", tap, "mtu", mtu, "master", bridge, "up")
	// The guest end keeps the default MTU of 1500: the guest learns the
	// network's by DHCP.
	f.exec(t, "ip", "netns", "exec", name, "ip", "link", "set", "eth0", "address", mac, "up")
	f.exec(t, "ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
}

// unplug removes a guest, as libvirt removes a tap when a domain goes.
func flatUnplug(t *testing.T, f flatHost, name, nicUUID string) {
	t.Helper()
	f.exec(t, "ip", "link", "del", netapi.TapName(nicUUID))
	f.exec(t, "ip", "netns", "del", name)
}

// dhcp runs busybox udhcpc in a guest and returns the address it got.
func flatDHCP(t *testing.T, f flatHost, name string) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "udhcpc.sh")
	require.NoError(t, os.WriteFile(script, []byte(`#!/bin/sh
case "$1" in bound|renew)
	ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface"
	[ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
	# option 121, as a guest's DHCP client installs it
	set -- $staticroutes
	while [ $# -ge 2 ]; do ip route replace "$1" via "$2" dev "$interface"; shift 2; done ;;
esac
`), 0o755))
	f.exec(t, "ip", "netns", "exec", name, "busybox", "udhcpc", "-i", "eth0", "-O", "mtu", "-O", "staticroutes", "-n", "-q", "-f", "-t", "10", "-T", "1", "-s", script)
	require.Contains(t, f.exec(t, "ip", "netns", "exec", name, "ip", "-o", "link", "show", "dev", "eth0"), "mtu 1450",
		"the guest learns the VXLAN network's MTU from DHCP")
	out := f.exec(t, "ip", "netns", "exec", name, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
	fields := strings.Fields(out)
	for i, x := range fields {
		if x == "inet" && i+1 < len(fields) {
			return strings.Split(fields[i+1], "/")[0]
		}
	}
	t.Fatalf("guest %s has no address after dhcp: %s", name, out)
	return ""
}

// reachable reports whether a guest reaches ip: ICMP by one ping, TCP by a
// connect to port.
func flatReachable(t *testing.T, f flatHost, name, ip string, port int) bool {
	t.Helper()
	argv := []string{"ip", "netns", "exec", name, "busybox", "ping", "-c", "1", "-W", "1", ip}
	if port != 0 {
		argv = []string{"ip", "netns", "exec", name, "timeout", "2", "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", ip, port)}
	}
	_, err := f.h.Exec(t.Context(), argv...)
	return err == nil
}

// flatEventually polls reachability until it is want (rules take effect at
// once, but ARP and conntrack state may need a moment).
func flatEventually(t *testing.T, f flatHost, name, ip string, port int, want bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for flatReachable(t, f, name, ip, port) != want {
		if time.Now().After(deadline) {
			if os.Getenv("ZCLOUD_FLAT_DEBUG") != "" {
				for _, argv := range [][]string{{"ip", "-d", "link"}, {"bridge", "fdb"}, {"nft", "list", "ruleset"}, {"ip", "addr"}, {"ip", "neigh"},
					{"ip", "netns", "exec", name, "ip", "neigh"}, {"busybox", "ping", "-c1", "-W1", "10.252.0.2"}} {
					out, err := f.h.Exec(t.Context(), argv...)
					t.Logf("%v: %v\n%s", argv, err, out)
				}
			}
			t.Fatalf("%s: reachable(%s:%d from %s) is not %v", msg, ip, port, name, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// flatMetadata GETs a path of the metadata service from inside a guest and
// returns the HTTP status and body.
func flatMetadata(t *testing.T, f flatHost, name, path string) (int, string) {
	t.Helper()
	out, _ := f.h.Exec(t.Context(), "ip", "netns", "exec", name, "curl", "-s", "-m", "3", "-w", "\n%{http_code}", "http://169.254.169.254"+path)
	i := strings.LastIndexByte(string(out), '\n')
	if i < 0 {
		return 0, string(out)
	}
	var code int
	_, _ = fmt.Sscan(string(out[i+1:]), &code)
	return code, string(out[:i])
}

// flatUserdataTag changes a running VM's userdata:: system tag through the
// tag APIs (UpdateSystemTag, DeleteTag, CreateSystemTag): the guest ga on
// host f gets the new user-data at its next fetch.
func flatUserdataTag(t *testing.T, c *apitest.Client, f flatHost, vm string) {
	t.Helper()
	defer func(s time.Time) {
		t.Logf("userdata tag updated, deleted, created and served in %s", time.Since(s).Round(time.Millisecond))
	}(time.Now())
	tags, _, err := c.Query("system-tags", url.Values{"q": {"resourceUuid=" + vm, "tag~=userdata::%"}})
	require.NoError(t, err)
	require.Len(t, tags, 1)
	tagUUID := tags[0]["uuid"].(string)
	tag := func(ud string) string { return "userdata::" + base64.StdEncoding.EncodeToString([]byte(ud)) }
	updated := "#cloud-config\nhostname: vm-a-updated\n"
	inv, err := c.Action("system-tags", tagUUID, "updateSystemTag", map[string]any{"tag": tag(updated)})
	require.NoError(t, err)
	require.Equal(t, tagUUID, inv["uuid"], "the updated tag keeps its uuid")
	code, body := flatMetadata(t, f, "ga", "/latest/user-data")
	require.Equal(t, 200, code)
	require.Equal(t, updated, body, "UpdateSystemTag of userdata is served at once")

	_, err = c.Call("DELETE", "v1/tags/"+tagUUID, nil)
	require.NoError(t, err)
	code, _ = flatMetadata(t, f, "ga", "/latest/user-data")
	require.Equal(t, 404, code, "DeleteTag of userdata is served at once")

	created := "#cloud-config\nhostname: vm-a-created\n"
	_, err = c.Create("system-tags", map[string]any{"resourceType": "VmInstanceVO", "resourceUuid": vm, "tag": tag(created)})
	require.NoError(t, err)
	code, body = flatMetadata(t, f, "ga", "/latest/user-data")
	require.Equal(t, 200, code)
	require.Equal(t, created, body, "CreateSystemTag of userdata is served at once")
}

// flatMetadataServers counts the metadata servers running on a host.
func flatMetadataServers(t *testing.T, f flatHost) (n int) {
	t.Helper()
	for _, pid := range f.h.Processes() {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(b), "metadata\x00--dir") {
			n++
		}
	}
	return n
}

// flatHostState is what flat networking left on a host.
func flatHostState(t *testing.T, f flatHost) (bridges, namespaces, tables []string, dnsmasq int) {
	t.Helper()
	for _, l := range strings.Split(f.exec(t, "ip", "-o", "link", "show", "type", "bridge"), "\n") {
		if fs := strings.Fields(l); len(fs) > 1 {
			bridges = append(bridges, strings.TrimSuffix(fs[1], ":"))
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(f.exec(t, "ip", "netns", "list")), "\n") {
		if fs := strings.Fields(l); len(fs) > 0 {
			namespaces = append(namespaces, fs[0])
		}
	}
	for _, l := range strings.Split(f.exec(t, "nft", "list", "tables"), "\n") {
		if strings.Contains(l, "zcloud") {
			tables = append(tables, strings.TrimSpace(l))
		}
	}
	for _, pid := range f.h.Processes() {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(b)) == "dnsmasq" {
			dnsmasq++
		}
	}
	return bridges, namespaces, tables, dnsmasq
}

// TestFlatNetworkEndToEnd drives flat networking through the REST API on two
// test hosts running the real agent (deployed over SSH by AddKVMHost, sim
// hypervisor): a VXLAN pool realised as bridges on both hosts (the second
// host joining later), Flat DHCP leases and cross-host traffic for guests,
// security groups enforced and re-applied on changes, rollbacks of failed
// changes, and nothing left on the hosts at the end.
func TestFlatNetworkEndToEnd(t *testing.T) {
	start := time.Now()
	h1 := testhost.New(t, "flat1", testhost.Options{})
	h2 := testhost.New(t, "flat2", testhost.Options{})
	for _, bin := range []string{"dnsmasq", "busybox", "bash", "nft", "bridge", "curl"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv(testhost.RequireNetEnv) == "1" {
				t.Fatalf("%s not installed", bin)
			}
			t.Skipf("%s not installed", bin)
		}
	}
	port1, port2 := h1.StartSSHD(), h2.StartSSHD()
	// The test's guests are `ip netns` namespaces. iproute2 turns /run/netns
	// into a bind mount of itself the first time; doing it after the agent
	// mounted its DHCP namespaces there would hide those mounts from it, so
	// let iproute2 set the directory up before the agent starts.
	for _, h := range []*testhost.Host{h1, h2} {
		for _, argv := range [][]string{{"ip", "netns", "add", "zcloud-probe"}, {"ip", "netns", "del", "zcloud-probe"}} {
			_, err := h.Exec(t.Context(), argv...)
			require.NoError(t, err)
		}
	}
	// Temporal listens on host 1's root-side address; host 2 reaches it
	// through its own link (a route to a local address of the root
	// namespace needs no forwarding).
	_, err := h2.Exec(t.Context(), "ip", "route", "add", h1.RootIP().String()+"/32", "via", h2.RootIP().String())
	require.NoError(t, err)
	flatUnderlay(t, h1, h2, netip.MustParsePrefix("10.252.0.0/24"))

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
	zone := uuid(mustCreate("zones", map[string]any{"name": "zone"}))
	cluster := uuid(mustCreate("clusters", map[string]any{"zoneUuid": zone, "name": "kvm", "hypervisorType": "KVM"}))
	addHost := func(h *testhost.Host, port int) flatHost {
		t.Helper()
		s := time.Now()
		inv, err := c.Create("hosts/kvm", map[string]any{"name": h.Name(), "managementIp": h.IP().String(), "username": "root",
			"password": h.RootPassword(), "sshPort": port, "clusterUuid": cluster})
		if err != nil {
			log, _ := os.ReadFile(h.Path("/var/log/zcloud-hostworker.log"))
			t.Fatalf("add host %s: %v; agent log:\n%s", h.Name(), err, log)
		}
		require.Equal(t, "Connected", inv["status"])
		t.Logf("added host %s in %s", h.Name(), time.Since(s).Round(time.Millisecond))
		return flatHost{h: h, uuid: uuid(inv)}
	}
	host1 := addHost(h1, port1)
	ps := uuid(mustCreate("primary-storage/simulators", map[string]any{"name": "ps", "url": "/sim/ps", "zoneUuid": zone, "totalCapacity": int64(1) << 40}))
	_, err = c.Call("POST", "v1/clusters/"+cluster+"/primary-storage/"+ps, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	bs := uuid(mustCreate("backup-storage/simulators", map[string]any{"name": "bs", "url": "/sim/bs", "totalCapacity": int64(1) << 40}))
	_, err = c.Call("POST", "v1/zones/"+zone+"/backup-storage/"+bs, nil)
	require.NoError(t, err)
	image := uuid(mustCreate("images", map[string]any{"name": "image", "url": "http://127.0.0.1/image.qcow2", "backupStorageUuids": []string{bs},
		"format": "qcow2", "platform": "Linux"}))
	offering := uuid(mustCreate("instance-offerings", map[string]any{"name": "small", "cpuNum": 1, "memorySize": int64(64) << 20}))

	// A VLAN network fails cleanly on this kernel (no 802.1Q) and rolls back.
	vlan := uuid(mustCreate("l2-networks/vlan", map[string]any{"name": "v10", "zoneUuid": zone, "physicalInterface": "ul0", "vlan": 10}))
	_, err = c.Call("POST", "v1/l2-networks/"+vlan+"/clusters/"+cluster, map[string]any{})
	require.ErrorContains(t, err, "not supported", "802.1Q is not built into this kernel")
	v, err := c.Get("l2-networks", vlan)
	require.NoError(t, err)
	require.Empty(t, v["attachedClusterUuids"], "the failed attach is undone")
	br, _, _, _ := flatHostState(t, host1)
	require.NotContains(t, br, "br_ul0_10")

	// VXLAN pool attached with its VTEP CIDR: the bridge appears on host 1;
	// host 2 gets it when it connects, and each host floods to the other.
	pool := uuid(mustCreate("l2-networks/vxlan-pool", map[string]any{"name": "pool", "zoneUuid": zone}))
	mustCreate("l2-networks/vxlan-pool/"+pool+"/vni-ranges", map[string]any{"name": "r", "startVni": 7000, "endVni": 7010})
	vx := mustCreate("l2-networks/vxlan", map[string]any{"name": "vx", "poolUuid": pool})
	bridge := fmt.Sprintf("br_vx_%d", int(vx["vni"].(float64)))
	_, err = c.Call("POST", "v1/l2-networks/"+pool+"/clusters/"+cluster, map[string]any{
		"systemTags": []string{"l2NetworkUuid::" + pool + "::clusterUuid::" + cluster + "::cidr::{10.252.0.0/24}"}})
	require.NoError(t, err)
	br, _, _, _ = flatHostState(t, host1)
	require.Contains(t, br, bridge)
	host2 := addHost(h2, port2)
	br, _, _, _ = flatHostState(t, host2)
	require.Contains(t, br, bridge, "a connecting host realises its cluster's L2 networks")
	fdb1 := host1.exec(t, "bridge", "fdb", "show", "dev", "vxlan"+strings.TrimPrefix(bridge, "br_vx_"))
	require.Contains(t, fdb1, "dst 10.252.0.2", "host 1 floods to host 2's VTEP")
	fdb2 := host2.exec(t, "bridge", "fdb", "show", "dev", "vxlan"+strings.TrimPrefix(bridge, "br_vx_"))
	require.Contains(t, fdb2, "dst 10.252.0.1", "host 2 floods to host 1's VTEP")

	// An L3 with Flat DHCP, userdata and security groups.
	l3 := uuid(mustCreate("l3-networks", map[string]any{"name": "flat", "l2NetworkUuid": uuid(vx), "category": "Private", "type": "L3BasicNetwork"}))
	mustCreate("l3-networks/"+l3+"/ip-ranges/by-cidr", map[string]any{"name": "r", "networkCidr": "192.168.77.0/24"})
	providers, _, err := c.Query("network-services/providers", nil)
	require.NoError(t, err)
	byType := map[string]string{}
	for _, p := range providers {
		byType[p["type"].(string)] = p["uuid"].(string)
	}
	_, err = c.Call("POST", "v1/l3-networks/"+l3+"/network-services", map[string]any{"params": map[string]any{
		"networkServices": map[string]any{byType["Flat"]: []string{"DHCP", "Userdata"}, byType["SecurityGroup"]: []string{"SecurityGroup"}}}})
	require.NoError(t, err)

	createVM := func(name string, f flatHost, tags ...string) (vm, nic, mac, ip string) {
		t.Helper()
		inv := mustCreate("vm-instances", map[string]any{"name": name, "instanceOfferingUuid": offering, "imageUuid": image,
			"l3NetworkUuids": []string{l3}, "hostUuid": f.uuid}, tags...)
		n := inv["vmNics"].([]any)[0].(map[string]any)
		return uuid(inv), n["uuid"].(string), n["mac"].(string), n["ip"].(string)
	}

	// A failure half-way through a VM creation (after its DHCP lease and
	// firewall were set on the host) leaves nothing on the host.
	faults.Set(activities.VMSetState+":Running", "boom")
	_, err = c.Create("vm-instances", map[string]any{"name": "doomed", "instanceOfferingUuid": offering, "imageUuid": image,
		"l3NetworkUuids": []string{l3}, "hostUuid": host1.uuid})
	require.ErrorContains(t, err, "injected failure")
	faults.Set(activities.VMSetState+":Running", "")
	_, nss, _, dm := flatHostState(t, host1)
	require.Empty(t, nss, "no DHCP namespace after the rollback")
	require.Zero(t, dm, "no dnsmasq after the rollback")
	require.Zero(t, flatMetadataServers(t, host1), "no metadata server after the rollback")
	cnt, err := n.Store.Count(t.Context(), "used_ips", "1 = 1")
	require.NoError(t, err)
	require.Zero(t, cnt, "the VM's and the DHCP server's addresses are free again")

	userdata := "#cloud-config\nhostname: vm-a\n"
	vmA, nicA, macA, ipA := createVM("vm-a", host1, "userdata::"+base64.StdEncoding.EncodeToString([]byte(userdata)))
	vmB, nicB, macB, ipB := createVM("vm-b", host2)
	_, nss, _, dm = flatHostState(t, host1)
	require.Len(t, nss, 1, "host 1 runs the L3's DHCP namespace")
	require.Equal(t, 1, dm)

	flatGuest(t, host1, "ga", nicA, macA, bridge)
	flatGuest(t, host2, "gb", nicB, macB, bridge)
	s := time.Now()
	require.Equal(t, ipA, flatDHCP(t, host1, "ga"), "guest A leases its NIC's address from host 1's DHCP")
	require.Equal(t, ipB, flatDHCP(t, host2, "gb"), "guest B leases its NIC's address from host 2's DHCP")
	t.Logf("two DHCP leases in %s", time.Since(s).Round(time.Millisecond))

	// The Userdata service: each guest fetches its own data from
	// 169.254.169.254 on its host (routed there by DHCP option 121); an ssh
	// key set on the running VM is served at the next fetch.
	code, body := flatMetadata(t, host1, "ga", "/latest/user-data")
	require.Equal(t, 200, code, "guest A's user-data: %s", body)
	require.Equal(t, userdata, body)
	_, body = flatMetadata(t, host1, "ga", "/latest/meta-data/instance-id")
	require.Equal(t, vmA, body)
	code, body = flatMetadata(t, host2, "gb", "/latest/meta-data/instance-id")
	require.Equal(t, 200, code)
	require.Equal(t, vmB, body, "guest B gets its own meta-data from host 2")
	code, _ = flatMetadata(t, host2, "gb", "/latest/user-data")
	require.Equal(t, 404, code, "B has no user-data")
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMetadataTestKey0000000000000000000000000 a@flat"
	_, err = c.Action("vm-instances", vmA, "setVmSshKey", map[string]any{"SshKey": key})
	require.NoError(t, err)
	code, body = flatMetadata(t, host1, "ga", "/latest/meta-data/public-keys/0/openssh-key")
	require.Equal(t, 200, code)
	require.Equal(t, key+"\n", body, "SetVmSshKey is served at once")
	flatUserdataTag(t, c, host1, vmA)
	flatEventually(t, host1, "ga", ipB, 0, true, "A pings B across hosts over VXLAN")
	flatEventually(t, host2, "gb", ipA, 0, true, "B pings A")
	host2.h.StartDaemon("httpd-b", "ip", "netns", "exec", "gb", "busybox", "httpd", "-f", "-p", "8080", "-h", "/")
	flatEventually(t, host1, "ga", ipB, 8080, true, "A reaches B's TCP 8080 with no group")

	// B joins a group: only members may reach it (ZStack's default rule).
	sg := uuid(mustCreate("security-groups", map[string]any{"name": "web"}))
	_, err = c.Call("POST", "v1/security-groups/"+sg+"/l3-networks/"+l3, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	mustCreate("security-groups/"+sg+"/vm-instances/nics", map[string]any{"vmNicUuids": []string{nicB}})
	flatEventually(t, host1, "ga", ipB, 0, false, "ICMP to B is blocked")
	flatEventually(t, host1, "ga", ipB, 8080, false, "TCP to B is blocked")

	// A rule the host cannot enforce (DROP) fails on the host and is undone.
	_, err = c.Create("security-groups/"+sg+"/rules", map[string]any{"rules": []map[string]any{
		{"type": "Ingress", "protocol": "ICMP", "action": "DROP"}}})
	if err == nil {
		all, _ := c.ListAll("security-groups/rules", "securityGroupUuid="+sg)
		t.Logf("rules: %v", all)
	}
	require.ErrorContains(t, err, "ACCEPT rules only")
	rules, err := c.ListAll("security-groups/rules", "securityGroupUuid="+sg)
	require.NoError(t, err)
	require.Len(t, rules, 1, "the failed rule is removed again")

	// Rules open ICMP, then TCP 8080.
	g := mustCreate("security-groups/"+sg+"/rules", map[string]any{"rules": []map[string]any{{"type": "Ingress", "protocol": "ICMP", "allowedCidr": "192.168.77.0/24"}}})
	flatEventually(t, host1, "ga", ipB, 0, true, "ICMP allowed by the new rule")
	require.False(t, flatReachable(t, host1, "ga", ipB, 8080), "TCP still blocked")
	mustCreate("security-groups/"+sg+"/rules", map[string]any{"rules": []map[string]any{{"type": "Ingress", "protocol": "TCP", "startPort": 8080, "endPort": 8080}}})
	flatEventually(t, host1, "ga", ipB, 8080, true, "TCP 8080 allowed by the new rule")
	var icmpRule string
	for _, r := range g["rules"].([]any) {
		if m := r.(map[string]any); m["protocol"] == "ICMP" {
			icmpRule = m["uuid"].(string)
		}
	}
	// A DELETE carries its lists in the query string, as the SDK sends them.
	_, err = c.Call("DELETE", "v1/security-groups/rules?ruleUuids="+icmpRule, nil)
	require.NoError(t, err)
	flatEventually(t, host1, "ga", ipB, 0, false, "ICMP blocked again after its rule is deleted")

	// A joins too: members reach each other through the default rule.
	mustCreate("security-groups/"+sg+"/vm-instances/nics", map[string]any{"vmNicUuids": []string{nicA}})
	flatEventually(t, host1, "ga", ipB, 0, true, "member A reaches member B")

	// Removing B's membership removes its rules; deleting the group removes A's.
	_, err = c.Call("DELETE", "v1/security-groups/"+sg+"/vm-instances/nics?vmNicUuids="+nicB, nil)
	require.NoError(t, err)
	sgTables := func(f flatHost) []string {
		_, _, tables, _ := flatHostState(t, f)
		var sg []string
		for _, x := range tables {
			if strings.Contains(x, "zcloud_sg") {
				sg = append(sg, x)
			}
		}
		return sg
	}
	require.Empty(t, sgTables(host2), "host 2 has no filtered NIC left")
	require.NotEmpty(t, sgTables(host1), "A is still filtered")
	flatEventually(t, host1, "ga", ipB, 8080, true, "B is unfiltered again")
	require.NoError(t, c.Delete("security-groups", sg))
	require.Empty(t, sgTables(host1), "no firewall left once the group is gone")

	// B stops: host 2 has no NIC of the L3 left and stops serving it. B
	// starts on host 1, whose DHCP now leases both NICs.
	dhcpNS := func(f flatHost) (n int) {
		_, nss, _, _ := flatHostState(t, f)
		for _, x := range nss {
			if strings.HasPrefix(x, "zd-") {
				n++
			}
		}
		return n
	}
	_, err = c.Action("vm-instances", vmB, "stopVmInstance", map[string]any{})
	require.NoError(t, err)
	require.Zero(t, dhcpNS(host2), "host 2 stopped serving the L3")
	_, _, _, dm = flatHostState(t, host2)
	require.Zero(t, dm)
	flatUnplug(t, host2, "gb", nicB)
	_, err = c.Action("vm-instances", vmB, "startVmInstance", map[string]any{"hostUuid": host1.uuid})
	require.NoError(t, err)
	require.Equal(t, 1, dhcpNS(host1))
	flatGuest(t, host1, "gb", nicB, macB, bridge)
	require.Equal(t, ipB, flatDHCP(t, host1, "gb"), "B leases its address from host 1 after moving there")
	flatEventually(t, host1, "ga", ipB, 0, true, "A pings B on the same host")

	// A migration gives the destination B's lease before the hypervisor
	// moves the domain. Sim agents in separate processes cannot migrate, so
	// the migration fails and its rollback takes the lease off host 2 again.
	leases := func(f flatHost) string {
		b, err := os.ReadFile(f.h.Path("/run/zcloud/network/dhcp-" + l3 + "/hosts"))
		if err != nil {
			return ""
		}
		return string(b)
	}
	require.Contains(t, leases(host1), macB)
	_, err = c.Action("vm-instances", vmB, "migrateVm", map[string]any{"hostUuid": host2.uuid})
	require.ErrorContains(t, err, "no migration peers")
	require.Zero(t, dhcpNS(host2), "the failed migration's DHCP on host 2 is undone")
	require.Contains(t, leases(host1), macB, "B keeps its lease where it runs")
	flatEventually(t, host1, "ga", ipB, 0, true, "A still pings B")
	vms := []struct {
		vm, nic, g string
		f          flatHost
	}{{vmA, nicA, "ga", host1}, {vmB, nicB, "gb", host1}}

	// VMs go: their leases and the DHCP servers go with them, the L3 and
	// the pool's attachment go, and nothing is left on either host.
	for _, x := range vms {
		require.NoError(t, c.Delete("vm-instances", x.vm))
		flatUnplug(t, x.f, x.g, x.nic)
		_, err = c.Action("vm-instances", x.vm, "expungeVmInstance", map[string]any{})
		require.NoError(t, err)
	}
	require.NoError(t, c.Delete("l3-networks", l3))
	_, err = c.Call("DELETE", "v1/l2-networks/"+pool+"/clusters/"+cluster, nil)
	require.NoError(t, err)
	for _, f := range []flatHost{host1, host2} {
		bridges, nss, tables, dm := flatHostState(t, f)
		require.Empty(t, bridges, "bridges left on %s", f.h.Name())
		require.Empty(t, nss, "namespaces left on %s", f.h.Name())
		require.Empty(t, tables, "nft tables left on %s", f.h.Name())
		require.Zero(t, dm, "dnsmasq left on %s", f.h.Name())
		require.Zero(t, flatMetadataServers(t, f), "metadata server left on %s", f.h.Name())
	}

	// A host leaving its cluster leaves the others' flood lists.
	_, err = c.Call("POST", "v1/l2-networks/"+pool+"/clusters/"+cluster, map[string]any{
		"systemTags": []string{"l2NetworkUuid::" + pool + "::clusterUuid::" + cluster + "::cidr::{10.252.0.0/24}"}})
	require.NoError(t, err)
	require.Contains(t, host1.exec(t, "bridge", "fdb", "show", "dev", "vxlan"+strings.TrimPrefix(bridge, "br_vx_")), "dst 10.252.0.2")
	require.NoError(t, c.Delete("hosts", host2.uuid))
	require.NotContains(t, host1.exec(t, "bridge", "fdb", "show", "dev", "vxlan"+strings.TrimPrefix(bridge, "br_vx_")), "dst 10.252.0.2",
		"host 1 no longer floods to the deleted host")
	_, err = c.Call("DELETE", "v1/l2-networks/"+pool+"/clusters/"+cluster, nil)
	require.NoError(t, err)
	bridges, _, _, _ := flatHostState(t, host1)
	require.Empty(t, bridges)
	t.Logf("flat network end to end in %s", time.Since(start).Round(time.Millisecond))
}
