package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/workflows"
)

// TestHybridSyncLoop checks the loop's shape offline: it reads its
// interval before each sleep, syncs every kind in order (security groups
// per VPC, after VPCs and VSwitches), keeps going when one sync fails, and
// ends when the data center is gone.
func TestHybridSyncLoop(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	infos := 0
	env.RegisterActivityWithOptions(func(_ context.Context, _ workflows.SyncLoopParams) (workflows.SyncInfo, error) {
		infos++
		// Two rounds of three reads each, then the data center is gone.
		return workflows.SyncInfo{Exists: infos <= 6, AccountUUID: "acc", Interval: 7 * time.Second, VpcUUIDs: []string{"vpc-a", "vpc-b"}}, nil
	}, activity.RegisterOptions{Name: workflows.ActAliyunSyncInfo})
	var synced []string
	env.RegisterActivityWithOptions(func(_ context.Context, p workflows.HybridParams) (map[string]any, error) {
		require.Equal(t, "acc", p.AccountUUID)
		what := p.What
		if vpc, ok := p.Args["ecsVpcUuid"].(string); ok {
			what += ":" + vpc
		} else {
			require.Equal(t, "dc-1", p.Args["dataCenterUuid"])
		}
		synced = append(synced, what)
		if p.What == workflows.KindEip {
			return nil, context.DeadlineExceeded
		}
		return nil, nil
	}, activity.RegisterOptions{Name: workflows.ActAliyunSync})
	env.RegisterWorkflowWithOptions(workflows.HybridSyncLoopWorkflow, workflow.RegisterOptions{Name: workflows.HybridSyncLoop})
	start := env.Now()
	env.ExecuteWorkflow(workflows.HybridSyncLoop, workflows.SyncLoopParams{DataCenterUUID: "dc-1"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	round := []string{"vpc", "vswitch", "securityGroup:vpc-a", "securityGroup:vpc-b", "instance", "eip", "vpnGateway", "userGateway", "vpnConnection"}
	require.Equal(t, append(append([]string{}, round...), round...), removeRetries(synced))
	require.GreaterOrEqual(t, env.Now().Sub(start), 14*time.Second, "a sleep of the configured interval before each round")
}

// removeRetries drops the retries of the failing EIP sync.
func removeRetries(l []string) []string {
	var out []string
	for i, s := range l {
		if i > 0 && s == "eip" && l[i-1] == "eip" {
			continue
		}
		out = append(out, s)
	}
	return out
}
