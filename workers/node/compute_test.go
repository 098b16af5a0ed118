package node_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVMVolumeSnapshotOps drives pause/resume, live migration, data volumes
// and snapshots through the REST API on simulated hosts (the control
// plane's side: states, placement, capacity, rollback of bad requests); the
// real-guest side is proven in hostworker/libvirt.
func TestVMVolumeSnapshotOps(t *testing.T) {
	e := newEnv(t)
	in := e.buildInfra(2)
	c := e.c
	vm, err := c.Create("vm-instances", e.vmParams(in, "vm"))
	require.NoError(t, err)
	vmUUID := vm["uuid"].(string)
	src := vm["hostUuid"].(string)
	psBefore, err := c.Get("primary-storage", in.ps)
	require.NoError(t, err)

	// Pause and resume; a paused VM refuses a second pause with VM.1010.
	vm, err = c.Action("vm-instances", vmUUID, "pauseVmInstance", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "Paused", vm["state"])
	_, err = c.Action("vm-instances", vmUUID, "pauseVmInstance", map[string]any{})
	require.ErrorContains(t, err, "VM.1010")
	vm, err = c.Action("vm-instances", vmUUID, "resumeVmInstance", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "Running", vm["state"])

	// Live migration to the other host; capacity follows the VM.
	_, err = c.Action("vm-instances", vmUUID, "migrateVm", map[string]any{"hostUuid": src})
	require.ErrorContains(t, err, "already runs")
	vm, err = c.Action("vm-instances", vmUUID, "migrateVm", map[string]any{})
	require.NoError(t, err)
	dst := vm["hostUuid"].(string)
	require.NotEqual(t, src, dst)
	require.Equal(t, "Running", vm["state"])
	srcDrv, _ := e.n.Fleet.Driver(src)
	dstDrv, _ := e.n.Fleet.Driver(dst)
	require.NotContains(t, srcDrv.VMs(), vmUUID, "the domain left the source")
	require.Contains(t, dstDrv.VMs(), vmUUID, "the domain runs on the destination")
	h, err := c.Get("hosts", src)
	require.NoError(t, err)
	require.Equal(t, h["totalCpuCapacity"], h["availableCpuCapacity"], "the source host got its CPU back")

	// A data volume: NotInstantiated until attached, then placed with the VM.
	offering := e.mustCreate("disk-offerings", map[string]any{"name": "10G", "diskSize": int64(10) << 30})
	_, err = c.Create("volumes/data", map[string]any{"name": "bad"})
	require.ErrorContains(t, err, "diskOfferingUuid or a positive diskSize")
	vol, err := c.Create("volumes/data", map[string]any{"name": "data", "diskOfferingUuid": offering})
	require.NoError(t, err)
	volUUID := vol["uuid"].(string)
	require.Equal(t, "NotInstantiated", vol["status"])
	_, err = c.Call("POST", "v1/volumes/"+volUUID+"/vm-instances/"+vmUUID, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	vol, err = c.Get("volumes", volUUID)
	require.NoError(t, err)
	require.Equal(t, vmUUID, vol["vmInstanceUuid"])
	require.Equal(t, "Ready", vol["status"])
	require.EqualValues(t, 1, vol["deviceId"])
	require.Equal(t, in.ps, vol["primaryStorageUuid"])
	ps, err := c.Get("primary-storage", in.ps)
	require.NoError(t, err)
	require.EqualValues(t, psBefore["availableCapacity"].(float64)-float64(int64(10)<<30), ps["availableCapacity"])

	// Resize: growing takes capacity; shrinking is refused and changes nothing.
	_, err = c.Action("volumes/data/resize", volUUID, "resizeDataVolume", map[string]any{"size": int64(5) << 30})
	require.ErrorContains(t, err, "shrinking")
	vol, err = c.Action("volumes/data/resize", volUUID, "resizeDataVolume", map[string]any{"size": int64(12) << 30})
	require.NoError(t, err)
	require.EqualValues(t, int64(12)<<30, vol["size"])

	// Snapshots: taken, refused revert while the VM runs, reverted when stopped, deleted.
	snap, err := c.Create("volumes/"+volUUID+"/volume-snapshots", map[string]any{"name": "s1"})
	require.NoError(t, err)
	snapUUID := snap["uuid"].(string)
	require.Equal(t, "Ready", snap["status"])
	_, err = c.Action("volume-snapshots", snapUUID, "revertVolumeFromSnapshot", map[string]any{})
	require.ErrorContains(t, err, "VM.1010")
	_, err = c.Action("vm-instances", vmUUID, "stopVmInstance", map[string]any{"type": "cold"})
	require.NoError(t, err)
	_, err = c.Action("volume-snapshots", snapUUID, "revertVolumeFromSnapshot", map[string]any{})
	require.NoError(t, err)
	snaps, err := c.ListAll("volume-snapshots", "volumeUuid="+volUUID)
	require.NoError(t, err)
	require.Len(t, snaps, 1)
	// A standalone data volume copied from the snapshot, then gone for good.
	copied, err := c.Create("volumes/data/from/volume-snapshots/"+snapUUID, map[string]any{"name": "copy"})
	require.NoError(t, err)
	require.Equal(t, "Ready", copied["status"])
	require.EqualValues(t, int64(12)<<30, copied["size"])
	require.Equal(t, in.ps, copied["primaryStorageUuid"])
	_, err = c.Create("volumes/data/from/volume-snapshots/"+volUUID, map[string]any{"name": "bad"})
	require.Error(t, err, "not a snapshot")
	require.NoError(t, c.Delete("volumes", copied["uuid"].(string)))
	_, err = c.Action("volumes", copied["uuid"].(string), "expungeDataVolume", map[string]any{})
	require.NoError(t, err)
	require.NoError(t, c.Delete("volume-snapshots", snapUUID))
	snaps, err = c.ListAll("volume-snapshots", "volumeUuid="+volUUID)
	require.NoError(t, err)
	require.Empty(t, snaps)

	// Detach, delete (recoverable), recover, delete, expunge: capacity back.
	_, err = c.Call("DELETE", "v1/volumes/"+volUUID+"/vm-instances?vmUuid="+vmUUID, nil)
	require.NoError(t, err)
	require.NoError(t, c.Delete("volumes", volUUID))
	vol, err = c.Get("volumes", volUUID)
	require.NoError(t, err)
	require.Equal(t, "Deleted", vol["status"])
	vol, err = c.Action("volumes", volUUID, "recoverDataVolume", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "Ready", vol["status"])
	require.NoError(t, c.Delete("volumes", volUUID))
	_, err = c.Action("volumes", volUUID, "expungeDataVolume", map[string]any{})
	require.NoError(t, err)
	ps, err = c.Get("primary-storage", in.ps)
	require.NoError(t, err)
	require.Equal(t, psBefore["availableCapacity"], ps["availableCapacity"], "the volume's capacity is back")

	require.NoError(t, c.Delete("vm-instances", vmUUID))
	_, err = c.Action("vm-instances", vmUUID, "expungeVmInstance", map[string]any{})
	require.NoError(t, err)
	e.assertClean(in)
}

// TestHostMaintenance puts a host into maintenance: its running VMs
// live-migrate to the other host; with nowhere to go, they stop.
func TestHostMaintenance(t *testing.T) {
	e := newEnv(t)
	in := e.buildInfra(2)
	c := e.c
	params := e.vmParams(in, "vm")
	params["hostUuid"] = in.hosts[0]
	vm1, err := c.Create("vm-instances", params)
	require.NoError(t, err)
	params["name"] = "vm2"
	vm2, err := c.Create("vm-instances", params)
	require.NoError(t, err)

	h, err := c.Action("hosts", in.hosts[0], "changeHostState", map[string]any{"stateEvent": "maintain"})
	require.NoError(t, err)
	require.Equal(t, "Maintenance", h["state"])
	for _, vm := range []map[string]any{vm1, vm2} {
		got, err := c.Get("vm-instances", vm["uuid"].(string))
		require.NoError(t, err)
		require.Equal(t, "Running", got["state"])
		require.Equal(t, in.hosts[1], got["hostUuid"], "migrated away")
	}
	_, err = c.Create("vm-instances", params)
	require.ErrorContains(t, err, "no host", "a host in maintenance takes no VM")

	// With the first host in maintenance, the second has nowhere to send its VMs: they stop.
	h, err = c.Action("hosts", in.hosts[1], "changeHostState", map[string]any{"stateEvent": "maintain"})
	require.NoError(t, err)
	require.Equal(t, "Maintenance", h["state"])
	got, err := c.Get("vm-instances", vm1["uuid"].(string))
	require.NoError(t, err)
	require.Equal(t, "Stopped", got["state"])

	// The simulator keeps a volume on the host that holds it (as local
	// storage does), so the VM starts where its disk went.
	_, err = c.Action("vm-instances", vm1["uuid"].(string), "startVmInstance", map[string]any{})
	require.ErrorContains(t, err, "no host")
	_, err = c.Action("hosts", in.hosts[1], "changeHostState", map[string]any{"stateEvent": "enable"})
	require.NoError(t, err)
	got, err = c.Action("vm-instances", vm1["uuid"].(string), "startVmInstance", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, in.hosts[1], got["hostUuid"])
}
