package activities

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

func TestVolumeQoSChange(t *testing.T) {
	cur := hostapi.VolumeQoS{ReadBandwidth: 4096, WriteBandwidth: 8192, TotalIOPS: 100}
	tests := []struct {
		name    string
		change  VolumeQoSChange
		want    hostapi.VolumeQoS
		wantErr string
	}{
		{"legacy total replaces read and write", VolumeQoSChange{VolumeBandwidth: 2048},
			hostapi.VolumeQoS{TotalBandwidth: 2048, TotalIOPS: 100}, ""},
		{"legacy read keeps write", VolumeQoSChange{Mode: "read", VolumeBandwidth: 1024},
			hostapi.VolumeQoS{ReadBandwidth: 1024, WriteBandwidth: 8192, TotalIOPS: 100}, ""},
		{"legacy write", VolumeQoSChange{Mode: "write", VolumeBandwidth: 1 << 20},
			hostapi.VolumeQoS{ReadBandwidth: 4096, WriteBandwidth: 1 << 20, TotalIOPS: 100}, ""},
		{"read iops replaces total iops", VolumeQoSChange{Limits: hostapi.VolumeQoS{ReadIOPS: 10, WriteIOPS: 20}},
			hostapi.VolumeQoS{ReadBandwidth: 4096, WriteBandwidth: 8192, ReadIOPS: 10, WriteIOPS: 20}, ""},
		{"new total bandwidth", VolumeQoSChange{Limits: hostapi.VolumeQoS{TotalBandwidth: 1 << 30}},
			hostapi.VolumeQoS{TotalBandwidth: 1 << 30, TotalIOPS: 100}, ""},
		{"delete total", VolumeQoSChange{Delete: "total"}, cur, ""},
		{"delete read", VolumeQoSChange{Delete: "read"}, hostapi.VolumeQoS{WriteBandwidth: 8192, TotalIOPS: 100}, ""},
		{"delete all", VolumeQoSChange{Delete: "all"}, hostapi.VolumeQoS{}, ""},
		{"delete overwrite", VolumeQoSChange{Delete: "overwrite"}, hostapi.VolumeQoS{}, ""},
		{"replace", VolumeQoSChange{Replace: &hostapi.VolumeQoS{ReadIOPS: 5}}, hostapi.VolumeQoS{ReadIOPS: 5}, ""},
		{"legacy and new", VolumeQoSChange{Mode: "total", Limits: hostapi.VolumeQoS{ReadIOPS: 5}}, cur, "legacy"},
		{"total and read iops", VolumeQoSChange{Limits: hostapi.VolumeQoS{TotalIOPS: 5, ReadIOPS: 5}}, cur, "IOPS"},
		{"total and write bandwidth", VolumeQoSChange{Limits: hostapi.VolumeQoS{TotalBandwidth: 5000, WriteBandwidth: 5000}}, cur, "bandwidth"},
		{"nothing", VolumeQoSChange{Mode: "read"}, cur, "volume bandwidth"},
		{"bad mode", VolumeQoSChange{Mode: "both", VolumeBandwidth: 2048}, cur, "mode"},
		{"bad delete mode", VolumeQoSChange{Delete: "both"}, cur, "mode"},
		{"negative", VolumeQoSChange{Limits: hostapi.VolumeQoS{ReadIOPS: -1}}, cur, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.change.Apply(cur)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, models.ErrInvalid)
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, got, ParseVolumeQoS(FormatVolumeQoS(got)), "the record keeps it")
		})
	}
}

func TestVolumeQoSString(t *testing.T) {
	q := hostapi.VolumeQoS{TotalBandwidth: 1 << 20, ReadIOPS: 100, WriteIOPS: 7}
	require.Equal(t, "totalBandwidth=1048576,readIOPS=100,writeIOPS=7", FormatVolumeQoS(q))
	require.Equal(t, "", FormatVolumeQoS(hostapi.VolumeQoS{}))
	require.Equal(t, q, ParseVolumeQoS(" totalBandwidth=1048576, readIOPS=100,writeIOPS=7,bogus=1,readBandwidth=x,writeBandwidth=-5"))
	require.Nil(t, VolumeQoSOf(models.Volume{}))
	require.Equal(t, &q, VolumeQoSOf(models.Volume{VolumeQos: models.Ref(FormatVolumeQoS(q))}))
}
