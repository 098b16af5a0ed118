// Package imagestore is the ImageStore backup storage agent: it keeps images
// in a directory, serves them over HTTP to KVM hosts (GET/HEAD with ranges)
// and serves the bsapi activities on its own task queue, as ZStack's
// ImageStore backup storage does. It holds no database credentials.
//
// Layout of the store directory:
//
//	images/<uuid>.<format>  the images, the only files served over HTTP
//	meta/<uuid>.json        what the agent knows of each image (checksums)
//	partial/<uuid>.part     a download or upload in progress
//	grants/<uuid>.json      an upload grant (SHA-256 of its token, expiry)
//
// An image exists once its file is renamed into images/; its metadata is
// written before, so a crash leaves either no image or a complete one.
package imagestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/models"
)

// Subdirectories of the store.
const (
	imagesDir  = "images"
	metaDir    = "meta"
	partialDir = "partial"
	grantsDir  = "grants"
)

// defaultIdleTimeout is how long a download waits for the next byte before
// it fails (and is retried, resuming).
const defaultIdleTimeout = 2 * time.Minute

// StoreConfig configures a Store.
type StoreConfig struct {
	// Dir is the store directory; it is created when missing.
	Dir string
	// BaseURL is the agent's HTTP server as hosts reach it, e.g.
	// "http://10.0.0.5:7090"; install URLs start with it.
	BaseURL string
	// HTTPClient fetches http(s) images; nil means one with sane dial and
	// header timeouts and no overall timeout.
	HTTPClient *http.Client
	// IdleTimeout fails a download that receives nothing for so long; 0
	// means two minutes.
	IdleTimeout time.Duration
	// Logger receives debug and warning records; nil discards.
	Logger *slog.Logger
}

// Store is the image directory of a backup storage. Operations on one image
// are serialized; different images proceed in parallel.
type Store struct {
	dir         string
	baseURL     *url.URL
	http        *http.Client
	idleTimeout time.Duration
	logger      *slog.Logger
	locks       keyedMutex
}

// NewStore opens (creating when missing) the store of cfg.
func NewStore(cfg StoreConfig) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("store directory is empty")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("store directory: %w", err)
	}
	base, err := url.Parse(strings.TrimSuffix(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("base url %q is not http(s)://host:port", cfg.BaseURL)
	}
	for _, sub := range []string{imagesDir, metaDir, partialDir, grantsDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			return nil, fmt.Errorf("store directory: %w", err)
		}
	}
	s := &Store{
		dir:         dir,
		baseURL:     base,
		http:        cfg.HTTPClient,
		idleTimeout: cfg.IdleTimeout,
		logger:      cfg.Logger,
	}
	if s.http == nil {
		s.http = defaultHTTPClient()
	}
	if s.idleTimeout <= 0 {
		s.idleTimeout = defaultIdleTimeout
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Dir is the store directory.
func (s *Store) Dir() string { return s.dir }

// BaseURL is the base of the agent's HTTP server.
func (s *Store) BaseURL() string { return s.baseURL.String() }

// Capacity reports the size and free space of the file system holding the
// store, as df does (available is what an unprivileged writer may use).
func (s *Store) Capacity() (bsapi.Capacity, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return bsapi.Capacity{}, fmt.Errorf("statfs %s: %w", s.dir, err)
	}
	bs := int64(st.Bsize)
	return bsapi.Capacity{
		TotalCapacity:     int64(st.Blocks) * bs,
		AvailableCapacity: int64(st.Bavail) * bs,
	}, nil
}

// meta is what meta/<uuid>.json holds: an ImageResult without its URL,
// which follows the agent's current base URL.
type meta struct {
	ImageUUID  string    `json:"imageUuid"`
	Format     string    `json:"format"`
	Size       int64     `json:"size"`
	ActualSize int64     `json:"actualSize"`
	MD5Sum     string    `json:"md5Sum"`
	SHA256Sum  string    `json:"sha256Sum"`
	SourceURL  string    `json:"sourceUrl,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
}

func (s *Store) imagePath(imageUUID, format string) string {
	return filepath.Join(s.dir, imagesDir, imageUUID+"."+format)
}

func (s *Store) metaPath(imageUUID string) string {
	return filepath.Join(s.dir, metaDir, imageUUID+".json")
}

func (s *Store) partialPath(imageUUID string) string {
	return filepath.Join(s.dir, filepath.FromSlash(bsapi.PartialFile(imageUUID)))
}

func (s *Store) grantPath(imageUUID string) string {
	return filepath.Join(s.dir, grantsDir, imageUUID+".json")
}

// result turns stored metadata into what the activities answer.
func (s *Store) result(m meta) bsapi.ImageResult {
	file := m.ImageUUID + "." + m.Format
	u := *s.baseURL
	u.Path += bsapi.ImagePath(file)
	return bsapi.ImageResult{
		ImageUUID:   m.ImageUUID,
		InstallURL:  u.String(),
		InstallPath: s.imagePath(m.ImageUUID, m.Format),
		Format:      m.Format,
		Size:        m.Size,
		ActualSize:  m.ActualSize,
		MD5Sum:      m.MD5Sum,
		SHA256Sum:   m.SHA256Sum,
		SourceURL:   m.SourceURL,
	}
}

// imageUUID checks and normalizes an image UUID: the UUID names files, so
// only 32 hex characters pass.
func imageUUID(id string) (string, error) {
	if !models.IsUUID(id) {
		return "", models.Invalid("image uuid %q is not 32 hex characters", id)
	}
	return strings.ToLower(id), nil
}

// Get describes a stored image; models.ErrNotFound when there is none.
func (s *Store) Get(ctx context.Context, id string) (bsapi.ImageResult, error) {
	id, err := imageUUID(id)
	if err != nil {
		return bsapi.ImageResult{}, err
	}
	if err := s.locks.lock(ctx, id); err != nil {
		return bsapi.ImageResult{}, err
	}
	defer s.locks.unlock(id)
	m, err := s.lookup(ctx, id)
	if err != nil {
		return bsapi.ImageResult{}, err
	}
	return s.result(m), nil
}

// lookup finds image id, the caller holding its lock. An image file whose
// metadata is missing (deleted by hand) is described anew.
func (s *Store) lookup(ctx context.Context, id string) (meta, error) {
	b, err := os.ReadFile(s.metaPath(id))
	switch {
	case err == nil:
		var m meta
		if err := json.Unmarshal(b, &m); err != nil {
			return meta{}, fmt.Errorf("image %s metadata: %w", id, err)
		}
		st, err := os.Stat(s.imagePath(id, m.Format))
		if errors.Is(err, fs.ErrNotExist) {
			return meta{}, models.NotFound("image %s is not in the store", id)
		}
		if err != nil {
			return meta{}, fmt.Errorf("image %s: %w", id, err)
		}
		if st.Size() != m.ActualSize {
			return meta{}, fmt.Errorf("image %s: file has %d bytes, metadata says %d", id, st.Size(), m.ActualSize)
		}
		return m, nil
	case !errors.Is(err, fs.ErrNotExist):
		return meta{}, fmt.Errorf("image %s metadata: %w", id, err)
	}
	for _, format := range []string{bsapi.FormatQCOW2, bsapi.FormatRaw, bsapi.FormatISO} {
		path := s.imagePath(id, format)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		m, err := describe(ctx, path, id)
		if err != nil {
			return meta{}, err
		}
		if m.Format != format {
			return meta{}, fmt.Errorf("image %s: file %s holds %s", id, path, m.Format)
		}
		if err := writeJSON(s.metaPath(id), m); err != nil {
			return meta{}, err
		}
		return m, nil
	}
	return meta{}, models.NotFound("image %s is not in the store", id)
}

// describe inspects and hashes a complete image file.
func describe(ctx context.Context, path, id string) (meta, error) {
	info, err := inspect(ctx, path)
	if err != nil {
		return meta{}, err
	}
	n, h, err := hashFile(ctx, path, id)
	if err != nil {
		return meta{}, err
	}
	md5Sum, sha := h.sums()
	return meta{
		ImageUUID: id, Format: info.format, Size: info.virtualSize, ActualSize: n,
		MD5Sum: md5Sum, SHA256Sum: sha, CreatedAt: time.Now().UTC(),
	}, nil
}

// hashFile reads the file at path (of image id) through a hasher and
// returns its length and the hasher; a missing file's error wraps
// fs.ErrNotExist.
func hashFile(ctx context.Context, path, id string) (int64, *hasher, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, fmt.Errorf("image %s: %w", id, err)
	}
	defer f.Close()
	h := newHasher()
	n, err := copyCtx(ctx, h, f)
	if err != nil {
		return 0, nil, fmt.Errorf("hash image %s: %w", id, err)
	}
	return n, h, nil
}

// commit makes the complete file at partial image id: it inspects it,
// writes its metadata and renames it into images/. The caller holds the
// image's lock and has hashed the file as it arrived. A file that is no
// usable image is removed.
func (s *Store) commit(ctx context.Context, id, partial, sourceURL string, size int64, h *hasher) (meta, error) {
	info, err := inspect(ctx, partial)
	if err != nil {
		if isBadImage(err) {
			_ = os.Remove(partial)
		}
		return meta{}, err
	}
	md5Sum, sha := h.sums()
	m := meta{
		ImageUUID: id, Format: info.format, Size: info.virtualSize, ActualSize: size,
		MD5Sum: md5Sum, SHA256Sum: sha, SourceURL: sourceURL, CreatedAt: time.Now().UTC(),
	}
	if err := writeJSON(s.metaPath(id), m); err != nil {
		return meta{}, err
	}
	if err := os.Rename(partial, s.imagePath(id, m.Format)); err != nil {
		return meta{}, fmt.Errorf("image %s: %w", id, err)
	}
	if err := syncDir(filepath.Join(s.dir, imagesDir)); err != nil {
		return meta{}, err
	}
	return m, nil
}

// Delete removes image id with its metadata, partial file and upload grant.
// A missing image is not an error.
func (s *Store) Delete(ctx context.Context, id string) error {
	id, err := imageUUID(id)
	if err != nil {
		return err
	}
	if err := s.locks.lock(ctx, id); err != nil {
		return err
	}
	defer s.locks.unlock(id)
	paths := []string{s.partialPath(id), s.grantPath(id)}
	for _, format := range []string{bsapi.FormatQCOW2, bsapi.FormatRaw, bsapi.FormatISO} {
		paths = append(paths, s.imagePath(id, format))
	}
	// The metadata goes last: while an image file is left, lookup can
	// still describe it.
	paths = append(paths, s.metaPath(id))
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete image %s: %w", id, err)
		}
	}
	return nil
}

// writeJSON writes v to path through a temporary file and a rename.
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// syncDir flushes a directory's entries, so that a rename survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// keyedMutex serializes work per key (image UUID). Waiting for a lock ends
// with the caller's context.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{} // holds one token while locked
	refs int
}

func (k *keyedMutex) lock(ctx context.Context, key string) error {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		k.release(key, l)
		return ctx.Err()
	}
}

func (k *keyedMutex) unlock(key string) {
	k.mu.Lock()
	l := k.locks[key]
	k.mu.Unlock()
	<-l.ch
	k.release(key, l)
}

func (k *keyedMutex) release(key string, l *keyLock) {
	k.mu.Lock()
	defer k.mu.Unlock()
	l.refs--
	if l.refs == 0 {
		delete(k.locks, key)
	}
}
