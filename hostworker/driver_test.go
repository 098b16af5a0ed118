package hostworker

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/hostworker/sim"
)

func TestNewDriver(t *testing.T) {
	tests := []struct {
		name        string
		driver      string
		options     map[string]string
		wantErr     bool
		unsupported bool
	}{
		{name: "sim", driver: "sim"},
		{name: "sim with options", driver: "sim", options: map[string]string{sim.OptCPU: "4", sim.OptFaults: "*=delay:1ms"}},
		{name: "sim with bad options", driver: "sim", options: map[string]string{sim.OptFaults: "nope"}, wantErr: true},
		// New only checks the options: it connects on first use.
		{name: "libvirt", driver: "libvirt", options: map[string]string{"uri": "test:///default"},
			wantErr: !libvirtBuilt, unsupported: !libvirtBuilt},
		{name: "libvirt with a bad option", driver: "libvirt", options: map[string]string{"nope": "x"},
			wantErr: true, unsupported: !libvirtBuilt},
		{name: "unknown", driver: "xen", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDriver(tt.driver, tt.options)
			if !tt.wantErr {
				require.NoError(t, err)
				require.NotNil(t, d)
				return
			}
			require.Error(t, err)
			require.Equal(t, tt.unsupported, errors.Is(err, errors.ErrUnsupported), "unsupported: %v", err)
		})
	}
}

func TestDriverNames(t *testing.T) {
	require.Equal(t, []string{"libvirt", "sim"}, DriverNames())
}
