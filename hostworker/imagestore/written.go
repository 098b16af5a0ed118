package imagestore

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/models"
)

// importWritten takes in image id from its partial file, written over
// SFTP by a host making an image of a volume (Sftp backup storage): the
// file must hold the bytes the host wrote (size and MD5), is inspected
// like any upload and renamed into images/. The caller holds the image's
// lock. A file that does not match is removed: the host writes it anew.
func (s *Store) importWritten(ctx context.Context, id string, want bsapi.WrittenFile) (meta, error) {
	partial := s.partialPath(id)
	n, h, err := hashFile(ctx, partial, id)
	if errors.Is(err, fs.ErrNotExist) {
		return meta{}, models.NotFound("image %s was not written to %s", id, bsapi.PartialFile(id))
	}
	if err != nil {
		return meta{}, err
	}
	if md5Sum, _ := h.sums(); n != want.ActualSize || md5Sum != want.MD5Sum {
		_ = os.Remove(partial)
		return meta{}, models.Invalid("image %s: the written file has %d bytes (md5 %s), the uploader wrote %d (md5 %s)",
			id, n, md5Sum, want.ActualSize, want.MD5Sum)
	}
	return s.commit(ctx, id, partial, "", n, h)
}
