package workflows

import (
	"strconv"

	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
)

// ChangeTags is the job of the tag APIs (CreateSystemTag(s),
// CreateUserTag, UpdateSystemTag, DeleteTag).
const ChangeTags = "zcloud.ChangeTags"

// RegisterTags registers the tag workflow.
func RegisterTags(w workflowRegistry) {
	w.RegisterWorkflowWithOptions(ChangeTagsWorkflow, workflow.RegisterOptions{Name: ChangeTags})
}

// ChangeTagsWorkflow makes tag changes in order. A VM's guest tag
// (userdata, sshkey, hostname) changes through SetVMGuestTagWorkflow, as a
// child, which also pushes a running VM's host (flat metadata service) and
// undoes itself if that fails. When a change fails, the tags created
// before it are deleted again.
func ChangeTagsWorkflow(ctx workflow.Context, p activities.TagChangesParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var uuids []string
	typ := activities.TagTypeSystem
	for i, c := range p.Changes {
		var plan activities.TagPlan
		if err = local(ctx, activities.TagApply, c, &plan); err != nil {
			return res, err
		}
		if plan.Guest != nil {
			if err = guestTagChild(ctx, i, "", *plan.Guest); err != nil {
				return res, err
			}
		}
		if plan.Created {
			s.add(func(ctx workflow.Context) error { return undoTagCreate(ctx, i, c, plan) })
		}
		if plan.UUID != "" {
			uuids = append(uuids, plan.UUID)
		}
		if plan.Type != "" {
			typ = plan.Type
		}
	}
	if p.Key == "" {
		return res, nil
	}
	err = local(ctx, activities.TagInventory, activities.TagInventoryParams{Type: typ, UUIDs: uuids, Key: p.Key}, &res)
	return res, err
}

// guestTagChild runs SetVMGuestTagWorkflow for change i.
func guestTagChild(ctx workflow.Context, i int, suffix string, p activities.GuestTagParams) error {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID + "-guest-" + strconv.Itoa(i) + suffix
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: id, TaskQueue: activities.TaskQueue})
	return workflow.ExecuteChildWorkflow(cctx, SetVMGuestTag, p).Get(ctx, nil)
}

// undoTagCreate deletes a tag change i created.
func undoTagCreate(ctx workflow.Context, i int, c activities.TagParams, plan activities.TagPlan) error {
	if plan.Guest != nil {
		back := *plan.Guest
		back.Value = ""
		return guestTagChild(ctx, i, "-undo", back)
	}
	return local(ctx, activities.TagApply, activities.TagParams{Action: activities.TagDelete, TagUUID: plan.UUID,
		AccountUUID: c.AccountUUID}, nil)
}
