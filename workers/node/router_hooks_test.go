package node_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/models"
)

// TestRouterNetworkHooks checks the database hooks between VMs, L3
// networks and router services on simulated hosts: an L3 with a router NIC
// is not deleted; destroying a VM detaches its NIC's EIP and port forwarding
// rule and removes it from load balancers. The router is a record in state
// Stopped (simulated agents serve no routers), so its services converge
// only in the database, which is what is checked here; TestRouterAppliance
// covers real routers.
func TestRouterNetworkHooks(t *testing.T) {
	e := newEnv(t)
	in := e.buildInfra(1)
	c := e.c
	ctx := context.Background()
	count := e.count
	public := e.publicL3(in)

	// A stopped router with its public NIC, then the VPC L3 attached to it
	// through the API.
	router := models.NewUUID()
	now := models.Now()
	require.NoError(t, e.n.Store.CreateRouterRecord(ctx, models.VirtualRouter{Base: models.Base{UUID: router, Name: "vr", CreateDate: now, LastOpDate: now},
		ZoneUUID: in.zone, ClusterUUID: in.cluster, PublicNetworkUUID: public, DefaultRouteL3NetworkUUID: public, ManagementNetworkUUID: public,
		ApplianceVMType: models.ApplianceVpcRouter, Type: models.ApplianceVMType, State: models.VMStopped, Status: "Disconnected"},
		models.RouterNic{UUID: models.NewUUID(), VMInstanceUUID: router, L3NetworkUUID: public, IP: "198.51.100.9", MAC: "fa:00:00:00:00:09",
			Netmask: "255.255.255.0", Gateway: "198.51.100.1", IPVersion: 4, Type: "VNIC", State: models.StateEnabled, CreateDate: now, LastOpDate: now}, ""))
	_, err := c.Call("POST", "v1/vm-instances/"+router+"/l3-networks/"+in.l3, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)

	vm, err := c.Create("vm-instances", e.vmParams(in, "vm"))
	require.NoError(t, err)
	vmUUID := vm["uuid"].(string)
	nic := vm["vmNics"].([]any)[0].(map[string]any)["uuid"].(string)
	vipA := e.mustCreate("vips", map[string]any{"name": "a", "l3NetworkUuid": public})
	vipB := e.mustCreate("vips", map[string]any{"name": "b", "l3NetworkUuid": public})
	eip := e.mustCreate("eips", map[string]any{"name": "eip", "vipUuid": vipA, "vmNicUuid": nic})
	pf := e.mustCreate("port-forwarding", map[string]any{"name": "pf", "vipUuid": vipB, "vipPortStart": 8000, "protocolType": "TCP", "vmNicUuid": nic})
	lb := e.mustCreate("load-balancers", map[string]any{"name": "lb", "vipUuid": vipB})
	listener := e.mustCreate("load-balancers/"+lb+"/listeners", map[string]any{"name": "l", "loadBalancerPort": 80})
	_, err = c.Call("POST", "v1/load-balancers/listeners/"+listener+"/vm-instances/nics", map[string]any{"params": map[string]any{"vmNicUuids": []string{nic}}})
	require.NoError(t, err)
	require.Equal(t, 1, count("load_balancer_listener_nic_refs", "vm_nic_uuid = ?", nic))
	require.Equal(t, 1, count("eips", "vm_nic_uuid = ?", nic), "the EIP is on the NIC before the destroy")
	require.Equal(t, 1, count("port_forwarding_rules", "vm_nic_uuid = ?", nic), "so is the port forwarding rule")

	// The L3 a router serves is not deleted.
	err = c.Delete("l3-networks", in.l3)
	require.ErrorContains(t, err, "attached to vpc router[uuid:"+router+"]")
	require.NoError(t, c.Delete("vm-instances", vmUUID))
	require.Zero(t, count("eips", "vm_nic_uuid = ?", nic), "the destroyed VM's EIP is detached")
	require.Zero(t, count("port_forwarding_rules", "vm_nic_uuid = ?", nic), "its port forwarding rule is detached")
	require.Zero(t, count("load_balancer_listener_nic_refs", "vm_nic_uuid = ?", nic), "it left the load balancer")
	require.Equal(t, 1, count("eips", "uuid = ?", eip), "the EIP itself stays")
	require.Equal(t, 1, count("port_forwarding_rules", "uuid = ?", pf), "the rule itself stays")
	require.Zero(t, count("router_change_journal", "1 = 1"), "the release's journal is forgotten")
	_, err = c.Action("vm-instances", vmUUID, "expungeVmInstance", map[string]any{})
	require.NoError(t, err)
}
