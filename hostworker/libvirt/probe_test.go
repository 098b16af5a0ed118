//go:build libvirt

package libvirt

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/hostworker/domainxml"
)

// capsXML is a capabilities document with one x86_64 hvm guest offering
// the given domain types.
func capsXML(arch string, types ...string) string {
	doms := ""
	for _, t := range types {
		doms += fmt.Sprintf(`<domain type=%q/>`, t)
	}
	return fmt.Sprintf(`<capabilities><host><uuid>00000000-0000-0000-0000-000000000001</uuid>
		<cpu><arch>x86_64</arch></cpu></host>
		<guest><os_type>hvm</os_type><arch name=%q><wordsize>64</wordsize>
		<emulator>/usr/bin/qemu-system-x86_64</emulator>%s</arch></guest></capabilities>`, arch, doms)
}

func TestProbe(t *testing.T) {
	testCaps, err := rawConn(t).GetCapabilities()
	require.NoError(t, err)
	errHang := errors.New("failed to set MSR 0x10a")

	tests := []struct {
		name      string
		device    bool
		caps      string
		tryErr    error
		noTry     bool // TryKVM is nil
		want      string
		wantTried bool
	}{
		{"kvm works", true, capsXML("x86_64", "qemu", "kvm"), nil, false, domainxml.DomainKVM, true},
		{"kvm listed but guest fails", true, capsXML("x86_64", "qemu", "kvm"), errHang, false, domainxml.DomainQEMU, true},
		{"probe times out", true, capsXML("x86_64", "qemu", "kvm"), context.DeadlineExceeded, false, domainxml.DomainQEMU, true},
		{"no way to try", true, capsXML("x86_64", "qemu", "kvm"), nil, true, domainxml.DomainQEMU, false},
		{"no /dev/kvm", false, capsXML("x86_64", "qemu", "kvm"), nil, false, domainxml.DomainQEMU, false},
		{"tcg only", true, capsXML("x86_64", "qemu"), nil, false, domainxml.DomainQEMU, false},
		{"kvm for another arch", true, capsXML("aarch64", "kvm"), nil, false, domainxml.DomainQEMU, false},
		{"test driver", true, testCaps, nil, false, domainxml.DomainQEMU, false},
		{"broken capabilities", true, "<capabilities", nil, false, domainxml.DomainQEMU, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tried := false
			in := ProbeInput{KVMDevice: tc.device, Capabilities: tc.caps}
			if !tc.noTry {
				in.TryKVM = func(context.Context) error { tried = true; return tc.tryErr }
			}
			got := Probe(t.Context(), in)
			require.Equal(t, tc.want, got.DomainType, "domain type (reason %q)", got.Reason)
			require.NotEmpty(t, got.Reason)
			require.Equal(t, tc.wantTried, tried, "kvm guest tried")
			if tc.tryErr != nil {
				require.Contains(t, got.Reason, tc.tryErr.Error())
			}
		})
	}
}

// TestConfiguredDomainType skips the probe.
func TestConfiguredDomainType(t *testing.T) {
	d, err := New(Config{URI: testURI, StorageDir: t.TempDir(), ImageCacheDir: t.TempDir(), DomainType: domainxml.DomainKVM})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	got, err := d.Probed(t.Context())
	require.NoError(t, err)
	require.Equal(t, ProbeResult{DomainType: domainxml.DomainKVM, Reason: "configured"}, got)

	_, err = New(Config{DomainType: "xen"})
	require.Error(t, err)
	_, err = New(Config{StorageDir: "relative"})
	require.Error(t, err)
}

func TestProbeDomainXML(t *testing.T) {
	doc, err := probeDomainXML("zcloud-kvm-probe-x")
	require.NoError(t, err)
	require.Contains(t, doc, `type="kvm"`)
	require.Contains(t, doc, `mode="host-passthrough"`)
	require.NotContains(t, doc, domainxml.MetadataNamespace, "the probe domain must not look like a VM")
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		options map[string]string
		want    Config
		wantErr bool
	}{
		{"empty", nil, Config{}, false},
		{"all", map[string]string{
			OptURI: "test:///default", OptStorageDir: "/ps", OptImageCache: "/cache",
			OptDomainType: "qemu", OptGrace: "90s", OptProbeTimeout: "5s",
		}, Config{URI: "test:///default", StorageDir: "/ps", ImageCacheDir: "/cache",
			DomainType: "qemu", Grace: 90 * time.Second, ProbeTimeout: 5 * time.Second}, false},
		{"bad duration", map[string]string{OptGrace: "soon"}, Config{}, true},
		{"unknown key", map[string]string{"urI": "x"}, Config{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConfig(tc.options)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
