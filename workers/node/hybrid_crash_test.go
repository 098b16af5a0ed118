package node_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/aliyun"
	"github.com/zcloud/zcloud/activities/aliyun/aliyunsim"
	"github.com/zcloud/zcloud/api/apitest"
	"github.com/zcloud/zcloud/workers/node"
)

// Env of a child worker (see TestMain) that serves the hybrid cloud.
const (
	childAliyunEndpointEnv = "ZCLOUD_TEST_ALIYUN_ENDPOINT"
	childAliyunKeyEnv      = "ZCLOUD_TEST_ALIYUN_KEY" // hex of the 32-byte secret key
)

// childAliyunConfig is the hybrid configuration a child worker reads from
// its environment (empty: no hybrid cloud).
func childAliyunConfig() aliyun.Config {
	key, _ := hex.DecodeString(os.Getenv(childAliyunKeyEnv))
	return aliyun.Config{Endpoint: os.Getenv(childAliyunEndpointEnv), SecretKey: key, PollInterval: 50 * time.Millisecond}
}

// TestHybridWorkerKilledMidEcsCreate kills -9 the control-plane worker
// process while CreateEcsInstanceFromEcsImage is inside its CreateInstance
// call to Alibaba (aliyunsim holds the call, then creates the instance: the
// reply is lost with the worker). A new worker re-runs the activity with
// the same ClientToken: the job completes and aliyunsim holds exactly one
// instance.
func TestHybridWorkerKilledMidEcsCreate(t *testing.T) {
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		t.Setenv(k, "")
	}
	sim, err := aliyunsim.New(aliyunsim.Options{TransitionDelay: 100 * time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	sim.AddAccessKey(simAK, simSecret, simAccount)
	require.NoError(t, sim.Start("127.0.0.1:0"))
	t.Cleanup(func() { _ = sim.Close() })
	key := make([]byte, aliyun.KeySize)
	_, _ = rand.Read(key)
	t.Setenv(childAliyunEndpointEnv, sim.URL())
	t.Setenv(childAliyunKeyEnv, hex.EncodeToString(key))

	ts := startTemporal(t)
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "zcloud.db")
	// This process serves the API; the only control-plane worker is a child.
	n, err := node.Start(context.Background(), node.Config{DB: dsn, Temporal: ts.FrontendAddr(), Listen: "127.0.0.1:0",
		AdminPassword: "password", Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(n.Stop)
	child := startChildWorker(t, dsn, ts.FrontendAddr())
	h := &hybridEnv{env: &env{t: t, ts: ts, n: n, c: apitest.New(n.Addr)}, sim: sim}
	require.NoError(t, h.c.Login("admin", "password"))
	// The child publishes the sealing key once it runs.
	require.Eventually(t, func() bool { _, err := n.Store.SealingKey(context.Background()); return err == nil }, 30*time.Second, 20*time.Millisecond)
	in := h.buildHybridInfra()

	sim.SetLatency("CreateInstance", 4*time.Second)
	done := make(chan error, 1)
	var inst map[string]any
	go func() {
		var err error
		inst, err = h.c.Create("hybrid/aliyun/ecs", h.ecsParams(in, "ecs-crash"))
		done <- err
	}()
	// The call reached Alibaba and is held there: kill the worker inside it.
	require.Eventually(t, func() bool { return sim.Calls("CreateInstance") == 1 }, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_, _ = child.Process.Wait()
	start := time.Now()
	// aliyunsim finishes the held call (the instance exists) before a new worker runs.
	require.Eventually(t, func() bool { return len(sim.Instances()) == 1 }, 10*time.Second, 20*time.Millisecond)
	sim.SetLatency("CreateInstance", 0)
	startChildWorker(t, dsn, ts.FrontendAddr())

	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(2 * time.Minute):
		t.Fatal("job did not complete after the worker restarted")
	}
	t.Logf("job completed %s after the kill", time.Since(start).Round(time.Second))
	require.Equal(t, "Running", inst["ecsStatus"])
	require.GreaterOrEqual(t, sim.Calls("CreateInstance"), 2, "the create was re-run by the new worker")
	remote := h.remoteInstances(t)
	require.Len(t, remote, 1, "exactly one instance at Alibaba")
	require.Equal(t, remote[0].InstanceId, inst["ecsInstanceId"])
	require.Equal(t, 1, h.count("ecs_instances"))
}
