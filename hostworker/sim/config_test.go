package sim_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/sim"
)

func TestParseFaults(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		wantLatency  map[string]time.Duration
		wantFailures map[string]string
		wantErr      bool
	}{
		{name: "empty", in: "", wantLatency: map[string]time.Duration{}, wantFailures: map[string]string{}},
		{
			name:         "example",
			in:           "host.CreateVM=fail:boom,host.StartVM=delay:2s",
			wantLatency:  map[string]time.Duration{hostapi.ActStartVM: 2 * time.Second},
			wantFailures: map[string]string{hostapi.ActCreateVM: "boom"},
		},
		{
			name:         "spaces, any op, message with colon, bare fail, trailing comma",
			in:           " *=delay:100ms , host.Ping=fail, host.StopVM = fail: disk: gone ,",
			wantLatency:  map[string]time.Duration{sim.AnyOp: 100 * time.Millisecond},
			wantFailures: map[string]string{hostapi.ActPing: "", hostapi.ActStopVM: "disk: gone"},
		},
		{
			name:         "delay and failure on one op",
			in:           "host.CreateVM=delay:1s,host.CreateVM=fail:x",
			wantLatency:  map[string]time.Duration{hostapi.ActCreateVM: time.Second},
			wantFailures: map[string]string{hostapi.ActCreateVM: "x"},
		},
		{name: "no equals", in: "host.CreateVM", wantErr: true},
		{name: "unknown op", in: "CreateVM=fail", wantErr: true},
		{name: "unknown action", in: "host.CreateVM=explode", wantErr: true},
		{name: "bad duration", in: "host.CreateVM=delay:soon", wantErr: true},
		{name: "negative duration", in: "host.CreateVM=delay:-1s", wantErr: true},
		{name: "two delays", in: "host.CreateVM=delay:1s,host.CreateVM=delay:2s", wantErr: true},
		{name: "two failures", in: "host.CreateVM=fail:a,host.CreateVM=fail:b", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lat, fail, err := sim.ParseFaults(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantLatency, lat, "latency")
			require.Equal(t, tt.wantFailures, fail, "failures")
		})
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "1024", want: 1024},
		{in: "64G", want: 64 << 30},
		{in: "64g", want: 64 << 30},
		{in: "512M", want: 512 << 20},
		{in: "2T", want: 2 << 40},
		{in: "64GiB", want: 64 << 30},
		{in: "64GB", want: 64e9},
		{in: " 8 G ", want: 8 << 30},
		{in: "", wantErr: true},
		{in: "lots", wantErr: true},
		{in: "12X", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := sim.ParseBytes(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]string
		want    sim.Config
		wantErr bool
	}{
		{name: "none", in: nil, want: sim.Config{}},
		{
			name: "all",
			in:   map[string]string{sim.OptCPU: "16", sim.OptMemory: "64G", sim.OptFaults: "host.Ping=delay:1s"},
			want: sim.Config{
				CPUNum:      16,
				MemoryBytes: 64 << 30,
				Latency:     map[string]time.Duration{hostapi.ActPing: time.Second},
				Failures:    map[string]string{},
			},
		},
		{name: "bad cpu", in: map[string]string{sim.OptCPU: "many"}, wantErr: true},
		{name: "negative cpu", in: map[string]string{sim.OptCPU: "-2"}, wantErr: true},
		{name: "bad memory", in: map[string]string{sim.OptMemory: "much"}, wantErr: true},
		{name: "bad faults", in: map[string]string{sim.OptFaults: "x=y"}, wantErr: true},
		{name: "unknown option", in: map[string]string{"disk": "1T"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sim.ParseConfig(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
