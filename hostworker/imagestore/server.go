package imagestore

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/models"
)

// imageFile is the only shape of name served under /images/.
var imageFile = regexp.MustCompile(`^[0-9a-f]{32}\.(qcow2|raw|iso)$`)

// minTokenLen is the shortest upload token accepted (16 random bytes in hex
// or base64 are longer).
const minTokenLen = 16

// Handler is the agent's HTTP API: GET/HEAD /images/<uuid>.<format> (with
// ranges and conditional requests) and PUT /uploads/<uuid> with a bearer
// token granted by AllowUpload. Nothing is listable.
func (s *Store) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /images/{file}", s.serveImage)
	mux.HandleFunc("PUT /uploads/{uuid}", s.serveUpload)
	return mux
}

func (s *Store) serveImage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if !imageFile.MatchString(name) {
		http.NotFound(w, r)
		return
	}
	id, format, _ := strings.Cut(name, ".")
	f, err := os.Open(s.imagePath(id, format))
	if errors.Is(err, fs.ErrNotExist) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.logger.WarnContext(r.Context(), "open image", "file", name, "error", err)
		http.Error(w, "cannot open image", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, "cannot open image", http.StatusInternalServerError)
		return
	}
	// The file is immutable under its name, so size and mtime make a
	// strong validator, which resuming clients send as If-Range.
	w.Header().Set("ETag", fmt.Sprintf(`"%x-%x"`, st.Size(), st.ModTime().UnixNano()))
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// grant is an upload permission as grants/<uuid>.json holds it.
type grant struct {
	TokenSHA256 string    `json:"tokenSha256"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// AllowUpload records a grant for uploading image id with token until
// expiresAt, and returns where to upload.
func (s *Store) AllowUpload(ctx context.Context, id, token string, expiresAt time.Time) (bsapi.AllowUploadResult, error) {
	id, err := imageUUID(id)
	if err != nil {
		return bsapi.AllowUploadResult{}, err
	}
	if len(token) < minTokenLen {
		return bsapi.AllowUploadResult{}, models.Invalid("upload token is shorter than %d characters", minTokenLen)
	}
	if !expiresAt.After(time.Now()) {
		return bsapi.AllowUploadResult{}, models.Invalid("upload grant expires in the past (%s)", expiresAt.Format(time.RFC3339))
	}
	if err := s.locks.lock(ctx, id); err != nil {
		return bsapi.AllowUploadResult{}, err
	}
	defer s.locks.unlock(id)
	if err := writeJSON(s.grantPath(id), grant{TokenSHA256: tokenHash(token), ExpiresAt: expiresAt.UTC()}); err != nil {
		return bsapi.AllowUploadResult{}, err
	}
	u := *s.baseURL
	u.Path += bsapi.UploadPath(id)
	return bsapi.AllowUploadResult{UploadURL: u.String()}, nil
}

// ImportFile returns image id once uploaded, and revokes its grant. With
// written, an image not stored yet is taken in from the partial file the
// uploader wrote over SFTP (importWritten); a retry finds it stored.
func (s *Store) ImportFile(ctx context.Context, id string, written *bsapi.WrittenFile) (bsapi.ImageResult, error) {
	id, err := imageUUID(id)
	if err != nil {
		return bsapi.ImageResult{}, err
	}
	if err := s.locks.lock(ctx, id); err != nil {
		return bsapi.ImageResult{}, err
	}
	defer s.locks.unlock(id)
	m, err := s.lookup(ctx, id)
	if errors.Is(err, models.ErrNotFound) && written != nil {
		m, err = s.importWritten(ctx, id, *written)
	}
	if err != nil {
		return bsapi.ImageResult{}, err
	}
	if err := os.Remove(s.grantPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return bsapi.ImageResult{}, fmt.Errorf("revoke upload grant: %w", err)
	}
	return s.result(m), nil
}

// authorized checks the bearer token of r against image id's grant.
func (s *Store) authorized(r *http.Request, id string) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return false
	}
	b, err := os.ReadFile(s.grantPath(id))
	if err != nil {
		return false
	}
	var g grant
	if json.Unmarshal(b, &g) != nil || time.Now().After(g.ExpiresAt) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(tokenHash(token)), []byte(g.TokenSHA256)) == 1
}

// serveUpload stores the body as image id: 201 with the ImageResult when
// made, 200 with it when the image was stored already (a retried upload).
func (s *Store) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("uuid")
	if !models.IsUUID(id) || id != strings.ToLower(id) {
		http.NotFound(w, r)
		return
	}
	if !s.authorized(r, id) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		http.Error(w, "no valid upload grant for this image", http.StatusUnauthorized)
		return
	}
	ctx := r.Context()
	if err := s.locks.lock(ctx, id); err != nil {
		return // the client went away
	}
	defer s.locks.unlock(id)
	if m, err := s.lookup(ctx, id); err == nil {
		writeResult(w, http.StatusOK, s.result(m))
		return
	} else if !errors.Is(err, models.ErrNotFound) {
		s.uploadError(w, r, id, err)
		return
	}
	m, err := s.receive(ctx, id, r)
	if err != nil {
		_ = os.Remove(s.partialPath(id))
		s.uploadError(w, r, id, err)
		return
	}
	writeResult(w, http.StatusCreated, s.result(m))
}

// receive writes an upload's body to the partial file and commits it.
func (s *Store) receive(ctx context.Context, id string, r *http.Request) (meta, error) {
	if r.ContentLength > 0 {
		c, err := s.Capacity()
		if err != nil {
			return meta{}, err
		}
		if r.ContentLength > c.AvailableCapacity {
			return meta{}, &noSpaceError{msg: fmt.Sprintf("image of %d bytes does not fit: %d bytes available", r.ContentLength, c.AvailableCapacity)}
		}
	}
	partial := s.partialPath(id)
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return meta{}, fmt.Errorf("partial file: %w", err)
	}
	defer f.Close()
	h := newHasher()
	n, err := copyCtx(ctx, io.MultiWriter(f, h), r.Body)
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return meta{}, &noSpaceError{msg: fmt.Sprintf("store is full: %v", err)}
		}
		return meta{}, fmt.Errorf("receive upload: %w", err)
	}
	if r.ContentLength >= 0 && n != r.ContentLength {
		return meta{}, fmt.Errorf("receive upload: got %d of %d bytes", n, r.ContentLength)
	}
	if err := f.Sync(); err != nil {
		return meta{}, fmt.Errorf("sync partial file: %w", err)
	}
	return s.commit(ctx, id, partial, "", n, h)
}

func (s *Store) uploadError(w http.ResponseWriter, r *http.Request, id string, err error) {
	var ns *noSpaceError
	switch {
	case isBadImage(err):
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
	case errors.As(err, &ns):
		http.Error(w, err.Error(), http.StatusInsufficientStorage)
	default:
		s.logger.WarnContext(r.Context(), "upload failed", "image_uuid", id, "error", err)
		http.Error(w, "upload failed: "+err.Error(), http.StatusInternalServerError)
	}
}

func writeResult(w http.ResponseWriter, status int, res bsapi.ImageResult) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res) // the client may have gone
}
