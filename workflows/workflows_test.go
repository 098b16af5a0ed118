package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/workflows"
)

func registerWorkflows(r worker.WorkflowRegistry) {
	for name, fn := range map[string]any{
		workflows.Op: workflows.OpWorkflow, workflows.CreateVM: workflows.CreateVMWorkflow, workflows.StartVM: workflows.StartVMWorkflow,
		workflows.StopVM: workflows.StopVMWorkflow, workflows.RebootVM: workflows.RebootVMWorkflow, workflows.DestroyVM: workflows.DestroyVMWorkflow,
		workflows.RecoverVM: workflows.RecoverVMWorkflow, workflows.ExpungeVM: workflows.ExpungeVMWorkflow,
		workflows.AddSimHost: workflows.AddSimulatorHostWorkflow, workflows.Reconnect: workflows.ReconnectHostWorkflow,
		workflows.HostPing: workflows.HostPingWorkflow, workflows.DeleteHost: workflows.DeleteHostWorkflow,
	} {
		r.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
}

// TestReplayRecordedHistories replays histories recorded from real runs
// (workers/node TestRecordHistories): a workflow change that is not
// guarded by workflow.GetVersion fails here.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			registerWorkflows(r)
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
	}
}

// recorder stands in for every activity and logs the calls in order.
type recorder struct {
	mu    sync.Mutex
	calls []string
	fail  string
}

func (r *recorder) register(env *testsuite.TestWorkflowEnvironment) {
	add := func(name string, fn any) { env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	step := func(name string) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls = append(r.calls, name)
		if name == r.fail {
			return temporal.NewNonRetryableApplicationError("boom", activities.ErrType, nil)
		}
		return nil
	}
	add(activities.VMCreateRecord, func(context.Context, activities.CreateVMParams) error { return step(activities.VMCreateRecord) })
	add(activities.VMDeleteRecord, func(context.Context, activities.VMRef) error { return step(activities.VMDeleteRecord) })
	add(activities.VMAllocateHost, func(context.Context, activities.CreateVMParams) (activities.HostAllocation, error) {
		return activities.HostAllocation{VMUUID: "vm", HostUUID: "h1"}, step(activities.VMAllocateHost)
	})
	add(activities.VMReleaseHost, func(context.Context, activities.HostAllocation) error { return step(activities.VMReleaseHost) })
	add(activities.VMAllocateVolumes, func(context.Context, activities.VMAllocParams) error { return step(activities.VMAllocateVolumes) })
	add(activities.VMReleaseVolumes, func(context.Context, activities.VMAllocParams) error { return step(activities.VMReleaseVolumes) })
	add(activities.VMAllocateNICs, func(context.Context, activities.VMAllocParams) error { return step(activities.VMAllocateNICs) })
	add(activities.VMReleaseNICs, func(context.Context, activities.VMRef) error { return step(activities.VMReleaseNICs) })
	add(activities.VMAllocateIPs, func(context.Context, activities.VMAllocParams) error { return step(activities.VMAllocateIPs) })
	add(activities.VMReleaseIPs, func(context.Context, activities.VMRef) error { return step(activities.VMReleaseIPs) })
	add(activities.VMSpec, func(context.Context, activities.VMRef) (activities.VMSpecResult, error) {
		return activities.VMSpecResult{Spec: hostapi.VMSpec{UUID: "vm", RootVolume: hostapi.VolumeSpec{UUID: "root"}}}, step(activities.VMSpec)
	})
	add(workflows.ActVMVRouters, func(context.Context, activities.VMRef) (workflows.VMVRoutersResult, error) {
		return workflows.VMVRoutersResult{}, step(workflows.ActVMVRouters)
	})
	add(activities.VolumeSetHost, func(context.Context, activities.VolumeHost) error { return step(activities.VolumeSetHost) })
	add(activities.VMSetState, func(_ context.Context, p activities.VMStateParams) error {
		return step(activities.VMSetState + ":" + p.State)
	})
	add(activities.Inventory, func(context.Context, activities.InventoryParams) (activities.Result, error) {
		return activities.Result{Key: "inventory", Value: []byte(`{}`)}, step(activities.Inventory)
	})
	add(hostapi.ActInstantiateVolume, func(context.Context, hostapi.InstantiateVolumeParams) (hostapi.InstantiateVolumeResult, error) {
		return hostapi.InstantiateVolumeResult{}, step(hostapi.ActInstantiateVolume)
	})
	add(hostapi.ActDeleteVolume, func(context.Context, hostapi.DeleteVolumeParams) error { return step(hostapi.ActDeleteVolume) })
	add(hostapi.ActCreateVM, func(context.Context, hostapi.CreateVMParams) (hostapi.VMOpResult, error) {
		return hostapi.VMOpResult{}, step(hostapi.ActCreateVM)
	})
	add(hostapi.ActDestroyVM, func(context.Context, hostapi.DestroyVMParams) error { return step(hostapi.ActDestroyVM) })
	add(netapi.NetHostPlan, func(_ context.Context, p netapi.HostPlanParams) (netapi.HostPlan, error) {
		return netapi.HostPlan{}, step(fmt.Sprintf("%s:%t", netapi.NetHostPlan, p.Include))
	})
}

// TestCreateVMSagaOrder checks, for a failure at each step, that exactly
// the compensations of the steps taken run, in reverse order.
func TestCreateVMSagaOrder(t *testing.T) {
	forward := []string{activities.VMCreateRecord, activities.VMAllocateHost, activities.VMAllocateVolumes, activities.VMAllocateNICs,
		activities.VMAllocateIPs, workflows.ActVMVRouters, activities.VMSpec, hostapi.ActInstantiateVolume, activities.VolumeSetHost, netapi.NetHostPlan + ":true", hostapi.ActCreateVM,
		activities.VMSetState + ":Running"}
	undo := map[string]string{activities.VMCreateRecord: activities.VMDeleteRecord, activities.VMAllocateHost: activities.VMReleaseHost,
		activities.VMAllocateVolumes: activities.VMReleaseVolumes, activities.VMAllocateNICs: activities.VMReleaseNICs,
		activities.VMAllocateIPs: activities.VMReleaseIPs}
	// Host steps register their compensation before they run.
	undoBefore := map[string]string{hostapi.ActInstantiateVolume: hostapi.ActDeleteVolume, hostapi.ActCreateVM: hostapi.ActDestroyVM,
		netapi.NetHostPlan + ":true": netapi.NetHostPlan + ":false"}
	for i, failAt := range forward {
		t.Run(failAt, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			r := &recorder{fail: failAt}
			r.register(env)
			env.ExecuteWorkflow(workflows.CreateVMWorkflow, activities.CreateVMParams{VMUUID: "vm", L3NetworkUUIDs: []string{"l3"}})
			require.True(t, env.IsWorkflowCompleted())
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(env.GetWorkflowError(), &appErr), "got %v", env.GetWorkflowError())
			var want []string
			want = append(want, forward[:i+1]...)
			var comps []string
			for _, done := range forward[:i+1] {
				if u, ok := undoBefore[done]; ok {
					comps = append(comps, u)
				}
				if u, ok := undo[done]; ok && done != failAt {
					comps = append(comps, u)
				}
			}
			for j := len(comps) - 1; j >= 0; j-- {
				want = append(want, comps[j])
			}
			require.Equal(t, strings.Join(want, "\n"), strings.Join(r.calls, "\n"))
		})
	}
}
