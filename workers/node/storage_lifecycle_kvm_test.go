package node_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/zcloud/zcloud/activities"
)

// checkKVMImageCache runs CleanUpImageCacheOnPrimaryStorage and
// ReconnectPrimaryStorage through REST on a real host (TestKVMImages): the
// cached copy of an image whose VM is expunged goes, the image of the
// running guest stays, and the reconnect reports the host's file system.
func checkKVMImageCache(t *testing.T, b *kvmBed, ps, usedImage, unusedImage string) {
	t.Helper()
	c := b.c
	cached := func(img string) string { return filepath.Join(b.shared, "imagecache", img+".image") }
	require.FileExists(t, cached(unusedImage))
	require.FileExists(t, cached(usedImage))
	res, err := c.Call("PUT", "v1/primary-storage/"+ps+"/actions", map[string]any{"cleanUpImageCacheOnPrimaryStorage": map[string]any{}})
	require.NoError(t, err)
	var cleanup activities.ImageCacheCleanup
	require.NoError(t, json.Unmarshal(res["inventory"], &cleanup))
	require.Len(t, cleanup.Hosts, 1)
	require.Len(t, cleanup.Hosts[0].Removed, 1, "removed: %+v", cleanup.Hosts[0].Removed)
	require.Equal(t, unusedImage, cleanup.Hosts[0].Removed[0].ImageUUID)
	require.Positive(t, cleanup.FreedBytes)
	require.NoFileExists(t, cached(unusedImage))
	require.FileExists(t, cached(usedImage), "the running guest's image stays")

	inv, err := c.Action("primary-storage", ps, "reconnectPrimaryStorage", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "Connected", inv["status"])
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(filepath.Join(b.shared, "ps"), &st))
	require.EqualValues(t, int64(st.Blocks)*int64(st.Bsize), inv["totalPhysicalCapacity"], "the host's file system")
	require.InDelta(t, float64(int64(st.Bavail)*int64(st.Bsize)), inv["availablePhysicalCapacity"], float64(256<<20))
}
