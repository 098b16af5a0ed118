package sim_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/driver"
	"github.com/zcloud/zcloud/hostworker/sim"
	"github.com/zcloud/zcloud/models"
)

func newDriver(t *testing.T) *sim.Driver {
	t.Helper()
	d, err := sim.New(sim.Config{})
	require.NoError(t, err)
	return d
}

func vol(id string) hostapi.VolumeSpec {
	return hostapi.VolumeSpec{UUID: id, Type: "Root", PrimaryStorageUUID: "ps1", Size: 1 << 30}
}

func vmSpec(id string, vols ...string) hostapi.VMSpec {
	vm := hostapi.VMSpec{UUID: id, Name: id, CPUNum: 2, MemorySize: 1 << 30, RootVolume: vol(vols[0])}
	for _, v := range vols[1:] {
		vm.DataVolumes = append(vm.DataVolumes, vol(v))
	}
	return vm
}

// withVM returns a driver holding volume "root-1" and VM "vm-1" in state
// running or stopped.
func withVM(t *testing.T, running bool) *sim.Driver {
	t.Helper()
	d := newDriver(t)
	_, err := d.InstantiateVolume(t.Context(), vol("root-1"))
	require.NoError(t, err)
	_, err = d.CreateVM(t.Context(), vmSpec("vm-1", "root-1"), running)
	require.NoError(t, err)
	return d
}

func TestFacts(t *testing.T) {
	tests := []struct {
		name    string
		cfg     sim.Config
		wantCPU int
		wantMem int64
	}{
		{"defaults", sim.Config{}, sim.DefaultCPUNum, sim.DefaultMemoryBytes},
		{"configured", sim.Config{CPUNum: 4, MemoryBytes: 8 << 30}, 4, 8 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := sim.New(tt.cfg)
			require.NoError(t, err)
			got, err := d.Facts(t.Context())
			require.NoError(t, err)
			require.Equal(t, tt.wantCPU, got.CPUNum, "cpu")
			require.Equal(t, tt.wantMem, got.MemoryBytes, "memory")
			require.Equal(t, sim.Name, got.Driver)
			require.Equal(t, sim.Name, got.DomainType)
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  sim.Config
	}{
		{"negative cpu", sim.Config{CPUNum: -1}},
		{"negative memory", sim.Config{MemoryBytes: -1}},
		{"unknown latency op", sim.Config{Latency: map[string]time.Duration{"CreateVM": time.Second}}},
		{"negative latency", sim.Config{Latency: map[string]time.Duration{hostapi.ActCreateVM: -time.Second}}},
		{"unknown failure op", sim.Config{Failures: map[string]string{"host.Nope": "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sim.New(tt.cfg)
			require.Error(t, err)
		})
	}
}

// TestIdempotent runs each operation twice and wants the same answer both
// times, as an activity retried after an agent crash would see.
func TestIdempotent(t *testing.T) {
	tests := []struct {
		name      string
		running   bool
		op        func(context.Context, *sim.Driver) (any, error)
		wantState string // of vm-1 afterwards, "" when gone
	}{
		{"instantiate volume", false, func(ctx context.Context, d *sim.Driver) (any, error) {
			return d.InstantiateVolume(ctx, vol("root-1"))
		}, hostapi.PowerStopped},
		{"delete missing volume", false, func(ctx context.Context, d *sim.Driver) (any, error) {
			return nil, d.DeleteVolume(ctx, vol("nope"))
		}, hostapi.PowerStopped},
		{"create identical vm", false, func(ctx context.Context, d *sim.Driver) (any, error) {
			return d.CreateVM(ctx, vmSpec("vm-1", "root-1"), false)
		}, hostapi.PowerStopped},
		{"create identical vm and start", false, func(ctx context.Context, d *sim.Driver) (any, error) {
			return d.CreateVM(ctx, vmSpec("vm-1", "root-1"), true)
		}, hostapi.PowerRunning},
		{"start running vm", true, func(ctx context.Context, d *sim.Driver) (any, error) {
			return d.StartVM(ctx, vmSpec("vm-1", "root-1"))
		}, hostapi.PowerRunning},
		{"stop stopped vm", false, func(ctx context.Context, d *sim.Driver) (any, error) {
			return d.StopVM(ctx, "vm-1", driver.StopGrace, time.Second)
		}, hostapi.PowerStopped},
		{"cold stop running vm", true, func(ctx context.Context, d *sim.Driver) (any, error) {
			return d.StopVM(ctx, "vm-1", driver.StopCold, 0)
		}, hostapi.PowerStopped},
		{"stop missing vm", false, func(ctx context.Context, d *sim.Driver) (any, error) {
			return d.StopVM(ctx, "nope", "", 0)
		}, hostapi.PowerStopped},
		{"reboot stopped vm", false, func(ctx context.Context, d *sim.Driver) (any, error) {
			return d.RebootVM(ctx, "vm-1")
		}, hostapi.PowerRunning},
		{"destroy vm", true, func(ctx context.Context, d *sim.Driver) (any, error) {
			return nil, d.DestroyVM(ctx, "vm-1")
		}, ""},
		{"destroy missing vm", false, func(ctx context.Context, d *sim.Driver) (any, error) {
			return nil, d.DestroyVM(ctx, "nope")
		}, hostapi.PowerStopped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := withVM(t, tt.running)
			first, err := tt.op(t.Context(), d)
			require.NoError(t, err, "first call")
			second, err := tt.op(t.Context(), d)
			require.NoError(t, err, "second call")
			require.Equal(t, first, second, "second call answered differently")
			vm, ok := d.VMs()["vm-1"]
			if tt.wantState == "" {
				require.False(t, ok, "vm-1 still defined")
				return
			}
			require.True(t, ok, "vm-1 gone")
			require.Equal(t, tt.wantState, vm.State)
		})
	}
}

// TestValidation wants the failures a real host would give, with the kind
// the agent maps to an error type.
func TestValidation(t *testing.T) {
	tests := []struct {
		name     string
		op       func(context.Context, *sim.Driver) error
		wantKind error
	}{
		{"create vm on missing volume", func(ctx context.Context, d *sim.Driver) error {
			_, err := d.CreateVM(ctx, vmSpec("vm-2", "root-2"), true)
			return err
		}, models.ErrInvalid},
		{"create vm on missing data volume", func(ctx context.Context, d *sim.Driver) error {
			_, err := d.InstantiateVolume(ctx, vol("root-2"))
			require.NoError(t, err)
			_, err = d.CreateVM(ctx, vmSpec("vm-2", "root-2", "data-2"), true)
			return err
		}, models.ErrInvalid},
		{"create vm on another vm's volume", func(ctx context.Context, d *sim.Driver) error {
			_, err := d.CreateVM(ctx, vmSpec("vm-2", "root-1"), true)
			return err
		}, models.ErrConflict},
		{"create existing vm with another spec", func(ctx context.Context, d *sim.Driver) error {
			vm := vmSpec("vm-1", "root-1")
			vm.CPUNum = 8
			_, err := d.CreateVM(ctx, vm, false)
			return err
		}, models.ErrConflict},
		{"create vm without cpus", func(ctx context.Context, d *sim.Driver) error {
			vm := vmSpec("vm-2", "root-1")
			vm.CPUNum = 0
			_, err := d.CreateVM(ctx, vm, false)
			return err
		}, models.ErrInvalid},
		{"start missing vm", func(ctx context.Context, d *sim.Driver) error {
			_, err := d.StartVM(ctx, vmSpec("vm-2", "root-1"))
			return err
		}, models.ErrNotFound},
		{"start vm on missing volume", func(ctx context.Context, d *sim.Driver) error {
			_, err := d.StartVM(ctx, vmSpec("vm-1", "root-1", "data-9"))
			return err
		}, models.ErrInvalid},
		{"reboot missing vm", func(ctx context.Context, d *sim.Driver) error {
			_, err := d.RebootVM(ctx, "vm-2")
			return err
		}, models.ErrNotFound},
		{"stop with unknown type", func(ctx context.Context, d *sim.Driver) error {
			_, err := d.StopVM(ctx, "vm-1", "gentle", 0)
			return err
		}, models.ErrInvalid},
		{"stop without uuid", func(ctx context.Context, d *sim.Driver) error {
			_, err := d.StopVM(ctx, "", "", 0)
			return err
		}, models.ErrInvalid},
		{"delete volume in use", func(ctx context.Context, d *sim.Driver) error {
			return d.DeleteVolume(ctx, vol("root-1"))
		}, models.ErrConflict},
		{"instantiate existing volume with another size", func(ctx context.Context, d *sim.Driver) error {
			v := vol("root-1")
			v.Size *= 2
			_, err := d.InstantiateVolume(ctx, v)
			return err
		}, models.ErrConflict},
		{"instantiate volume without size or image", func(ctx context.Context, d *sim.Driver) error {
			_, err := d.InstantiateVolume(ctx, hostapi.VolumeSpec{UUID: "v"})
			return err
		}, models.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := withVM(t, true)
			err := tt.op(t.Context(), d)
			require.ErrorIs(t, err, tt.wantKind)
		})
	}
}

type opCall struct {
	op   string
	call func(context.Context, *sim.Driver) error
}

// allOps calls every driver operation on a host made by faultyHost, each in
// a way that changes state when it succeeds (but Facts and ListVMs).
func allOps() []opCall {
	return []opCall{
		{hostapi.ActConnect, func(ctx context.Context, d *sim.Driver) error {
			_, err := d.Facts(ctx)
			return err
		}},
		{hostapi.ActPing, func(ctx context.Context, d *sim.Driver) error {
			_, err := d.ListVMs(ctx)
			return err
		}},
		{hostapi.ActInstantiateVolume, func(ctx context.Context, d *sim.Driver) error {
			_, err := d.InstantiateVolume(ctx, vol("data-1"))
			return err
		}},
		{hostapi.ActDeleteVolume, func(ctx context.Context, d *sim.Driver) error {
			return d.DeleteVolume(ctx, vol("spare"))
		}},
		{hostapi.ActCreateVM, func(ctx context.Context, d *sim.Driver) error {
			_, err := d.CreateVM(ctx, vmSpec("vm-3", "spare"), true)
			return err
		}},
		{hostapi.ActStartVM, func(ctx context.Context, d *sim.Driver) error {
			_, err := d.StartVM(ctx, vmSpec("vm-1", "root-1"))
			return err
		}},
		{hostapi.ActStopVM, func(ctx context.Context, d *sim.Driver) error {
			_, err := d.StopVM(ctx, "vm-2", driver.StopCold, 0)
			return err
		}},
		{hostapi.ActRebootVM, func(ctx context.Context, d *sim.Driver) error {
			_, err := d.RebootVM(ctx, "vm-1")
			return err
		}},
		{hostapi.ActDestroyVM, func(ctx context.Context, d *sim.Driver) error {
			return d.DestroyVM(ctx, "vm-2")
		}},
	}
}

// faultyHost returns a host with a stopped vm-1 on root-1, a running vm-2 on
// spare-2 and an unused volume spare.
func faultyHost(t *testing.T) *sim.Driver {
	t.Helper()
	d := withVM(t, false)
	_, err := d.InstantiateVolume(t.Context(), vol("spare"))
	require.NoError(t, err)
	_, err = d.InstantiateVolume(t.Context(), vol("spare-2"))
	require.NoError(t, err)
	_, err = d.CreateVM(t.Context(), vmSpec("vm-2", "spare-2"), true)
	require.NoError(t, err)
	return d
}

func TestInjectedFailureChangesNothing(t *testing.T) {
	for _, tt := range allOps() {
		for _, key := range []string{tt.op, sim.AnyOp} {
			t.Run(tt.op+"/"+key, func(t *testing.T) {
				d := faultyHost(t)
				// The op succeeds on a fresh copy, so it is the injection that fails it.
				require.NoError(t, tt.call(t.Context(), faultyHost(t)), "without injection")

				d.InjectFailure(key, "boom")
				vms, vols := d.VMs(), d.Volumes()
				err := tt.call(t.Context(), d)
				require.ErrorIs(t, err, driver.ErrInjected)
				require.ErrorContains(t, err, "boom")
				require.Equal(t, vms, d.VMs(), "vms changed")
				require.Equal(t, vols, d.Volumes(), "volumes changed")

				d.ClearFailures()
				require.NoError(t, tt.call(t.Context(), d), "after ClearFailures")
			})
		}
	}
}

func TestInjectedFailureIsPerOperation(t *testing.T) {
	d := faultyHost(t)
	d.InjectFailure(hostapi.ActCreateVM, "")
	_, err := d.CreateVM(t.Context(), vmSpec("vm-3", "spare"), false)
	require.ErrorIs(t, err, driver.ErrInjected)
	_, err = d.RebootVM(t.Context(), "vm-1")
	require.NoError(t, err, "an op without a failure failed")
}

func TestLatencyRespectsContext(t *testing.T) {
	for _, tt := range allOps() {
		t.Run(tt.op, func(t *testing.T) {
			d := faultyHost(t)
			d.SetLatency(tt.op, time.Hour)
			vms, vols := d.VMs(), d.Volumes()
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := tt.call(ctx, d)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Less(t, time.Since(start), 5*time.Second, "waited past the context")
			require.Equal(t, vms, d.VMs(), "vms changed")
			require.Equal(t, vols, d.Volumes(), "volumes changed")
		})
	}
}

func TestLatencyDelays(t *testing.T) {
	const lat = 50 * time.Millisecond
	tests := []struct {
		name string
		key  string
	}{
		{"by op", hostapi.ActRebootVM},
		{"any op", sim.AnyOp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := withVM(t, true)
			d.SetLatency(tt.key, lat)
			start := time.Now()
			_, err := d.RebootVM(t.Context(), "vm-1")
			require.NoError(t, err)
			require.GreaterOrEqual(t, time.Since(start), lat)

			d.SetLatency(tt.key, 0)
			start = time.Now()
			_, err = d.RebootVM(t.Context(), "vm-1")
			require.NoError(t, err)
			require.Less(t, time.Since(start), lat, "latency not removed")
		})
	}
}

func TestListVMsSorted(t *testing.T) {
	d := newDriver(t)
	for _, id := range []string{"c", "a", "b"} {
		_, err := d.InstantiateVolume(t.Context(), vol("root-"+id))
		require.NoError(t, err)
		_, err = d.CreateVM(t.Context(), vmSpec(id, "root-"+id), id == "a")
		require.NoError(t, err)
	}
	got, err := d.ListVMs(t.Context())
	require.NoError(t, err)
	want := []hostapi.VMState{
		{UUID: "a", State: hostapi.PowerRunning},
		{UUID: "b", State: hostapi.PowerStopped},
		{UUID: "c", State: hostapi.PowerStopped},
	}
	require.Equal(t, want, got)
}

func TestInspectionReturnsCopies(t *testing.T) {
	d := newDriver(t)
	_, err := d.InstantiateVolume(t.Context(), vol("root-1"))
	require.NoError(t, err)
	_, err = d.InstantiateVolume(t.Context(), vol("data-1"))
	require.NoError(t, err)
	_, err = d.CreateVM(t.Context(), vmSpec("vm-1", "root-1", "data-1"), true)
	require.NoError(t, err)

	vms := d.VMs()
	vms["vm-1"].Spec.DataVolumes[0].UUID = "changed"
	delete(vms, "vm-1")
	vols := d.Volumes()
	delete(vols, "root-1")

	require.Equal(t, "data-1", d.VMs()["vm-1"].Spec.DataVolumes[0].UUID)
	require.Contains(t, d.Volumes(), "root-1")
}

func TestContextErrorsAreNotInjected(t *testing.T) {
	d := newDriver(t)
	d.SetLatency(sim.AnyOp, time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := d.Facts(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, errors.Is(err, driver.ErrInjected))
}
