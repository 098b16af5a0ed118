package embedded

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

func TestAdhocGet(t *testing.T) {
	s := startServer(t, Options{})
	c := connect(t, s)
	runGreet(t, c, "warm")
	for i := range 60 {
		id := fmt.Sprintf("adhoc-%d", i)
		start := time.Now()
		run, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{ID: id, TaskQueue: workflowQueue}, greetWorkflow, id)
		require.NoError(t, err)
		var calls []string
		var token []byte
		for {
			cs := time.Now()
			resp, err := c.WorkflowService().GetWorkflowExecutionHistory(context.Background(), &workflowservice.GetWorkflowExecutionHistoryRequest{
				Namespace: s.Namespace(), Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: run.GetRunID()},
				WaitNewEvent: true, HistoryEventFilterType: enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT, NextPageToken: token,
			})
			calls = append(calls, fmt.Sprintf("%s+%v(%v events,err=%v)", cs.Sub(start).Round(time.Millisecond), time.Since(cs).Round(time.Millisecond), len(resp.GetHistory().GetEvents()), err))
			require.NoError(t, err)
			if len(resp.GetHistory().GetEvents()) > 0 {
				break
			}
			token = resp.NextPageToken
		}
		if d := time.Since(start); d > 300*time.Millisecond {
			t.Logf("slow %d %v: %s", i, d, strings.Join(calls, " "))
		}
	}
}
