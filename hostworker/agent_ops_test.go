package hostworker

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/zcloud/zcloud/activities/hostapi"
)

// TestAgentVolumeAndPowerOps runs the activities of issue 3 through a
// Temporal activity environment on the simulator: every one is registered
// under its hostapi name and carries its params and results.
func TestAgentVolumeAndPowerOps(t *testing.T) {
	d := newSimHost(t)
	env, _ := newEnv(t, d)
	root := hostapi.VolumeSpec{UUID: "root-1", Type: "Root", PrimaryStorageUUID: "ps-1", Size: 1 << 30}
	data := hostapi.VolumeSpec{UUID: "data-1", Type: "Data", PrimaryStorageUUID: "ps-1", Size: 1 << 30, DeviceID: 1}
	vm := hostapi.VMSpec{UUID: "vm-1", Name: "web", CPUNum: 2, MemorySize: 2 << 30, RootVolume: root}
	for _, v := range []hostapi.VolumeSpec{root, data} {
		require.NoError(t, exec(t, env, hostapi.ActInstantiateVolume, hostapi.InstantiateVolumeParams{Volume: v}, nil))
	}
	require.NoError(t, exec(t, env, hostapi.ActCreateVM, hostapi.CreateVMParams{VM: vm, Start: true}, nil))

	var attached hostapi.AttachVolumeResult
	require.NoError(t, exec(t, env, hostapi.ActAttachVolume, hostapi.AttachVolumeParams{VMUUID: "vm-1", Volume: data}, &attached))
	require.Equal(t, "vdb", attached.Device)

	var op hostapi.VMOpResult
	require.NoError(t, exec(t, env, hostapi.ActPauseVM, hostapi.PauseVMParams{VMUUID: "vm-1"}, &op))
	require.Equal(t, hostapi.PowerPaused, op.State)
	require.NoError(t, exec(t, env, hostapi.ActResumeVM, hostapi.ResumeVMParams{VMUUID: "vm-1"}, &op))
	require.Equal(t, hostapi.PowerRunning, op.State)

	var resized hostapi.ResizeVolumeResult
	require.NoError(t, exec(t, env, hostapi.ActResizeVolume, hostapi.ResizeVolumeParams{Volume: data, Size: 2 << 30}, &resized))
	require.Equal(t, int64(2<<30), resized.Size)

	var snap hostapi.VolumeSnapshotResult
	require.NoError(t, exec(t, env, hostapi.ActCreateVolumeSnapshot, hostapi.CreateVolumeSnapshotParams{Volume: data, SnapshotUUID: "s1"}, &snap))
	require.Equal(t, hostapi.VolumeSnapshotResult{SnapshotUUID: "s1", InstallPath: "/zcloud-sim/ps-1/data-1.qcow2", VirtualSize: 2 << 30}, snap)
	var copied hostapi.InstantiateVolumeResult
	target := hostapi.VolumeSpec{UUID: "copy-1", Type: "Data", PrimaryStorageUUID: "ps-1"}
	require.NoError(t, exec(t, env, hostapi.ActCreateVolumeFromSnapshot,
		hostapi.CreateVolumeFromSnapshotParams{Volume: data, SnapshotUUID: "s1", Target: target}, &copied))
	require.Equal(t, int64(2<<30), copied.ActualSize)

	// Revert needs the VM stopped: a business error, not retried.
	err := exec(t, env, hostapi.ActRevertVolumeSnapshot, hostapi.RevertVolumeSnapshotParams{Volume: data, SnapshotUUID: "s1"}, nil)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, hostapi.ErrTypeInvalid, appErr.Type())
	require.True(t, appErr.NonRetryable())

	require.NoError(t, exec(t, env, hostapi.ActDeleteVolumeSnapshot, hostapi.DeleteVolumeSnapshotParams{Volume: data, SnapshotUUID: "s1"}, nil))
	require.NoError(t, exec(t, env, hostapi.ActDetachVolume, hostapi.DetachVolumeParams{VMUUID: "vm-1", Volume: data}, nil))
	require.Empty(t, d.VMs()["vm-1"].Spec.DataVolumes)

	// A sim without migration peers says "not supported".
	err = exec(t, env, hostapi.ActMigrateVM, hostapi.MigrateVMParams{VMUUID: "vm-1", DestinationURI: "sim://other", SharedStorage: true}, nil)
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, hostapi.ErrTypeUnsupported, appErr.Type())

	// Params the agent refuses before the driver sees them.
	for name, params := range map[string]any{
		hostapi.ActMigrateVM:            hostapi.MigrateVMParams{VMUUID: "vm-1"},
		hostapi.ActAttachVolume:         hostapi.AttachVolumeParams{VMUUID: "vm-1"},
		hostapi.ActResizeVolume:         hostapi.ResizeVolumeParams{Volume: data},
		hostapi.ActCreateVolumeSnapshot: hostapi.CreateVolumeSnapshotParams{Volume: data},
		hostapi.ActPauseVM:              hostapi.PauseVMParams{},
	} {
		err := exec(t, env, name, params, nil)
		require.ErrorAs(t, err, &appErr, name)
		require.Equal(t, hostapi.ErrTypeInvalid, appErr.Type(), name)
	}
}
