package node_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNetworkResources drives the networking control plane through the REST
// API: VLAN and VXLAN L2s with VNI allocation, network services on an L3,
// security groups with rules and members, and the errors of bad input.
func TestNetworkResources(t *testing.T) {
	onBothStores(t, networkResources)
}

func networkResources(t *testing.T, e *env) {
	in := e.buildInfra(1)
	c := e.c

	// VLAN: the id is validated by the contract and shown as "vlan".
	_, err := c.Create("l2-networks/vlan", map[string]any{"name": "bad", "zoneUuid": in.zone, "physicalInterface": "eth0", "vlan": 4095})
	require.ErrorContains(t, err, "SYS.1007")
	vlan, err := c.Create("l2-networks/vlan", map[string]any{"name": "v100", "zoneUuid": in.zone, "physicalInterface": "eth0", "vlan": 100})
	require.NoError(t, err)
	require.EqualValues(t, 100, vlan["vlan"])
	require.Equal(t, "L2VlanNetwork", vlan["type"])
	vlans, _, err := c.Query("l2-networks/vlan", nil)
	require.NoError(t, err)
	require.Len(t, vlans, 1, "QueryL2VlanNetwork lists VLANs only")

	// VXLAN pool, VNI ranges, VXLAN networks taking the lowest free VNI.
	pool := e.mustCreate("l2-networks/vxlan-pool", map[string]any{"name": "pool", "zoneUuid": in.zone})
	_, err = c.Create("l2-networks/vxlan", map[string]any{"name": "x", "poolUuid": pool})
	require.ErrorContains(t, err, "no free vni", "a pool without ranges has no VNI")
	_ = e.mustCreate("l2-networks/vxlan-pool/"+pool+"/vni-ranges", map[string]any{"name": "r1", "startVni": 100, "endVni": 101})
	_, err = c.Create("l2-networks/vxlan-pool/"+pool+"/vni-ranges", map[string]any{"name": "r2", "startVni": 101, "endVni": 200})
	require.ErrorContains(t, err, "overlaps")
	x1, err := c.Create("l2-networks/vxlan", map[string]any{"name": "x1", "poolUuid": pool})
	require.NoError(t, err)
	require.EqualValues(t, 100, x1["vni"])
	_, err = c.Create("l2-networks/vxlan", map[string]any{"name": "x-taken", "poolUuid": pool, "vni": 100})
	require.ErrorContains(t, err, "in use")
	_, err = c.Create("l2-networks/vxlan", map[string]any{"name": "x-out", "poolUuid": pool, "vni": 5000})
	require.ErrorContains(t, err, "in no vni range")
	x2, err := c.Create("l2-networks/vxlan", map[string]any{"name": "x2", "poolUuid": pool})
	require.NoError(t, err)
	require.EqualValues(t, 101, x2["vni"])
	_, err = c.Create("l2-networks/vxlan", map[string]any{"name": "x3", "poolUuid": pool})
	require.ErrorContains(t, err, "no free vni")

	// Attaching a pool needs its VTEP CIDR; its VXLAN networks follow it.
	_, err = c.Call("POST", "v1/l2-networks/"+pool+"/clusters/"+in.cluster, map[string]any{})
	require.ErrorContains(t, err, "cidr")
	_, err = c.Call("POST", "v1/l2-networks/"+pool+"/clusters/"+in.cluster, map[string]any{
		"systemTags": []string{"l2NetworkUuid::" + pool + "::clusterUuid::" + in.cluster + "::cidr::{192.168.100.0/24}"}})
	require.NoError(t, err)
	p, err := c.Get("l2-networks", pool)
	require.NoError(t, err)
	require.Equal(t, map[string]any{in.cluster: "192.168.100.0/24"}, p["attachedCidrs"])
	x1b, err := c.Get("l2-networks", x1["uuid"].(string))
	require.NoError(t, err)
	require.Equal(t, []any{in.cluster}, x1b["attachedClusterUuids"])
	require.ErrorContains(t, c.Delete("l2-networks", pool), "vxlan networks")

	// Network services: providers exist, an L3 gets Flat DHCP and security groups.
	providers, _, err := c.Query("network-services/providers", nil)
	require.NoError(t, err)
	byType := map[string]string{}
	for _, p := range providers {
		byType[p["type"].(string)] = p["uuid"].(string)
	}
	require.Contains(t, byType, "Flat")
	require.Contains(t, byType, "SecurityGroup")
	_, err = c.Call("POST", "v1/l3-networks/"+in.l3+"/network-services", map[string]any{"params": map[string]any{
		"networkServices": map[string]any{byType["Flat"]: []string{"SNAT"}}}})
	require.ErrorContains(t, err, "does not offer")
	_, err = c.Call("POST", "v1/l3-networks/"+in.l3+"/network-services", map[string]any{"params": map[string]any{
		"networkServices": map[string]any{byType["Flat"]: []string{"DHCP", "Eip"}, byType["SecurityGroup"]: []string{"SecurityGroup"}}}})
	require.NoError(t, err)
	l3, err := c.Get("l3-networks", in.l3)
	require.NoError(t, err)
	require.Len(t, l3["networkServices"], 3)

	// Security groups: default rule, rules validated, members need an attached L3.
	sg, err := c.Create("security-groups", map[string]any{"name": "web"})
	require.NoError(t, err)
	sgUUID := sg["uuid"].(string)
	require.Len(t, sg["rules"], 1, "the default ingress-from-members rule")
	rules := func(r ...map[string]any) map[string]any { return map[string]any{"rules": r} }
	for _, bad := range []map[string]any{
		{"type": "Sideways", "protocol": "TCP", "startPort": 80, "endPort": 80},
		{"type": "Ingress", "protocol": "TCP", "startPort": 90, "endPort": 80},
		{"type": "Ingress", "protocol": "GRE"},
		{"type": "Ingress", "protocol": "TCP", "startPort": 22, "allowedCidr": "10.0.0.300/8"},
	} {
		_, err = c.Create("security-groups/"+sgUUID+"/rules", rules(bad))
		require.Error(t, err, "rule %v", bad)
	}
	sg, err = c.Create("security-groups/"+sgUUID+"/rules", rules(
		map[string]any{"type": "Ingress", "protocol": "TCP", "startPort": 22, "endPort": 22, "allowedCidr": "10.1.2.3/16"},
		map[string]any{"type": "Ingress", "protocol": "ICMP"}))
	require.NoError(t, err)
	require.Len(t, sg["rules"], 3)
	_, err = c.Create("security-groups/"+sgUUID+"/rules", rules(map[string]any{"type": "Ingress", "protocol": "ICMP"}))
	require.ErrorContains(t, err, "already", "duplicate rules are refused")
	ruleList, err := c.ListAll("security-groups/rules", "securityGroupUuid="+sgUUID, "protocol=TCP")
	require.NoError(t, err)
	require.Len(t, ruleList, 1)
	require.Equal(t, "10.1.0.0/16", ruleList[0]["allowedCidr"], "cidrs are stored masked")

	vm, err := c.Create("vm-instances", e.vmParams(in, "vm"))
	require.NoError(t, err)
	nic := vm["vmNics"].([]any)[0].(map[string]any)["uuid"].(string)
	_, err = c.Create("security-groups/"+sgUUID+"/vm-instances/nics", map[string]any{"vmNicUuids": []string{nic}})
	require.ErrorContains(t, err, "not attached", "a NIC joins only through an attached L3")
	_, err = c.Call("POST", "v1/security-groups/"+sgUUID+"/l3-networks/"+in.l3, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	_, err = c.Create("security-groups/"+sgUUID+"/vm-instances/nics", map[string]any{"vmNicUuids": []string{nic}})
	require.NoError(t, err)
	members, err := c.ListAll("security-groups/vm-instances/nics", "securityGroupUuid="+sgUUID)
	require.NoError(t, err)
	require.Len(t, members, 1)
	found, _, err := c.Query("security-groups", url.Values{"q": {"vmNic.vmNicUuid=" + nic}})
	require.NoError(t, err)
	require.Len(t, found, 1, "groups are found through their members")

	// Deleting the group removes its rules and memberships.
	require.NoError(t, c.Delete("security-groups", sgUUID))
	for _, table := range []string{"security_groups", "security_group_rules", "vm_nic_security_group_refs", "security_group_l3_refs"} {
		n, err := e.n.Store.Count(t.Context(), table, "1 = 1")
		require.NoError(t, err)
		require.Zero(t, n, "rows left in %s", table)
	}
}
