package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/sim"
)

// psState changes a primary storage's state through the API.
func (e *env) psState(ps, event string) (map[string]any, error) {
	return e.c.Action("primary-storage", ps, "changePrimaryStorageState", map[string]any{"stateEvent": event})
}

func (e *env) vmState(vm string) string {
	e.t.Helper()
	inv, err := e.c.Get("vm-instances", vm)
	require.NoError(e.t, err)
	return inv["state"].(string)
}

func (e *env) psField(ps, field string) any {
	e.t.Helper()
	inv, err := e.c.Get("primary-storage", ps)
	require.NoError(e.t, err)
	return inv[field]
}

// TestPrimaryStorageState drives ChangePrimaryStorageState through the REST
// API on simulated hosts: bad events refused with nothing changed, a
// Disabled storage refusing new VMs and volumes but starting existing ones,
// maintenance stopping the VMs on the storage (and refusing to start them
// until enabled, after which they stay stopped), and a maintenance whose
// VM stop fails on the host rolled back: former state, VMs running again.
func TestPrimaryStorageState(t *testing.T) {
	e := newEnv(t)
	c := e.c
	in := e.buildInfra(2)
	var vms []string
	for i := range 3 {
		vms = append(vms, e.mustCreate("vm-instances", e.vmParams(in, fmt.Sprintf("vm-%d", i))))
	}
	_, err := c.Action("vm-instances", vms[2], "stopVmInstance", map[string]any{})
	require.NoError(t, err)

	// Bad events: a synchronous invalid-argument error, or a clear one for
	// ZStack's internal "deleting"; the state stays.
	_, err = e.psState(in.ps, "explode")
	require.ErrorContains(t, err, "stateEvent")
	_, err = e.psState(in.ps, "deleting")
	require.ErrorContains(t, err, "delete the primary storage instead")
	require.Equal(t, "Enabled", e.psField(in.ps, "state"))

	// Disabled: no new VM or volume on it, existing VMs start.
	inv, err := e.psState(in.ps, "disable")
	require.NoError(t, err)
	require.Equal(t, "Disabled", inv["state"])
	p := e.vmParams(in, "new")
	p["primaryStorageUuidForRootVolume"] = in.ps
	_, err = c.Create("vm-instances", p)
	require.ErrorContains(t, err, "is Disabled: it takes no new volumes")
	_, err = c.Create("vm-instances", e.vmParams(in, "new"))
	require.ErrorContains(t, err, "is Disabled: it takes no new volumes", "the only storage of the cluster is named")
	disk := e.mustCreate("disk-offerings", map[string]any{"name": "1G", "diskSize": int64(1) << 30})
	vol := e.mustCreate("volumes/data", map[string]any{"name": "data", "diskOfferingUuid": disk})
	_, err = c.Call(http.MethodPost, "v1/volumes/"+vol+"/vm-instances/"+vms[0], map[string]any{"params": map[string]any{}})
	require.ErrorContains(t, err, "is Disabled: it takes no new volumes")
	_, err = c.Action("vm-instances", vms[2], "startVmInstance", map[string]any{})
	require.NoError(t, err, "a VM whose volumes are on a Disabled storage starts")
	_, err = c.Action("vm-instances", vms[2], "stopVmInstance", map[string]any{})
	require.NoError(t, err)
	_, err = e.psState(in.ps, "enable")
	require.NoError(t, err)

	// A maintenance whose VM stop fails on the host rolls back: the VM
	// stopped before the failure runs again, the state is Enabled again.
	ordered, _, err := c.Query("vm-instances", url.Values{"q": {"state=Running"}, "sort": {"+uuid"}})
	require.NoError(t, err)
	require.Len(t, ordered, 2)
	last := ordered[1]
	drv, ok := e.n.Fleet.Driver(last["hostUuid"].(string))
	require.True(t, ok)
	drv.InjectFailure(hostapi.ActStopVM, "stop broke")
	_, err = e.psState(in.ps, "maintain")
	require.ErrorContains(t, err, "stop broke")
	drv.ClearFailures()
	require.Equal(t, "Enabled", e.psField(in.ps, "state"))
	for _, vm := range ordered {
		require.Equal(t, "Running", e.vmState(vm["uuid"].(string)), "vm %s after the rollback", vm["uuid"])
	}

	// Maintenance stops every VM on the storage; none starts until it is
	// enabled, and enabling leaves them stopped.
	inv, err = e.psState(in.ps, "maintain")
	require.NoError(t, err)
	require.Equal(t, "Maintenance", inv["state"])
	for _, vm := range vms {
		require.Equal(t, "Stopped", e.vmState(vm))
		require.Empty(t, e.domainsOf(in, vm), "vm %s has no domain left", vm)
	}
	_, err = c.Action("vm-instances", vms[0], "startVmInstance", map[string]any{})
	require.ErrorContains(t, err, "is in Maintenance")
	inv, err = e.psState(in.ps, "enable")
	require.NoError(t, err)
	require.Equal(t, "Enabled", inv["state"])
	require.Equal(t, "Stopped", e.vmState(vms[0]), "VMs stay stopped, as in ZStack")
	_, err = c.Action("vm-instances", vms[0], "startVmInstance", map[string]any{})
	require.NoError(t, err)
}

// domainsOf lists the simulated hosts that have a domain of vm.
func (e *env) domainsOf(in infra, vm string) []string {
	var out []string
	for _, h := range in.hosts {
		if d, ok := e.n.Fleet.Driver(h); ok {
			if _, ok := d.VMs()[vm]; ok {
				out = append(out, h)
			}
		}
	}
	return out
}

// TestStorageUpdates drives UpdatePrimaryStorage, UpdateBackupStorage and
// ChangeBackupStorageState: a Disabled backup storage takes no new image;
// a local storage's url can't change while it holds volumes.
func TestStorageUpdates(t *testing.T) {
	e := newEnv(t)
	c := e.c
	in := e.buildInfra(1)
	inv, err := c.Action("primary-storage", in.ps, "updatePrimaryStorage", map[string]any{"name": "renamed", "description": "d", "url": "/sim/other"})
	require.NoError(t, err)
	require.Equal(t, []any{"renamed", "d", "/sim/other"}, []any{inv["name"], inv["description"], inv["url"]})
	inv, err = c.Action("backup-storage", in.bs, "updateBackupStorage", map[string]any{"name": "bs2", "description": "d"})
	require.NoError(t, err)
	require.Equal(t, []any{"bs2", "d"}, []any{inv["name"], inv["description"]})

	inv, err = c.Action("backup-storage", in.bs, "changeBackupStorageState", map[string]any{"stateEvent": "disable"})
	require.NoError(t, err)
	require.Equal(t, "Disabled", inv["state"])
	img := map[string]any{"name": "img2", "url": "http://127.0.0.1/i2.qcow2", "backupStorageUuids": []string{in.bs}, "format": "qcow2", "platform": "Linux"}
	_, err = c.Create("images", img)
	require.ErrorContains(t, err, "is Disabled: it takes no new images")
	_, err = c.Action("backup-storage", in.bs, "changeBackupStorageState", map[string]any{"stateEvent": "maintain"})
	require.ErrorContains(t, err, "stateEvent")
	_, err = c.Action("backup-storage", in.bs, "changeBackupStorageState", map[string]any{"stateEvent": "enable"})
	require.NoError(t, err)
	_, err = c.Create("images", img)
	require.NoError(t, err)

	l := e.localBed(in)
	e.mustCreate("vm-instances", l.vmParams(e, in))
	_, err = c.Action("primary-storage", l.ps, "updatePrimaryStorage", map[string]any{"url": "/sim/elsewhere"})
	require.ErrorContains(t, err, "its url can change only while it holds none")
	require.Equal(t, "/sim/local", e.psField(l.ps, "url"))
}

// localBed is a second simulated cluster with one host on a local storage.
type localBed struct{ cluster, host, ps string }

func (e *env) localBed(in infra) localBed {
	e.t.Helper()
	var l localBed
	l.cluster = e.mustCreate("clusters", map[string]any{"zoneUuid": in.zone, "name": "local", "hypervisorType": "Simulator"})
	l.host = e.mustCreate("hosts/simulators", map[string]any{"name": "local-host", "managementIp": "10.9.0.1", "clusterUuid": l.cluster,
		"cpuCapacity": 64, "memoryCapacity": int64(1) << 40})
	l.ps = e.mustCreate("primary-storage/local-storage", map[string]any{"name": "local", "url": "/sim/local", "zoneUuid": in.zone})
	_, err := e.c.Call(http.MethodPost, "v1/clusters/"+l.cluster+"/primary-storage/"+l.ps, map[string]any{"params": map[string]any{}})
	require.NoError(e.t, err)
	_, err = e.c.Call(http.MethodPost, "v1/l2-networks/"+in.l2+"/clusters/"+l.cluster, map[string]any{})
	require.NoError(e.t, err)
	return l
}

func (l localBed) vmParams(e *env, in infra) map[string]any {
	p := e.vmParams(in, "local-vm")
	p["clusterUuid"] = l.cluster
	return p
}

// TestPrimaryStorageReconnect drives ReconnectPrimaryStorage,
// SyncPrimaryStorageCapacity and CleanUpImageCacheOnPrimaryStorage through
// REST on a simulated host with a local storage: the host's report is the
// storage's physical capacity, a host that fails it makes the storage
// Disconnected (and a reconnect Connected again), a sync repairs an
// available capacity that drifted, and a cleanup removes the cached image
// no volume uses and nothing the second time.
func TestPrimaryStorageReconnect(t *testing.T) {
	e := newEnv(t)
	c := e.c
	in := e.buildInfra(1)
	l := e.localBed(in)
	inv, err := c.Action("primary-storage", l.ps, "reconnectPrimaryStorage", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "Connected", inv["status"])
	require.EqualValues(t, sim.StorageBytes, inv["totalPhysicalCapacity"])
	require.EqualValues(t, sim.StorageBytes, inv["availablePhysicalCapacity"])

	drv, ok := e.n.Fleet.Driver(l.host)
	require.True(t, ok)
	drv.InjectFailure(hostapi.ActStorageCapacity, "disk gone")
	_, err = c.Action("primary-storage", l.ps, "reconnectPrimaryStorage", map[string]any{})
	require.ErrorContains(t, err, "disk gone")
	require.Equal(t, "Disconnected", e.psField(l.ps, "status"))
	_, err = c.Create("vm-instances", l.vmParams(e, in))
	require.ErrorContains(t, err, "is Disconnected, not Connected", "a Disconnected storage takes no VM")
	drv.ClearFailures()
	_, err = c.Action("primary-storage", l.ps, "reconnectPrimaryStorage", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "Connected", e.psField(l.ps, "status"))

	// Two VMs of two images on the host; one goes, leaving its image
	// cached and unused.
	img2 := e.mustCreate("images", map[string]any{"name": "img2", "url": "http://127.0.0.1/i2.qcow2", "backupStorageUuids": []string{in.bs},
		"format": "qcow2", "platform": "Linux"})
	keep := e.mustCreate("vm-instances", l.vmParams(e, in))
	p := l.vmParams(e, in)
	p["imageUuid"] = img2
	gone := e.mustCreate("vm-instances", p)
	require.ElementsMatch(t, []string{in.image, img2}, drv.CachedImages())
	require.NoError(t, c.Delete("vm-instances", gone))
	_, err = c.Action("vm-instances", gone, "expungeVmInstance", map[string]any{})
	require.NoError(t, err)

	// Physical capacity follows the host; a drifted available capacity is
	// repaired from the volumes.
	_, err = c.Call(http.MethodPut, "v1/primary-storage/"+l.ps+"/actions", map[string]any{"syncPrimaryStorageCapacity": map[string]any{}})
	require.NoError(t, err)
	before := e.psField(l.ps, "availableCapacity").(float64)
	_, err = e.n.Store.DB().ExecContext(context.Background(), `UPDATE primary_storages SET available_capacity = 5 WHERE uuid = ?`, l.ps)
	require.NoError(t, err)
	_, err = e.n.Store.DB().ExecContext(context.Background(), `UPDATE local_storage_host_refs SET available_capacity = 5 WHERE primary_storage_uuid = ?`, l.ps)
	require.NoError(t, err)
	res, err := c.Call(http.MethodPut, "v1/primary-storage/"+l.ps+"/actions", map[string]any{"syncPrimaryStorageCapacity": map[string]any{}})
	require.NoError(t, err)
	var synced map[string]any
	require.NoError(t, json.Unmarshal(res["inventory"], &synced))
	require.Equal(t, before, synced["availableCapacity"], "repaired from the volumes")
	require.Less(t, synced["availablePhysicalCapacity"].(float64), float64(sim.StorageBytes), "the host's disk holds the VM's volume")
	keepInv, err := c.Get("vm-instances", keep)
	require.NoError(t, err)
	require.EqualValues(t, synced["totalCapacity"].(float64)-synced["availableCapacity"].(float64),
		keepInv["allVolumes"].([]any)[0].(map[string]any)["size"], "only the remaining VM's volume is reserved")

	// The cleanup removes the image nobody uses, then nothing.
	res, err = c.Call(http.MethodPut, "v1/primary-storage/"+l.ps+"/actions", map[string]any{"cleanUpImageCacheOnPrimaryStorage": map[string]any{}})
	require.NoError(t, err)
	var cleanup activities.ImageCacheCleanup
	require.NoError(t, json.Unmarshal(res["inventory"], &cleanup))
	require.Len(t, cleanup.Hosts, 1)
	require.Len(t, cleanup.Hosts[0].Removed, 1)
	require.Equal(t, img2, cleanup.Hosts[0].Removed[0].ImageUUID)
	require.EqualValues(t, int64(1)<<30, cleanup.FreedBytes)
	require.Equal(t, []string{in.image}, drv.CachedImages())
	res, err = c.Call(http.MethodPut, "v1/primary-storage/"+l.ps+"/actions", map[string]any{"cleanUpImageCacheOnPrimaryStorage": map[string]any{"force": true}})
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(res["inventory"], &cleanup))
	require.Empty(t, cleanup.Hosts[0].Removed)
	require.Zero(t, cleanup.FreedBytes)
}
