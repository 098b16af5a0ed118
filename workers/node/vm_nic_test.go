package node_test

import (
	"net/netip"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/api/apitest"
)

// TestVMNicAttachDetach drives AttachL3NetworkToVm and
// DetachL3NetworkFromVm through REST on simulated hosts: a NIC with an
// address from the L3's range (or the static one asked for, by parameter
// or system tag) is recorded and hot-plugged into the running domain;
// detaching unplugs it and frees the address; a bad L3, a second NIC on
// one L3 and a static address in use are refused with nothing changed; a
// failing host or database step rolls every step back; a stopped VM gets
// only the records and its next start defines the NIC.
func TestVMNicAttachDetach(t *testing.T) {
	e := newEnv(t)
	in := e.buildInfra(1)
	c := e.c
	drv, ok := e.n.Fleet.Driver(in.hosts[0])
	require.True(t, ok)
	l3b := e.mustCreate("l3-networks", map[string]any{"name": "l3b", "l2NetworkUuid": in.l2, "system": false, "enableIPAM": false, "category": "Private"})
	_ = e.mustCreate("l3-networks/"+l3b+"/ip-ranges", map[string]any{"name": "r", "startIp": "10.20.0.10", "endIp": "10.20.0.20",
		"netmask": "255.255.255.0", "gateway": "10.20.0.1"})
	vm, err := c.Create("vm-instances", e.vmParams(in, "vm"))
	require.NoError(t, err)
	vmUUID := vm["uuid"].(string)
	other, err := c.Create("vm-instances", e.vmParams(in, "other"))
	require.NoError(t, err)
	otherUUID := other["uuid"].(string)

	// nics returns a VM's recorded NICs by L3.
	nics := func(uuid string) map[string]map[string]any {
		inv, err := c.Get("vm-instances", uuid)
		require.NoError(t, err)
		out := map[string]map[string]any{}
		for _, n := range inv["vmNics"].([]any) {
			m := n.(map[string]any)
			out[m["l3NetworkUuid"].(string)] = m
		}
		return out
	}
	// onHost returns the domain's NICs by UUID.
	onHost := func(uuid string) map[string]hostapi.NICSpec {
		out := map[string]hostapi.NICSpec{}
		for _, n := range drv.VMs()[uuid].Spec.NICs {
			out[n.UUID] = n
		}
		return out
	}
	// usedIPs counts the taken addresses of l3b's 11.
	usedIPs := func() int {
		free, _, err := c.Query("l3-networks/ip/free", url.Values{"l3NetworkUuid": {l3b}, "limit": {"100"}})
		require.NoError(t, err)
		return 11 - len(free)
	}
	attach := func(uuid, l3 string, params map[string]any, tags ...string) (map[string]any, error) {
		body := map[string]any{"params": params}
		if len(tags) > 0 {
			body["systemTags"] = tags
		}
		_, err := c.Call("POST", "v1/vm-instances/"+uuid+"/l3-networks/"+l3, body)
		if err != nil {
			return nil, err
		}
		return nics(uuid)[l3], nil
	}
	detach := func(nic string) error {
		_, err := c.Call("DELETE", "v1/vm-instances/nics/"+nic, nil)
		return err
	}
	rng := netip.PrefixFrom(netip.MustParseAddr("10.20.0.0"), 27)

	// Attach with an address from the range: recorded and hot-plugged.
	require.Len(t, nics(vmUUID), 1)
	nic, err := attach(vmUUID, l3b, map[string]any{})
	require.NoError(t, err)
	require.NotNil(t, nic)
	ip := netip.MustParseAddr(nic["ip"].(string))
	require.True(t, rng.Contains(ip) && ip.Compare(netip.MustParseAddr("10.20.0.10")) >= 0 &&
		ip.Compare(netip.MustParseAddr("10.20.0.20")) <= 0, "ip %s from the range", ip)
	// Addresses of the range other than the one the NIC got at random, for
	// static attaches that must not collide with it.
	var spare []string
	for a := netip.MustParseAddr("10.20.0.10"); a.Compare(netip.MustParseAddr("10.20.0.20")) <= 0; a = a.Next() {
		if a != ip {
			spare = append(spare, a.String())
		}
	}
	require.EqualValues(t, 1, nic["deviceId"])
	nicUUID := nic["uuid"].(string)
	plugged, ok := onHost(vmUUID)[nicUUID]
	require.True(t, ok, "the running domain has the new interface")
	require.Equal(t, nic["mac"], plugged.MAC)
	require.Equal(t, ip.String(), plugged.IP)
	require.Len(t, onHost(vmUUID), 2)
	require.Equal(t, 1, usedIPs())

	// Refusals leave everything as it was.
	var apiErr *apitest.APIError
	_, err = attach(vmUUID, "0123456789abcdef0123456789abcdef", map[string]any{})
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 404, apiErr.Status)
	_, err = attach(vmUUID, l3b, map[string]any{})
	require.ErrorContains(t, err, "already has nic")
	_, err = attach(otherUUID, l3b, map[string]any{"staticIp": ip.String()})
	require.ErrorContains(t, err, "already in use")
	_, err = attach(otherUUID, l3b, map[string]any{"staticIp": "10.20.0.99"})
	require.ErrorContains(t, err, "not in any ip range")
	_, err = attach(otherUUID, l3b, map[string]any{"driverType": "e1000"})
	require.ErrorContains(t, err, "not supported")
	require.Len(t, nics(otherUUID), 1)
	require.Len(t, onHost(otherUUID), 1)
	require.Len(t, nics(vmUUID), 2)
	require.Equal(t, 1, usedIPs())

	// A failing hot-plug undoes the records and frees the address.
	drv.InjectFailure(hostapi.ActAttachNIC, "boom at plug")
	_, err = attach(otherUUID, l3b, map[string]any{"staticIp": spare[5]})
	drv.ClearFailures()
	require.ErrorContains(t, err, "boom at plug")
	require.Len(t, nics(otherUUID), 1)
	require.Len(t, onHost(otherUUID), 1)
	require.Equal(t, 1, usedIPs())

	// Detach: a failing database step plugs the interface back, a failing
	// host step leaves it; then it goes and its address is free.
	e.faults.Set(activities.VMNICRelease, "boom at release")
	err = detach(nicUUID)
	e.faults.Set(activities.VMNICRelease, "")
	require.ErrorContains(t, err, "injected failure")
	require.Equal(t, ip.String(), nics(vmUUID)[l3b]["ip"])
	require.Contains(t, onHost(vmUUID), nicUUID, "the interface is plugged back")
	drv.InjectFailure(hostapi.ActDetachNIC, "boom at unplug")
	err = detach(nicUUID)
	drv.ClearFailures()
	require.ErrorContains(t, err, "boom at unplug")
	require.Contains(t, onHost(vmUUID), nicUUID)
	require.Equal(t, 1, usedIPs())
	require.NoError(t, detach(nicUUID))
	require.NotContains(t, nics(vmUUID), l3b)
	require.NotContains(t, onHost(vmUUID), nicUUID)
	require.Zero(t, usedIPs())
	err = detach(nicUUID)
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 404, apiErr.Status)

	// The freed address is taken again by a static attach (parameter).
	nic, err = attach(otherUUID, l3b, map[string]any{"staticIp": ip.String()})
	require.NoError(t, err)
	require.Equal(t, ip.String(), nic["ip"])
	require.Contains(t, onHost(otherUUID), nic["uuid"].(string))

	// Stopped: records only; the next start defines the NIC (static ip by
	// system tag).
	_, err = c.Action("vm-instances", vmUUID, "stopVmInstance", map[string]any{"type": "cold"})
	require.NoError(t, err)
	nic, err = attach(vmUUID, l3b, map[string]any{}, "staticIp::"+l3b+"::"+spare[2])
	require.NoError(t, err)
	require.Equal(t, spare[2], nic["ip"])
	_, err = c.Action("vm-instances", vmUUID, "startVmInstance", map[string]any{})
	require.NoError(t, err)
	started, ok := onHost(vmUUID)[nic["uuid"].(string)]
	require.True(t, ok, "the started domain has the nic")
	require.Equal(t, spare[2], started.IP)
	require.Equal(t, 2, usedIPs())
}
