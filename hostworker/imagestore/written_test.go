package imagestore

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/bsapi"
)

// TestImportWritten takes in a file written to the partial path (as a host
// writes it over SFTP): one that does not hold the bytes announced is
// refused and removed, a matching one becomes the image, a retry finds it,
// and deleting the image (the workflow's compensation) removes a written
// file never imported.
func TestImportWritten(t *testing.T) {
	needQemuImg(t)
	s, _ := testStore(t)
	env := activityEnv(t, s, nil)
	content := makeQCOW2(t, 256<<10)
	write := func(id string) {
		t.Helper()
		require.NoError(t, os.WriteFile(filepath.Join(s.Dir(), bsapi.PartialFile(id)), content, 0o600))
	}
	importFile := func(id string, w *bsapi.WrittenFile) (bsapi.ImageResult, error) {
		v, err := env.ExecuteActivity(bsapi.ActImportFile, bsapi.ImportFileParams{BackupStorageUUID: testBS, ImageUUID: id, Written: w})
		if err != nil {
			return bsapi.ImageResult{}, err
		}
		var res bsapi.ImageResult
		return res, v.Get(&res)
	}
	good := &bsapi.WrittenFile{ActualSize: int64(len(content)), MD5Sum: md5Hex(content)}

	id := newUUID()
	_, err := importFile(id, good)
	requireAppError(t, err, bsapi.ErrTypeNotFound, true)

	write(id)
	_, err = importFile(id, &bsapi.WrittenFile{ActualSize: good.ActualSize, MD5Sum: md5Hex([]byte("other"))})
	requireAppError(t, err, bsapi.ErrTypeInvalid, true)
	require.Empty(t, dirEntries(t, s, partialDir), "a mismatching file is removed")
	require.Empty(t, dirEntries(t, s, imagesDir))

	write(id)
	res, err := importFile(id, good)
	require.NoError(t, err)
	require.Equal(t, bsapi.FormatQCOW2, res.Format)
	require.Equal(t, good.MD5Sum, res.MD5Sum)
	require.EqualValues(t, len(content), res.ActualSize)
	require.Equal(t, filepath.Join(s.Dir(), imagesDir, id+".qcow2"), res.InstallPath)
	require.Empty(t, dirEntries(t, s, partialDir), "the written file moved into the store")
	again, err := importFile(id, good)
	require.NoError(t, err, "a retried import finds the image")
	require.Equal(t, res, again)

	other := newUUID()
	write(other)
	_, err = env.ExecuteActivity(bsapi.ActDeleteImage, bsapi.DeleteImageParams{BackupStorageUUID: testBS, ImageUUID: other})
	require.NoError(t, err)
	require.Empty(t, dirEntries(t, s, partialDir), "deleting the image removes its written file")
}
