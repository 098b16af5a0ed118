package imagestore

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/models"
)

const testBS = "0123456789abcdef0123456789abcdef"

// needQemuImg skips a test without qemu-img, unless CI requires it.
func needQemuImg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		if os.Getenv("ZCLOUD_REQUIRE_LIBVIRT") == "1" {
			t.Fatalf("qemu-img not found (apt-get install qemu-utils): %v", err)
		}
		t.Skip("qemu-img not found (apt-get install qemu-utils)")
	}
}

func qemuImg(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "qemu-img", args...).CombinedOutput()
	require.NoError(t, err, "qemu-img %s: %s", strings.Join(args, " "), out)
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// makeQCOW2 converts size bytes of random data to a qcow2 and returns its
// bytes.
func makeQCOW2(t *testing.T, size int) []byte {
	t.Helper()
	dir := t.TempDir()
	raw, qcow := filepath.Join(dir, "src.raw"), filepath.Join(dir, "img.qcow2")
	require.NoError(t, os.WriteFile(raw, randomBytes(t, size), 0o600))
	qemuImg(t, "convert", "-q", "-f", "raw", "-O", "qcow2", raw, qcow)
	b, err := os.ReadFile(qcow)
	require.NoError(t, err)
	return b
}

// makeISO returns an ISO-like file: the ISO 9660 identifier at 0x8001.
func makeISO(t *testing.T) []byte {
	t.Helper()
	b := randomBytes(t, 256<<10)
	b[0x8000] = 1
	copy(b[0x8001:], "CD001")
	return b
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// origin is an HTTP server on 127.0.0.1 serving files with ranges, ETags
// and If-Range (http.ServeContent), recording the requests it gets.
type origin struct {
	srv *httptest.Server

	mu     sync.Mutex
	files  map[string][]byte
	ranges []string // Range header of each GET ("" when none)
	// chunk and pause throttle the body: chunk bytes, then pause.
	chunk int
	pause time.Duration
	// stallAfter, when > 0, sends that many bytes and then holds the
	// response until the client goes away.
	stallAfter int
	status     int // answered instead of the file when non-zero
}

func newOrigin(t *testing.T) *origin {
	t.Helper()
	o := &origin{files: map[string][]byte{}}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) add(name string, b []byte) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.files[name] = b
	return o.srv.URL + "/" + name
}

func (o *origin) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ranges...)
}

func (o *origin) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	b, ok := o.files[strings.TrimPrefix(r.URL.Path, "/")]
	o.ranges = append(o.ranges, r.Header.Get("Range"))
	chunk, pause, stall, status := o.chunk, o.pause, o.stallAfter, o.status
	o.mu.Unlock()
	switch {
	case status != 0:
		http.Error(w, http.StatusText(status), status)
		return
	case !ok:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", fmt.Sprintf(`"%s"`, md5Hex(b)))
	var out io.Writer = w
	if chunk > 0 || stall > 0 {
		out = &throttled{w: w, r: r, chunk: chunk, pause: pause, stallAfter: stall}
	}
	http.ServeContent(writerTo{ResponseWriter: w, out: out}, r, "", time.Unix(1700000000, 0), bytes.NewReader(b))
}

// writerTo sends a response's body through out.
type writerTo struct {
	http.ResponseWriter
	out io.Writer
}

func (w writerTo) Write(p []byte) (int, error) { return w.out.Write(p) }

// throttled writes chunk bytes at a time with a pause between, or stalls
// after stallAfter bytes until the request ends.
type throttled struct {
	w          http.ResponseWriter
	r          *http.Request
	chunk      int
	pause      time.Duration
	stallAfter int
	sent       int
}

func (t *throttled) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := len(p)
		if t.chunk > 0 {
			k = min(k, t.chunk)
		}
		if t.stallAfter > 0 {
			if t.sent >= t.stallAfter {
				t.w.(http.Flusher).Flush()
				<-t.r.Context().Done()
				return n, t.r.Context().Err()
			}
			k = min(k, t.stallAfter-t.sent)
		}
		m, err := t.w.Write(p[:k])
		n += m
		t.sent += m
		if err != nil {
			return n, err
		}
		p = p[k:]
		if t.pause > 0 {
			t.w.(http.Flusher).Flush()
			select {
			case <-time.After(t.pause):
			case <-t.r.Context().Done():
				return n, t.r.Context().Err()
			}
		}
	}
	return n, nil
}

// testStore is a store in a temporary directory behind its own HTTP
// server on 127.0.0.1.
func testStore(t *testing.T) (*Store, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	s, err := NewStore(StoreConfig{
		Dir:         t.TempDir(),
		BaseURL:     "http://" + srv.Listener.Addr().String(),
		IdleTimeout: 10 * time.Second,
	})
	require.NoError(t, err)
	srv.Config.Handler = s.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return s, srv
}

// heartbeats records every heartbeat an activity sends, before the SDK
// throttles them.
type heartbeats struct {
	interceptor.WorkerInterceptorBase
	mu   sync.Mutex
	sent []bsapi.DownloadProgress
}

func (h *heartbeats) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &hbInbound{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, h: h}
}

func (h *heartbeats) list() []bsapi.DownloadProgress {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]bsapi.DownloadProgress(nil), h.sent...)
}

type hbInbound struct {
	interceptor.ActivityInboundInterceptorBase
	h *heartbeats
}

func (i *hbInbound) Init(outbound interceptor.ActivityOutboundInterceptor) error {
	return i.Next.Init(&hbOutbound{ActivityOutboundInterceptorBase: interceptor.ActivityOutboundInterceptorBase{Next: outbound}, h: i.h})
}

type hbOutbound struct {
	interceptor.ActivityOutboundInterceptorBase
	h *heartbeats
}

func (o *hbOutbound) RecordHeartbeat(ctx context.Context, details ...any) {
	if len(details) == 1 {
		if p, ok := details[0].(bsapi.DownloadProgress); ok {
			o.h.mu.Lock()
			o.h.sent = append(o.h.sent, p)
			o.h.mu.Unlock()
		}
	}
	o.Next.RecordHeartbeat(ctx, details...)
}

// activityEnv is a test activity environment serving an agent of s.
func activityEnv(t *testing.T, s *Store, hb *heartbeats) *testsuite.TestActivityEnvironment {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	// The SDK logs every activity failure; the tests check them instead.
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestActivityEnvironment()
	if hb != nil {
		env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{hb}})
	}
	env.SetTestTimeout(2 * time.Minute)
	NewAgent(testBS, s, 20*time.Millisecond, nil).Register(env)
	return env
}

// download runs bsapi.ActDownloadImage in env.
func download(env *testsuite.TestActivityEnvironment, imageUUID, url string) (bsapi.ImageResult, error) {
	v, err := env.ExecuteActivity(bsapi.ActDownloadImage, bsapi.DownloadImageParams{
		BackupStorageUUID: testBS, ImageUUID: imageUUID, URL: url,
	})
	if err != nil {
		return bsapi.ImageResult{}, err
	}
	var res bsapi.ImageResult
	return res, v.Get(&res)
}

// httpGet fetches url with extra headers and returns status, headers, body.
func httpGet(t *testing.T, method, url string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

// dirEntries lists the files of one store subdirectory.
func dirEntries(t *testing.T, s *Store, sub string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.Dir(), sub))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func newUUID() string { return models.NewUUID() }
