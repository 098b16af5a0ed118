package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
)

// ChangeHostState is the workflow behind ChangeHostState.
const ChangeHostState = "zcloud.ChangeHostState"

// ChangeHostStateParams changes a host's state: the API's operation, and
// its host and event.
type ChangeHostStateParams struct {
	Op       activities.OpParams `json:"op"`
	HostUUID string              `json:"hostUuid"`
	Event    string              `json:"stateEvent"`
}

// stateOp is a ChangeXxxState operation (op) on uuid with a state event
// and the state it restores.
func stateOp(op, uuid, event, prev string) activities.OpParams {
	// UUIDs, events and states need no JSON escaping.
	args := `{"uuid":"` + uuid + `","stateEvent":"` + event + `","previousState":"` + prev + `"}`
	return activities.OpParams{Op: op, Args: []byte(args)}
}

// ChangeHostStateWorkflow enables or disables a host, or puts it into
// maintenance: PreMaintenance first (the allocator no longer picks it),
// then every running VM live-migrates to another host of the cluster or,
// when it can't, stops; paused and unknown VMs stop. Only then is the host
// in Maintenance. A VM that can neither move nor stop puts the host back
// in its previous state and fails the job.
func ChangeHostStateWorkflow(ctx workflow.Context, p ChangeHostStateParams) (res activities.Result, err error) {
	if p.Event != models.HostEventMaintain {
		err = local(ctx, activities.RunOp, p.Op, &res)
		return res, err
	}
	var s saga
	defer finish(ctx, &s, &err)
	var host activities.HostInfoResult
	if err = local(ctx, activities.HostInfo, activities.HostRef{HostUUID: p.HostUUID}, &host); err != nil {
		return res, err
	}
	if err = local(ctx, activities.RunOp, stateOp("ChangeHostState", p.HostUUID, "preMaintain", ""), nil); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.RunOp, stateOp("ChangeHostState", p.HostUUID, "restore", host.State), nil)
	})
	var vms []activities.HostVM
	if err = local(ctx, activities.HostVMs, activities.HostRef{HostUUID: p.HostUUID}, &vms); err != nil {
		return res, err
	}
	log := workflow.GetLogger(ctx)
	for _, vm := range vms {
		op := VMOpParams{VMUUID: vm.UUID}
		if vm.State == models.VMRunning {
			_, merr := MigrateVMWorkflow(ctx, op)
			if merr == nil {
				continue
			}
			log.Info("maintenance: vm can't migrate, stopping it", "vm_uuid", vm.UUID, "error", merr)
		}
		if _, err = StopVMWorkflow(ctx, op); err != nil {
			return res, err
		}
	}
	err = local(ctx, activities.RunOp, p.Op, &res)
	return res, err
}
