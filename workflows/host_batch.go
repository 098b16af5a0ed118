package workflows

import (
	"strconv"

	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
)

// BatchAddHosts is the workflow behind AddKVMHostFromConfigFile.
const BatchAddHosts = "zcloud.BatchAddHosts"

// BatchAddHostsParams adds many hosts: one AddHost each.
type BatchAddHostsParams struct {
	Hosts []AddHostParams `json:"hosts"`
	IPs   []string        `json:"ips"`
}

// BatchAddHostResult is one line's outcome.
type BatchAddHostResult struct {
	IP       string `json:"ip"`
	HostUUID string `json:"hostUuid,omitempty"`
	Success  bool   `json:"success"`
	Error    string `json:"error,omitempty"`
}

// BatchAddHostsWorkflow adds every host as a child AddHost workflow, all at
// once; each rolls back on its own, so the job reports one result per host
// (ZStack's AddKVMHostFromConfigFile event) and fails only when none was
// added.
func BatchAddHostsWorkflow(ctx workflow.Context, p BatchAddHostsParams) (activities.Result, error) {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	futures := make([]workflow.ChildWorkflowFuture, len(p.Hosts))
	for i, h := range p.Hosts {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: id + "-host-" + strconv.Itoa(i), TaskQueue: activities.TaskQueue})
		futures[i] = workflow.ExecuteChildWorkflow(cctx, AddHost, h)
	}
	results := make([]BatchAddHostResult, len(p.Hosts))
	added := 0
	for i, f := range futures {
		results[i] = BatchAddHostResult{IP: p.IPs[i]}
		if err := f.Get(ctx, nil); err != nil {
			results[i].Error = err.Error()
			// A host that never got a record leaves no credentials behind.
			_ = local(ctx, activities.RunOp, activities.OpParams{Op: "ForgetSSHPassword", Args: []byte(`{"uuid":"` + p.Hosts[i].HostUUID + `"}`)}, nil)
			continue
		}
		results[i].HostUUID, results[i].Success = p.Hosts[i].HostUUID, true
		added++
	}
	var res activities.Result
	if err := local(ctx, activities.Render, activities.RenderParams{Key: "results", Value: results}, &res); err != nil {
		return res, err
	}
	if added == 0 && len(p.Hosts) > 0 {
		return res, businessError(models.Unavailable("no host of the file was added; the first error: %s", results[0].Error))
	}
	return res, nil
}
