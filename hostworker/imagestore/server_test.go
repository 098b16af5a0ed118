package imagestore

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/bsapi"
)

// TestNothingListable serves image files only.
func TestNothingListable(t *testing.T) {
	s, srv := testStore(t)
	content := randomBytes(t, 4096)
	src := filepath.Join(t.TempDir(), "x.raw")
	require.NoError(t, os.WriteFile(src, content, 0o600))
	res, err := s.Download(t.Context(), bsapi.DownloadImageParams{ImageUUID: newUUID(), URL: "file://" + src}, nil, nil)
	require.NoError(t, err)
	id := res.ImageUUID

	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/images/" + id + ".raw", http.StatusOK},
		{http.MethodGet, "/", http.StatusNotFound},
		{http.MethodGet, "/images/", http.StatusNotFound},
		{http.MethodGet, "/images", http.StatusNotFound},
		{http.MethodGet, "/meta/" + id + ".json", http.StatusNotFound},
		{http.MethodGet, "/images/" + id + ".json", http.StatusNotFound},
		{http.MethodGet, "/images/" + id + ".qcow2", http.StatusNotFound},
		{http.MethodGet, "/images/" + strings.ToUpper(id) + ".raw", http.StatusNotFound},
		{http.MethodGet, "/images/..%2Fmeta%2F" + id + ".json", http.StatusNotFound},
		{http.MethodGet, "/partial/" + id + ".part", http.StatusNotFound},
		{http.MethodDelete, "/images/" + id + ".raw", http.StatusMethodNotAllowed},
		{http.MethodPut, "/images/" + id + ".raw", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			status, _, _ := httpGet(t, tt.method, srv.URL+tt.path, nil)
			require.Equal(t, tt.want, status)
		})
	}
	// A resuming client's If-Range with the served ETag gets the range.
	_, hdr, _ := httpGet(t, http.MethodHead, res.InstallURL, nil)
	require.NotEmpty(t, hdr.Get("ETag"))
	status, _, body := httpGet(t, http.MethodGet, res.InstallURL, map[string]string{"Range": "bytes=100-", "If-Range": hdr.Get("ETag")})
	require.Equal(t, http.StatusPartialContent, status)
	require.Equal(t, content[100:], body)
}

// TestDeleteImage deletes an image twice and finds it gone.
func TestDeleteImage(t *testing.T) {
	s, _ := testStore(t)
	env := activityEnv(t, s, nil)
	src := filepath.Join(t.TempDir(), "x.raw")
	require.NoError(t, os.WriteFile(src, randomBytes(t, 8192), 0o600))
	id := newUUID()
	res, err := download(env, id, "file://"+src)
	require.NoError(t, err)
	for i := range 2 {
		_, err := env.ExecuteActivity(bsapi.ActDeleteImage, bsapi.DeleteImageParams{BackupStorageUUID: testBS, ImageUUID: id})
		require.NoError(t, err, "delete %d", i+1)
	}
	status, _, _ := httpGet(t, http.MethodGet, res.InstallURL, nil)
	require.Equal(t, http.StatusNotFound, status)
	_, err = env.ExecuteActivity(bsapi.ActGetImage, bsapi.GetImageParams{ImageUUID: id})
	requireAppError(t, err, bsapi.ErrTypeNotFound, true)
	for _, sub := range []string{imagesDir, metaDir, partialDir, grantsDir} {
		require.Empty(t, dirEntries(t, s, sub), sub)
	}
	// Deleting never-made images is fine too; a bad UUID is not.
	_, err = env.ExecuteActivity(bsapi.ActDeleteImage, bsapi.DeleteImageParams{ImageUUID: newUUID()})
	require.NoError(t, err)
	_, err = env.ExecuteActivity(bsapi.ActDeleteImage, bsapi.DeleteImageParams{ImageUUID: "../x"})
	requireAppError(t, err, bsapi.ErrTypeInvalid, true)
}

// TestCapacity compares Connect and Stats with df.
func TestCapacity(t *testing.T) {
	s, _ := testStore(t)
	env := activityEnv(t, s, nil)
	v, err := env.ExecuteActivity(bsapi.ActConnect, bsapi.ConnectParams{BackupStorageUUID: testBS})
	require.NoError(t, err)
	var c bsapi.ConnectResult
	require.NoError(t, v.Get(&c))
	require.Equal(t, testBS, c.BackupStorageUUID)
	require.Equal(t, bsapi.AgentVersion, c.AgentVersion)
	require.Equal(t, bsapi.Type, c.Type)
	require.Equal(t, s.BaseURL(), c.URL)
	require.Equal(t, s.Dir(), c.StoreDir)
	require.Positive(t, c.TotalCapacity)
	require.Positive(t, c.AvailableCapacity)
	require.LessOrEqual(t, c.AvailableCapacity, c.TotalCapacity)

	v, err = env.ExecuteActivity(bsapi.ActStats, bsapi.StatsParams{})
	require.NoError(t, err)
	var st bsapi.Capacity
	require.NoError(t, v.Get(&st))
	require.Equal(t, c.TotalCapacity, st.TotalCapacity)

	if _, err := exec.LookPath("df"); err != nil {
		t.Skip("no df to compare with")
	}
	out, err := exec.CommandContext(t.Context(), "df", "-B1", "--output=size,avail", s.Dir()).Output()
	require.NoError(t, err)
	fields := strings.Fields(string(out))
	require.Len(t, fields, 4, "df output %q", out)
	size, err := strconv.ParseInt(fields[2], 10, 64)
	require.NoError(t, err)
	avail, err := strconv.ParseInt(fields[3], 10, 64)
	require.NoError(t, err)
	require.Equal(t, size, st.TotalCapacity, "total vs df")
	// Others write to the same file system meanwhile.
	require.InDelta(t, avail, st.AvailableCapacity, 1<<30, "available vs df")
}

// TestUpload grants an upload, refuses wrong tokens, takes the file once
// and finishes it with ImportFile.
func TestUpload(t *testing.T) {
	needQemuImg(t)
	s, _ := testStore(t)
	env := activityEnv(t, s, nil)
	id := newUUID()
	const token = "0123456789abcdef-secret-token"
	v, err := env.ExecuteActivity(bsapi.ActAllowUpload, bsapi.AllowUploadParams{
		BackupStorageUUID: testBS, ImageUUID: id, Token: token, ExpiresAt: time.Now().Add(time.Hour),
	})
	require.NoError(t, err)
	var allow bsapi.AllowUploadResult
	require.NoError(t, v.Get(&allow))
	require.Equal(t, s.BaseURL()+"/uploads/"+id, allow.UploadURL)

	// Not uploaded yet.
	_, err = env.ExecuteActivity(bsapi.ActImportFile, bsapi.ImportFileParams{ImageUUID: id})
	requireAppError(t, err, bsapi.ErrTypeNotFound, true)

	qcow := makeQCOW2(t, 2<<20)
	put := func(t *testing.T, url, auth string, body []byte) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), bsapi.UploadMethod, url, bytes.NewReader(body))
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, err = buf.ReadFrom(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, buf.Bytes()
	}
	for _, auth := range []string{"", "Bearer wrong-token-wrong-token", token, "Basic " + token} {
		status, _ := put(t, allow.UploadURL, auth, qcow)
		require.Equal(t, http.StatusUnauthorized, status, "auth %q", auth)
	}
	other := newUUID()
	status, _ := put(t, s.BaseURL()+bsapi.UploadPath(other), "Bearer "+token, qcow)
	require.Equal(t, http.StatusUnauthorized, status, "the token is for one image only")
	require.Empty(t, dirEntries(t, s, partialDir))

	status, body := put(t, allow.UploadURL, "Bearer "+token, qcow)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var up bsapi.ImageResult
	require.NoError(t, json.Unmarshal(body, &up))
	require.Equal(t, bsapi.FormatQCOW2, up.Format)
	require.Equal(t, int64(2<<20), up.Size)
	require.Equal(t, md5Hex(qcow), up.MD5Sum)
	require.Empty(t, up.SourceURL)

	// A retried upload finds the image made.
	status, body = put(t, allow.UploadURL, "Bearer "+token, qcow)
	require.Equal(t, http.StatusOK, status, "%s", body)

	for range 2 {
		v, err = env.ExecuteActivity(bsapi.ActImportFile, bsapi.ImportFileParams{BackupStorageUUID: testBS, ImageUUID: id})
		require.NoError(t, err)
		var res bsapi.ImageResult
		require.NoError(t, v.Get(&res))
		require.Equal(t, up, res)
	}
	_, _, served := httpGet(t, http.MethodGet, up.InstallURL, nil)
	require.Equal(t, qcow, served)
	// The grant is gone with the import.
	require.Empty(t, dirEntries(t, s, grantsDir))
	status, _ = put(t, allow.UploadURL, "Bearer "+token, qcow)
	require.Equal(t, http.StatusUnauthorized, status)

	t.Run("bad image", func(t *testing.T) {
		id := newUUID()
		_, err := s.AllowUpload(t.Context(), id, token, time.Now().Add(time.Minute))
		require.NoError(t, err)
		dir := t.TempDir()
		overlay := filepath.Join(dir, "overlay.qcow2")
		qemuImg(t, "create", "-q", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", overlay, "1M")
		b, err := os.ReadFile(overlay)
		require.NoError(t, err)
		status, body := put(t, s.BaseURL()+bsapi.UploadPath(id), "Bearer "+token, b)
		require.Equal(t, http.StatusUnprocessableEntity, status, "%s", body)
		require.Contains(t, string(body), "backing file")
		require.Empty(t, dirEntries(t, s, partialDir))
	})
	t.Run("expired", func(t *testing.T) {
		_, err := s.AllowUpload(t.Context(), newUUID(), token, time.Now().Add(-time.Second))
		require.ErrorContains(t, err, "expires in the past")
		_, err = s.AllowUpload(t.Context(), newUUID(), "short", time.Now().Add(time.Minute))
		require.ErrorContains(t, err, "shorter than")
	})
}

// TestKeyedMutex serializes one key and lets a waiter go on cancellation.
func TestKeyedMutex(t *testing.T) {
	var k keyedMutex
	require.NoError(t, k.lock(t.Context(), "a"))
	require.NoError(t, k.lock(t.Context(), "b"), "other keys are free")
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, k.lock(ctx, "a"), context.DeadlineExceeded)
	k.unlock("a")
	require.NoError(t, k.lock(t.Context(), "a"))
	k.unlock("a")
	k.unlock("b")
	require.Empty(t, k.locks, "lock entries left")
}
