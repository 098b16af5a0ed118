package node_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/hostapi"
)

// TestVolumeQoSSimulated drives volume QoS through REST on a simulated host:
// limits on a running VM's root volume reach its domain, a failing host
// step leaves the record and the domain as they were, a stopped VM's
// limits are recorded and given to the domain at its next start, and a
// shareable volume is refused on a primary storage that is not shared.
// The real-guest side is TestKVMEndToEnd (checkVolumeQoS) and
// hostworker/libvirt's TestGuestVolumeQoS.
func TestVolumeQoSSimulated(t *testing.T) {
	e := newEnv(t)
	in := e.buildInfra(1)
	c := e.c
	drv, ok := e.n.Fleet.Driver(in.hosts[0])
	require.True(t, ok)
	vm, err := c.Create("vm-instances", e.vmParams(in, "vm"))
	require.NoError(t, err)
	vmUUID := vm["uuid"].(string)
	root := vm["rootVolumeUuid"].(string)
	onHost := func() *hostapi.VolumeQoS { return drv.VMs()[vmUUID].Spec.RootVolume.QoS }

	inv, err := c.Action("volumes", root, "setVolumeQos", map[string]any{"totalBandwidth": 1 << 20, "readIOPS": 50})
	require.NoError(t, err)
	require.Equal(t, "totalBandwidth=1048576,readIOPS=50", inv["volumeQos"])
	want := hostapi.VolumeQoS{TotalBandwidth: 1 << 20, ReadIOPS: 50}
	require.Equal(t, &want, onHost())
	require.Equal(t, map[string]int64{"volumeBandwidth": 1 << 20, "volumeBandwidthRead": -1, "volumeBandwidthWrite": -1,
		"iopsTotal": -1, "iopsRead": 50, "iopsWrite": -1}, volumeQoSOf(t, c, root, true))

	drv.InjectFailure(hostapi.ActSetVolumeQoS, "boom at iotune")
	_, err = c.Action("volumes", root, "setVolumeQos", map[string]any{"writeIOPS": 7})
	drv.ClearFailures()
	require.ErrorContains(t, err, "boom at iotune")
	vi, err := c.Get("volumes", root)
	require.NoError(t, err)
	require.Equal(t, "totalBandwidth=1048576,readIOPS=50", vi["volumeQos"], "the record is restored")
	require.Equal(t, &want, onHost(), "the domain is restored")

	_, err = c.Action("vm-instances", vmUUID, "stopVmInstance", map[string]any{})
	require.NoError(t, err)
	_, err = c.Call("DELETE", "v1/volumes/"+root+"/qos?mode=total", nil)
	require.NoError(t, err)
	_, err = c.Action("vm-instances", vmUUID, "startVmInstance", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, &hostapi.VolumeQoS{ReadIOPS: 50}, onHost(), "the next start takes the record's limits")

	shared, err := c.Create("volumes/data", map[string]any{"name": "shared", "diskSize": 1 << 30}, "shareable")
	require.NoError(t, err)
	_, err = c.Call("POST", "v1/volumes/"+shared["uuid"].(string)+"/vm-instances/"+vmUUID, map[string]any{"params": map[string]any{}})
	require.ErrorContains(t, err, "shareable volume")
	refs, err := c.ListAll("volumes/vm-instances/refs")
	require.NoError(t, err)
	require.Empty(t, refs, "a refused attach leaves no reference")
}
