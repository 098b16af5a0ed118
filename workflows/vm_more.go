package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// More VM workflow names.
const (
	PauseVM   = "zcloud.PauseVM"
	ResumeVM  = "zcloud.ResumeVM"
	MigrateVM = "zcloud.MigrateVM"
)

// PauseVMWorkflow freezes a running VM's vCPUs.
func PauseVMWorkflow(ctx workflow.Context, p VMOpParams) (activities.Result, error) {
	return powerOp(ctx, p, models.VMEventPause, hostapi.ActPauseVM, hostapi.PauseVMParams{VMUUID: p.VMUUID}, models.VMPaused)
}

// ResumeVMWorkflow unfreezes a paused VM.
func ResumeVMWorkflow(ctx workflow.Context, p VMOpParams) (activities.Result, error) {
	return powerOp(ctx, p, models.VMEventResume, hostapi.ActResumeVM, hostapi.ResumeVMParams{VMUUID: p.VMUUID}, models.VMRunning)
}

// powerOp moves a VM through event e by one host step that leaves the
// domain in state.
func powerOp(ctx workflow.Context, p VMOpParams, e models.VMEvent, act string, arg any, state string) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	if _, err = transition(ctx, &s, p.VMUUID, e); err != nil {
		return res, err
	}
	var spec activities.VMSpecResult
	if err = local(ctx, activities.VMSpec, activities.VMRef{VMUUID: p.VMUUID}, &spec); err != nil {
		return res, err
	}
	if err = onHost(ctx, spec.HostUUID, act, arg, nil); err != nil {
		return res, err
	}
	if err = local(ctx, activities.VMSetState, activities.VMStateParams{VMUUID: p.VMUUID, State: state}, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}

// MigrateVMWorkflow live-migrates a running VM to another host of its
// cluster (the one asked for, else the allocator's) over shared storage:
// the destination's capacity is taken first, the source host's hypervisor
// moves the domain, then the records follow. A failed migration leaves the
// VM running where it was and gives the destination's capacity back.
func MigrateVMWorkflow(ctx workflow.Context, p VMOpParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	if _, err = transition(ctx, &s, p.VMUUID, models.VMEventMigrate); err != nil {
		return res, err
	}
	var t activities.VMMigrationTargetResult
	if err = local(ctx, activities.VMMigrationTarget, activities.VMMigrationParams{VMUUID: p.VMUUID, HostUUID: p.HostUUID}, &t); err != nil {
		return res, err
	}
	if err = local(ctx, activities.VMMoveHost, activities.VMMigrationParams{VMUUID: p.VMUUID, HostUUID: t.HostUUID}, nil); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.VMMoveHost, activities.VMMigrationParams{VMUUID: p.VMUUID, HostUUID: t.SourceHostUUID}, nil)
	})
	if err = ensureVMNetwork(ctx, &s, p.VMUUID, t.HostUUID); err != nil {
		return res, err
	}
	if err = onHost(ctx, t.SourceHostUUID, hostapi.ActMigrateVM, hostapi.MigrateVMParams{VMUUID: p.VMUUID,
		DestinationURI: t.DestinationURI, MigrationURI: t.MigrationURI, SharedStorage: true}, nil); err != nil {
		return res, err
	}
	s = saga{} // the domain runs on the destination now
	releaseVMNetwork(ctx, p.VMUUID, t.SourceHostUUID)
	if err = local(ctx, activities.VMSetState, activities.VMStateParams{VMUUID: p.VMUUID, State: models.VMRunning}, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}
