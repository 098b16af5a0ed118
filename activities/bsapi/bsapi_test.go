package bsapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQueueAndPaths(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef"
	require.Equal(t, "bs-"+id, Queue(id))
	require.Equal(t, "/images/"+id+".qcow2", ImagePath(id+".qcow2"))
	require.Equal(t, "/uploads/"+id, UploadPath(id))
}

// TestActivityNames keeps the names unique and in the bs. namespace: they
// are the wire contract with deployed agents.
func TestActivityNames(t *testing.T) {
	names := []string{ActConnect, ActStats, ActDownloadImage, ActDeleteImage, ActGetImage, ActAllowUpload, ActImportFile}
	seen := map[string]bool{}
	for _, n := range names {
		require.True(t, strings.HasPrefix(n, "bs."), "%s", n)
		require.False(t, seen[n], "duplicate %s", n)
		seen[n] = true
	}
}

// TestImageResultJSON keeps ZStack's field names (ImageInventory's size,
// actualSize, md5Sum) on the wire.
func TestImageResultJSON(t *testing.T) {
	b, err := json.Marshal(ImageResult{ImageUUID: "x", Size: 1, ActualSize: 2, MD5Sum: "m", Format: FormatQCOW2})
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range []string{"imageUuid", "installUrl", "installPath", "format", "size", "actualSize", "md5Sum", "sha256Sum"} {
		require.Contains(t, m, k)
	}
	require.NotContains(t, m, "sourceUrl", "empty source is omitted")
}
