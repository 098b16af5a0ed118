package node

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/workflows"
)

// startGC starts the garbage collector unless it runs already: its fixed
// workflow ID makes it one per control plane, however many replicas start.
func startGC(ctx context.Context, c client.Client) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.GCWorkflowID, TaskQueue: activities.TaskQueue,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, WorkflowExecutionErrorWhenAlreadyStarted: true},
		workflows.GC, workflows.GCParams{})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return fmt.Errorf("start the garbage collector: %w", err)
	}
	return nil
}
