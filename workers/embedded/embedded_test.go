package embedded

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

const (
	workflowQueue = "zcloud-test"
	// hostQueue stands in for a host agent's queue. The activity runs there,
	// not on the workflow's queue, so it is dispatched through matching as in
	// ZCloud rather than eagerly.
	hostQueue = "host-test"
)

// greetWorkflow runs one activity on hostQueue.
func greetWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              hostQueue,
		ScheduleToCloseTimeout: 30 * time.Second,
	})
	var out string
	err := workflow.ExecuteActivity(ctx, greet, name).Get(ctx, &out)
	return out, err
}

func greet(_ context.Context, name string) (string, error) {
	return "hello " + name, nil
}

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startServer starts a server that t's cleanup stops.
func startServer(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Logger == nil {
		o.Logger = testLogger()
	}
	start := time.Now()
	s, err := Start(t.Context(), o)
	require.NoError(t, err)
	t.Logf("server ready in %v at %s", time.Since(start).Round(time.Millisecond), s.FrontendAddr())
	t.Cleanup(func() {
		start := time.Now()
		require.NoError(t, s.Stop())
		t.Logf("server stopped in %v", time.Since(start).Round(time.Millisecond))
	})
	return s
}

// connect dials s and starts workers for greetWorkflow and greet, all stopped
// by t's cleanup.
func connect(t testing.TB, s *Server) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  s.FrontendAddr(),
		Namespace: s.Namespace(),
		Logger:    sdklog.NewStructuredLogger(testLogger()),
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	ww := worker.New(c, workflowQueue, worker.Options{})
	ww.RegisterWorkflow(greetWorkflow)
	aw := worker.New(c, hostQueue, worker.Options{})
	aw.RegisterActivity(greet)
	for _, w := range []worker.Worker{ww, aw} {
		require.NoError(t, w.Start())
		t.Cleanup(w.Stop)
	}
	return c
}

// runGreet runs greetWorkflow to completion and checks its result.
func runGreet(t testing.TB, c client.Client, workflowID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflowID, TaskQueue: workflowQueue}, greetWorkflow, workflowID)
	require.NoError(t, err)
	var got string
	require.NoError(t, run.Get(ctx, &got))
	require.Equal(t, "hello "+workflowID, got)
}

// checkCompleted checks that workflowID completed with greetWorkflow's result.
func checkCompleted(t testing.TB, c client.Client, workflowID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	desc, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, desc.GetWorkflowExecutionInfo().GetStatus())
	var got string
	require.NoError(t, c.GetWorkflow(ctx, workflowID, "").Get(ctx, &got))
	require.Equal(t, "hello "+workflowID, got)
}

// measureLatency runs n workflows one after another and logs the time per
// workflow, start to result.
func measureLatency(t *testing.T, c client.Client, prefix string, n int) {
	t.Helper()
	ds := make([]time.Duration, n)
	var total time.Duration
	for i := range n {
		start := time.Now()
		runGreet(t, c, fmt.Sprintf("%s-%d", prefix, i))
		ds[i] = time.Since(start)
		total += ds[i]
		if ds[i] > 300*time.Millisecond {
			t.Logf("slow run %d: %v", i, ds[i].Round(time.Millisecond))
		}
	}
	slices.Sort(ds)
	mean := total / time.Duration(n)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	t.Logf("sequential 1-activity workflow latency (%s, %d runs): mean %.1f ms, p50 %.1f ms, p95 %.1f ms, max %.1f ms",
		prefix, n, ms(mean), ms(ds[n/2]), ms(ds[n*95/100]), ms(ds[n-1]))
	// Untuned (20 polls/s per queue reader) the median is ~150 ms; tuned,
	// ~25 ms on an idle machine, but 130 ms was seen on a loaded one, so the
	// figures are printed for the reader and the tuning is not judged by
	// wall-clock time here (speed is for `make bench`). What is asserted is
	// the failure the tuning exists to prevent: runs that wait for a
	// long-poll expiry (2 s, see dynamicConfig) as a rule, not once.
	if !raceEnabled {
		require.Less(t, ds[n/2], time.Second, "median workflow latency: workflows wait for long-poll expiries")
	}
}

// TestInMemory is not parallel, so that its latency figures are measured on
// an otherwise idle machine: the parallel tests wait for it.
func TestInMemory(t *testing.T) {
	uiPort, err := freePorts("127.0.0.1", 1)
	require.NoError(t, err)
	s := startServer(t, Options{UIPort: uiPort[0], Namespace: "zcloud-test"})
	require.Equal(t, "zcloud-test", s.Namespace())
	require.Equal(t, fmt.Sprintf("http://127.0.0.1:%d", uiPort[0]), s.UIURL())

	c := connect(t, s)
	runGreet(t, c, "greet-memory")
	checkCompleted(t, c, "greet-memory")

	t.Run("ui", func(t *testing.T) {
		// The UI's API proxies to the frontend, and its page for a workflow renders.
		body := httpGet(t, s.UIURL()+"/api/v1/namespaces/"+s.Namespace()+"/workflows/greet-memory")
		require.Contains(t, body, `"greet-memory"`)
		httpGet(t, s.UIURL()+"/namespaces/"+s.Namespace()+"/workflows/greet-memory")
	})
	t.Run("latency", func(t *testing.T) {
		measureLatency(t, c, "latency-memory", 30)
	})
}

func TestFilePersistence(t *testing.T) {
	t.Parallel()
	dbFile := filepath.Join(t.TempDir(), "sub", "temporal.db")

	// Subtests run their cleanups (workers, client, server) when they end.
	t.Run("first start", func(t *testing.T) {
		c := connect(t, startServer(t, Options{DBFile: dbFile}))
		runGreet(t, c, "greet-file")
		measureLatency(t, c, "latency-file", 10)
	})

	// The pragmas took effect: header bytes 18 and 19 (file format write and
	// read version) are 2 in WAL mode, 1 in rollback-journal mode.
	f, err := os.Open(dbFile)
	require.NoError(t, err)
	header := make([]byte, 20)
	_, err = io.ReadFull(f, header)
	require.NoError(t, f.Close())
	require.NoError(t, err)
	require.Equal(t, []byte{2, 2}, header[18:20], "sqlite file format versions (2 = WAL)")
	// A restart in this process reuses the sqlite plugin's pooled connection.
	t.Run("restart", func(t *testing.T) {
		c := connect(t, startServer(t, Options{DBFile: dbFile}))
		checkCompleted(t, c, "greet-file")
		runGreet(t, c, "greet-file-2")

		_, err := Start(t.Context(), Options{DBFile: dbFile})
		require.ErrorContains(t, err, "in use", "second server on the same file")
	})

	// A new process reads the file from scratch, like `zcloud dev` restarted.
	if t.Failed() {
		return
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestReopenHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "EMBEDDED_TEST_DB_FILE="+dbFile)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "helper process output:\n%s", out)
	require.Contains(t, string(out), "--- PASS: TestReopenHelper")
}

// TestReopenHelper is TestFilePersistence's second process.
func TestReopenHelper(t *testing.T) {
	dbFile := os.Getenv("EMBEDDED_TEST_DB_FILE")
	if dbFile == "" {
		t.Skip("run by TestFilePersistence")
	}
	s := startServer(t, Options{DBFile: dbFile})
	c := connect(t, s)
	checkCompleted(t, c, "greet-file")
	checkCompleted(t, c, "greet-file-2")
}

func TestOptionsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"hostname", Options{Host: "example.com"}, "not an IP address"},
		{"frontend port", Options{FrontendPort: 70000}, "out of range"},
		{"ui port", Options{UIPort: -1}, "out of range"},
		{"same ports", Options{FrontendPort: 7233, UIPort: 7233}, "both"},
		{"db file", Options{DBFile: filepath.Join(t.TempDir(), "a?b.db")}, "must not contain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Start(t.Context(), tt.o)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	port := l.Addr().(*net.TCPAddr).Port

	_, err = Start(t.Context(), Options{FrontendPort: port})
	require.ErrorContains(t, err, "address already in use")
	// ui-server would exit the process on this; Start must return an error.
	_, err = Start(t.Context(), Options{UIPort: port, Logger: testLogger()})
	require.ErrorContains(t, err, "address already in use")
}

// BenchmarkWorkflow measures sequential 1-activity workflows on an in-memory
// server; ns/op is the latency of one workflow.
func BenchmarkWorkflow(b *testing.B) {
	c := connect(b, startServer(b, Options{}))
	i := 0
	for b.Loop() {
		runGreet(b, c, fmt.Sprintf("bench-%d", i))
		i++
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, strings.TrimSpace(string(body)))
	return string(body)
}
