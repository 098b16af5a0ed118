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
	"strconv"
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
	incarnation    string   // hostapi.PingResult.Incarnation: this run's start
	flatNet        *FlatNet // nil: no host networking (netagent_flat.go)
	// failures makes named operations fail (op → message), whatever the
	// driver: the rollback proofs on real hosts (SetFailures).
	failures map[string]string
}

// SetFailures makes the named operations (hostapi.Act* names, or "*" for
// all) fail with driver.ErrInjected; the message may be empty. For tests
// and demos; call before Run.
func (a *Agent) SetFailures(failures map[string]string) { a.failures = failures }

func (a *Agent) injected(op string) error {
	msg, ok := a.failures[op]
	if !ok {
		msg, ok = a.failures["*"]
	}
	if !ok {
		return nil
	}
	if msg == "" {
		msg = "failure injected into " + op
	}
	return fmt.Errorf("%s: %w", msg, driver.ErrInjected)
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
		incarnation:    strconv.FormatInt(time.Now().UnixNano(), 36),
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
		{hostapi.ActPauseVM, a.PauseVM},
		{hostapi.ActResumeVM, a.ResumeVM},
		{hostapi.ActMigrateVM, a.MigrateVM},
		{hostapi.ActAttachVolume, a.AttachVolume},
		{hostapi.ActDetachVolume, a.DetachVolume},
		{hostapi.ActResizeVolume, a.ResizeVolume},
		{hostapi.ActCreateVolumeSnapshot, a.CreateVolumeSnapshot},
		{hostapi.ActRevertVolumeSnapshot, a.RevertVolumeSnapshot},
		{hostapi.ActDeleteVolumeSnapshot, a.DeleteVolumeSnapshot},
		{hostapi.ActCreateVolumeFromSnapshot, a.CreateVolumeFromSnapshot},
		{hostapi.ActCloneVolume, a.CloneVolume},
		{hostapi.ActReimageVolume, a.ReimageVolume},
		{hostapi.ActUploadVolumeImage, a.UploadVolumeImage},
		{hostapi.ActStorageCapacity, a.StorageCapacity},
		{hostapi.ActGetVMConsole, a.GetVMConsole},
		{hostapi.ActSetVMConsolePassword, a.SetVMConsolePassword},
		{hostapi.ActAttachISO, a.AttachISO},
		{hostapi.ActDetachISO, a.DetachISO},
		{hostapi.ActSetVMCompute, a.SetVMCompute},
		{hostapi.ActAttachNIC, a.AttachNIC},
		{hostapi.ActDetachNIC, a.DetachNIC},
		{hostapi.ActSetVolumeQoS, a.SetVolumeQoS},
		{hostapi.ActGetVolumeQoS, a.GetVolumeQoS},
		{hostapi.ActSetGuestPassword, a.SetGuestPassword},
		{hostapi.ActCleanUpImageCache, a.CleanUpImageCache},
	} {
		r.RegisterActivityWithOptions(act.fn, activity.RegisterOptions{Name: act.name})
	}
	a.registerNet(r)
	a.flatNet.Register(r)
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
	if rd, ok := a.driver.(routedDriver); ok {
		facts.SealingKey = rd.net.SealingKey()
	}
	if a.flatNet != nil {
		// Best effort: the addresses only keep the host a VXLAN peer of
		// the others while it does not answer.
		if addrs, err := a.flatNet.addresses(); err == nil {
			facts.Addresses = addrs
		} else {
			a.logger.Warn("host addresses not reported", "error", err)
		}
	}
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
	return hostapi.PingResult{HostUUID: a.hostUUID, AgentVersion: hostapi.AgentVersion, VMs: vms, Incarnation: a.incarnation}, nil
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

// PauseVM is hostapi.ActPauseVM.
func (a *Agent) PauseVM(ctx context.Context, p hostapi.PauseVMParams) (hostapi.VMOpResult, error) {
	return a.vmOp(ctx, hostapi.ActPauseVM, p.VMUUID, func(ctx context.Context) (string, error) {
		return a.driver.PauseVM(ctx, p.VMUUID)
	})
}

// ResumeVM is hostapi.ActResumeVM.
func (a *Agent) ResumeVM(ctx context.Context, p hostapi.ResumeVMParams) (hostapi.VMOpResult, error) {
	return a.vmOp(ctx, hostapi.ActResumeVM, p.VMUUID, func(ctx context.Context) (string, error) {
		return a.driver.ResumeVM(ctx, p.VMUUID)
	})
}

// MigrateVM is hostapi.ActMigrateVM; it heartbeats while the memory moves.
func (a *Agent) MigrateVM(ctx context.Context, p hostapi.MigrateVMParams) (hostapi.VMOpResult, error) {
	if p.DestinationURI == "" {
		return hostapi.VMOpResult{}, a.fail(hostapi.ActMigrateVM, models.Invalid("destination uri is empty"))
	}
	return a.vmOp(ctx, hostapi.ActMigrateVM, p.VMUUID, func(ctx context.Context) (string, error) {
		return a.driver.MigrateVM(ctx, p)
	})
}

// AttachVolume is hostapi.ActAttachVolume.
func (a *Agent) AttachVolume(ctx context.Context, p hostapi.AttachVolumeParams) (hostapi.AttachVolumeResult, error) {
	const op = hostapi.ActAttachVolume
	if err := a.checkVolume(op, p.Volume); err != nil {
		return hostapi.AttachVolumeResult{}, err
	}
	res, err := a.vmOp(ctx, op, p.VMUUID, func(ctx context.Context) (string, error) {
		return a.driver.AttachVolume(ctx, p.VMUUID, p.Volume)
	})
	return hostapi.AttachVolumeResult{Device: res.State}, err
}

// DetachVolume is hostapi.ActDetachVolume.
func (a *Agent) DetachVolume(ctx context.Context, p hostapi.DetachVolumeParams) error {
	const op = hostapi.ActDetachVolume
	if err := a.checkVolume(op, p.Volume); err != nil {
		return err
	}
	_, err := a.vmOp(ctx, op, p.VMUUID, func(ctx context.Context) (string, error) {
		return "", a.driver.DetachVolume(ctx, p.VMUUID, p.Volume)
	})
	return err
}

// ResizeVolume is hostapi.ActResizeVolume.
func (a *Agent) ResizeVolume(ctx context.Context, p hostapi.ResizeVolumeParams) (hostapi.ResizeVolumeResult, error) {
	const op = hostapi.ActResizeVolume
	if err := a.checkVolume(op, p.Volume); err != nil {
		return hostapi.ResizeVolumeResult{}, err
	}
	if p.Size <= 0 {
		return hostapi.ResizeVolumeResult{}, a.fail(op, models.Invalid("volume %s: size %d is not positive", p.Volume.UUID, p.Size))
	}
	size, err := call(ctx, a, op, "", func(ctx context.Context) (int64, error) {
		return a.driver.ResizeVolume(ctx, p.Volume, p.Size)
	})
	return hostapi.ResizeVolumeResult{Size: size}, err
}

// CreateVolumeSnapshot is hostapi.ActCreateVolumeSnapshot.
func (a *Agent) CreateVolumeSnapshot(ctx context.Context, p hostapi.CreateVolumeSnapshotParams) (hostapi.VolumeSnapshotResult, error) {
	const op = hostapi.ActCreateVolumeSnapshot
	if err := a.checkSnapshot(op, p.Volume, p.SnapshotUUID); err != nil {
		return hostapi.VolumeSnapshotResult{}, err
	}
	return call(ctx, a, op, "", func(ctx context.Context) (hostapi.VolumeSnapshotResult, error) {
		return a.driver.CreateVolumeSnapshot(ctx, p.Volume, p.SnapshotUUID)
	})
}

// RevertVolumeSnapshot is hostapi.ActRevertVolumeSnapshot.
func (a *Agent) RevertVolumeSnapshot(ctx context.Context, p hostapi.RevertVolumeSnapshotParams) error {
	const op = hostapi.ActRevertVolumeSnapshot
	if err := a.checkSnapshot(op, p.Volume, p.SnapshotUUID); err != nil {
		return err
	}
	_, err := call(ctx, a, op, "", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, a.driver.RevertVolumeSnapshot(ctx, p.Volume, p.SnapshotUUID)
	})
	return err
}

// DeleteVolumeSnapshot is hostapi.ActDeleteVolumeSnapshot.
func (a *Agent) DeleteVolumeSnapshot(ctx context.Context, p hostapi.DeleteVolumeSnapshotParams) error {
	const op = hostapi.ActDeleteVolumeSnapshot
	if err := a.checkSnapshot(op, p.Volume, p.SnapshotUUID); err != nil {
		return err
	}
	_, err := call(ctx, a, op, "", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, a.driver.DeleteVolumeSnapshot(ctx, p.Volume, p.SnapshotUUID)
	})
	return err
}

// CreateVolumeFromSnapshot is hostapi.ActCreateVolumeFromSnapshot; an empty
// snapshot UUID copies the volume as it is.
func (a *Agent) CreateVolumeFromSnapshot(ctx context.Context, p hostapi.CreateVolumeFromSnapshotParams) (hostapi.InstantiateVolumeResult, error) {
	const op = hostapi.ActCreateVolumeFromSnapshot
	if err := a.checkVolume(op, p.Volume); err != nil {
		return hostapi.InstantiateVolumeResult{}, err
	}
	if err := a.checkVolume(op, p.Target); err != nil {
		return hostapi.InstantiateVolumeResult{}, err
	}
	return call(ctx, a, op, "", func(ctx context.Context) (hostapi.InstantiateVolumeResult, error) {
		return a.driver.CreateVolumeFromSnapshot(ctx, p.Volume, p.SnapshotUUID, p.Target)
	})
}

// checkVolume refuses a volume without a UUID.
func (a *Agent) checkVolume(op string, vol hostapi.VolumeSpec) error {
	if vol.UUID == "" {
		return a.fail(op, models.Invalid("volume uuid is empty"))
	}
	return nil
}

// checkSnapshot refuses a snapshot request without a volume or snapshot UUID.
func (a *Agent) checkSnapshot(op string, vol hostapi.VolumeSpec, snapshotUUID string) error {
	if err := a.checkVolume(op, vol); err != nil {
		return err
	}
	if snapshotUUID == "" {
		return a.fail(op, models.Invalid("snapshot uuid is empty"))
	}
	return nil
}

// GetVMConsole is hostapi.ActGetVMConsole.
func (a *Agent) GetVMConsole(ctx context.Context, p hostapi.GetVMConsoleParams) (hostapi.VMConsole, error) {
	const op = hostapi.ActGetVMConsole
	if p.VMUUID == "" {
		return hostapi.VMConsole{}, a.fail(op, models.Invalid("vm uuid is empty"))
	}
	return call(ctx, a, op, p.VMUUID, func(ctx context.Context) (hostapi.VMConsole, error) {
		return a.driver.VMConsole(ctx, p.VMUUID)
	})
}

// SetVMConsolePassword is hostapi.ActSetVMConsolePassword.
func (a *Agent) SetVMConsolePassword(ctx context.Context, p hostapi.SetVMConsolePasswordParams) (hostapi.SetVMConsolePasswordResult, error) {
	const op = hostapi.ActSetVMConsolePassword
	if p.VMUUID == "" {
		return hostapi.SetVMConsolePasswordResult{}, a.fail(op, models.Invalid("vm uuid is empty"))
	}
	if err := hostapi.ValidateConsolePassword(p.Password); err != nil {
		return hostapi.SetVMConsolePasswordResult{}, a.fail(op, err)
	}
	return call(ctx, a, op, p.VMUUID, func(ctx context.Context) (hostapi.SetVMConsolePasswordResult, error) {
		live, err := a.driver.SetVMConsolePassword(ctx, p.VMUUID, p.Password)
		return hostapi.SetVMConsolePasswordResult{Live: live}, err
	})
}

// AttachISO is hostapi.ActAttachISO; it heartbeats while the ISO downloads.
func (a *Agent) AttachISO(ctx context.Context, p hostapi.AttachISOParams) error {
	const op = hostapi.ActAttachISO
	if p.VMUUID == "" || p.ISO.ImageUUID == "" || p.ISO.URL == "" {
		return a.fail(op, models.Invalid("vm uuid, iso image uuid and url are required"))
	}
	_, err := call(ctx, a, op, p.VMUUID, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, a.driver.AttachISO(ctx, p.VMUUID, p.ISO)
	})
	return err
}

// DetachISO is hostapi.ActDetachISO.
func (a *Agent) DetachISO(ctx context.Context, p hostapi.DetachISOParams) error {
	const op = hostapi.ActDetachISO
	if p.VMUUID == "" {
		return a.fail(op, models.Invalid("vm uuid is empty"))
	}
	_, err := call(ctx, a, op, p.VMUUID, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, a.driver.DetachISO(ctx, p.VMUUID)
	})
	return err
}

// SetVMCompute is hostapi.ActSetVMCompute.
func (a *Agent) SetVMCompute(ctx context.Context, p hostapi.SetVMComputeParams) error {
	const op = hostapi.ActSetVMCompute
	if p.VMUUID == "" || p.CPUNum <= 0 || p.MemorySize <= 0 {
		return a.fail(op, models.Invalid("vm uuid, a positive cpu number and memory size are required"))
	}
	_, err := call(ctx, a, op, p.VMUUID, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, a.driver.SetVMCompute(ctx, p.VMUUID, p.CPUNum, p.MemorySize)
	})
	return err
}

// AttachNIC is hostapi.ActAttachNIC.
func (a *Agent) AttachNIC(ctx context.Context, p hostapi.AttachNICParams) error {
	const op = hostapi.ActAttachNIC
	if p.VMUUID == "" || p.NIC.UUID == "" || p.NIC.MAC == "" {
		return a.fail(op, models.Invalid("vm uuid, nic uuid and mac are required"))
	}
	_, err := call(ctx, a, op, p.VMUUID, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, a.driver.AttachNIC(ctx, p.VMUUID, p.NIC)
	})
	return err
}

// DetachNIC is hostapi.ActDetachNIC.
func (a *Agent) DetachNIC(ctx context.Context, p hostapi.DetachNICParams) error {
	const op = hostapi.ActDetachNIC
	if p.VMUUID == "" || p.NIC.UUID == "" {
		return a.fail(op, models.Invalid("vm uuid and nic uuid are required"))
	}
	_, err := call(ctx, a, op, p.VMUUID, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, a.driver.DetachNIC(ctx, p.VMUUID, p.NIC)
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
	if err := a.injected(op); err != nil {
		var zero T
		return zero, a.fail(op, err)
	}
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
func (a *Agent) fail(op string, err error) error { return typedError(a.hostUUID, op, err) }

// typedError turns a driver's (or a network manager's) failure into the
// ApplicationError the control plane reads: business errors by kind, not
// retried; anything else retried. Cancellations pass through.
func typedError(hostUUID, op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	msg := fmt.Sprintf("host %s: %s: %v", hostUUID, op, err)
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
