package node_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/workflows"
)

// setConfig updates a global config through the API.
func (e *env) setConfig(category, name, value string) {
	e.t.Helper()
	_, err := e.c.Call(http.MethodPut, "v1/global-configurations/"+category+"/"+name+"/actions",
		map[string]any{"updateGlobalConfig": map[string]any{"value": value}})
	require.NoError(e.t, err, "set %s.%s=%s", category, name, value)
}

// gcStatus asks the garbage collector for its record of a kind.
func (e *env) gcStatus(kind string) workflows.GCKindStatus {
	e.t.Helper()
	v, err := e.n.Temporal.QueryWorkflow(context.Background(), workflows.GCWorkflowID, "", workflows.GCStatusQuery)
	require.NoError(e.t, err)
	var st workflows.GCStatus
	require.NoError(e.t, v.Get(&st))
	for _, k := range st.Kinds {
		if k.Kind == kind {
			return k
		}
	}
	return workflows.GCKindStatus{Kind: kind}
}

// waitGCRounds waits until the collector ran n more rounds of a kind.
func (e *env) waitGCRounds(kind string, n int64) {
	e.t.Helper()
	from := e.gcStatus(kind).Rounds
	require.Eventually(e.t, func() bool { return e.gcStatus(kind).Rounds >= from+n }, 30*time.Second, 50*time.Millisecond,
		"%d rounds of the %s collector", n, kind)
}

// rows counts the rows of a table matching a condition.
func (e *env) rows(table, cond string, args ...any) int {
	e.t.Helper()
	n, err := e.n.Store.Count(context.Background(), table, cond, args...)
	require.NoError(e.t, err)
	return n
}

// waitGone waits until a row is gone.
func (e *env) waitGone(table, uuid string) {
	e.t.Helper()
	require.Eventually(e.t, func() bool { return e.rows(table, "uuid = ?", uuid) == 0 }, 30*time.Second, 50*time.Millisecond,
		"%s %s expunged", table, uuid)
}

// TestGCExpunges proves the garbage collector through the REST API on
// simulated hosts: VMs destroyed, an image and a data volume deleted with
// the Delay policy outlive rounds while their expunge period has not
// passed, and are expunged once a shorter period is set (with everything
// ExpungeVmInstance releases); a recovered VM is not; a failed expunge is
// tried again next round and does not hold the others back; nothing is
// expunged under Never, and Direct still expunges at once. The kinds are
// exercised side by side to keep the test short.
func TestGCExpunges(t *testing.T) {
	e := newEnv(t)
	in := e.buildInfra(2)
	c := e.c
	for _, kind := range []string{"vm", "image", "volume"} {
		e.setConfig(kind, "expungeInterval", "1")
		e.setConfig(kind, "expungePeriod", "3600")
	}
	_, err := c.Call(http.MethodPut, "v1/global-configurations/vm/expungePeriod/actions",
		map[string]any{"updateGlobalConfig": map[string]any{"value": "0"}})
	require.ErrorContains(t, err, "greater than 0")
	_, err = c.Call(http.MethodPut, "v1/global-configurations/volume/deletionPolicy/actions",
		map[string]any{"updateGlobalConfig": map[string]any{"value": "Later"}})
	require.ErrorContains(t, err, "not one of")

	newVM := func(name, host string) map[string]any {
		p := e.vmParams(in, name)
		p["hostUuid"] = host
		vm, err := c.Create("vm-instances", p)
		require.NoError(t, err)
		return vm
	}
	destroy := func(vm map[string]any) { require.NoError(t, c.Delete("vm-instances", vm["uuid"].(string))) }
	status := func(res, uuid, field string) string {
		got, err := c.Get(res, uuid)
		require.NoError(t, err)
		return got[field].(string)
	}

	// Direct: destroy expunges at once.
	e.setConfig("vm", "deletionPolicy", "Direct")
	dvm := newVM("direct", in.hosts[0])
	destroy(dvm)
	require.Zero(t, e.rows("vm_instances", "uuid = ?", dvm["uuid"]), "Direct expunges at once")

	// A data volume follows volume.deletionPolicy (Never here), no longer
	// vm.deletionPolicy (still Direct).
	r := newVM("r", in.hosts[1])
	disk := e.mustCreate("disk-offerings", map[string]any{"name": "10G", "diskSize": int64(10) << 30})
	vol := e.mustCreate("volumes/data", map[string]any{"name": "data", "diskOfferingUuid": disk})
	_, err = c.Call(http.MethodPost, "v1/volumes/"+vol+"/vm-instances/"+r["uuid"].(string), map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	e.setConfig("volume", "deletionPolicy", "Never")
	require.NoError(t, c.Delete("volumes", vol))
	require.Equal(t, "Deleted", status("volumes", vol, "status"))
	e.setConfig("vm", "deletionPolicy", "Delay")

	// VMs destroyed (one recovered), an image deleted; f's expunge fails
	// on its host (the only VM there) until the fault is cleared.
	a, b, f, g := newVM("a", in.hosts[1]), newVM("b", in.hosts[1]), newVM("f", in.hosts[0]), newVM("g", in.hosts[1])
	d0, ok := e.n.Fleet.Driver(in.hosts[0])
	require.True(t, ok)
	d1, ok := e.n.Fleet.Driver(in.hosts[1])
	require.True(t, ok)
	d0.InjectFailure(hostapi.ActDeleteVolume, "disk stuck")
	for _, vm := range []map[string]any{a, b, f, g, r} {
		destroy(vm)
	}
	_, err = c.Action("vm-instances", r["uuid"].(string), "recoverVmInstance", map[string]any{})
	require.NoError(t, err)
	img := e.mustCreate("images", map[string]any{"name": "old", "url": "http://127.0.0.1/old.qcow2", "backupStorageUuids": []string{in.bs},
		"format": "qcow2", "platform": "Linux"})
	require.NoError(t, c.Delete("images", img))
	require.Equal(t, "Deleted", status("images", img, "status"))

	// Rounds pass; the period has not.
	e.waitGCRounds("vm", 2)
	require.Equal(t, "Destroyed", status("vm-instances", a["uuid"].(string), "state"), "the period has not passed")
	require.Equal(t, "Deleted", status("images", img, "status"), "the period has not passed")

	// A shorter period takes effect.
	failed := e.gcStatus("vm").Failed
	for _, kind := range []string{"vm", "image", "volume"} {
		e.setConfig(kind, "expungePeriod", "1")
	}
	for _, vm := range []map[string]any{a, b, g} {
		e.waitGone("vm_instances", vm["uuid"].(string))
	}
	aUUID, aIP := a["uuid"].(string), a["vmNics"].([]any)[0].(map[string]any)["ip"].(string)
	require.Zero(t, e.rows("vm_nics", "vm_instance_uuid = ?", aUUID), "nics released")
	require.Zero(t, e.rows("volumes", "uuid = ?", a["rootVolumeUuid"]), "root volume record gone")
	require.Zero(t, e.rows("used_ips", "ip = ?", aIP), "ip released")
	require.NotContains(t, d1.Volumes(), a["rootVolumeUuid"], "volume deleted on its host")
	e.waitGone("images", img)
	require.Zero(t, e.rows("image_backup_storage_refs", "image_uuid = ?", img), "backup storage refs gone")
	require.Equal(t, "Ready", status("images", in.image, "status"), "a Ready image stays")

	// f failed in two rounds and stays Destroyed; the others went on.
	require.Eventually(t, func() bool { return e.gcStatus("vm").Failed >= failed+2 }, 30*time.Second, 50*time.Millisecond,
		"the expunge of f is tried again")
	require.Contains(t, e.gcStatus("vm").LastError, "disk stuck")
	require.Equal(t, "Destroyed", status("vm-instances", f["uuid"].(string), "state"), "a failed expunge puts the vm back")
	require.Equal(t, "Stopped", status("vm-instances", r["uuid"].(string), "state"), "a recovered vm is not expunged")
	e.waitGCRounds("volume", 2)
	require.Equal(t, "Deleted", status("volumes", vol, "status"), "nothing is expunged under Never")

	// The fault cleared, f goes; Delay again, the volume goes.
	ps, err := c.Get("primary-storage", in.ps)
	require.NoError(t, err)
	d0.ClearFailures()
	e.waitGone("vm_instances", f["uuid"].(string))
	e.setConfig("volume", "deletionPolicy", "Delay")
	e.waitGone("volumes", vol)
	after, err := c.Get("primary-storage", in.ps)
	require.NoError(t, err)
	require.Greater(t, after["availableCapacity"], ps["availableCapacity"], "the capacity of f's and the volume's disks is back")

	destroy(r)
	e.waitGone("vm_instances", r["uuid"].(string))
	e.assertClean(in)
}
