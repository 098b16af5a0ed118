package node_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

	"github.com/zcloud/zcloud/activities/aliyun"
	"github.com/zcloud/zcloud/workflows"
)

// TestHybridPeriodicSync proves that a data center keeps itself current
// without a Sync API call: with hybrid.sync.interval at 1 s, an instance
// created outside ZCloud at aliyunsim appears in the inventory, disappears
// once deleted there; a lost loop is started again by StartSyncLoops (what
// a control-plane start runs); the loop ends when the data center is
// deleted.
func TestHybridPeriodicSync(t *testing.T) {
	h := newHybridEnv(t, "sqlite::memory:", nil)
	_, err := h.c.Call(http.MethodPut, "v1/global-configurations/hybrid/sync.interval/actions",
		map[string]any{"updateGlobalConfig": map[string]any{"value": "1"}})
	require.NoError(t, err)
	in := h.buildHybridInfra()
	loopID := workflows.SyncLoopWorkflowID(in.dc)
	desc, err := h.n.Temporal.DescribeWorkflowExecution(t.Context(), loopID, "")
	require.NoError(t, err, "AddDataCenter starts the sync loop")
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.WorkflowExecutionInfo.Status)

	vsw := h.inventories("hybrid/aliyun/vswitch/" + in.vsw)[0]
	sg := h.inventories("hybrid/aliyun/security-group/" + in.sg)[0]
	img := h.inventories("hybrid/aliyun/image/" + in.image)[0]
	cl := h.ecsClient(t)
	creq := ecs.CreateCreateInstanceRequest()
	creq.RegionId, creq.ZoneId, creq.ImageId, creq.InstanceType = "cn-hangzhou", "cn-hangzhou-h", img["ecsImageId"].(string), "ecs.c7.large"
	creq.VSwitchId, creq.SecurityGroupId, creq.InstanceName = vsw["vSwitchId"].(string), sg["securityGroupId"].(string), "made-outside"
	start := time.Now()
	cresp, err := cl.CreateInstance(creq)
	require.NoError(t, err)
	q := url.Values{"q": {"ecsInstanceId=" + cresp.InstanceId}}
	require.Eventually(t, func() bool {
		l, _, err := h.c.Query("hybrid/aliyun/ecs", q)
		return err == nil && len(l) == 1 && l[0]["name"] == "made-outside" && l[0]["ecsVSwitchUuid"] == in.vsw
	}, 20*time.Second, 100*time.Millisecond, "the periodic sync imports the instance made outside ZCloud")
	t.Logf("instance made at aliyunsim imported in %s", time.Since(start))

	require.Eventually(t, func() bool {
		dreq := ecs.CreateDeleteInstanceRequest()
		dreq.RegionId, dreq.InstanceId, dreq.Force = "cn-hangzhou", cresp.InstanceId, requests.NewBoolean(true)
		_, err := cl.DeleteInstance(dreq)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
	start = time.Now()
	require.Eventually(t, func() bool {
		l, _, err := h.c.Query("hybrid/aliyun/ecs", q)
		return err == nil && len(l) == 0
	}, 20*time.Second, 100*time.Millisecond, "the periodic sync removes the instance deleted at aliyunsim")
	t.Logf("instance deleted at aliyunsim removed in %s", time.Since(start))

	// On control-plane start every data center gets its loop back;
	// starting one that runs is no error.
	require.NoError(t, h.n.Temporal.TerminateWorkflow(t.Context(), loopID, "", "test: a lost loop"))
	require.NoError(t, aliyun.StartSyncLoops(t.Context(), h.n.Temporal, h.n.Store))
	require.NoError(t, aliyun.StartSyncLoops(t.Context(), h.n.Temporal, h.n.Store))
	desc, err = h.n.Temporal.DescribeWorkflowExecution(t.Context(), loopID, "")
	require.NoError(t, err)
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.WorkflowExecutionInfo.Status, "the loop runs again")

	// Deleting the data center ends its loop.
	h.del("hybrid/aliyun/security-group/remote/" + in.sg)
	h.del("hybrid/aliyun/vswitch/remote/" + in.vsw)
	h.del("hybrid/aliyun/vpc/remote/" + in.vpc)
	h.del("hybrid/identity-zone/" + in.zone)
	for _, im := range h.inventories("hybrid/aliyun/image") {
		h.del("hybrid/aliyun/image/" + im["uuid"].(string))
	}
	h.del("hybrid/data-center/" + in.dc)
	require.Eventually(t, func() bool {
		d, err := h.n.Temporal.DescribeWorkflowExecution(t.Context(), loopID, "")
		return err == nil && d.WorkflowExecutionInfo.Status == enums.WORKFLOW_EXECUTION_STATUS_COMPLETED
	}, 20*time.Second, 100*time.Millisecond, "the sync loop ends with its data center")
}
