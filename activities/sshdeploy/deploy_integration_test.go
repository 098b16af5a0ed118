//go:build integration

// The test here starts a real Temporal server (workers/embedded), which
// links all of go.temporal.io/server into the test binary; run it with
// "go test -tags integration ./activities/sshdeploy/".

package sshdeploy_test

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/activities/sshdeploy"
	"github.com/zcloud/zcloud/hostworker/testhost"
	"github.com/zcloud/zcloud/workers/embedded"
)

const controlQueue = "sshdeploy-test"

// connectHost is the control plane's host.Connect in miniature.
func connectHost(ctx workflow.Context, hostUUID string) (hostapi.HostFacts, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              hostapi.Queue(hostUUID),
		ScheduleToStartTimeout: hostapi.ScheduleToStart,
		StartToCloseTimeout:    time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var facts hostapi.HostFacts
	err := workflow.ExecuteActivity(ctx, hostapi.ActConnect, hostapi.ConnectParams{HostUUID: hostUUID}).Get(ctx, &facts)
	return facts, err
}

// TestDeployLifecycle deploys a real agent binary over SSH onto a test host
// whose Temporal is the embedded server on the root side of its link, and
// proves: the agent runs inside the host and answers host.Connect on its
// queue; a redeploy of the same binary copies and restarts nothing; a new
// binary or a new config is copied and restarts the agent; the supervisor
// restarts a killed agent; Undeploy leaves no process or file.
func TestDeployLifecycle(t *testing.T) {
	h := testhost.New(t, "deploy", testhost.Options{})
	port := h.StartSSHD()

	srv, err := embedded.Start(t.Context(), embedded.Options{Host: h.RootIP().String()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddr(), Namespace: srv.Namespace()})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	w := worker.New(c, controlQueue, worker.Options{})
	w.RegisterWorkflow(connectHost)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	binA, binB := buildAgent(t, "a"), buildAgent(t, "b")
	const hostUUID = "3f6d1e0c9a8b4c7d8e9f0a1b2c3d4e5f"
	target := sshdeploy.Target{ManagementIP: h.IP().String(), SSHPort: port, Password: h.RootPassword()}
	params := func(bin string, conf map[string]string) sshdeploy.DeployParams {
		return sshdeploy.DeployParams{
			Target:            target,
			HostUUID:          hostUUID,
			TemporalAddress:   srv.FrontendAddr(),
			TemporalNamespace: srv.Namespace(),
			Driver:            "sim",
			Config:            conf,
			AgentBinary:       bin,
		}
	}
	a := sshdeploy.New("", nil)
	deploy := func(bin string, conf map[string]string) sshdeploy.DeployResult {
		t.Helper()
		start := time.Now()
		res, err := a.Deploy(t.Context(), params(bin, conf))
		require.NoError(t, err)
		t.Logf("deploy: %+v in %s", res, time.Since(start).Round(time.Millisecond))
		require.Equal(t, sshdeploy.ModeSupervised, res.Mode, "no systemd inside a test host")
		require.True(t, h.Contains(res.PID), "agent %d runs inside the host", res.PID)
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", res.PID))
		require.NoError(t, err)
		require.Equal(t, h.NetNS(), ns, "agent's network namespace")
		require.Equal(t, res.PID, readPID(t, h, sshdeploy.PIDFile), "PID file")
		return res
	}
	connect := func() {
		t.Helper()
		run, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{TaskQueue: controlQueue}, connectHost, hostUUID)
		require.NoError(t, err)
		var facts hostapi.HostFacts
		require.NoError(t, run.Get(t.Context(), &facts), "host.Connect on %s", hostapi.Queue(hostUUID))
		require.Equal(t, hostUUID, facts.HostUUID)
		require.Equal(t, hostapi.AgentVersion, facts.AgentVersion)
		require.Equal(t, "sim", facts.Driver)
	}

	first := deploy(binA, nil)
	require.True(t, first.BinaryCopied)
	require.True(t, first.ConfigChanged)
	require.True(t, first.Restarted)
	require.Contains(t, first.AgentVersion, "build a")
	connect()

	same := deploy(binA, nil)
	require.False(t, same.BinaryCopied, "same binary copied again")
	require.False(t, same.ConfigChanged)
	require.False(t, same.Restarted)
	require.Equal(t, first.PID, same.PID)

	upgraded := deploy(binB, nil)
	require.True(t, upgraded.BinaryCopied)
	require.False(t, upgraded.ConfigChanged)
	require.True(t, upgraded.Restarted)
	require.NotEqual(t, first.PID, upgraded.PID)
	require.Contains(t, upgraded.AgentVersion, "build b")
	require.False(t, h.Contains(first.PID), "old agent %d still runs", first.PID)
	connect()

	reconfigured := deploy(binB, map[string]string{"log-level": "debug"})
	require.False(t, reconfigured.BinaryCopied)
	require.True(t, reconfigured.ConfigChanged)
	require.True(t, reconfigured.Restarted)
	require.NotEqual(t, upgraded.PID, reconfigured.PID)

	// The supervisor brings a killed agent back.
	require.NoError(t, syscall.Kill(reconfigured.PID, syscall.SIGKILL))
	var revived int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(h.Path(sshdeploy.PIDFile))
		if err != nil {
			return false
		}
		_, err = fmt.Sscan(string(b), &revived)
		return err == nil && revived != reconfigured.PID && h.Contains(revived)
	}, 30*time.Second, 50*time.Millisecond, "agent restarted by the supervisor")
	connect()
	again := deploy(binB, map[string]string{"log-level": "debug"})
	require.False(t, again.Restarted)
	require.Equal(t, revived, again.PID)

	res, err := a.Undeploy(t.Context(), sshdeploy.UndeployParams{Target: target, HostUUID: hostUUID})
	require.NoError(t, err)
	require.True(t, res.Stopped)
	require.Empty(t, agentProcesses(h), "agent processes left after undeploy")
	_, err = os.Stat(h.Path(sshdeploy.BinPath))
	require.ErrorIs(t, err, os.ErrNotExist)

	_, err = a.Undeploy(t.Context(), sshdeploy.UndeployParams{Target: target, HostUUID: "another-host"})
	require.NoError(t, err, "nothing left to own")
}
