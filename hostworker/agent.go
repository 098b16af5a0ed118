// Package hostworker is the host agent: it serves the hostapi activities on
// its host's own task queue (hostapi.Queue) with a driver (sim now, libvirt
// later) and holds no database credentials. Several agents may share one
// process, which is how the control plane runs thousands of simulated hosts.
package hostworker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/driver"
	"github.com/zcloud/zcloud/models"
)

// heartbeatInterval is how often a running operation heartbeats, so that a
// caller with a heartbeat timeout learns early that the agent died and can
// cancel an operation stuck on the host.
const heartbeatInterval = time.Second

// Agent serves one host's activities with one driver.
type Agent struct {
	hostUUID       string
	driver         driver.Driver
	logger         *slog.Logger
	heartbeatEvery time.Duration
}

// New returns the agent of hostUUID running on d. A nil logger discards.
func New(hostUUID string, d driver.Driver, logger *slog.Logger) *Agent {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Agent{
		hostUUID:       hostUUID,
		driver:         d,
		logger:         logger.With(slog.String("host_uuid", hostUUID)),
		heartbeatEvery: heartbeatInterval,
	}
}

// HostUUID is the host this agent serves.
func (a *Agent) HostUUID() string { return a.hostUUID }

// Register registers one activity per hostapi.Act* name. It takes an
// ActivityRegistry rather than a worker.Registry so that a
// testsuite.TestActivityEnvironment serves as well as a worker.Worker.
func (a *Agent) Register(r worker.ActivityRegistry) {
	for _, act := range []struct {
		name string
		fn   any
	}{
		{hostapi.ActConnect, a.Connect},
		{hostapi.ActPing, a.Ping},
		{hostapi.ActInstantiateVolume, a.InstantiateVolume},
		{hostapi.ActDeleteVolume, a.DeleteVolume},
		{hostapi.ActCreateVM, a.CreateVM},
		{hostapi.ActStartVM, a.StartVM},
		{hostapi.ActStopVM, a.StopVM},
		{hostapi.ActRebootVM, a.RebootVM},
		{hostapi.ActDestroyVM, a.DestroyVM},
	} {
		r.RegisterActivityWithOptions(act.fn, activity.RegisterOptions{Name: act.name})
	}
}

// Connect is hostapi.ActConnect: the host's facts, stamped with the host UUID
// and the agent version that the control plane checks.
func (a *Agent) Connect(ctx context.Context, p hostapi.ConnectParams) (hostapi.HostFacts, error) {
	if err := a.checkHost(hostapi.ActConnect, p.HostUUID); err != nil {
		return hostapi.HostFacts{}, err
	}
	facts, err := call(ctx, a, hostapi.ActConnect, "", a.driver.Facts)
	if err != nil {
		return hostapi.HostFacts{}, err
	}
	facts.HostUUID = a.hostUUID
	facts.AgentVersion = hostapi.AgentVersion
	return facts, nil
}

// Ping is hostapi.ActPing: the agent's identity and every domain on the host.
func (a *Agent) Ping(ctx context.Context, p hostapi.PingParams) (hostapi.PingResult, error) {
	if err := a.checkHost(hostapi.ActPing, p.HostUUID); err != nil {
		return hostapi.PingResult{}, err
	}
	vms, err := call(ctx, a, hostapi.ActPing, "", a.driver.ListVMs)
	if err != nil {
		return hostapi.PingResult{}, err
	}
	if vms == nil {
		vms = []hostapi.VMState{}
	}
	return hostapi.PingResult{HostUUID: a.hostUUID, AgentVersion: hostapi.AgentVersion, VMs: vms}, nil
}

// InstantiateVolume is hostapi.ActInstantiateVolume.
func (a *Agent) InstantiateVolume(ctx context.Context, p hostapi.InstantiateVolumeParams) (hostapi.InstantiateVolumeResult, error) {
	const op = hostapi.ActInstantiateVolume
	if p.Volume.UUID == "" {
		return hostapi.InstantiateVolumeResult{}, a.fail(op, models.Invalid("volume uuid is empty"))
	}
	return call(ctx, a, op, "", func(ctx context.Context) (hostapi.InstantiateVolumeResult, error) {
		return a.driver.InstantiateVolume(ctx, p.Volume)
	})
}

// DeleteVolume is hostapi.ActDeleteVolume.
func (a *Agent) DeleteVolume(ctx context.Context, p hostapi.DeleteVolumeParams) error {
	const op = hostapi.ActDeleteVolume
	if p.Volume.UUID == "" {
		return a.fail(op, models.Invalid("volume uuid is empty"))
	}
	_, err := call(ctx, a, op, "", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, a.driver.DeleteVolume(ctx, p.Volume)
	})
	return err
}

// CreateVM is hostapi.ActCreateVM.
func (a *Agent) CreateVM(ctx context.Context, p hostapi.CreateVMParams) (hostapi.VMOpResult, error) {
	return a.vmOp(ctx, hostapi.ActCreateVM, p.VM.UUID, func(ctx context.Context) (string, error) {
		return a.driver.CreateVM(ctx, p.VM, p.Start)
	})
}

// StartVM is hostapi.ActStartVM.
func (a *Agent) StartVM(ctx context.Context, p hostapi.StartVMParams) (hostapi.VMOpResult, error) {
	return a.vmOp(ctx, hostapi.ActStartVM, p.VM.UUID, func(ctx context.Context) (string, error) {
		return a.driver.StartVM(ctx, p.VM)
	})
}

// StopVM is hostapi.ActStopVM.
func (a *Agent) StopVM(ctx context.Context, p hostapi.StopVMParams) (hostapi.VMOpResult, error) {
	return a.vmOp(ctx, hostapi.ActStopVM, p.VMUUID, func(ctx context.Context) (string, error) {
		return a.driver.StopVM(ctx, p.VMUUID, p.Type, p.GraceTimeout)
	})
}

// RebootVM is hostapi.ActRebootVM.
func (a *Agent) RebootVM(ctx context.Context, p hostapi.RebootVMParams) (hostapi.VMOpResult, error) {
	return a.vmOp(ctx, hostapi.ActRebootVM, p.VMUUID, func(ctx context.Context) (string, error) {
		return a.driver.RebootVM(ctx, p.VMUUID)
	})
}

// DestroyVM is hostapi.ActDestroyVM.
func (a *Agent) DestroyVM(ctx context.Context, p hostapi.DestroyVMParams) error {
	_, err := a.vmOp(ctx, hostapi.ActDestroyVM, p.VMUUID, func(ctx context.Context) (string, error) {
		return "", a.driver.DestroyVM(ctx, p.VMUUID)
	})
	return err
}

// vmOp runs a driver operation on one VM and reports the power state it left.
func (a *Agent) vmOp(ctx context.Context, op, vmUUID string, fn func(context.Context) (string, error)) (hostapi.VMOpResult, error) {
	if vmUUID == "" {
		return hostapi.VMOpResult{}, a.fail(op, models.Invalid("vm uuid is empty"))
	}
	state, err := call(ctx, a, op, vmUUID, fn)
	if err != nil {
		return hostapi.VMOpResult{}, err
	}
	return hostapi.VMOpResult{State: state}, nil
}

// checkHost refuses a request meant for another host: a misrouted agent must
// not answer for a host it is not.
func (a *Agent) checkHost(op, hostUUID string) error {
	if hostUUID != "" && hostUUID != a.hostUUID {
		return a.fail(op, models.Invalid("agent of host %s was asked about host %s", a.hostUUID, hostUUID))
	}
	return nil
}

// call runs one driver operation: it heartbeats while fn runs, logs the
// outcome at debug level and turns a failure into an ApplicationError.
func call[T any](ctx context.Context, a *Agent, op, vmUUID string, fn func(context.Context) (T, error)) (T, error) {
	start := time.Now()
	stop := a.keepAlive(ctx)
	v, err := fn(ctx)
	stop()
	attrs := []slog.Attr{
		slog.String("op", op),
		slog.Duration("duration", time.Since(start)),
		slog.Bool("ok", err == nil),
	}
	if vmUUID != "" {
		attrs = append(attrs, slog.String("vm_uuid", vmUUID))
	}
	a.logger.LogAttrs(ctx, slog.LevelDebug, "host operation", attrs...)
	if err != nil {
		var zero T
		return zero, a.fail(op, err)
	}
	return v, nil
}

// keepAlive heartbeats every heartbeatEvery until stop is called, so that
// a long operation (an injected latency, an image download) shows it is
// alive and can learn of its cancellation. Outside an activity it does
// nothing, so that the methods can be called directly.
func (a *Agent) keepAlive(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(a.heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// fail gives err the ApplicationError type that the control plane branches
// on. Business failures (not found, invalid, conflict, unsupported, injected)
// are not retried; anything else is. Context errors pass through unchanged so
// that Temporal sees a cancellation as one.
func (a *Agent) fail(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	msg := fmt.Sprintf("host %s: %s: %v", a.hostUUID, op, err)
	switch {
	case errors.Is(err, driver.ErrInjected):
		return temporal.NewNonRetryableApplicationError(msg, hostapi.ErrTypeInjected, nil)
	case errors.Is(err, errors.ErrUnsupported):
		return temporal.NewNonRetryableApplicationError(msg, hostapi.ErrTypeUnsupported, nil)
	case errors.Is(err, models.ErrNotFound):
		return temporal.NewNonRetryableApplicationError(msg, hostapi.ErrTypeNotFound, nil)
	case errors.Is(err, models.ErrInvalid), errors.Is(err, models.ErrConflict):
		return temporal.NewNonRetryableApplicationError(msg, hostapi.ErrTypeInvalid, nil)
	default:
		return temporal.NewApplicationError(msg, hostapi.ErrTypeFailed)
	}
}
