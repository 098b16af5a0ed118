//go:build libvirt

package libvirt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	virt "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/domainxml"
	"github.com/zcloud/zcloud/hostworker/driver"
	"github.com/zcloud/zcloud/models"
)

// TestLifecycle runs one VM through every operation, each twice where the
// contract promises idempotency, and checks the state each one reports and
// the state ListVMs sees.
func TestLifecycle(t *testing.T) {
	d := newTestDriver(t)
	ctx := t.Context()
	vm := testVM(t, d)
	t.Cleanup(func() { _ = d.DestroyVM(context.Background(), vm.UUID) })

	steps := []struct {
		name string
		do   func() (string, error)
		want string // power state after the step; "" means no domain
	}{
		{"create stopped", func() (string, error) { return d.CreateVM(ctx, vm, false) }, hostapi.PowerStopped},
		{"create stopped again", func() (string, error) { return d.CreateVM(ctx, vm, false) }, hostapi.PowerStopped},
		{"create and start", func() (string, error) { return d.CreateVM(ctx, vm, true) }, hostapi.PowerRunning},
		{"create running again", func() (string, error) { return d.CreateVM(ctx, vm, true) }, hostapi.PowerRunning},
		{"start running", func() (string, error) { return d.StartVM(ctx, vm) }, hostapi.PowerRunning},
		{"graceful stop", func() (string, error) { return d.StopVM(ctx, vm.UUID, driver.StopGrace, 0) }, hostapi.PowerStopped},
		{"stop stopped", func() (string, error) { return d.StopVM(ctx, vm.UUID, "", 0) }, hostapi.PowerStopped},
		{"reboot stopped", func() (string, error) { return d.RebootVM(ctx, vm.UUID) }, hostapi.PowerRunning},
		{"reboot running", func() (string, error) { return d.RebootVM(ctx, vm.UUID) }, hostapi.PowerRunning},
		{"cold stop", func() (string, error) { return d.StopVM(ctx, vm.UUID, driver.StopCold, 0) }, hostapi.PowerStopped},
		{"start stopped", func() (string, error) { return d.StartVM(ctx, vm) }, hostapi.PowerRunning},
		{"destroy running", func() (string, error) { return "", d.DestroyVM(ctx, vm.UUID) }, ""},
		{"destroy missing", func() (string, error) { return "", d.DestroyVM(ctx, vm.UUID) }, ""},
		{"stop missing", func() (string, error) { return d.StopVM(ctx, vm.UUID, driver.StopGrace, 0) }, ""},
	}
	for _, step := range steps {
		got, err := step.do()
		require.NoError(t, err, step.name)
		if step.want != "" {
			require.Equal(t, step.want, got, "%s: state", step.name)
		}
		vms, err := d.ListVMs(ctx)
		require.NoError(t, err, step.name)
		var want []hostapi.VMState
		if step.want != "" {
			want = []hostapi.VMState{{UUID: vm.UUID, State: step.want}}
		}
		require.ElementsMatch(t, want, vms, "%s: ListVMs (the test driver's own domain %q must not show)", step.name, "test")
	}
}

// TestDefinedDomain checks what CreateVM defines: the domain named after the
// VM, the serial console in a file beside the storage directory, one
// interface per NIC with a bridge and none for a NIC without.
func TestDefinedDomain(t *testing.T) {
	d := newTestDriver(t)
	c := rawConn(t)
	vm := testVM(t, d)
	_, err := d.CreateVM(t.Context(), vm, false)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.DestroyVM(context.Background(), vm.UUID) })

	dom, err := c.LookupDomainByName(vm.UUID)
	require.NoError(t, err)
	defer func() { _ = dom.Free() }()
	doc, err := dom.GetXMLDesc(0)
	require.NoError(t, err)
	var x libvirtxml.Domain
	require.NoError(t, x.Unmarshal(doc))

	require.Equal(t, domainxml.DomainQEMU, x.Type, "domain type (the test driver offers no kvm)")
	require.Len(t, x.Devices.Disks, 3, "root, data and an empty cd-rom drive")
	require.Equal(t, "cdrom", x.Devices.Disks[2].Device)
	require.Len(t, x.Devices.Graphics, 1, "a vnc console")
	require.Len(t, x.Devices.Interfaces, 1, "interfaces: only the NIC with a bridge")
	require.Equal(t, "br-test0", x.Devices.Interfaces[0].Source.Bridge.Bridge)
	require.Len(t, x.Devices.Serials, 1)
	require.Equal(t, d.consolePath(vm.UUID), x.Devices.Serials[0].Source.File.Path)
	require.True(t, strings.HasSuffix(d.consolePath(vm.UUID), "/console/"+vm.UUID+".log"), "console path %s", d.consolePath(vm.UUID))
	owner, ok, err := domainxml.ParseOwner(&x)
	require.NoError(t, err)
	require.True(t, ok, "zcloud metadata")
	require.Equal(t, vm.UUID, owner.VMUUID)
}

// TestSpecConflict: a VM created again with another spec is a conflict;
// StartVM redefines it from the new spec, after which that spec is the
// same one.
func TestSpecConflict(t *testing.T) {
	d := newTestDriver(t)
	ctx := t.Context()
	vm := testVM(t, d)
	_, err := d.CreateVM(ctx, vm, false)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.DestroyVM(context.Background(), vm.UUID) })

	changes := []struct {
		name   string
		change func(*hostapi.VMSpec)
	}{
		{"cpu", func(v *hostapi.VMSpec) { v.CPUNum = 2 }},
		{"memory", func(v *hostapi.VMSpec) { v.MemorySize = 512 << 20 }},
		{"name", func(v *hostapi.VMSpec) { v.Name = "other" }},
		{"nic bridge", func(v *hostapi.VMSpec) { v.NICs[0].Bridge = "br-other" }},
		{"no data volume", func(v *hostapi.VMSpec) { v.DataVolumes = nil }},
	}
	for _, tc := range changes {
		t.Run(tc.name, func(t *testing.T) {
			other := vm
			other.NICs = append([]hostapi.NICSpec(nil), vm.NICs...)
			tc.change(&other)
			_, err := d.CreateVM(ctx, other, false)
			require.ErrorIs(t, err, models.ErrConflict)
		})
	}

	other := vm
	other.CPUNum = 2
	got, err := d.StartVM(ctx, other)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerRunning, got)
	_, err = d.CreateVM(ctx, other, true)
	require.NoError(t, err, "create with the spec StartVM redefined")
	_, err = d.CreateVM(ctx, vm, true)
	require.ErrorIs(t, err, models.ErrConflict, "create with the old spec")
}

// TestForeignDomains: domains without ZCloud's metadata, or with another
// VM's, are never listed, redefined, stopped or removed.
func TestForeignDomains(t *testing.T) {
	d := newTestDriver(t)
	c := rawConn(t)
	ctx := t.Context()

	bare := newUUID(t)
	otherTool := newUUID(t)
	for _, f := range []struct{ uuid, metadata string }{
		{bare, ""},
		{otherTool, `<metadata><app xmlns="https://example.com/other" uuid="x"/></metadata>`},
	} {
		dashed, err := domainxml.LibvirtUUID(f.uuid)
		require.NoError(t, err)
		dom, err := c.DomainDefineXML(fmt.Sprintf(`<domain type="test"><name>foreign-%s</name><uuid>%s</uuid>%s
			<memory>65536</memory><os><type>hvm</type></os></domain>`, f.uuid, dashed, f.metadata))
		require.NoError(t, err)
		require.NoError(t, dom.Create())
		t.Cleanup(func() {
			_ = dom.Destroy()
			_ = dom.Undefine()
			_ = dom.Free()
		})
	}
	vms, err := d.ListVMs(ctx)
	require.NoError(t, err)
	require.Empty(t, vms, "foreign domains and the test driver's own must not be listed")

	for _, id := range []string{bare, otherTool} {
		vm := testVM(t, d)
		vm.UUID = id
		ops := []struct {
			name string
			do   func() error
		}{
			{"create", func() error { _, err := d.CreateVM(ctx, vm, true); return err }},
			{"start", func() error { _, err := d.StartVM(ctx, vm); return err }},
			{"stop", func() error { _, err := d.StopVM(ctx, id, driver.StopCold, 0); return err }},
			{"reboot", func() error { _, err := d.RebootVM(ctx, id); return err }},
			{"destroy", func() error { return d.DestroyVM(ctx, id) }},
			{"pause", func() error { _, err := d.PauseVM(ctx, id); return err }},
			{"resume", func() error { _, err := d.ResumeVM(ctx, id); return err }},
			{"attach", func() error { _, err := d.AttachVolume(ctx, id, vm.DataVolumes[0]); return err }},
			{"detach", func() error { return d.DetachVolume(ctx, id, vm.DataVolumes[0]) }},
			{"migrate", func() error {
				_, err := d.MigrateVM(ctx, hostapi.MigrateVMParams{VMUUID: id, DestinationURI: "qemu+tcp://192.0.2.1/system", SharedStorage: true})
				return err
			}},
		}
		for _, op := range ops {
			require.ErrorIs(t, op.do(), models.ErrConflict, "%s of foreign domain %s", op.name, id)
		}
		dom, err := c.LookupDomainByUUIDString(must(domainxml.LibvirtUUID(id)))
		require.NoError(t, err, "foreign domain %s still defined", id)
		active, err := dom.IsActive()
		require.NoError(t, err)
		require.True(t, active, "foreign domain %s still running", id)
		_ = dom.Free()
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestErrors checks the kinds the agent branches on.
func TestErrors(t *testing.T) {
	d := newTestDriver(t)
	ctx := t.Context()
	missing := testVM(t, d)
	noVolumes := testVM(t, d)
	noVolumes.RootVolume.UUID = newUUID(t)
	badNIC := testVM(t, d)
	badNIC.NICs[0].MAC = "not-a-mac"

	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"start missing", func() error { _, err := d.StartVM(ctx, missing); return err }, models.ErrNotFound},
		{"reboot missing", func() error { _, err := d.RebootVM(ctx, missing.UUID); return err }, models.ErrNotFound},
		{"stop missing", func() error { _, err := d.StopVM(ctx, missing.UUID, driver.StopCold, 0); return err }, nil},
		{"destroy missing", func() error { return d.DestroyVM(ctx, missing.UUID) }, nil},
		{"create without volumes", func() error { _, err := d.CreateVM(ctx, noVolumes, false); return err }, models.ErrInvalid},
		{"create with a bad mac", func() error { _, err := d.CreateVM(ctx, badNIC, false); return err }, models.ErrInvalid},
		{"stop with a bad type", func() error { _, err := d.StopVM(ctx, missing.UUID, "hard", 0); return err }, models.ErrInvalid},
		{"stop a bad uuid", func() error { _, err := d.StopVM(ctx, "vm-1", "", 0); return err }, models.ErrInvalid},
		{"destroy a bad uuid", func() error { return d.DestroyVM(ctx, "../etc") }, models.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
	vms, err := d.ListVMs(ctx)
	require.NoError(t, err)
	require.Empty(t, vms, "failed creates must define nothing")
}

// TestFail maps libvirt's own errors, as a real lookup returns them.
func TestFail(t *testing.T) {
	c := rawConn(t)
	_, lookupErr := c.LookupDomainByUUIDString(must(domainxml.LibvirtUUID(newUUID(t))))
	require.Error(t, lookupErr)

	tests := []struct {
		name      string
		err       error
		wantKind  error // nil: retryable (no kind)
		wantInMsg string
	}{
		{"no domain", lookupErr, models.ErrNotFound, "Domain not found"},
		{"no support", virt.Error{Code: virt.ERR_NO_SUPPORT, Message: "this function is not supported"}, errors.ErrUnsupported, "not supported"},
		{"operation failed", virt.Error{Code: virt.ERR_OPERATION_FAILED, Message: "qemu died"}, nil, "qemu died"},
		{"kind kept", models.Conflict("taken"), models.ErrConflict, "taken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := fail("op", tc.err)
			require.ErrorContains(t, got, tc.wantInMsg)
			if tc.wantKind != nil {
				require.ErrorIs(t, got, tc.wantKind)
				return
			}
			for _, kind := range []error{models.ErrNotFound, models.ErrInvalid, models.ErrConflict, errors.ErrUnsupported, driver.ErrInjected} {
				require.NotErrorIs(t, got, kind, "a retryable failure must carry no kind")
			}
		})
	}
}

// TestFacts on the test driver: no kvm offered, so the probe picks qemu
// without starting anything.
func TestFacts(t *testing.T) {
	d := newTestDriver(t)
	facts, err := d.Facts(t.Context())
	require.NoError(t, err)
	require.Equal(t, Name, facts.Driver)
	require.Equal(t, domainxml.DomainQEMU, facts.DomainType)
	require.Positive(t, facts.CPUNum)
	require.Positive(t, facts.CPUSockets)
	require.Positive(t, facts.MemoryBytes)
	require.NotEmpty(t, facts.Architecture)
	require.Contains(t, facts.HypervisorVer, "libvirt ")
	probed, err := d.Probed(t.Context())
	require.NoError(t, err)
	require.Contains(t, probed.Reason, "no kvm")
}

// TestReconnect: a closed connection is opened again by the next call.
func TestReconnect(t *testing.T) {
	d := newTestDriver(t)
	_, err := d.ListVMs(t.Context())
	require.NoError(t, err)
	require.NoError(t, d.Close())
	_, err = d.ListVMs(t.Context())
	require.NoError(t, err)
}

// TestOrphansReported: an agent that starts again (a new driver) reports
// every ZCloud domain it finds, including ones the control plane may no
// longer know, and leaves them alone: deciding about orphans is the control
// plane's business (libvirt is the truth).
func TestOrphansReported(t *testing.T) {
	first := newTestDriver(t)
	ctx := t.Context()
	running, stopped := testVM(t, first), testVM(t, first)
	_, err := first.CreateVM(ctx, running, true)
	require.NoError(t, err)
	_, err = first.CreateVM(ctx, stopped, false)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = first.DestroyVM(context.Background(), running.UUID)
		_ = first.DestroyVM(context.Background(), stopped.UUID)
	})

	again := newTestDriver(t) // the restarted agent, on the same host
	want := []hostapi.VMState{
		{UUID: running.UUID, State: hostapi.PowerRunning},
		{UUID: stopped.UUID, State: hostapi.PowerStopped},
	}
	for range 2 {
		vms, err := again.ListVMs(ctx)
		require.NoError(t, err)
		require.ElementsMatch(t, want, vms)
	}
	vms, err := first.ListVMs(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, want, vms, "listing changed nothing")
}
