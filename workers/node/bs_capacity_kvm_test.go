package node_test

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// checkBSCapacity proves that an ImageStore backup storage's
// availableCapacity is the agent's figure of its file system after an image
// is added and after it is expunged: it drops by the image's blocks and
// comes back. The figures are compared with statfs of the directory taken
// right after each job, with a margin for whatever else writes to the file
// system meanwhile.
func checkBSCapacity(t *testing.T, b *kvmBed, bs, bsDir string) {
	t.Helper()
	t0 := time.Now()
	defer func() { t.Logf("backup storage capacity checks: %s", time.Since(t0).Round(time.Millisecond)) }()
	dir := t.TempDir()
	src := filepath.Join(dir, "big.qcow2")
	out, err := exec.Command("qemu-img", "create", "-f", "qcow2", src, "64M").CombinedOutput()
	require.NoError(t, err, "%s", out)
	qemuIO(t, src, "write -P 0x3c 0 48M")
	l, err := net.Listen("tcp", b.lab.RootIP().String()+":0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	statfs := func() int64 {
		var st syscall.Statfs_t
		require.NoError(t, syscall.Statfs(b.bs.Path(bsDir), &st))
		return int64(st.Bavail) * int64(st.Bsize)
	}
	available := func() int64 {
		got, err := b.c.Get("backup-storage", bs)
		require.NoError(t, err)
		return int64(got["availableCapacity"].(float64))
	}

	before := statfs()
	img := b.mustCreate("images", map[string]any{"name": "big", "url": "http://" + l.Addr().String() + "/big.qcow2",
		"format": "qcow2", "platform": "Linux", "backupStorageUuids": []string{bs}})["uuid"].(string)
	added, now := available(), statfs()
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(b.bs.Path(filepath.Join(bsDir, "images", img+".qcow2")), &st))
	size := st.Blocks * 512
	require.Greater(t, size, int64(40)<<20, "the image takes its blocks")
	require.InDelta(t, now, added, float64(size/4), "availableCapacity is the file system's after the add")
	require.Less(t, added, before-size/2, "availableCapacity dropped by the image")

	require.NoError(t, b.c.Delete("images", img))
	_, err = b.c.Action("images", img, "expungeImage", map[string]any{})
	require.NoError(t, err)
	expunged, now := available(), statfs()
	_, err = os.Stat(b.bs.Path(filepath.Join(bsDir, "images", img+".qcow2")))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.InDelta(t, now, expunged, float64(size/4), "availableCapacity is the file system's after the expunge")
	require.Greater(t, expunged, added+size/2, "availableCapacity came back")
}
