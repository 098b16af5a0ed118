package hostworker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/driver"
	"github.com/zcloud/zcloud/hostworker/sim"
	"github.com/zcloud/zcloud/models"
)

const testHost = "host-1"

// newEnv returns an activity environment serving an agent of testHost on d.
func newEnv(t *testing.T, d driver.Driver) (*testsuite.TestActivityEnvironment, *Agent) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestActivityEnvironment()
	a := New(testHost, d, nil)
	a.Register(env)
	return env, a
}

func newSimHost(t *testing.T) *sim.Driver {
	t.Helper()
	d, err := sim.New(sim.Config{CPUNum: 8, MemoryBytes: 16 << 30})
	require.NoError(t, err)
	return d
}

// exec runs activity name and decodes its result into out (when not nil).
func exec(t *testing.T, env *testsuite.TestActivityEnvironment, name string, params, out any) error {
	t.Helper()
	val, err := env.ExecuteActivity(name, params)
	if err != nil {
		return err
	}
	if out != nil {
		require.NoError(t, val.Get(out))
	}
	return nil
}

func TestAgentLifecycle(t *testing.T) {
	d := newSimHost(t)
	env, _ := newEnv(t, d)
	root := hostapi.VolumeSpec{UUID: "root-1", Type: "Root", PrimaryStorageUUID: "ps-1", Size: 1 << 30}
	vm := hostapi.VMSpec{UUID: "vm-1", Name: "web", CPUNum: 2, MemorySize: 2 << 30, RootVolume: root}

	var facts hostapi.HostFacts
	require.NoError(t, exec(t, env, hostapi.ActConnect, hostapi.ConnectParams{HostUUID: testHost}, &facts))
	require.Equal(t, hostapi.HostFacts{
		HostUUID: testHost, AgentVersion: hostapi.AgentVersion, Driver: "sim", DomainType: "sim",
		CPUNum: 8, CPUSockets: 1, MemoryBytes: 16 << 30, Architecture: "x86_64",
		OSDistro: "zcloud-sim", OSRelease: "1", OSVersion: "1", HypervisorVer: "sim-1",
	}, facts)

	var vol hostapi.InstantiateVolumeResult
	require.NoError(t, exec(t, env, hostapi.ActInstantiateVolume, hostapi.InstantiateVolumeParams{Volume: root}, &vol))
	require.Equal(t, int64(1<<30), vol.ActualSize)
	require.NotEmpty(t, vol.InstallPath)

	steps := []struct {
		name      string
		params    any
		wantState string
	}{
		{hostapi.ActCreateVM, hostapi.CreateVMParams{VM: vm}, hostapi.PowerStopped},
		{hostapi.ActCreateVM, hostapi.CreateVMParams{VM: vm, Start: true}, hostapi.PowerRunning},
		{hostapi.ActStopVM, hostapi.StopVMParams{VMUUID: "vm-1", Type: driver.StopGrace, GraceTimeout: time.Minute}, hostapi.PowerStopped},
		{hostapi.ActStartVM, hostapi.StartVMParams{VM: vm}, hostapi.PowerRunning},
		{hostapi.ActRebootVM, hostapi.RebootVMParams{VMUUID: "vm-1"}, hostapi.PowerRunning},
	}
	for _, s := range steps {
		var got hostapi.VMOpResult
		require.NoError(t, exec(t, env, s.name, s.params, &got), s.name)
		require.Equal(t, s.wantState, got.State, s.name)
	}

	var ping, again hostapi.PingResult
	require.NoError(t, exec(t, env, hostapi.ActPing, hostapi.PingParams{HostUUID: testHost}, &ping))
	require.NotEmpty(t, ping.Incarnation, "a ping names the agent's run")
	require.Equal(t, hostapi.PingResult{
		HostUUID: testHost, AgentVersion: hostapi.AgentVersion,
		VMs:         []hostapi.VMState{{UUID: "vm-1", State: hostapi.PowerRunning}},
		Incarnation: ping.Incarnation,
	}, ping)
	require.NoError(t, exec(t, env, hostapi.ActPing, hostapi.PingParams{HostUUID: testHost}, &again))
	require.Equal(t, ping.Incarnation, again.Incarnation, "one run keeps its incarnation")

	require.NoError(t, exec(t, env, hostapi.ActDestroyVM, hostapi.DestroyVMParams{VMUUID: "vm-1"}, nil))
	require.NoError(t, exec(t, env, hostapi.ActDeleteVolume, hostapi.DeleteVolumeParams{Volume: root}, nil))
	require.Empty(t, d.VMs())
	require.Empty(t, d.Volumes())

	require.NoError(t, exec(t, env, hostapi.ActPing, hostapi.PingParams{}, &ping))
	require.NotNil(t, ping.VMs, "an empty host must report [] rather than null")
	require.Empty(t, ping.VMs)
}

// failing is a driver whose every supported call returns err.
type failing struct {
	driver.Base
	err error
}

func (f failing) Facts(context.Context) (hostapi.HostFacts, error) { return hostapi.HostFacts{}, f.err }
func (f failing) DestroyVM(context.Context, string) error          { return f.err }

func TestAgentErrorTypes(t *testing.T) {
	tests := []struct {
		name          string
		driver        func(t *testing.T) driver.Driver
		act           string
		params        any
		wantType      string
		wantRetryable bool
	}{
		{
			name: "injected", act: hostapi.ActCreateVM,
			driver: func(t *testing.T) driver.Driver {
				d := newSimHost(t)
				d.InjectFailure(hostapi.ActCreateVM, "boom")
				return d
			},
			params:   hostapi.CreateVMParams{VM: hostapi.VMSpec{UUID: "vm-1", CPUNum: 1, MemorySize: 1, RootVolume: hostapi.VolumeSpec{UUID: "r"}}},
			wantType: hostapi.ErrTypeInjected,
		},
		{
			name: "start missing vm", act: hostapi.ActStartVM,
			driver:   func(t *testing.T) driver.Driver { return newSimHost(t) },
			params:   hostapi.StartVMParams{VM: hostapi.VMSpec{UUID: "vm-9", CPUNum: 1, MemorySize: 1, RootVolume: hostapi.VolumeSpec{UUID: "r"}}},
			wantType: hostapi.ErrTypeNotFound,
		},
		{
			name: "create vm on missing volume", act: hostapi.ActCreateVM,
			driver:   func(t *testing.T) driver.Driver { return newSimHost(t) },
			params:   hostapi.CreateVMParams{VM: hostapi.VMSpec{UUID: "vm-1", CPUNum: 1, MemorySize: 1, RootVolume: hostapi.VolumeSpec{UUID: "r"}}},
			wantType: hostapi.ErrTypeInvalid,
		},
		{
			name: "empty vm uuid", act: hostapi.ActStopVM,
			driver:   func(t *testing.T) driver.Driver { return newSimHost(t) },
			params:   hostapi.StopVMParams{},
			wantType: hostapi.ErrTypeInvalid,
		},
		{
			name: "empty volume uuid", act: hostapi.ActDeleteVolume,
			driver:   func(t *testing.T) driver.Driver { return newSimHost(t) },
			params:   hostapi.DeleteVolumeParams{},
			wantType: hostapi.ErrTypeInvalid,
		},
		{
			name: "another host", act: hostapi.ActPing,
			driver:   func(t *testing.T) driver.Driver { return newSimHost(t) },
			params:   hostapi.PingParams{HostUUID: "host-2"},
			wantType: hostapi.ErrTypeInvalid,
		},
		{
			name: "conflict", act: hostapi.ActConnect,
			driver:   func(*testing.T) driver.Driver { return failing{err: fmt.Errorf("x: %w", models.Conflict("busy disk"))} },
			params:   hostapi.ConnectParams{},
			wantType: hostapi.ErrTypeInvalid,
		},
		{
			name: "unsupported by base", act: hostapi.ActRebootVM,
			driver:   func(*testing.T) driver.Driver { return failing{} },
			params:   hostapi.RebootVMParams{VMUUID: "vm-1"},
			wantType: hostapi.ErrTypeUnsupported,
		},
		{
			name: "transient", act: hostapi.ActDestroyVM,
			driver:        func(*testing.T) driver.Driver { return failing{err: errors.New("libvirt: connection reset")} },
			params:        hostapi.DestroyVMParams{VMUUID: "vm-1"},
			wantType:      hostapi.ErrTypeFailed,
			wantRetryable: true,
		},
		{
			name: "unavailable is transient", act: hostapi.ActConnect,
			driver:        func(*testing.T) driver.Driver { return failing{err: models.Unavailable("qemu-img missing")} },
			params:        hostapi.ConnectParams{},
			wantType:      hostapi.ErrTypeFailed,
			wantRetryable: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := newEnv(t, tt.driver(t))
			err := exec(t, env, tt.act, tt.params, nil)
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			require.Equal(t, tt.wantType, appErr.Type(), "type of %v", err)
			require.Equal(t, !tt.wantRetryable, appErr.NonRetryable(), "non-retryable")
			require.Contains(t, appErr.Error(), testHost, "message names the host")
		})
	}
}

func TestAgentHeartbeatsDuringLatency(t *testing.T) {
	d := newSimHost(t)
	d.SetLatency(hostapi.ActConnect, 300*time.Millisecond)
	env, a := newEnv(t, d)
	a.heartbeatEvery = 20 * time.Millisecond
	var beats atomic.Int32
	env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) {
		beats.Add(1)
	})
	require.NoError(t, exec(t, env, hostapi.ActConnect, hostapi.ConnectParams{}, nil))
	require.Positive(t, beats.Load(), "no heartbeat during a 300ms operation")
}

func TestAgentMethodsWorkOutsideActivities(t *testing.T) {
	d := newSimHost(t)
	d.SetLatency(hostapi.ActConnect, 30*time.Millisecond)
	a := New(testHost, d, nil)
	a.heartbeatEvery = time.Millisecond
	facts, err := a.Connect(t.Context(), hostapi.ConnectParams{})
	require.NoError(t, err)
	require.Equal(t, testHost, facts.HostUUID)
}

func TestFailPassesContextErrors(t *testing.T) {
	a := New(testHost, newSimHost(t), nil)
	for _, cause := range []error{context.Canceled, context.DeadlineExceeded} {
		err := fmt.Errorf("sim: waiting: %w", cause)
		require.Same(t, err, a.fail(hostapi.ActCreateVM, err))
	}
}
