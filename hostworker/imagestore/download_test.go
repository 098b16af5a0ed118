package imagestore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/zcloud/zcloud/activities/bsapi"
)

// requireAppError checks that err is an ApplicationError of type typ with
// the given retryability.
func requireAppError(t *testing.T, err error, typ string, nonRetryable bool) {
	t.Helper()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "want an ApplicationError, got %T: %v", err, err)
	require.Equal(t, typ, appErr.Type(), "error type of %v", err)
	require.Equal(t, nonRetryable, appErr.NonRetryable(), "non-retryable of %v", err)
}

// TestDownloadAndServe downloads a qcow2, a raw file and an ISO, checks
// what the store found out, and fetches each back over the store's HTTP
// server, whole, by range and by HEAD.
func TestDownloadAndServe(t *testing.T) {
	needQemuImg(t)
	s, _ := testStore(t)
	o := newOrigin(t)
	env := activityEnv(t, s, nil)

	qcow := makeQCOW2(t, 3<<20)
	tests := []struct {
		name        string
		content     []byte
		format      string
		virtualSize int64
	}{
		{"qcow2", qcow, bsapi.FormatQCOW2, 3 << 20},
		{"raw", randomBytes(t, 1<<20+123), bsapi.FormatRaw, 1<<20 + 123},
		{"iso", makeISO(t), bsapi.FormatISO, 256 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := newUUID()
			url := o.add(tt.name, tt.content)
			start := time.Now()
			res, err := download(env, id, url)
			require.NoError(t, err)
			t.Logf("%s of %d bytes downloaded in %v", tt.name, len(tt.content), time.Since(start).Round(time.Millisecond))
			require.Equal(t, tt.format, res.Format)
			require.Equal(t, tt.virtualSize, res.Size)
			require.Equal(t, int64(len(tt.content)), res.ActualSize)
			require.Equal(t, md5Hex(tt.content), res.MD5Sum)
			require.Len(t, res.SHA256Sum, 64)
			require.Equal(t, url, res.SourceURL)
			require.Equal(t, filepath.Join(s.Dir(), "images", id+"."+tt.format), res.InstallPath)
			require.Equal(t, s.BaseURL()+"/images/"+id+"."+tt.format, res.InstallURL)

			status, hdr, body := httpGet(t, http.MethodGet, res.InstallURL, nil)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, "bytes", hdr.Get("Accept-Ranges"))
			require.Equal(t, tt.content, body, "served image differs from the origin's")

			status, _, body = httpGet(t, http.MethodGet, res.InstallURL, map[string]string{"Range": "bytes=1000-1999"})
			require.Equal(t, http.StatusPartialContent, status)
			require.Equal(t, tt.content[1000:2000], body)

			status, hdr, body = httpGet(t, http.MethodHead, res.InstallURL, nil)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, fmt.Sprint(len(tt.content)), hdr.Get("Content-Length"))
			require.Empty(t, body)

			// Idempotent: the same request answers the same without
			// fetching again.
			before := len(o.requests())
			again, err := download(env, id, url)
			require.NoError(t, err)
			require.Equal(t, res, again)
			require.Len(t, o.requests(), before, "re-download reached the origin")

			// The UUID is taken: another source is a conflict.
			_, err = download(env, id, o.add(tt.name+"-other", tt.content))
			requireAppError(t, err, bsapi.ErrTypeConflict, true)

			// GetImage describes it too.
			v, err := env.ExecuteActivity(bsapi.ActGetImage, bsapi.GetImageParams{ImageUUID: id})
			require.NoError(t, err)
			var got bsapi.ImageResult
			require.NoError(t, v.Get(&got))
			require.Equal(t, res, got)
		})
	}
	require.Empty(t, dirEntries(t, s, partialDir), "partial files left")
}

// TestDownloadFromFile imports a file on the backup storage host.
func TestDownloadFromFile(t *testing.T) {
	s, _ := testStore(t)
	content := randomBytes(t, 2<<20)
	path := filepath.Join(t.TempDir(), "disk.img")
	require.NoError(t, os.WriteFile(path, content, 0o600))
	env := activityEnv(t, s, nil)
	res, err := download(env, newUUID(), "file://"+path)
	require.NoError(t, err)
	require.Equal(t, bsapi.FormatRaw, res.Format)
	require.Equal(t, md5Hex(content), res.MD5Sum)
	_, _, body := httpGet(t, http.MethodGet, res.InstallURL, nil)
	require.Equal(t, content, body)
}

// TestDownloadHeartbeats downloads a multi-MB image from a slow origin and
// checks the progress heartbeats.
func TestDownloadHeartbeats(t *testing.T) {
	s, _ := testStore(t)
	o := newOrigin(t)
	o.chunk, o.pause = 32<<10, 2*time.Millisecond // 8 MiB in ~0.6 s
	const size = 8 << 20
	content := randomBytes(t, size)
	url := o.add("big", content)
	hb := &heartbeats{}
	env := activityEnv(t, s, hb)
	id := newUUID()
	start := time.Now()
	res, err := download(env, id, url)
	require.NoError(t, err)
	require.Equal(t, md5Hex(content), res.MD5Sum)

	sent := hb.list()
	t.Logf("%d heartbeats in %v", len(sent), time.Since(start).Round(time.Millisecond))
	var midway int
	var last int64
	for _, p := range sent {
		require.Equal(t, id, p.ImageUUID)
		require.Equal(t, url, p.URL)
		if p.Phase == "" {
			continue // before the origin answered
		}
		require.Equal(t, int64(size), p.Total)
		require.GreaterOrEqual(t, p.Done, last, "progress went back")
		last = p.Done
		if p.Phase == bsapi.PhaseDownload && p.Done > 0 && p.Done < size {
			midway++
		}
	}
	require.GreaterOrEqual(t, midway, 3, "heartbeats during the download: %+v", sent)
	final := sent[len(sent)-1]
	require.Equal(t, bsapi.PhaseInspect, final.Phase)
	require.Equal(t, int64(size), final.Done)
}

// TestDownloadResume retries a download that got part of the way: with
// the last heartbeat's details it asks the origin for the rest only.
func TestDownloadResume(t *testing.T) {
	s, _ := testStore(t)
	o := newOrigin(t)
	content := randomBytes(t, 3<<20)
	url := o.add("img", content)
	etag := fmt.Sprintf(`"%s"`, md5Hex(content))
	const have = 1<<20 + 7

	tests := []struct {
		name      string
		validator string
		partial   int // bytes in the partial file; more than reported is torn
		wantRange string
	}{
		{"resumes", etag, have, fmt.Sprintf("bytes=%d-", have)},
		{"torn tail is dropped", etag, have + 4096, fmt.Sprintf("bytes=%d-", have)},
		{"changed origin restarts", `"stale"`, have, fmt.Sprintf("bytes=%d-", have)},
	}
	t.Run("offset past the end restarts", func(t *testing.T) {
		id := newUUID()
		past := len(content) + 10
		require.NoError(t, os.WriteFile(s.partialPath(id), make([]byte, past), 0o640))
		env := activityEnv(t, s, nil)
		env.SetHeartbeatDetails(bsapi.DownloadProgress{
			ImageUUID: id, URL: url, Phase: bsapi.PhaseDownload, Done: int64(past), Validator: etag,
		})
		before := len(o.requests())
		res, err := download(env, id, url)
		require.NoError(t, err)
		require.Equal(t, md5Hex(content), res.MD5Sum)
		require.Equal(t, []string{fmt.Sprintf("bytes=%d-", past), ""}, o.requests()[before:])
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := newUUID()
			part := append([]byte(nil), content[:have]...)
			if tt.partial > have {
				part = append(part, make([]byte, tt.partial-have)...) // garbage
			}
			require.NoError(t, os.WriteFile(s.partialPath(id), part, 0o640))
			env := activityEnv(t, s, nil)
			env.SetHeartbeatDetails(bsapi.DownloadProgress{
				ImageUUID: id, URL: url, Phase: bsapi.PhaseDownload,
				Done: have, Total: int64(len(content)), Validator: tt.validator,
			})
			before := len(o.requests())
			res, err := download(env, id, url)
			require.NoError(t, err)
			require.Equal(t, md5Hex(content), res.MD5Sum)
			_, _, body := httpGet(t, http.MethodGet, res.InstallURL, nil)
			require.Equal(t, content, body)
			reqs := o.requests()[before:]
			require.Equal(t, []string{tt.wantRange}, reqs)
		})
	}
}

// TestCancelDownload cancels a download whose origin stalls half-way: it
// ends at once and leaves no file.
func TestCancelDownload(t *testing.T) {
	s, _ := testStore(t)
	o := newOrigin(t)
	o.stallAfter = 1 << 20
	url := o.add("img", randomBytes(t, 4<<20))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	id := newUUID()
	got := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := s.Download(ctx, bsapi.DownloadImageParams{ImageUUID: id, URL: url}, nil, func(p bsapi.DownloadProgress) {
			if p.Done >= 1<<20 {
				select {
				case got <- struct{}{}:
				default:
				}
			}
		})
		done <- err
	}()
	select {
	case <-got:
	case err := <-done:
		t.Fatalf("download ended before the stall: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no progress within 30 s")
	}
	_, err := os.Stat(s.partialPath(id))
	require.NoError(t, err, "partial file while downloading")
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
		t.Logf("download stopped %v after cancel", time.Since(start).Round(time.Microsecond))
	case <-time.After(5 * time.Second):
		t.Fatal("download did not stop within 5 s of its cancellation")
	}
	require.Empty(t, dirEntries(t, s, partialDir), "partial files left")
	require.Empty(t, dirEntries(t, s, imagesDir), "images left")
}

// TestStalledOriginTimesOut fails a download whose origin sends nothing
// for the idle timeout; the failure is retryable and keeps the partial
// file for the retry.
func TestStalledOriginTimesOut(t *testing.T) {
	srv := newOrigin(t)
	srv.stallAfter = 64 << 10
	url := srv.add("img", randomBytes(t, 1<<20))
	s, err := NewStore(StoreConfig{Dir: t.TempDir(), BaseURL: "http://127.0.0.1:1", IdleTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	id := newUUID()
	_, err = s.Download(t.Context(), bsapi.DownloadImageParams{ImageUUID: id, URL: url}, nil, nil)
	require.ErrorContains(t, err, "no data from the origin")
	require.True(t, retryable(err))
	st, err := os.Stat(s.partialPath(id))
	require.NoError(t, err)
	require.Equal(t, int64(64<<10), st.Size())
}

// TestRejectedImages refuses images that would read host files or that
// the store does not keep, and leaves nothing behind.
func TestRejectedImages(t *testing.T) {
	needQemuImg(t)
	s, _ := testStore(t)
	o := newOrigin(t)
	env := activityEnv(t, s, nil)
	dir := t.TempDir()
	base, overlay := filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "overlay.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", base, "16M")
	qemuImg(t, "create", "-q", "-f", "qcow2", "-b", "/etc/shadow", "-F", "raw", overlay, "16M")
	dataFile := filepath.Join(dir, "datafile.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", "-o", "data_file="+filepath.Join(dir, "data.raw"), dataFile, "1M")
	vmdk := filepath.Join(dir, "disk.vmdk")
	qemuImg(t, "create", "-q", "-f", "vmdk", vmdk, "1M")
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		return b
	}
	corrupt := append([]byte("QFI\xfb"), randomBytes(t, 4096)...)
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"backing file", read(overlay), "backing file"},
		{"external data file", read(dataFile), "external data file"},
		{"vmdk", read(vmdk), "vmdk is not supported"},
		{"corrupt qcow2", corrupt, "unreadable"},
		{"empty", nil, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := download(env, newUUID(), o.add(tt.name, tt.content))
			requireAppError(t, err, bsapi.ErrTypeBadImage, true)
			require.ErrorContains(t, err, tt.want)
			require.Empty(t, dirEntries(t, s, partialDir))
			require.Empty(t, dirEntries(t, s, imagesDir))
		})
	}
}

// TestBadSources maps bad URLs and origin answers to their error types.
func TestBadSources(t *testing.T) {
	s, _ := testStore(t)
	o := newOrigin(t)
	env := activityEnv(t, s, nil)
	failing := newOrigin(t)
	failing.status = http.StatusForbidden
	broken := newOrigin(t)
	broken.status = http.StatusBadGateway
	tests := []struct {
		name         string
		imageUUID    string
		url          string
		typ          string
		nonRetryable bool
	}{
		{"404", newUUID(), o.srv.URL + "/missing.qcow2", bsapi.ErrTypeSourceNotFound, true},
		{"403", newUUID(), failing.srv.URL + "/x", bsapi.ErrTypeSourceRefused, true},
		{"502", newUUID(), broken.srv.URL + "/x", bsapi.ErrTypeFailed, false},
		{"connection refused", newUUID(), "http://127.0.0.1:1/x", bsapi.ErrTypeFailed, false},
		{"missing file", newUUID(), "file:///nonexistent/disk.qcow2", bsapi.ErrTypeSourceNotFound, true},
		{"relative file", newUUID(), "file://disk.qcow2", bsapi.ErrTypeInvalid, true},
		{"no scheme", newUUID(), "/srv/disk.qcow2", bsapi.ErrTypeInvalid, true},
		{"unparsable", newUUID(), "http://[::1", bsapi.ErrTypeInvalid, true},
		{"ftp", newUUID(), "ftp://127.0.0.1/disk.qcow2", bsapi.ErrTypeUnsupported, true},
		{"bad uuid", "../../etc", o.srv.URL + "/x", bsapi.ErrTypeInvalid, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := download(env, tt.imageUUID, tt.url)
			requireAppError(t, err, tt.typ, tt.nonRetryable)
			require.Empty(t, dirEntries(t, s, partialDir), "a source that does not open leaves no file")
		})
	}
	// A request for another backup storage is refused.
	_, err := env.ExecuteActivity(bsapi.ActDownloadImage, bsapi.DownloadImageParams{
		BackupStorageUUID: "ffffffffffffffffffffffffffffffff", ImageUUID: newUUID(), URL: o.srv.URL + "/x",
	})
	requireAppError(t, err, bsapi.ErrTypeInvalid, true)
}
