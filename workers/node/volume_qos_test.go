package node_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/api/apitest"
	"github.com/zcloud/zcloud/hostworker/testhost"
)

// These checks run inside TestKVMEndToEnd, on its real guest and hosts, so
// that volume QoS and shareable volumes cost one extra guest boot.

// volumeQoS reads GetVolumeQos: from the record, or with live from the
// running domain (libvirt's GetBlockIoTune on the VM's host).
func volumeQoS(t *testing.T, b *kvmBed, vol string, live bool) map[string]int64 {
	t.Helper()
	return volumeQoSOf(t, b.c, vol, live)
}

func volumeQoSOf(t *testing.T, c *apitest.Client, vol string, live bool) map[string]int64 {
	t.Helper()
	path := "v1/volumes/" + vol + "/qos"
	if live {
		path += "?forceSync=true"
	}
	m, err := c.Call("GET", path, nil)
	require.NoError(t, err)
	out := map[string]int64{}
	for _, k := range []string{"volumeBandwidth", "volumeBandwidthRead", "volumeBandwidthWrite", "iopsTotal", "iopsRead", "iopsWrite"} {
		var v int64
		require.NoError(t, json.Unmarshal(m[k], &v), "%s", k)
		out[k] = v
	}
	return out
}

// vmHost is the test host a VM runs on.
func vmHost(t *testing.T, b *kvmBed, vmUUID string) *testhost.Host {
	t.Helper()
	vm, err := b.c.Get("vm-instances", vmUUID)
	require.NoError(t, err)
	host, err := b.c.Get("hosts", vm["hostUuid"].(string))
	require.NoError(t, err)
	for _, h := range b.hosts {
		if h.IP().String() == host["managementIp"] {
			return h
		}
	}
	t.Fatalf("vm %s runs on no test host", vmUUID)
	return nil
}

// virsh runs virsh on a VM's host.
func virsh(t *testing.T, b *kvmBed, vmUUID string, args ...string) string {
	t.Helper()
	out, err := vmHost(t, b, vmUUID).Exec(t.Context(), append([]string{"virsh", "-c", "qemu:///system"}, args...)...)
	require.NoError(t, err, "%s", out)
	return string(out)
}

// checkVolumeQoS sets limits on the running guest's data volume (vdb) in
// both of ZStack's forms, reads them back from the live domain through the
// API and with virsh on the host, and sees bad values refused with nothing
// changed.
func checkVolumeQoS(t *testing.T, b *kvmBed, vmUUID, vol string) {
	c := b.c
	inv, err := c.Action("volumes", vol, "setVolumeQos", map[string]any{"volumeBandwidth": 2 << 20, "mode": "write"})
	require.NoError(t, err)
	require.Equal(t, "writeBandwidth=2097152", inv["volumeQos"])
	inv, err = c.Action("volumes", vol, "setVolumeQos", map[string]any{"readBandwidth": 8 << 20, "totalIOPS": 300})
	require.NoError(t, err)
	require.Equal(t, "readBandwidth=8388608,writeBandwidth=2097152,totalIOPS=300", inv["volumeQos"])
	want := map[string]int64{"volumeBandwidth": -1, "volumeBandwidthRead": 8 << 20, "volumeBandwidthWrite": 2 << 20,
		"iopsTotal": 300, "iopsRead": -1, "iopsWrite": -1}
	require.Equal(t, want, volumeQoS(t, b, vol, true), "libvirt applies them to the running guest")
	require.Equal(t, want, volumeQoS(t, b, vol, false))
	tune := virsh(t, b, vmUUID, "blkdeviotune", vmUUID, "vdb")
	require.Regexp(t, `write_bytes_sec\s*:\s*2097152`, tune)
	require.Regexp(t, `total_iops_sec\s*:\s*300`, tune)

	for _, bad := range []map[string]any{
		{"totalBandwidth": 4 << 20, "readBandwidth": 4 << 20},
		{"totalIOPS": 10, "writeIOPS": 10},
		{"mode": "read", "volumeBandwidth": 1 << 20, "readIOPS": 5},
		{"mode": "read"},
		{"volumeBandwidth": 10},
		{"readIOPS": -1},
		{"mode": "both", "volumeBandwidth": 1 << 20},
	} {
		_, err := c.Action("volumes", vol, "setVolumeQos", bad)
		require.Error(t, err, "%v", bad)
	}
	_, err = c.Call("DELETE", "v1/volumes/"+vol+"/qos?mode=sideways", nil)
	require.Error(t, err)
	require.Equal(t, want, volumeQoS(t, b, vol, true), "nothing changed")
}

// checkVolumeQoSKept runs after the guest was stopped, started and
// migrated: the limits are still on the running domain; deleting them
// leaves the disk unlimited.
func checkVolumeQoSKept(t *testing.T, b *kvmBed, vmUUID, vol string) {
	want := map[string]int64{"volumeBandwidth": -1, "volumeBandwidthRead": 8 << 20, "volumeBandwidthWrite": 2 << 20,
		"iopsTotal": 300, "iopsRead": -1, "iopsWrite": -1}
	require.Equal(t, want, volumeQoS(t, b, vol, true), "kept across stop, start and migration")
	_, err := b.c.Call("DELETE", "v1/volumes/"+vol+"/qos?mode=write", nil)
	require.NoError(t, err)
	want["volumeBandwidthWrite"] = -1
	require.Equal(t, want, volumeQoS(t, b, vol, true))
	_, err = b.c.Call("DELETE", "v1/volumes/"+vol+"/qos?mode=all", nil)
	require.NoError(t, err)
	for k := range want {
		want[k] = -1
	}
	require.Equal(t, want, volumeQoS(t, b, vol, true), "unlimited")
	require.Regexp(t, `total_iops_sec\s*:\s*0\b`, virsh(t, b, vmUUID, "blkdeviotune", vmUUID, "vdb"))
	vi, err := b.c.Get("volumes", vol)
	require.NoError(t, err)
	require.Empty(t, vi["volumeQos"])
}

// checkShareableVolume attaches one raw shareable volume to the running
// guest and to a second guest: both guests see the disk, both domains have
// it shareable; a plain volume attached to the first is refused to the
// second; QoS is refused on the shareable one. Then it is detached, the
// second guest goes and the volume is deleted.
func checkShareableVolume(t *testing.T, b *kvmBed, vmUUID, plainVol string, vmParams map[string]any) {
	c := b.c
	shared, err := c.Create("volumes/data", map[string]any{"name": "shared", "diskSize": 64 << 20}, "shareable")
	require.NoError(t, err)
	sharedUUID := shared["uuid"].(string)
	require.Equal(t, true, shared["isShareable"])
	require.Equal(t, "raw", shared["format"])
	_, err = c.Call("POST", "v1/volumes/"+sharedUUID+"/vm-instances/"+vmUUID, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	b.console(vmUUID, "zcloud-disk-added vdc", time.Minute)

	params := map[string]any{}
	for k, v := range vmParams {
		params[k] = v
	}
	params["name"] = "guest2"
	vm2 := b.mustCreate("vm-instances", params)["uuid"].(string)
	b.console(vm2, "zcloud-heartbeat 1 ", 2*time.Minute)
	_, err = c.Call("POST", "v1/volumes/"+sharedUUID+"/vm-instances/"+vm2, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	b.console(vm2, "zcloud-disk-added vdb", time.Minute)
	for _, vm := range []string{vmUUID, vm2} {
		x := virsh(t, b, vm, "dumpxml", vm)
		i := strings.Index(x, "ua-"+sharedUUID)
		require.Positive(t, i, "domain %s has the shareable disk:\n%s", vm, x)
		disk := x[strings.LastIndex(x[:i], "<disk"):i]
		require.Contains(t, disk, "<shareable/>")
		require.Contains(t, disk, `type='raw'`)
	}
	refs, err := c.ListAll("volumes/vm-instances/refs", "volumeUuid="+sharedUUID)
	require.NoError(t, err)
	require.Len(t, refs, 2)
	vi, err := c.Get("volumes", sharedUUID)
	require.NoError(t, err)
	require.Empty(t, vi["vmInstanceUuid"], "a shareable volume belongs to no one vm")

	_, err = c.Call("POST", "v1/volumes/"+plainVol+"/vm-instances/"+vm2, map[string]any{"params": map[string]any{}})
	require.Error(t, err, "a volume that is not shareable attaches to one vm")
	_, err = c.Action("volumes", sharedUUID, "setVolumeQos", map[string]any{"totalIOPS": 10})
	require.Error(t, err, "no qos on a shareable volume")

	_, err = c.Call("DELETE", "v1/volumes/"+sharedUUID+"/vm-instances?vmUuid="+vm2, nil)
	require.NoError(t, err)
	b.console(vm2, "zcloud-disk-removed vdb", time.Minute)
	refs, err = c.ListAll("volumes/vm-instances/refs", "volumeUuid="+sharedUUID)
	require.NoError(t, err)
	require.Len(t, refs, 1)
	require.NoError(t, c.Delete("vm-instances", vm2))
	_, err = c.Action("vm-instances", vm2, "expungeVmInstance", map[string]any{})
	require.NoError(t, err)
	// Deleting the volume detaches it from the first guest too.
	_, err = c.Call("DELETE", "v1/volumes/"+sharedUUID+"?deleteMode=Enforcing", nil)
	require.NoError(t, err)
	b.console(vmUUID, "zcloud-disk-removed vdc", time.Minute)
	_, err = c.Action("volumes", sharedUUID, "expungeDataVolume", map[string]any{})
	require.NoError(t, err)
	refs, err = c.ListAll("volumes/vm-instances/refs")
	require.NoError(t, err)
	require.Empty(t, refs)
}
