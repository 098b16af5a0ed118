package sim_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/sim"
	"github.com/zcloud/zcloud/models"
)

func TestPauseResume(t *testing.T) {
	d := withVM(t, true)
	ctx := t.Context()
	steps := []struct {
		name string
		do   func() (string, error)
		want string
		err  error
	}{
		{"pause", func() (string, error) { return d.PauseVM(ctx, "vm-1") }, hostapi.PowerPaused, nil},
		{"pause paused", func() (string, error) { return d.PauseVM(ctx, "vm-1") }, hostapi.PowerPaused, nil},
		{"resume", func() (string, error) { return d.ResumeVM(ctx, "vm-1") }, hostapi.PowerRunning, nil},
		{"resume running", func() (string, error) { return d.ResumeVM(ctx, "vm-1") }, hostapi.PowerRunning, nil},
		{"pause missing", func() (string, error) { return d.PauseVM(ctx, "vm-x") }, "", models.ErrNotFound},
		{"stop", func() (string, error) { return d.StopVM(ctx, "vm-1", "", 0) }, hostapi.PowerStopped, nil},
		{"pause stopped", func() (string, error) { return d.PauseVM(ctx, "vm-1") }, "", models.ErrConflict},
		{"resume stopped", func() (string, error) { return d.ResumeVM(ctx, "vm-1") }, "", models.ErrConflict},
	}
	for _, s := range steps {
		got, err := s.do()
		if s.err != nil {
			require.ErrorIs(t, err, s.err, s.name)
			continue
		}
		require.NoError(t, err, s.name)
		require.Equal(t, s.want, got, s.name)
		require.Equal(t, s.want, d.VMs()["vm-1"].State, s.name)
	}
}

func TestAttachDetach(t *testing.T) {
	d := withVM(t, true)
	ctx := t.Context()
	data := vol("data-1")
	data.Type, data.DeviceID = "Data", 1
	_, err := d.AttachVolume(ctx, "vm-1", data)
	require.ErrorIs(t, err, models.ErrInvalid, "not instantiated")
	_, err = d.InstantiateVolume(ctx, data)
	require.NoError(t, err)
	for range 2 {
		dev, err := d.AttachVolume(ctx, "vm-1", data)
		require.NoError(t, err)
		require.Equal(t, "vdb", dev)
	}
	require.Equal(t, []hostapi.VolumeSpec{data}, d.VMs()["vm-1"].Spec.DataVolumes)
	require.ErrorIs(t, d.DeleteVolume(ctx, data), models.ErrConflict, "attached volume")

	other := vol("data-2")
	other.Type, other.DeviceID = "Data", 1
	_, err = d.InstantiateVolume(ctx, other)
	require.NoError(t, err)
	_, err = d.AttachVolume(ctx, "vm-1", other)
	require.ErrorIs(t, err, models.ErrConflict, "vdb is taken")
	_, err = d.AttachVolume(ctx, "vm-x", other)
	require.ErrorIs(t, err, models.ErrNotFound)

	for range 2 {
		require.NoError(t, d.DetachVolume(ctx, "vm-1", data))
	}
	require.Empty(t, d.VMs()["vm-1"].Spec.DataVolumes)
	require.NoError(t, d.DetachVolume(ctx, "vm-x", data), "missing vm")
	require.ErrorIs(t, d.DetachVolume(ctx, "vm-1", vol("root-1")), models.ErrInvalid, "root volume")
	require.NoError(t, d.DeleteVolume(ctx, data))
}

func TestResizeAndSnapshots(t *testing.T) {
	d := withVM(t, true)
	ctx := t.Context()
	root := vol("root-1")
	size, err := d.ResizeVolume(ctx, root, 2<<30)
	require.NoError(t, err)
	require.Equal(t, int64(2<<30), size)
	_, err = d.ResizeVolume(ctx, root, 1<<30)
	require.ErrorIs(t, err, models.ErrInvalid)

	snap, err := d.CreateVolumeSnapshot(ctx, root, "s1")
	require.NoError(t, err)
	require.Equal(t, int64(2<<30), snap.VirtualSize)
	again, err := d.CreateVolumeSnapshot(ctx, root, "s1")
	require.NoError(t, err)
	require.Equal(t, snap, again)
	_, err = d.ResizeVolume(ctx, root, 3<<30)
	require.NoError(t, err)

	require.ErrorIs(t, d.RevertVolumeSnapshot(ctx, root, "s1"), models.ErrConflict, "vm running")
	_, err = d.CreateVolumeFromSnapshot(ctx, root, "", vol("copy-x"))
	require.ErrorIs(t, err, models.ErrConflict, "copying a running volume as it is")
	made, err := d.CreateVolumeFromSnapshot(ctx, root, "s1", vol("copy-1"))
	require.NoError(t, err)
	require.Equal(t, int64(2<<30), made.ActualSize)
	require.Equal(t, int64(2<<30), d.Volumes()["copy-1"].Spec.Size)

	_, err = d.StopVM(ctx, "vm-1", "", 0)
	require.NoError(t, err)
	require.NoError(t, d.RevertVolumeSnapshot(ctx, root, "s1"))
	require.Equal(t, int64(2<<30), d.Volumes()["root-1"].Spec.Size)
	require.ErrorIs(t, d.RevertVolumeSnapshot(ctx, root, "s2"), models.ErrNotFound)
	for range 2 {
		require.NoError(t, d.DeleteVolumeSnapshot(ctx, root, "s1"))
	}
	require.ErrorIs(t, d.RevertVolumeSnapshot(ctx, root, "s1"), models.ErrNotFound)
}

func TestMigrate(t *testing.T) {
	src := withVM(t, true)
	dst := newDriver(t)
	ctx := t.Context()
	p := hostapi.MigrateVMParams{VMUUID: "vm-1", DestinationURI: "sim://dst", SharedStorage: true}
	_, err := src.MigrateVM(ctx, p)
	require.ErrorIs(t, err, errors.ErrUnsupported, "no peers")

	peers := func(uri string) *sim.Driver {
		switch uri {
		case "sim://src":
			return src
		case "sim://dst":
			return dst
		}
		return nil
	}
	src.SetMigrationPeers(peers)
	for range 2 {
		st, err := src.MigrateVM(ctx, p)
		require.NoError(t, err)
		require.Equal(t, hostapi.PowerRunning, st)
	}
	require.NotContains(t, src.VMs(), "vm-1")
	require.Equal(t, hostapi.PowerRunning, dst.VMs()["vm-1"].State)
	require.Contains(t, dst.Volumes(), "root-1")
	require.NotContains(t, src.Volumes(), "root-1")

	_, err = src.MigrateVM(ctx, hostapi.MigrateVMParams{VMUUID: "vm-x", DestinationURI: "sim://dst", SharedStorage: true})
	require.ErrorIs(t, err, models.ErrNotFound)
	_, err = src.MigrateVM(ctx, hostapi.MigrateVMParams{VMUUID: "vm-1", DestinationURI: "sim://src", SharedStorage: true})
	require.ErrorIs(t, err, models.ErrInvalid, "to itself")
	_, err = src.MigrateVM(ctx, hostapi.MigrateVMParams{VMUUID: "vm-1", DestinationURI: "sim://nowhere", SharedStorage: true})
	require.ErrorIs(t, err, models.ErrInvalid)
	_, err = src.MigrateVM(ctx, hostapi.MigrateVMParams{VMUUID: "vm-1", DestinationURI: "sim://dst"})
	require.ErrorIs(t, err, errors.ErrUnsupported, "local storage")
}
