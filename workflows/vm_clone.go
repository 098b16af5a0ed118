package workflows

import (
	"errors"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// Workflow names of CloneVmInstance and ReimageVmInstance.
const (
	CloneVM   = "zcloud.CloneVmInstance"
	ReimageVM = "zcloud.ReimageVmInstance"
)

// RegisterVMClone registers the workflows of CloneVmInstance and
// ReimageVmInstance.
func RegisterVMClone(w workflowRegistry) {
	w.RegisterWorkflowWithOptions(CloneVMWorkflow, workflow.RegisterOptions{Name: CloneVM})
	w.RegisterWorkflowWithOptions(ReimageVMWorkflow, workflow.RegisterOptions{Name: ReimageVM})
}

// codeHostOperation is the ZStack code of a failed host step (the API's
// jobError answers a failed job with it).
const codeHostOperation = "HOST.1005"

// CloneVMWorkflow makes one VM per name from a source VM, running or not:
// each clone is made by the VM creation saga, its volumes copied from the
// source's as they are now instead of instantiated from the image. Like
// ZStack, the clones that were made stay when another fails, whose own
// saga rolled back what it made; the reply lists each clone's inventory or
// error. When none could be made the job fails with the first error.
func CloneVMWorkflow(ctx workflow.Context, p activities.CloneVMParams) (res activities.Result, err error) {
	var plan activities.CloneVMPlan
	if err = local(ctx, activities.VMClonePlan, p, &plan); err != nil {
		return res, err
	}
	outcomes := make([]activities.CloneOutcome, len(plan.Creates))
	var first error
	made := 0
	for i, c := range plan.Creates {
		if cerr := cloneVM(ctx, plan, c, p.SourceVMUUID); cerr != nil {
			if ctx.Err() != nil { // cancelled: the clones made so far stay
				return res, cerr
			}
			workflow.GetLogger(ctx).Warn("clone failed", "vm_uuid", c.VMUUID, "source_vm_uuid", p.SourceVMUUID, "error", cerr)
			if first == nil {
				first = cerr
			}
			outcomes[i] = activities.CloneOutcome{Error: cloneError(cerr)}
			continue
		}
		made++
		outcomes[i] = activities.CloneOutcome{VMUUID: c.VMUUID}
	}
	if made == 0 {
		return res, first
	}
	err = local(ctx, activities.VMCloneResult, activities.CloneResultParams{Outcomes: outcomes}, &res)
	return res, err
}

// cloneVM makes one clone with the creation saga; a failure rolls back
// what this clone made, and only that.
func cloneVM(ctx workflow.Context, plan activities.CloneVMPlan, c activities.CreateVMParams, sourceVMUUID string) (err error) {
	var s saga
	defer finish(ctx, &s, &err)
	copyVolume := func(ctx workflow.Context, _ string, v hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
		var r hostapi.InstantiateVolumeResult
		if v.DeviceID < 0 || v.DeviceID >= len(plan.Sources) {
			return r, businessError(models.Invalid("clone volume[uuid:%s] has device %d, which its source has not", v.UUID, v.DeviceID))
		}
		err := onHost(ctx, plan.CopyHost, hostapi.ActCloneVolume, hostapi.CloneVolumeParams{Volume: plan.Sources[v.DeviceID], Target: v}, &r)
		return r, err
	}
	if err = createVM(ctx, &s, c, copyVolume); err != nil {
		return err
	}
	return local(ctx, activities.VMCloneSetImage, activities.CloneImageParams{VMUUID: c.VMUUID, SourceVMUUID: sourceVMUUID}, nil)
}

// cloneError is a clone's failure as ZStack's ErrorCode, the way the API
// answers a failed job.
func cloneError(err error) *activities.CloneError {
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		return &activities.CloneError{Code: models.CodeOperation, Description: "the clone failed", Details: err.Error()}
	}
	var e models.Error
	if ae.Type() == activities.ErrType && ae.HasDetails() && ae.Details(&e) == nil {
		code := e.Code
		if code == "" {
			code = models.DefaultCode(e.Kind)
		}
		return &activities.CloneError{Code: code, Description: e.Message, Details: e.Details}
	}
	return &activities.CloneError{Code: codeHostOperation, Description: "operation on the host failed", Details: ae.Error()}
}

// ReimageVMWorkflow re-creates a stopped VM's root volume from its image,
// at the same path and with the same UUID (ReimageVmInstance). The VM is
// held in Reimaging meanwhile. The host makes the new disk beside the old
// one and swaps them, so a failure keeps the old disk and puts the VM back
// to Stopped. A root volume never instantiated is fresh already.
func ReimageVMWorkflow(ctx workflow.Context, p VMOpParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	if _, err = transition(ctx, &s, p.VMUUID, models.VMEventReimage); err != nil {
		return res, err
	}
	ref := activities.VMRef{VMUUID: p.VMUUID}
	if err = local(ctx, activities.VMReimageCheck, ref, nil); err != nil {
		return res, err
	}
	var spec activities.VMSpecResult
	if err = local(ctx, activities.VMSpec, ref, &spec); err != nil {
		return res, err
	}
	root := spec.Spec.RootVolume
	if host := spec.VolumeHosts[root.UUID]; host != "" && root.InstallPath != "" {
		var r hostapi.InstantiateVolumeResult
		if err = onHost(ctx, host, hostapi.ActReimageVolume, hostapi.ReimageVolumeParams{Volume: root}, &r); err != nil {
			return res, err
		}
		if err = local(ctx, activities.VolumeSetHost, activities.VolumeHost{VolumeUUID: root.UUID, HostUUID: host,
			InstallPath: r.InstallPath, ActualSize: r.ActualSize}, nil); err != nil {
			return res, err
		}
	}
	if err = local(ctx, activities.VMSetState, activities.VMStateParams{VMUUID: p.VMUUID, State: models.VMStopped}, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}
