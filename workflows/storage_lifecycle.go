package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// Primary storage lifecycle workflow names.
const (
	ChangePSState     = "zcloud.ChangePrimaryStorageState"
	ReconnectPS       = "zcloud.ReconnectPrimaryStorage"
	CleanUpImageCache = "zcloud.CleanUpImageCacheOnPrimaryStorage"
)

// psEventMaintain is ChangePrimaryStorageState's event that stops the VMs
// on the storage.
const psEventMaintain = "maintain"

// RegisterStorageLifecycle registers the primary storage lifecycle
// workflows.
func RegisterStorageLifecycle(w workflowRegistry) {
	w.RegisterWorkflowWithOptions(ChangePrimaryStorageStateWorkflow, workflow.RegisterOptions{Name: ChangePSState})
	w.RegisterWorkflowWithOptions(ReconnectPrimaryStorageWorkflow, workflow.RegisterOptions{Name: ReconnectPS})
	w.RegisterWorkflowWithOptions(CleanUpImageCacheWorkflow, workflow.RegisterOptions{Name: CleanUpImageCache})
}

// ChangePSStateParams changes a primary storage's state: the API's
// operation, and its storage and event.
type ChangePSStateParams struct {
	Op     activities.OpParams `json:"op"`
	PSUUID string              `json:"primaryStorageUuid"`
	Event  string              `json:"stateEvent"`
}

// ChangePrimaryStorageStateWorkflow enables or disables a primary storage,
// or puts it into maintenance (ZStack's semantics): the storage goes into
// Maintenance first, so that no VM starts on it or is made on it, then
// every VM with a volume on it stops. A VM that can't stop fails the job:
// the storage gets its former state back and the VMs this job stopped
// that were running start again. Enabling a storage in maintenance leaves
// its VMs stopped, as in ZStack.
func ChangePrimaryStorageStateWorkflow(ctx workflow.Context, p ChangePSStateParams) (res activities.Result, err error) {
	if p.Event != psEventMaintain {
		err = local(ctx, activities.RunOp, p.Op, &res)
		return res, err
	}
	var s saga
	defer finish(ctx, &s, &err)
	var ps activities.PSInfoResult
	if err = local(ctx, activities.PSInfo, activities.PSRef{PSUUID: p.PSUUID}, &ps); err != nil {
		return res, err
	}
	if err = local(ctx, activities.RunOp, p.Op, &res); err != nil {
		return res, err
	}
	var stopped []activities.PSVM
	s.add(func(ctx workflow.Context) error {
		err := local(ctx, activities.RunOp, stateOp("ChangePrimaryStorageState", p.PSUUID, "restore", ps.State), nil)
		for i := len(stopped) - 1; i >= 0; i-- {
			vm := stopped[i]
			if _, serr := StartVMWorkflow(ctx, VMOpParams{VMUUID: vm.UUID, HostUUID: vm.HostUUID}); serr != nil {
				workflow.GetLogger(ctx).Error("maintenance rollback: vm did not start again", "vm_uuid", vm.UUID, "error", serr)
			}
		}
		return err
	})
	var vms []activities.PSVM
	if err = local(ctx, activities.PSVMs, activities.PSRef{PSUUID: p.PSUUID}, &vms); err != nil {
		return res, err
	}
	for _, vm := range vms {
		switch vm.State {
		case models.VMStopped, models.VMDestroyed, models.VMError, models.VMCreated:
			continue // nothing runs on the storage
		}
		if _, err = StopVMWorkflow(ctx, VMOpParams{VMUUID: vm.UUID}); err != nil {
			return res, err
		}
		if vm.State == models.VMRunning {
			stopped = append(stopped, vm)
		}
	}
	return inventory(ctx, "PrimaryStorage", p.PSUUID, "inventory")
}

// PSLifecycleParams names a primary storage; Sync makes a reconnect a
// capacity sync.
type PSLifecycleParams struct {
	PSUUID string `json:"primaryStorageUuid"`
	Sync   bool   `json:"sync,omitempty"`
}

// ReconnectPrimaryStorageWorkflow is ReconnectPrimaryStorage and (Sync)
// SyncPrimaryStorageCapacity: every Connected host of the clusters a
// directory storage (Local, SharedMountPoint) is attached to checks its
// directory (made if missing, writable) and reports its file system, which
// becomes the storage's physical capacity (reportStorage, as on host
// connect). The storage is Connected when a host reported it and
// Disconnected (the job fails) when all failed; hosts that failed are
// listed in the result. A sync also recomputes the available capacity
// from the volumes on the storage. Storages of other types have no host
// to ask: a reconnect marks them Connected.
func ReconnectPrimaryStorageWorkflow(ctx workflow.Context, p PSLifecycleParams) (activities.Result, error) {
	var ps activities.PSInfoResult
	if err := local(ctx, activities.PSInfo, activities.PSRef{PSUUID: p.PSUUID}, &ps); err != nil {
		return activities.Result{}, err
	}
	rec := activities.PSConnectParams{PSUUID: p.PSUUID, Sync: p.Sync}
	if ps.Directory {
		for _, h := range ps.Hosts {
			rec.Asked++
			if err := reportStorage(ctx, h, ps.Storage); err != nil {
				rec.Failures = append(rec.Failures, activities.HostFailure{HostUUID: h, Error: err.Error()})
			}
		}
	}
	var res activities.Result
	err := local(ctx, activities.PSRecordConnect, rec, &res)
	return res, err
}

// CleanUpImageCacheWorkflow is CleanUpImageCacheOnPrimaryStorage: every
// Connected host serving the storage removes the cached images nothing on
// it uses (hostapi.ActCleanUpImageCache). The result lists what each host
// removed and the bytes freed; hosts that failed are listed, and the job
// fails only when every host did. Removing files can't be undone, and a
// cleanup half done is still a valid cache: there is nothing to roll back.
func CleanUpImageCacheWorkflow(ctx workflow.Context, p PSLifecycleParams) (activities.Result, error) {
	var ps activities.PSInfoResult
	if err := local(ctx, activities.PSInfo, activities.PSRef{PSUUID: p.PSUUID}, &ps); err != nil {
		return activities.Result{}, err
	}
	out := activities.ImageCacheCleanup{PSUUID: p.PSUUID, Hosts: []activities.HostImageCacheCleanup{}}
	var firstErr error
	for _, h := range ps.Hosts {
		var r hostapi.CleanUpImageCacheResult
		if err := onHost(ctx, h, hostapi.ActCleanUpImageCache, hostapi.CleanUpImageCacheParams{PrimaryStorageUUID: p.PSUUID}, &r); err != nil {
			out.FailedHosts = append(out.FailedHosts, activities.HostFailure{HostUUID: h, Error: err.Error()})
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		out.Hosts = append(out.Hosts, activities.HostImageCacheCleanup{HostUUID: h, Removed: r.Removed, Freed: r.FreedBytes})
		out.FreedBytes += r.FreedBytes
	}
	if len(ps.Hosts) > 0 && len(out.FailedHosts) == len(ps.Hosts) {
		return activities.Result{}, firstErr
	}
	var res activities.Result
	err := local(ctx, activities.Render, activities.RenderParams{Key: "inventory", Value: out}, &res)
	return res, err
}
