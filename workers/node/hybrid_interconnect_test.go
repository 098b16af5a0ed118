package node_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/aliyun"
	"github.com/zcloud/zcloud/activities/aliyun/aliyunsim"
	"github.com/zcloud/zcloud/activities/db"
	"github.com/zcloud/zcloud/api/apitest"
	"github.com/zcloud/zcloud/hostworker/router"
	"github.com/zcloud/zcloud/hostworker/testhost"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/workers/embedded"
	"github.com/zcloud/zcloud/workers/node"
)

// interconnectSides is both ends of an interconnect: the Alibaba VPC with
// its VRouter and VPN gateway, and a local private L3 with a public VIP.
type interconnectSides struct {
	hy             hybridInfra
	vr, gw, gwIP   string
	l3, vip, vipIP string
}

func (h *hybridEnv) interconnectSides() interconnectSides {
	h.t.Helper()
	var s interconnectSides
	s.hy = h.buildHybridInfra()
	s.vr = h.syncVRouter(s.hy)
	gw := h.vpnGateway(s.hy)
	s.gw, s.gwIP = gw["uuid"].(string), gw["publicIp"].(string)

	in := h.buildInfra(1)
	s.l3 = in.l3
	pubL2 := h.mustCreate("l2-networks/no-vlan", map[string]any{"name": "pub", "zoneUuid": in.zone, "physicalInterface": "eth1"})
	_, err := h.c.Call(http.MethodPost, "v1/l2-networks/"+pubL2+"/clusters/"+in.cluster, map[string]any{})
	require.NoError(h.t, err)
	public := h.mustCreate("l3-networks", map[string]any{"name": "public", "l2NetworkUuid": pubL2, "category": "Public"})
	h.mustCreate("l3-networks/"+public+"/ip-ranges/by-cidr", map[string]any{"name": "pub", "networkCidr": "198.51.100.0/24"})
	vip, err := h.c.Create("vips", map[string]any{"name": "cpe", "l3NetworkUuid": public, "requiredIp": "198.51.100.50"})
	require.NoError(h.t, err)
	s.vip, s.vipIP = vip["uuid"].(string), vip["ip"].(string)
	return s
}

func (s interconnectSides) params(name string) map[string]any {
	return map[string]any{"name": name, "l3networkUuid": s.l3, "vpcUuid": s.hy.vpc, "vbrUuid": s.gw, "cpeIp": s.vipIP, "direction": "both"}
}

// requireNothingLeft checks that a failed interconnect left nothing on
// either side: no customer gateway, VPN connection or custom route at
// Alibaba; no row of any piece locally.
func (h *hybridEnv) requireNothingLeft(step string) {
	t := h.t
	t.Helper()
	require.Empty(t, h.sim.CustomerGateways(), "%s: customer gateway left at Alibaba", step)
	require.Empty(t, h.sim.VpnConnections(), "%s: vpn connection left at Alibaba", step)
	require.Empty(t, h.sim.RouteEntries(), "%s: route left at Alibaba", step)
	for _, table := range []string{"vpc_user_vpn_gateways", "vpc_vpn_ike_configs", "vpc_vpn_ipsec_configs", "vpc_vpn_connections",
		"vpc_virtual_route_entries", "ipsec_connections", "ipsec_peer_cidrs", "hybrid_connections", "router_change_journal"} {
		require.Zero(t, h.count(table), "%s: rows left in %s", step, table)
	}
}

// TestHybridInterconnectRollsBack proves the one-step interconnect's saga
// across both clouds without a router host: a failure injected at each
// Alibaba step before the local one, and the local IPsec step itself
// (simulated hosts run no VPC router, so the L3 has none), each undo every
// completed step on both sides.
func TestHybridInterconnectRollsBack(t *testing.T) {
	h := newHybridEnv(t, "sqlite::memory:", nil)
	s := h.interconnectSides()
	var apiErr *apitest.APIError

	for _, step := range []struct{ action, code string }{
		{"CreateCustomerGateway", "Forbidden.RAM"},
		{"CreateVpnConnection", "VpnConnection.Configuring"},
		{"DescribeVpnConnections", "Forbidden.RAM"}, // the new connection never reads back
	} {
		h.sim.InjectError(step.action, step.code, http.StatusForbidden)
		_, err := h.c.Create("hybrid/aliyun/connections", s.params("ic-"+step.action))
		require.ErrorAs(t, err, &apiErr, step.action)
		require.Contains(t, apiErr.Error(), step.code)
		h.sim.ClearFaults()
		h.requireNothingLeft(step.action)
	}

	// The local IPsec step: the customer gateway and the VPN connection
	// were made at Alibaba, and are deleted again.
	cgwCalls, vcoCalls, delCalls := h.sim.Calls("CreateCustomerGateway"), h.sim.Calls("CreateVpnConnection"), h.sim.Calls("DeleteVpnConnection")
	_, err := h.c.Create("hybrid/aliyun/connections", s.params("ic-local"))
	require.ErrorAs(t, err, &apiErr)
	require.Contains(t, apiErr.Error(), "attached to no vpc router")
	// (A create may be retried while the gateway is still "updating" from
	// the previous rollback; the ClientToken makes it one connection.)
	require.Greater(t, h.sim.Calls("CreateCustomerGateway"), cgwCalls, "the customer gateway was made")
	require.Greater(t, h.sim.Calls("CreateVpnConnection"), vcoCalls, "the vpn connection was made")
	require.Greater(t, h.sim.Calls("DeleteVpnConnection"), delCalls, "and deleted by the rollback")
	h.requireNothingLeft("local ipsec")
	require.Equal(t, 1, h.count("vips"), "the local VIP is untouched")
}

// newHybridRouterLab is newRouterLab (a real zcloud-hostworker in a test
// host serving VPC routers as namespaces) whose control plane also manages
// aliyunsim, the fake Alibaba.
//
// aliyunsim realizes its VPN connections: a hostworker/router namespace
// plays the Alibaba VPN gateway on the public bridge pub0, where it also
// holds 198.51.100.1, the public network's gateway (the "internet" the
// local VPC router routes Alibaba's addresses to), with the VSwitch
// network 172.16.1.0/24 on the bridge alyvsw, where tests put a guest.
func newHybridRouterLab(t *testing.T) (*routerLab, *aliyunsim.Server, *aliyunGateway) {
	requireRouterLab(t)
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		t.Setenv(k, "")
	}
	bin := buildRouterAgent(t)
	stateDir, err := os.MkdirTemp("", "zrt")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(stateDir) })
	h := testhost.New(t, "hy", testhost.Options{})
	srv, err := embedded.Start(t.Context(), embedded.Options{Host: h.RootIP().String(), Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	gwDir := t.TempDir()
	m, err := router.New(router.Config{StateDir: gwDir, HostNetNS: fmt.Sprintf("/proc/%d/ns/net", h.PID()), Logger: quietLogger()})
	require.NoError(t, err)
	gw := &aliyunGateway{m: m, stateDir: gwDir, publicBridge: "br_pub0", public: netip.MustParsePrefix("198.51.100.1/24"),
		vswBridge: "br_alyvsw", vswGateway: netip.MustParsePrefix("172.16.1.1/24"),
		specs: map[string]*router.Spec{}, owner: map[string]string{}}
	t.Cleanup(func() {
		if err := gw.deleteAll(context.Background()); err != nil {
			t.Errorf("remove the alibaba gateway namespaces: %v", err)
		}
	})
	sim, err := aliyunsim.New(aliyunsim.Options{TransitionDelay: 100 * time.Millisecond, Logger: quietLogger(), VPNRealizer: gw})
	require.NoError(t, err)
	sim.AddAccessKey(simAK, simSecret, simAccount)
	require.NoError(t, sim.Start("127.0.0.1:0"))
	t.Cleanup(func() { _ = sim.Close() })

	l := &routerLab{t: t, h: h, host: models.NewUUID(), stateDir: stateDir}
	agentPID := h.StartDaemon("agent", bin, "--host-uuid", l.host, "--temporal", srv.FrontendAddr(), "--namespace", srv.Namespace(),
		"--driver", "sim", "--state-dir", stateDir, "--log-level", "info")
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddr(), Namespace: srv.Namespace(), Logger: routerNopLogger{}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	fleet := worker.New(c, activities.SimQueue, worker.Options{})
	fleet.RegisterActivityWithOptions(func(_ context.Context, p activities.SimAgentParams) error {
		if p.HostUUID != l.host || syscall.Kill(agentPID, 0) != nil {
			return fmt.Errorf("no agent runs for host %s", p.HostUUID)
		}
		return nil
	}, activity.RegisterOptions{Name: activities.SimEnsureAgent})
	fleet.RegisterActivityWithOptions(func(context.Context, activities.SimAgentParams) error { return nil },
		activity.RegisterOptions{Name: activities.SimStopAgent})
	require.NoError(t, fleet.Start())
	t.Cleanup(fleet.Stop)

	key := make([]byte, aliyun.KeySize)
	_, _ = rand.Read(key)
	l.n, err = node.Start(t.Context(), node.Config{DB: "sqlite::memory:", Temporal: srv.FrontendAddr(), Namespace: srv.Namespace(),
		Listen: "127.0.0.1:0", Worker: true, AdminPassword: "password", Faults: &db.Faults{}, Logger: quietLogger(),
		Aliyun: aliyun.Config{Endpoint: sim.URL(), SecretKey: key, PollInterval: 50 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(l.n.Stop)
	l.c = apitest.New(l.n.Addr)
	require.NoError(t, l.c.Login("admin", "password"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", routerTail(h.DaemonLog("agent"), 60))
		}
	})
	return l, sim, gw
}

// TestHybridInterconnectWithRouter runs the one-step interconnect against a
// real VPC router (a namespace with strongSwan in a test host) and
// aliyunsim: a failure injected at the last remote step (the route at
// Alibaba) undoes the local IPsec connection (the router is converged
// without it) and the Alibaba pieces; then the interconnect is made, both
// sides hold the same generated key, the router's charon has the
// connection loaded, a guest behind the router pings a guest behind the
// realized Alibaba gateway (aliyunsim's VPNRealizer: a strongSwan endpoint
// in a namespace on the public bridge) through the tunnel, not NATed, and
// the delete removes every piece on both sides, the gateway's namespace
// included.
func TestHybridInterconnectWithRouter(t *testing.T) {
	l, sim, alyGW := newHybridRouterLab(t)
	h := &hybridEnv{env: &env{t: t, n: l.n, c: l.c}, sim: sim}
	var s interconnectSides
	s.hy = h.buildHybridInfra()
	s.vr = h.syncVRouter(s.hy)
	gw := h.vpnGateway(s.hy)
	s.gw, s.gwIP = gw["uuid"].(string), gw["publicIp"].(string)

	// The local side: a VPC router on a public network serving a private L3.
	zone := l.mustCreate("zones", map[string]any{"name": "zone"})["uuid"].(string)
	cluster := l.mustCreate("clusters", map[string]any{"zoneUuid": zone, "name": "cluster", "hypervisorType": "Simulator"})["uuid"].(string)
	_, err := l.c.Create("hosts/simulators", map[string]any{"name": "host", "managementIp": l.h.IP().String(), "clusterUuid": cluster,
		"cpuCapacity": 8, "memoryCapacity": int64(16) << 30}, "resourceUuid::"+l.host)
	require.NoError(t, err)
	ps := l.mustCreate("primary-storage/simulators", map[string]any{"name": "ps", "url": "/sim/ps", "zoneUuid": zone, "totalCapacity": int64(1) << 40})["uuid"].(string)
	l.call("POST", "clusters/"+cluster+"/primary-storage/"+ps, map[string]any{"params": map[string]any{}})
	bs := l.mustCreate("backup-storage/simulators", map[string]any{"name": "bs", "url": "/sim/bs", "totalCapacity": int64(1) << 40})["uuid"].(string)
	l.call("POST", "zones/"+zone+"/backup-storage/"+bs, nil)
	image := l.mustCreate("images", map[string]any{"name": "vrouter", "url": "http://127.0.0.1/vrouter.qcow2", "backupStorageUuids": []string{bs},
		"format": "qcow2", "platform": "Linux"})["uuid"].(string)
	l3 := func(name, phys, category, cidr string) string {
		l2 := l.mustCreate("l2-networks/no-vlan", map[string]any{"name": name, "zoneUuid": zone, "physicalInterface": phys})["uuid"].(string)
		l.call("POST", "l2-networks/"+l2+"/clusters/"+cluster, map[string]any{})
		u := l.mustCreate("l3-networks", map[string]any{"name": name, "l2NetworkUuid": l2, "category": category})["uuid"].(string)
		l.mustCreate("l3-networks/"+u+"/ip-ranges/by-cidr", map[string]any{"name": name, "networkCidr": cidr})
		return u
	}
	l.bridge("pub0")
	l.bridge("vpca")
	// A guest on each side: behind the local VPC router, and in the
	// Alibaba VSwitch behind the realized VPN gateway.
	l.bridge("alyvsw")
	const localGuest, alyGuest = "172.31.1.200", "172.16.1.10"
	l.guest("gl", "vpca", localGuest+"/24", "172.31.1.1", "")
	l.guest("gy", "alyvsw", alyGuest+"/24", "172.16.1.1", "")
	public := l3("public", "pub0", "Public", "198.51.100.0/24")
	s.l3 = l3("vpc-a", "vpca", "Private", "172.31.1.0/24")
	vro := l.mustCreate("instance-offerings/virtual-routers", map[string]any{"name": "vro", "zoneUuid": zone, "managementNetworkUuid": public,
		"publicNetworkUuid": public, "imageUuid": image, "cpuNum": 1, "memorySize": int64(256) << 20})["uuid"].(string)
	router := l.mustCreate("vpc/virtual-routers", map[string]any{"name": "vr", "virtualRouterOfferingUuid": vro})["uuid"].(string)
	// The router's daemons live in its own namespaces, out of reach of the
	// test host's cleanup: delete it even when the test fails half-way.
	t.Cleanup(func() { _ = l.c.Delete("vm-instances", router) })
	_, err = l.c.Call("POST", "v1/vm-instances/"+router+"/l3-networks/"+s.l3, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	vip := l.mustCreate("vips", map[string]any{"name": "cpe", "l3NetworkUuid": public})
	s.vip, s.vipIP = vip["uuid"].(string), vip["ip"].(string)
	vici := filepath.Join(l.stateDir, "routers", router, "ipsec", "charon.vici")
	// The router runs charon only while it has IPsec connections.
	conns := func() string {
		if _, err := os.Stat(vici); err != nil {
			return ""
		}
		return l.exec("swanctl", "--list-conns", "--uri", "unix://"+vici)
	}

	// The route at Alibaba fails: everything before it is undone.
	var apiErr *apitest.APIError
	h.sim.InjectError("CreateRouteEntry", "Forbidden.RAM", http.StatusForbidden)
	start := time.Now()
	_, err = l.c.Create("hybrid/aliyun/connections", s.params("ic-route"))
	require.ErrorAs(t, err, &apiErr)
	require.Contains(t, apiErr.Error(), "Forbidden.RAM")
	t.Logf("TIMING failed interconnect with rollback: %s", time.Since(start).Round(time.Millisecond))
	h.sim.ClearFaults()
	require.Greater(t, h.sim.Calls("CreateVpnConnection"), 0, "the vpn connection was made before the route")
	h.requireNothingLeft("route entry")
	require.NotContains(t, conns(), "172.16.1.0/24", "the router runs no IPsec connection to Alibaba")

	start = time.Now()
	ic := l.mustCreate("hybrid/aliyun/connections", s.params("ic"))
	t.Logf("TIMING interconnect: %s", time.Since(start).Round(time.Millisecond))
	require.Contains(t, ic["relationShips"], "l3network:"+s.l3)
	cgws := h.sim.CustomerGateways()
	require.Len(t, cgws, 1)
	require.Equal(t, s.vipIP, cgws[0].IPAddress)
	vcos := h.sim.VpnConnections()
	require.Len(t, vcos, 1)
	require.Equal(t, "172.16.1.0/24", vcos[0].LocalSubnet, "Alibaba's side of the tunnel")
	require.Equal(t, "172.31.1.0/24", vcos[0].RemoteSubnet, "the local L3")
	routes := h.sim.RouteEntries()
	require.Len(t, routes, 1)
	require.Equal(t, "172.31.1.0/24", routes[0].DestinationCidrBlock)
	var authKey, peer string
	require.NoError(t, l.n.Store.DB().QueryRowContext(context.Background(), "SELECT auth_key, peer_address FROM ipsec_connections").Scan(&authKey, &peer))
	require.Equal(t, s.gwIP, peer)
	psk := vcos[0].IkeConfig.Psk
	require.Len(t, psk, 32, "a generated key")
	require.NotContains(t, authKey, psk, "the router tables keep the key encrypted")
	require.True(t, strings.HasPrefix(authKey, "gcm1:"), "stored encrypted")
	swanctl, err := os.ReadFile(filepath.Join(filepath.Dir(vici), "swanctl.conf"))
	require.NoError(t, err)
	require.Contains(t, string(swanctl), `secret = "`+psk+`"`, "both sides hold the same key")
	found := historiesWith(t, l.n.Temporal, psk)
	require.NotZero(t, found[""])
	require.Zero(t, found[psk], "the generated key is in %d of %d workflow histories", found[psk], found[""])
	var sealed string
	require.NoError(t, l.n.Store.DB().QueryRowContext(context.Background(), "SELECT psk FROM vpc_vpn_ike_configs").Scan(&sealed))
	require.NotContains(t, sealed, authKey, "the hybrid side stores the key encrypted")
	require.Contains(t, conns(), "172.16.1.0/24", "charon on the router has the connection")
	// The tunnel is real: the local guest reaches the guest behind the
	// Alibaba gateway, which sees the local guest's own address.
	alyRouter := hexID(vcos[0].VpnGatewayID)
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{filepath.Join(alyGW.stateDir, alyRouter, "ipsec", "charon.log"),
				filepath.Join(l.stateDir, "routers", router, "ipsec", "charon.log")} {
				b, _ := os.ReadFile(f)
				t.Logf("%s:\n%s", f, routerTail(string(b), 15))
			}
			for _, args := range [][]string{{"route"}, {"neigh"}, {"addr"}} {
				out, _ := l.h.Exec(context.Background(), append([]string{"ip", "-n", routerNamespace(router)}, args...)...)
				t.Logf("local router %v:\n%s", args, out)
				out, _ = exec.Command("ip", append([]string{"-n", routerNamespace(alyRouter)}, args...)...).CombinedOutput()
				t.Logf("alibaba gateway %v:\n%s", args, out)
			}
		}
	})
	start = time.Now()
	routerPoll(t, 25*time.Second, "local guest reaches the Alibaba guest through the tunnel", func() error { return l.ping("gl", alyGuest) })
	t.Logf("TIMING tunnel to the Alibaba gateway up (first ping through): %s", time.Since(start).Round(time.Millisecond))
	sa, err := alyGW.m.IPsecStatus(t.Context(), alyRouter, hexID(vcos[0].VpnConnectionID))
	require.NoError(t, err)
	require.Equal(t, "ESTABLISHED", sa.IKEState, sa.Raw)
	require.Equal(t, "INSTALLED", sa.ChildState, sa.Raw)
	l.server("gy", "80")
	seen, err := l.peer("gl", "http://"+alyGuest+"/cgi-bin/peer")
	require.NoError(t, err)
	require.Equal(t, localGuest, seen, "tunnel traffic is not NATed")
	require.Len(t, h.inventories("hybrid/aliyun/relationships"), 1)
	for _, by := range []struct{ uuid, typ string }{{router, "vroutervm"}, {s.l3, "l3network"}, {s.hy.vpc, "vpc"}} {
		out, err := l.c.Call(http.MethodPost, "v1/hybrid/aliyun/relationships", map[string]any{"params": map[string]any{"uuid": by.uuid, "resourceType": by.typ}})
		require.NoError(t, err, by.typ)
		var got []map[string]any
		require.NoError(t, json.Unmarshal(out["inventories"], &got))
		require.Len(t, got, 1, by.typ)
		require.Equal(t, ic["uuid"], got[0]["uuid"], by.typ)
	}
	h.put("hybrid/aliyun/connections/"+ic["uuid"].(string), "updateConnectionBetweenL3NetWorkAndAliyunVSwitch", map[string]any{"name": "ic-renamed"})
	got, err := l.c.Get("hybrid/aliyun/relationships", ic["uuid"].(string))
	require.NoError(t, err)
	require.Equal(t, "ic-renamed", got["name"])

	h.del("hybrid/aliyun/connections/" + ic["uuid"].(string))
	h.requireNothingLeft("delete")
	require.NotContains(t, conns(), "172.16.1.0/24")
	_, err = os.Stat("/run/netns/" + routerNamespace(alyRouter))
	require.ErrorIs(t, err, os.ErrNotExist, "the Alibaba gateway's namespace went with its last connection")
	require.Error(t, l.ping("gl", alyGuest), "no tunnel any more")
	require.NoError(t, l.c.Delete("vm-instances", router), "DestroyVmInstance of the router")
	_, err = os.Stat("/run/netns/" + routerNamespace(router))
	require.ErrorIs(t, err, os.ErrNotExist, "the local router's namespace is gone")
}
