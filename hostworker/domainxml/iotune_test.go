package domainxml

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/models"
)

// volumeQoSScenario is a TCG Linux guest as the libvirt driver defines it
// for volume QoS and sharing: limits on the root volume (total bandwidth
// and IOPS) and on a data volume (read and write apart), and a raw
// shareable volume (<shareable/>, cache none).
func volumeQoSScenario() Spec {
	return Spec{
		UUID:        vmUUID,
		Name:        "qos",
		DomainType:  DomainQEMU,
		Platform:    PlatformLinux,
		CPUNum:      1,
		MemoryBytes: 256 * mib,
		Disks: []Disk{
			{VolumeUUID: rootUUID, Path: "/var/lib/zcloud/ps/root.qcow2", Format: FormatQCOW2, DeviceID: 0,
				IOTune: &IOTune{TotalBytesSec: 10 * mib, TotalIOPSSec: 800}},
			{VolumeUUID: data1, Path: "/var/lib/zcloud/ps/data1.qcow2", Format: FormatQCOW2, DeviceID: 1,
				IOTune: &IOTune{ReadBytesSec: 4 * mib, WriteBytesSec: mib, ReadIOPSSec: 200, WriteIOPSSec: 100}},
			{VolumeUUID: shared, Path: "/var/lib/zcloud/ps/shared.raw", Format: FormatRaw, DeviceID: 2, Shareable: true},
		},
	}
}

func TestCheckIOTune(t *testing.T) {
	tests := []struct {
		name string
		tune *IOTune
		ok   bool
	}{
		{"none", nil, true},
		{"zero", &IOTune{}, true},
		{"total", &IOTune{TotalBytesSec: 1024, TotalIOPSSec: 1}, true},
		{"read and write", &IOTune{ReadBytesSec: 1024, WriteBytesSec: 2048, ReadIOPSSec: 1, WriteIOPSSec: 2}, true},
		{"total and read bytes", &IOTune{TotalBytesSec: 1024, ReadBytesSec: 1024}, false},
		{"total and write iops", &IOTune{TotalIOPSSec: 1, WriteIOPSSec: 1}, false},
		{"negative", &IOTune{WriteIOPSSec: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckIOTune(tt.tune)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, models.ErrInvalid)
		})
	}
}

// TestHotplugShareable checks the disk a shareable volume hot-plugs as,
// and that a shareable qcow2 or a cached shareable disk is refused.
func TestHotplugShareable(t *testing.T) {
	disk, err := HotplugDisk(MachinePC, Disk{VolumeUUID: shared, Path: "/ps/shared.raw", Format: FormatRaw, Bus: BusVirtio,
		DeviceID: 3, Shareable: true, IOTune: &IOTune{ReadIOPSSec: 5}})
	require.NoError(t, err)
	require.NotNil(t, disk.Shareable)
	require.Equal(t, "none", disk.Driver.Cache)
	require.Equal(t, "vdd", disk.Target.Dev)
	require.EqualValues(t, 5, disk.IOTune.ReadIopsSec)
	_, err = HotplugDisk(MachinePC, Disk{VolumeUUID: shared, Path: "/ps/shared.qcow2", Format: FormatQCOW2, Bus: BusVirtio,
		DeviceID: 3, Shareable: true})
	require.ErrorIs(t, err, models.ErrInvalid)
	_, err = HotplugDisk(MachinePC, Disk{VolumeUUID: shared, Path: "/ps/shared.raw", Format: FormatRaw, Bus: BusVirtio,
		DeviceID: 3, Shareable: true, Cache: "writeback"})
	require.ErrorIs(t, err, models.ErrInvalid)
}
