package driver_test

import (
	"errors"
	"testing"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/driver"
)

func TestBaseIsUnsupported(t *testing.T) {
	var b driver.Base
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"Facts", func() error { _, err := b.Facts(ctx); return err }},
		{"ListVMs", func() error { _, err := b.ListVMs(ctx); return err }},
		{"InstantiateVolume", func() error { _, err := b.InstantiateVolume(ctx, hostapi.VolumeSpec{}); return err }},
		{"DeleteVolume", func() error { return b.DeleteVolume(ctx, hostapi.VolumeSpec{}) }},
		{"CreateVM", func() error { _, err := b.CreateVM(ctx, hostapi.VMSpec{}, true); return err }},
		{"StartVM", func() error { _, err := b.StartVM(ctx, hostapi.VMSpec{}); return err }},
		{"StopVM", func() error { _, err := b.StopVM(ctx, "vm", driver.StopCold, 0); return err }},
		{"RebootVM", func() error { _, err := b.RebootVM(ctx, "vm"); return err }},
		{"DestroyVM", func() error { return b.DestroyVM(ctx, "vm") }},
		{"PauseVM", func() error { _, err := b.PauseVM(ctx, "vm"); return err }},
		{"ResumeVM", func() error { _, err := b.ResumeVM(ctx, "vm"); return err }},
		{"MigrateVM", func() error { _, err := b.MigrateVM(ctx, hostapi.MigrateVMParams{}); return err }},
		{"AttachVolume", func() error { _, err := b.AttachVolume(ctx, "vm", hostapi.VolumeSpec{}); return err }},
		{"DetachVolume", func() error { return b.DetachVolume(ctx, "vm", hostapi.VolumeSpec{}) }},
		{"ResizeVolume", func() error { _, err := b.ResizeVolume(ctx, hostapi.VolumeSpec{}, 1); return err }},
		{"CreateVolumeSnapshot", func() error { _, err := b.CreateVolumeSnapshot(ctx, hostapi.VolumeSpec{}, "s"); return err }},
		{"RevertVolumeSnapshot", func() error { return b.RevertVolumeSnapshot(ctx, hostapi.VolumeSpec{}, "s") }},
		{"DeleteVolumeSnapshot", func() error { return b.DeleteVolumeSnapshot(ctx, hostapi.VolumeSpec{}, "s") }},
		{"SetVolumeQoS", func() error { return b.SetVolumeQoS(ctx, "vm", hostapi.VolumeSpec{}) }},
		{"VolumeQoS", func() error { _, err := b.VolumeQoS(ctx, "vm", hostapi.VolumeSpec{}); return err }},
		{"CreateVolumeFromSnapshot", func() error {
			_, err := b.CreateVolumeFromSnapshot(ctx, hostapi.VolumeSpec{}, "s", hostapi.VolumeSpec{})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("got %v, want errors.ErrUnsupported", err)
			}
		})
	}
}
