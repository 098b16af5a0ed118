package node_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/db"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/api/apitest"
	"github.com/zcloud/zcloud/workers/node"
)

// TestMain lets the test binary run as a real control-plane worker process
// (a child of TestWorkerKilledMidCreate), exactly as `zcloud worker` does.
func TestMain(m *testing.M) {
	if os.Getenv("ZCLOUD_TEST_CHILD_WORKER") == "" {
		os.Exit(m.Run())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	n, err := node.Start(ctx, node.Config{DB: os.Getenv("ZCLOUD_TEST_DB"), Temporal: os.Getenv("ZCLOUD_TEST_TEMPORAL"),
		Worker: true, Logger: quietLogger(), Faults: db.NewFaultsFromEnv(), Aliyun: childAliyunConfig()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child worker:", err)
		os.Exit(2)
	}
	<-ctx.Done()
	n.Stop()
}

func startChildWorker(t *testing.T, dbDSN, temporal string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ZCLOUD_TEST_CHILD_WORKER=1", "ZCLOUD_TEST_DB="+dbDSN, "ZCLOUD_TEST_TEMPORAL="+temporal)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
		}
	})
	return cmd
}

// TestWorkerKilledMidCreate kills -9 the control-plane worker process while
// a VM create is at a chosen host step, restarts it, and checks that the job
// completes with one domain and that nothing leaks once the VM is expunged.
func TestWorkerKilledMidCreate(t *testing.T) {
	for _, step := range []string{hostapi.ActInstantiateVolume, hostapi.ActCreateVM} {
		t.Run(step, func(t *testing.T) {
			ts := startTemporal(t)
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "zcloud.db")
			// This process serves the API and the simulated hosts; the worker is a child.
			n, err := node.Start(context.Background(), node.Config{DB: dsn, Temporal: ts.FrontendAddr(), Listen: "127.0.0.1:0",
				SimFleet: true, AdminPassword: "password", Logger: quietLogger()})
			require.NoError(t, err)
			t.Cleanup(n.Stop)
			child := startChildWorker(t, dsn, ts.FrontendAddr())
			e := &env{t: t, ts: ts, n: n, c: apitest.New(n.Addr)}
			require.NoError(t, e.c.Login("admin", "password"))
			in := e.buildInfra(1)
			d, ok := n.Fleet.Driver(in.hosts[0])
			require.True(t, ok)
			d.SetLatency(step, 3*time.Second)

			done := make(chan error, 1)
			var vm map[string]any
			go func() {
				var err error
				vm, err = e.c.Create("vm-instances", e.vmParams(in, "vm-crash"))
				done <- err
			}()
			// Wait until the saga is inside the chosen host step: the VM row
			// exists with its NIC's IP allocated.
			require.Eventually(t, func() bool {
				n, _ := n.Store.Count(context.Background(), "used_ips", "1 = 1")
				return n == 1
			}, 20*time.Second, 20*time.Millisecond)
			time.Sleep(500 * time.Millisecond) // well inside the 3 s of the host step
			require.NoError(t, child.Process.Signal(syscall.SIGKILL))
			_, _ = child.Process.Wait()
			t.Logf("worker killed during %s", step)
			startChildWorker(t, dsn, ts.FrontendAddr())

			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(60 * time.Second):
				t.Fatal("job did not complete after the worker restarted")
			}
			require.Equal(t, "Running", vm["state"])
			require.Len(t, d.VMs(), 1, "exactly one domain")
			d.SetLatency(step, 0)
			uuid := vm["uuid"].(string)
			require.NoError(t, e.c.Delete("vm-instances", uuid))
			_, err = e.c.Call("PUT", "v1/vm-instances/"+uuid+"/actions", map[string]any{"expungeVmInstance": map[string]any{}})
			require.NoError(t, err)
			e.assertClean(in)
		})
	}
}
