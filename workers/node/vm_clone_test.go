package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/api/apitest"
)

// cloneReply is CloneVmInstance's reply as a client reads it.
type cloneReply struct {
	NumberOfClonedVM int `json:"numberOfClonedVm"`
	Inventories      []struct {
		Inventory map[string]any `json:"inventory"`
		Error     *struct {
			Code        string `json:"code"`
			Description string `json:"description"`
			Details     string `json:"details"`
		} `json:"error"`
	} `json:"inventories"`
}

// cloneVM calls CloneVmInstance through the REST API.
func cloneVM(t *testing.T, c *apitest.Client, vmUUID string, params map[string]any) (cloneReply, error) {
	t.Helper()
	m, err := c.Call(http.MethodPut, "v1/vm-instances/"+vmUUID+"/actions", map[string]any{"cloneVmInstance": params})
	if err != nil {
		return cloneReply{}, err
	}
	var r cloneReply
	require.NoError(t, json.Unmarshal(m["result"], &r), "reply %s", m)
	return r, nil
}

func nicOf(t *testing.T, vm map[string]any) map[string]any {
	t.Helper()
	nics, _ := vm["vmNics"].([]any)
	require.Len(t, nics, 1, "vm %s nics", vm["uuid"])
	return nics[0].(map[string]any)
}

// TestCloneReimageSim drives CloneVmInstance and ReimageVmInstance through
// the REST API on simulated hosts: a clone gets the source's compute and
// L3 with a new NIC (MAC, IP), a clone that fails (its L3 has no address
// left) is rolled back while the other stays and the reply says which
// failed, a failure injected into the host's copy rolls back everything,
// and reimage needs a stopped VM without root snapshots.
func TestCloneReimageSim(t *testing.T) {
	e := newEnv(t)
	c := e.c
	in := e.buildInfra(1)
	ctx := context.Background()
	// Two addresses: the source's and one clone's.
	l3 := e.mustCreate("l3-networks", map[string]any{"name": "small", "l2NetworkUuid": in.l2, "category": "Private"})
	e.mustCreate("l3-networks/"+l3+"/ip-ranges", map[string]any{"name": "r", "startIp": "10.20.0.10", "endIp": "10.20.0.11",
		"netmask": "255.255.255.0", "gateway": "10.20.0.1"})
	params := e.vmParams(in, "src")
	params["l3NetworkUuids"] = []string{l3}
	src, err := c.Create("vm-instances", params)
	require.NoError(t, err)
	srcUUID := src["uuid"].(string)
	drv, ok := e.n.Fleet.Driver(in.hosts[0])
	require.True(t, ok)

	_, err = cloneVM(t, c, srcUUID, map[string]any{"names": []string{"x"}, "strategy": "JustCreate"})
	require.ErrorContains(t, err, "not supported")
	_, err = cloneVM(t, c, "0123456789abcdef0123456789abcdef", map[string]any{"names": []string{"x"}})
	require.ErrorContains(t, err, "cannot find")

	// The host's copy fails: nothing of the clone stays.
	hostBefore, err := c.Get("hosts", in.hosts[0])
	require.NoError(t, err)
	psBefore, err := c.Get("primary-storage", in.ps)
	require.NoError(t, err)
	nIPs, err := e.n.Store.Count(ctx, "used_ips", "1 = 1")
	require.NoError(t, err)
	drv.InjectFailure(hostapi.ActCloneVolume, "copy broke")
	_, err = cloneVM(t, c, srcUUID, map[string]any{"names": []string{"c0"}})
	require.ErrorContains(t, err, "copy broke")
	drv.ClearFailures()
	vms, err := c.ListAll("vm-instances")
	require.NoError(t, err)
	require.Len(t, vms, 1)
	require.Len(t, drv.Volumes(), 1)
	require.Len(t, drv.VMs(), 1)
	hostAfter, err := c.Get("hosts", in.hosts[0])
	require.NoError(t, err)
	require.Equal(t, hostBefore["availableCpuCapacity"], hostAfter["availableCpuCapacity"])
	require.Equal(t, hostBefore["availableMemoryCapacity"], hostAfter["availableMemoryCapacity"])
	psAfter, err := c.Get("primary-storage", in.ps)
	require.NoError(t, err)
	require.Equal(t, psBefore["availableCapacity"], psAfter["availableCapacity"])
	n, err := e.n.Store.Count(ctx, "used_ips", "1 = 1")
	require.NoError(t, err)
	require.Equal(t, nIPs, n)

	r, err := cloneVM(t, c, srcUUID, map[string]any{"names": []string{"c1", "c2"}})
	require.NoError(t, err)
	require.Equal(t, 1, r.NumberOfClonedVM)
	require.Len(t, r.Inventories, 2)
	c1 := r.Inventories[0].Inventory
	require.Nil(t, r.Inventories[0].Error)
	require.Equal(t, "c1", c1["name"])
	require.Equal(t, "Running", c1["state"])
	for _, k := range []string{"cpuNum", "memorySize", "instanceOfferingUuid", "imageUuid", "platform", "defaultL3NetworkUuid", "hostUuid"} {
		require.Equal(t, src[k], c1[k], "clone's %s", k)
	}
	require.Equal(t, l3, nicOf(t, c1)["l3NetworkUuid"])
	require.NotEqual(t, nicOf(t, src)["mac"], nicOf(t, c1)["mac"])
	require.NotEqual(t, nicOf(t, src)["ip"], nicOf(t, c1)["ip"])
	require.NotNil(t, r.Inventories[1].Error, "c2 found no address")
	require.Nil(t, r.Inventories[1].Inventory)
	require.Equal(t, "L3.1001", r.Inventories[1].Error.Code)
	vms, err = c.ListAll("vm-instances")
	require.NoError(t, err)
	require.Len(t, vms, 2, "the failed clone left no vm")
	require.Len(t, drv.Volumes(), 2, "source and c1 root volumes")
	require.Len(t, drv.VMs(), 2)
	c1UUID := c1["uuid"].(string)
	c1Root := drv.Volumes()[c1["rootVolumeUuid"].(string)]
	require.Equal(t, src["imageUuid"], c1Root.Spec.ImageUUID, "the clone's disk keeps its image")

	// Reimage: only a stopped vm, only without root snapshots.
	_, err = c.Action("vm-instances", c1UUID, "reimageVmInstance", map[string]any{})
	require.ErrorContains(t, err, "VM.1010")
	_, err = c.Action("vm-instances", c1UUID, "stopVmInstance", map[string]any{"type": "cold"})
	require.NoError(t, err)
	snap := e.mustCreate("volumes/"+c1["rootVolumeUuid"].(string)+"/volume-snapshots", map[string]any{"name": "s"})
	_, err = c.Action("vm-instances", c1UUID, "reimageVmInstance", map[string]any{})
	require.ErrorContains(t, err, "snapshots")
	vm, err := c.Get("vm-instances", c1UUID)
	require.NoError(t, err)
	require.Equal(t, "Stopped", vm["state"], "a refused reimage puts the vm back")
	_, err = c.Call(http.MethodDelete, "v1/volume-snapshots/"+snap, nil)
	require.NoError(t, err)
	vm, err = c.Action("vm-instances", c1UUID, "reimageVmInstance", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "Stopped", vm["state"])
	require.Zero(t, drv.Volumes()[c1["rootVolumeUuid"].(string)].ActualSize, "a fresh overlay on the image")
	vm, err = c.Action("vm-instances", c1UUID, "startVmInstance", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "Running", vm["state"])

	for _, u := range []string{c1UUID, srcUUID} {
		require.NoError(t, c.Delete("vm-instances", u))
		_, err = c.Action("vm-instances", u, "expungeVmInstance", map[string]any{})
		require.NoError(t, err)
	}
	e.assertClean(in)
}
