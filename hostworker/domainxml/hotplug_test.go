package domainxml

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/models"
)

// TestHotplugDiskMatchesBuild checks that a disk attached later is the very
// element Build writes for it in the domain, on both machine types and every
// bus, so that a hot-plugged disk and a redefined domain agree.
func TestHotplugDiskMatchesBuild(t *testing.T) {
	tests := []struct {
		machine, platform, bus string
	}{
		{MachinePC, PlatformLinux, BusVirtio},
		{"pc-i440fx-7.2", PlatformLinux, BusVirtio},
		{MachineQ35, PlatformLinux, BusVirtio},
		{MachinePC, PlatformWindows, BusIDE},
		{MachineQ35, PlatformWindows, BusSATA},
		{MachinePC, PlatformLinux, BusSCSI},
	}
	for _, tt := range tests {
		t.Run(tt.machine+"/"+tt.bus, func(t *testing.T) {
			s := validSpec()
			s.Machine, s.Platform = tt.machine, tt.platform
			s.CDROMs, s.HostDevices = nil, nil
			for i := range s.Disks {
				s.Disks[i].Bus = tt.bus
			}
			dom, err := Build(s)
			require.NoError(t, err)
			var want any
			for _, d := range dom.Devices.Disks {
				if d.Alias != nil && d.Alias.Name == "ua-"+data1 {
					want = d
				}
			}
			require.NotNil(t, want, "Build wrote no disk for %s", data1)
			got, err := HotplugDisk(tt.machine, s.Disks[1])
			require.NoError(t, err)
			require.Equal(t, want, *got)
		})
	}
}

func TestHotplugDiskErrors(t *testing.T) {
	disk := Disk{VolumeUUID: data1, Path: "/ps/data1.qcow2", Format: FormatQCOW2, Bus: BusVirtio, DeviceID: 1}
	tests := []struct {
		name    string
		machine string
		change  func(*Disk)
		want    string
	}{
		{"no bus", MachinePC, func(d *Disk) { d.Bus = "" }, "bus is empty"},
		{"ide on q35", MachineQ35, func(d *Disk) { d.Bus = BusIDE }, "bus ide does not exist on q35"},
		{"bad machine", "virt", func(*Disk) {}, `machine "virt"`},
		{"relative path", MachinePC, func(d *Disk) { d.Path = "data1.qcow2" }, "not a clean absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := disk
			tt.change(&d)
			_, err := HotplugDisk(tt.machine, d)
			require.ErrorContains(t, err, tt.want)
			require.True(t, errors.Is(err, models.ErrInvalid), "%v is not models.ErrInvalid", err)
		})
	}
}
