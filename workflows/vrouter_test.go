package workflows_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/workflows"
)

// TestEnsureVRouterSaga runs the vRouter ensure with every step stubbed:
// a served L3 makes nothing, a new router is created then attached, and a
// failed attach deletes the router it made (on the host, then the
// records).
func TestEnsureVRouterSaga(t *testing.T) {
	for _, tc := range []struct {
		name   string
		plan   models.VRouterPlan
		fail   string
		want   []string
		router bool
	}{
		{name: "served", plan: models.VRouterPlan{RouterUUID: "r0"}, want: []string{workflows.ActVRouterPlan}},
		{name: "created", plan: models.VRouterPlan{OfferingUUID: "o"}, router: true, want: []string{workflows.ActVRouterPlan,
			workflows.ActRouterCreateRecord, workflows.ActRouterSpec, netapi.EnsureRouter, workflows.ActRouterSetState,
			workflows.ActRouterApply + ":AttachL3NetworkToVm", workflows.ActRouterSpec, netapi.EnsureRouter, workflows.ActRouterForget}},
		{name: "attach fails", plan: models.VRouterPlan{OfferingUUID: "o"}, fail: workflows.ActRouterApply + ":AttachL3NetworkToVm",
			want: []string{workflows.ActVRouterPlan, workflows.ActRouterCreateRecord, workflows.ActRouterSpec, netapi.EnsureRouter,
				workflows.ActRouterSetState, workflows.ActRouterApply + ":AttachL3NetworkToVm",
				workflows.ActRouterGeneration, netapi.DeleteRouter, workflows.ActRouterDeleteRecord}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			var mu sync.Mutex
			var calls []string
			step := func(name string) error {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, name)
				if name == tc.fail {
					return temporal.NewNonRetryableApplicationError("boom", activities.ErrType, nil)
				}
				return nil
			}
			add := func(name string, fn any) { env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
			add(workflows.ActVRouterPlan, func(context.Context, workflows.EnsureVRouterParams) (models.VRouterPlan, error) {
				return tc.plan, step(workflows.ActVRouterPlan)
			})
			add(workflows.ActRouterCreateRecord, func(_ context.Context, p workflows.CreateRouterParams) (workflows.RouterRecord, error) {
				require.Equal(t, models.ApplianceVirtualRouter, p.ApplianceVMType)
				return workflows.RouterRecord{RouterUUID: p.RouterUUID, HostUUID: "h"}, step(workflows.ActRouterCreateRecord)
			})
			add(workflows.ActRouterSpec, func(context.Context, workflows.RouterRef) (workflows.RouterSpecResult, error) {
				return workflows.RouterSpecResult{HostUUID: "h", State: models.VMRunning}, step(workflows.ActRouterSpec)
			})
			add(netapi.EnsureRouter, func(context.Context, netapi.EnsureRouterParams) error { return step(netapi.EnsureRouter) })
			add(netapi.DeleteRouter, func(context.Context, netapi.DeleteRouterParams) error { return step(netapi.DeleteRouter) })
			add(workflows.ActRouterSetState, func(context.Context, workflows.RouterStateParams) error { return step(workflows.ActRouterSetState) })
			add(workflows.ActRouterGeneration, func(context.Context, workflows.RouterRef) (int64, error) {
				return 1, step(workflows.ActRouterGeneration)
			})
			add(workflows.ActRouterDeleteRecord, func(context.Context, workflows.RouterRef) error { return step(workflows.ActRouterDeleteRecord) })
			add(workflows.ActRouterApply, func(_ context.Context, p workflows.RouterApplyParams) (workflows.RouterApplyResult, error) {
				require.Contains(t, string(p.Args), `"l3NetworkUuid":"l3"`)
				return workflows.RouterApplyResult{Routers: []string{"new"}}, step(workflows.ActRouterApply + ":" + p.Op)
			})
			add(workflows.ActRouterForget, func(context.Context, workflows.RouterKey) error { return step(workflows.ActRouterForget) })
			add(netapi.NetEIPPlan, func(context.Context, netapi.EIPPlanParams) (netapi.EIPPlan, error) { return netapi.EIPPlan{}, nil })
			tc.plan.ApplianceVMType = models.ApplianceVirtualRouter
			env.ExecuteWorkflow(workflows.EnsureVRouterWorkflow, workflows.EnsureVRouterParams{L3UUID: "l3"})
			require.True(t, env.IsWorkflowCompleted())
			require.Equal(t, strings.Join(tc.want, "\n"), strings.Join(calls, "\n"))
			if tc.fail != "" {
				require.Error(t, env.GetWorkflowError())
				return
			}
			require.NoError(t, env.GetWorkflowError())
			var res workflows.EnsureVRouterResult
			require.NoError(t, env.GetWorkflowResult(&res))
			if tc.router {
				require.NotEmpty(t, res.RouterUUID)
				require.NotEqual(t, "r0", res.RouterUUID)
			} else {
				require.Equal(t, "r0", res.RouterUUID)
			}
		})
	}
}
