package node_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/api/apitest"
)

// vpcClient is an SDK client of aliyunsim's VPC service, for what a user
// does at Alibaba outside ZCloud (buying a VPN gateway, ordering a VBR).
func (h *hybridEnv) vpcClient(t testing.TB) *vpc.Client {
	t.Helper()
	cl, err := vpc.NewClientWithOptions("cn-hangzhou", sdk.NewConfig().WithScheme("HTTP"), credentials.NewAccessKeyCredential(simAK, simSecret))
	require.NoError(t, err)
	cl.Domain = h.sim.Endpoint()
	return cl
}

// syncList runs a Sync*FromRemote API and returns its inventories.
func (h *hybridEnv) syncList(path, key string, params map[string]any) []map[string]any {
	h.t.Helper()
	var l []map[string]any
	require.NoError(h.t, json.Unmarshal(h.put(path, key, params)["inventories"], &l))
	return l
}

// syncVRouter syncs the VPC's VRouter and returns its UUID.
func (h *hybridEnv) syncVRouter(in hybridInfra) string {
	h.t.Helper()
	vrs := h.syncList("hybrid/aliyun/vrouter/"+in.vpc+"/sync", "syncAliyunVirtualRouterFromRemote", map[string]any{})
	require.Len(h.t, vrs, 1)
	return vrs[0]["uuid"].(string)
}

// TestHybridExpressConnect drives Express Connect through the REST API
// against aliyunsim: a VBR ordered at Alibaba is synced, updated,
// terminated and recovered; router interfaces on the VBR and on the VPC's
// VRouter are created, paired, connected, used as next hops of routes in
// both tables, deactivated, synced without twins and deleted; a failure
// after a create removes the remote interface again.
func TestHybridExpressConnect(t *testing.T) {
	h := newHybridEnv(t, "sqlite::memory:", nil)
	in := h.buildHybridInfra()
	vr := h.syncVRouter(in)
	var apiErr *apitest.APIError

	// The leased line and its VBR are ordered at Alibaba by hand.
	pc := h.sim.AddPhysicalConnection(simAccount, "cn-hangzhou", "line-1")
	req := vpc.CreateCreateVirtualBorderRouterRequest()
	req.RegionId, req.PhysicalConnectionId, req.VlanId = "cn-hangzhou", pc, requests.NewInteger(100)
	req.LocalGatewayIp, req.PeerGatewayIp, req.PeeringSubnetMask, req.Name = "10.0.0.1", "10.0.0.2", "255.255.255.252", "vbr-1"
	_, err := h.vpcClient(t).CreateVirtualBorderRouter(req)
	require.NoError(t, err)

	vbrs := h.syncList("hybrid/aliyun/border-router/"+in.dc+"/sync", "syncVirtualBorderRouterFromRemote", map[string]any{})
	require.Len(t, vbrs, 1)
	require.Equal(t, "100", vbrs[0]["vlanId"])
	require.Equal(t, "active", vbrs[0]["status"])
	vbr := vbrs[0]["uuid"].(string)
	again := h.syncList("hybrid/aliyun/border-router/"+in.dc+"/sync", "syncVirtualBorderRouterFromRemote", map[string]any{})
	require.Len(t, again, 1)
	require.Equal(t, vbr, again[0]["uuid"], "a second sync finds the row, no twin")
	require.Len(t, h.inventories("hybrid/aliyun/border-router"), 1)

	up := h.put("hybrid/aliyun/border-router/"+vbr+"/actions", "updateVirtualBorderRouterRemote",
		map[string]any{"name": "vbr-renamed", "peerGatewayIp": "10.0.0.3"})
	var inv map[string]any
	require.NoError(t, json.Unmarshal(up["inventory"], &inv))
	require.Equal(t, "vbr-renamed", inv["name"])
	require.Equal(t, "10.0.0.3", h.sim.Vbrs()[0].PeerGatewayIP, "the change reached Alibaba")

	require.NoError(t, json.Unmarshal(h.put("hybrid/aliyun/border-router/"+vbr+"/actions", "terminateVirtualBorderRouterRemote", map[string]any{})["inventory"], &inv))
	require.Equal(t, "terminated", inv["status"])
	require.NoError(t, json.Unmarshal(h.put("hybrid/aliyun/border-router/"+vbr+"/actions", "recoveryVirtualBorderRouterRemote", map[string]any{})["inventory"], &inv))
	require.Equal(t, "active", inv["status"])

	// A failure after the create (the interface never reads back) deletes it again.
	h.sim.InjectError("DescribeRouterInterfaces", "Forbidden.RAM", http.StatusForbidden)
	_, err = h.c.Create("hybrid/aliyun/router-interface", map[string]any{"dataCenterUuid": in.dc, "vRouterUuid": vbr, "routerType": "VBR", "name": "ri-bad"})
	require.ErrorAs(t, err, &apiErr)
	require.Empty(t, h.sim.RouterInterfaces(), "no remote interface left")
	require.Zero(t, h.count("aliyun_router_interfaces"))

	vbrRI := h.post("hybrid/aliyun/router-interface", map[string]any{"dataCenterUuid": in.dc, "vRouterUuid": vbr, "routerType": "VBR", "name": "ri-vbr", "spec": "Small.1"})
	require.Equal(t, "InitiatingSide", vbrRI["role"])
	require.Equal(t, "Idle", vbrRI["status"])
	require.Equal(t, vbr, vbrRI["virtualRouterUuid"])
	vrRI := h.post("hybrid/aliyun/router-interface", map[string]any{"dataCenterUuid": in.dc, "vRouterUuid": vr, "routerType": "VRouter", "name": "ri-vr"})
	require.Equal(t, "AcceptingSide", vrRI["role"])
	require.Equal(t, vr, vrRI["virtualRouterUuid"])

	h.put("hybrid/aliyun/router-interface/"+vbrRI["uuid"].(string)+"/actions", "startConnectionBetweenAliyunRouterInterface",
		map[string]any{"vbrInterfaceUuid": vbrRI["uuid"], "vrouterInterfaceUuid": vrRI["uuid"]})
	for _, ri := range h.sim.RouterInterfaces() {
		require.Equal(t, "Active", ri.Status, ri.RouterInterfaceID)
	}
	ris := h.syncList("hybrid/aliyun/router-interface/"+in.dc+"/sync", "syncAliyunRouterInterfaceFromRemote", map[string]any{})
	require.Len(t, ris, 2, "the sync finds both rows, no twins")
	for _, ri := range ris {
		require.Equal(t, "Active", ri["status"])
		want := vrRI["uuid"]
		if ri["uuid"] == vrRI["uuid"] {
			want = vbrRI["uuid"]
		}
		require.Equal(t, want, ri["oppositeInterfaceUuid"], "each end names its opposite")
	}

	// Routes through the pair: the VPC to the line, the VBR back to the VPC.
	toLine := h.post("hybrid/aliyun/route-entry", map[string]any{"vRouterUuid": vr, "vRouterType": "vrouter", "dstCidrBlock": "192.168.0.0/16",
		"nextHopUuid": vrRI["uuid"], "nextHopType": "RouterInterface"})
	require.Equal(t, vrRI["routerInterfaceId"], toLine["nextHopId"])
	toVpc := h.post("hybrid/aliyun/route-entry", map[string]any{"vRouterUuid": vbr, "vRouterType": "vbr", "dstCidrBlock": "172.16.1.0/24",
		"nextHopUuid": vbrRI["uuid"], "nextHopType": "RouterInterface"})
	require.Equal(t, "vbr", toVpc["vRouterType"])
	routes := h.syncList("hybrid/aliyun/route-entry/"+vbr+"/sync", "syncAliyunRouteEntryFromRemote", map[string]any{"vRouterType": "vbr"})
	require.Len(t, routes, 1)
	require.Equal(t, toVpc["uuid"], routes[0]["uuid"])
	_, err = h.c.Call(http.MethodDelete, "v1/hybrid/aliyun/router-interface/remote/"+vrRI["uuid"].(string)+"?vRouterType=vrouter", nil)
	require.ErrorAs(t, err, &apiErr, "an interface a route points at is kept")
	h.del("hybrid/aliyun/route-entry/" + toLine["uuid"].(string))
	h.del("hybrid/aliyun/route-entry/" + toVpc["uuid"].(string))
	require.Empty(t, h.sim.RouteEntries())

	require.NoError(t, json.Unmarshal(h.put("hybrid/aliyun/router-interface/"+vrRI["uuid"].(string)+"/actions", "updateAliyunRouteInterfaceRemote",
		map[string]any{"op": "inactive", "vRouterType": "vrouter"})["inventory"], &inv))
	require.Equal(t, "Inactive", inv["status"])

	h.del("hybrid/aliyun/router-interface/remote/" + vrRI["uuid"].(string) + "?vRouterType=vrouter")
	h.del("hybrid/aliyun/router-interface/remote/" + vbrRI["uuid"].(string) + "?vRouterType=vbr")
	require.Empty(t, h.sim.RouterInterfaces(), "both ends deleted at Alibaba")
	require.Zero(t, h.count("aliyun_router_interfaces"))

	h.del("hybrid/aliyun/border-router/" + vbr)
	require.Zero(t, h.count("virtual_border_routers"))
	require.Len(t, h.sim.Vbrs(), 1, "a local delete leaves Alibaba's VBR")
}

// TestHybridVpnConnectionUpdate changes a VPN connection at Alibaba
// (UpdateVpcVpnConnectionRemote) and keeps its local links.
func TestHybridVpnConnectionUpdate(t *testing.T) {
	h := newHybridEnv(t, "sqlite::memory:", nil)
	in := h.buildHybridInfra()
	gw := h.vpnGateway(in)
	ugw := h.post("hybrid/user-vpn", map[string]any{"dataCenterUuid": in.dc, "ip": "203.0.113.10", "name": "office"})
	ike := h.post("hybrid/vpn-connection/ike", map[string]any{"name": "ike", "psk": "pre-shared-42", "localIp": gw["publicIp"], "remoteIp": "203.0.113.10"})
	ike2 := h.post("hybrid/vpn-connection/ike", map[string]any{"name": "ike2", "psk": "pre-shared-43", "version": "ikev2", "localIp": gw["publicIp"], "remoteIp": "203.0.113.10"})
	ipsec := h.post("hybrid/vpn-connection/ipsec", map[string]any{"name": "ipsec"})
	vco := h.post("hybrid/vpn-connection", map[string]any{"userGatewayUuid": ugw["uuid"], "vpnGatewayUuid": gw["uuid"], "name": "to-office",
		"localCidr": "172.16.1.0/24", "remoteCidr": "10.20.0.0/16", "active": true, "ikeConfUuid": ike["uuid"], "ipsecConfUuid": ipsec["uuid"]})

	var inv map[string]any
	require.NoError(t, json.Unmarshal(h.put("hybrid/vpn-connection/"+vco["uuid"].(string)+"/actions", "updateVpcVpnConnectionRemote",
		map[string]any{"name": "to-office-2", "remoteCidr": "10.30.0.0/16", "ikeConfUuid": ike2["uuid"]})["inventory"], &inv))
	require.Equal(t, "to-office-2", inv["name"])
	require.Equal(t, "10.30.0.0/16", inv["remoteSubnet"])
	require.Equal(t, ike2["uuid"], inv["ikeConfigUuid"])
	require.Equal(t, ugw["uuid"], inv["userGatewayUuid"], "links the update did not name are kept")
	require.Equal(t, ipsec["uuid"], inv["ipsecConfigUuid"])
	remote := h.sim.VpnConnections()
	require.Len(t, remote, 1)
	require.Equal(t, "10.30.0.0/16", remote[0].RemoteSubnet)
	require.Equal(t, "pre-shared-43", remote[0].IkeConfig.Psk, "the new decrypted key reached Alibaba")
	require.Equal(t, "ikev2", remote[0].IkeConfig.IkeVersion)
}

// vpnGateway buys a VPN gateway in the test VPC at Alibaba (through the
// SDK), syncs it and returns its inventory once active.
func (h *hybridEnv) vpnGateway(in hybridInfra) map[string]any {
	t := h.t
	t.Helper()
	vpcInv, err := h.c.Get("hybrid/aliyun/vpc", in.vpc)
	require.NoError(t, err)
	vswInv, err := h.c.Get("hybrid/aliyun/vswitch", in.vsw)
	require.NoError(t, err)
	req := vpc.CreateCreateVpnGatewayRequest()
	req.RegionId, req.VpcId, req.VSwitchId = "cn-hangzhou", vpcInv["ecsVpcId"].(string), vswInv["vSwitchId"].(string)
	req.Bandwidth, req.EnableIpsec, req.Name = requests.NewInteger(10), requests.NewBoolean(true), "vpn-gw"
	_, err = h.vpcClient(t).CreateVpnGateway(req)
	require.NoError(t, err)
	var gws []map[string]any
	require.Eventually(t, func() bool {
		gws = h.syncList("hybrid/vpc-vpn/"+in.dc+"/sync", "syncVpcVpnGatewayFromRemote", map[string]any{})
		return len(gws) == 1 && gws[0]["status"] == "active"
	}, 20*time.Second, 100*time.Millisecond)
	return gws[0]
}
