package imagestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/models"
)

// sourceError is an origin's definite answer (no such file, refused); the
// download is not retried. typ is a bsapi.ErrType*.
type sourceError struct {
	typ string
	msg string
}

func (e *sourceError) Error() string { return e.msg }

// noSpaceError is a store too full for the image; it is not retried.
type noSpaceError struct{ msg string }

func (e *noSpaceError) Error() string { return e.msg }

// errRangeNotSatisfiable is an origin refusing to resume at an offset.
var errRangeNotSatisfiable = errors.New("range not satisfiable")

// defaultHTTPClient fails fast on a dead origin but lets a healthy one take
// hours: the idle timeout of Download bounds stalls.
func defaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: time.Minute,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}}
}

// Download fetches p.URL into the store as image p.ImageUUID and describes
// it. An image already stored under that UUID from the same URL is
// returned at once. resume, when it names the same URL, is the progress a
// previous attempt reported: the download continues from there when the
// partial file and the origin allow it. progress receives the state as
// bytes arrive; it must be cheap.
//
// A download that fails for a reason worth a retry keeps its partial file
// for the next attempt; a cancelled or definitely failed one removes it.
func (s *Store) Download(ctx context.Context, p bsapi.DownloadImageParams, resume *bsapi.DownloadProgress, progress func(bsapi.DownloadProgress)) (bsapi.ImageResult, error) {
	var none bsapi.ImageResult
	id, err := imageUUID(p.ImageUUID)
	if err != nil {
		return none, err
	}
	src, err := sourceURL(p.URL)
	if err != nil {
		return none, err
	}
	if progress == nil {
		progress = func(bsapi.DownloadProgress) {}
	}
	if err := s.locks.lock(ctx, id); err != nil {
		return none, err
	}
	defer s.locks.unlock(id)

	m, err := s.lookup(ctx, id)
	switch {
	case err == nil:
		if m.SourceURL != p.URL {
			return none, models.Conflict("image %s is in the store already, from %q", id, redact(m.SourceURL))
		}
		return s.result(m), nil
	case !errors.Is(err, models.ErrNotFound):
		return none, err
	}

	partial := s.partialPath(id)
	m, err = s.fetch(ctx, id, src, p.URL, partial, resume, progress)
	if err != nil {
		if ctx.Err() != nil || !retryable(err) {
			_ = os.Remove(partial)
		}
		if ctx.Err() != nil {
			return none, ctx.Err()
		}
		return none, err
	}
	if p.Format != "" && p.Format != m.Format {
		s.logger.InfoContext(ctx, "image format differs from the hint",
			"image_uuid", id, "format", m.Format, "hint", p.Format)
	}
	return s.result(m), nil
}

// retryable reports whether a failed download may succeed when tried again.
func retryable(err error) bool {
	var se *sourceError
	var ns *noSpaceError
	return !errors.As(err, &se) && !errors.As(err, &ns) && !isBadImage(err) &&
		!errors.Is(err, models.ErrInvalid) && !errors.Is(err, models.ErrConflict) && !errors.Is(err, errors.ErrUnsupported)
}

// sourceURL checks an image URL: http(s)://host/..., or file:///abs/path on
// the backup storage host.
func sourceURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, models.Invalid("image url %q: %v", raw, err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, models.Invalid("image url %q has no host", redact(raw))
		}
	case "file":
		if (u.Host != "" && u.Host != "localhost") || !filepath.IsAbs(u.Path) {
			return nil, models.Invalid("image url %q is not file:///absolute/path", raw)
		}
	case "":
		return nil, models.Invalid("image url %q has no scheme", raw)
	default:
		return nil, fmt.Errorf("image url scheme %q: %w: only http, https and file", u.Scheme, errors.ErrUnsupported)
	}
	return u, nil
}

// redact hides a password in a URL for messages.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return raw
}

// body is an opened source: its content from offset on, the total size (-1
// when unknown) and a validator naming this version of it.
type body struct {
	r         io.ReadCloser
	offset    int64
	total     int64
	validator string
}

// fetch downloads src into partial, resuming when it can, and commits it.
func (s *Store) fetch(ctx context.Context, id string, src *url.URL, rawURL, partial string, resume *bsapi.DownloadProgress, progress func(bsapi.DownloadProgress)) (meta, error) {
	// Resume only what the last attempt reported, from the same URL and
	// version of it: bytes written after its last heartbeat may be torn.
	var offset int64
	validator := ""
	if resume != nil && resume.URL == rawURL && resume.Phase == bsapi.PhaseDownload && resume.Validator != "" {
		if st, err := os.Stat(partial); err == nil {
			offset = min(resume.Done, st.Size())
			validator = resume.Validator
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	b, err := s.open(ctx, src, offset, validator)
	if errors.Is(err, errRangeNotSatisfiable) {
		b, err = s.open(ctx, src, 0, "") // the partial file is no prefix of the source
	}
	if err != nil {
		return meta{}, err
	}
	defer b.r.Close()
	if b.offset > 0 {
		s.logger.InfoContext(ctx, "resuming image download", "image_uuid", id, "offset", b.offset)
	}
	// The partial file is made once the origin answered, so that a
	// source that cannot be opened leaves nothing.
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return meta{}, fmt.Errorf("partial file: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(b.offset); err != nil {
		return meta{}, fmt.Errorf("partial file: %w", err)
	}
	if b.total >= 0 {
		c, err := s.Capacity()
		if err != nil {
			return meta{}, err
		}
		if need := b.total - b.offset; need > c.AvailableCapacity {
			return meta{}, &noSpaceError{msg: fmt.Sprintf("image of %d bytes does not fit: %d bytes available", b.total, c.AvailableCapacity)}
		}
	}

	h := newHasher()
	if _, err := copyCtx(ctx, h, io.NewSectionReader(f, 0, b.offset)); err != nil {
		return meta{}, fmt.Errorf("hash partial file: %w", err)
	}
	if _, err := f.Seek(b.offset, io.SeekStart); err != nil {
		return meta{}, fmt.Errorf("partial file: %w", err)
	}

	prog := bsapi.DownloadProgress{
		ImageUUID: id, URL: rawURL, Phase: bsapi.PhaseDownload,
		Done: b.offset, Total: b.total, Validator: b.validator,
	}
	progress(prog)
	// A stalled origin cancels the read after the idle timeout.
	idle := time.AfterFunc(s.idleTimeout, func() {
		cancel(fmt.Errorf("no data from the origin for %v", s.idleTimeout))
	})
	defer idle.Stop()
	buf := make([]byte, copyBuf)
	for {
		if err := context.Cause(ctx); err != nil { // file reads ignore ctx
			return meta{}, fmt.Errorf("download image: %w", err)
		}
		n, rerr := b.r.Read(buf)
		if n > 0 {
			idle.Reset(s.idleTimeout)
			if _, err := f.Write(buf[:n]); err != nil {
				if errors.Is(err, syscall.ENOSPC) {
					return meta{}, &noSpaceError{msg: fmt.Sprintf("store is full: %v", err)}
				}
				return meta{}, fmt.Errorf("write partial file: %w", err)
			}
			_, _ = h.Write(buf[:n]) // hashes never fail
			prog.Done += int64(n)
			progress(prog)
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return meta{}, fmt.Errorf("download image: %w", cause)
			}
			return meta{}, fmt.Errorf("download image from %s: %w", src.Redacted(), rerr)
		}
	}
	if b.total >= 0 && prog.Done != b.total {
		return meta{}, fmt.Errorf("download image from %s: got %d of %d bytes", src.Redacted(), prog.Done, b.total)
	}
	if err := f.Sync(); err != nil {
		return meta{}, fmt.Errorf("sync partial file: %w", err)
	}
	prog.Phase = bsapi.PhaseInspect
	progress(prog)
	return s.commit(ctx, id, partial, rawURL, prog.Done, h)
}

// open starts reading src at offset, when validator still names the same
// version of it, else from the start.
func (s *Store) open(ctx context.Context, src *url.URL, offset int64, validator string) (body, error) {
	if src.Scheme == "file" {
		return openFile(src.Path, offset, validator)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.String(), nil)
	if err != nil {
		return body{}, models.Invalid("image url %s: %v", src.Redacted(), err)
	}
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
		req.Header.Set("If-Range", validator)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return body{}, fmt.Errorf("download image from %s: %w", src.Redacted(), err)
	}
	b := body{r: resp.Body, total: -1, validator: resp.Header.Get("ETag")}
	if b.validator == "" || strings.HasPrefix(b.validator, "W/") {
		b.validator = resp.Header.Get("Last-Modified")
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		b.total = resp.ContentLength
	case resp.StatusCode == http.StatusPartialContent && offset > 0:
		start, total, ok := contentRange(resp.Header.Get("Content-Range"))
		if !ok || start != offset {
			_ = resp.Body.Close()
			return body{}, fmt.Errorf("download image from %s: bad Content-Range %q for offset %d",
				src.Redacted(), resp.Header.Get("Content-Range"), offset)
		}
		b.offset, b.total, b.validator = offset, total, validator
	default:
		_ = resp.Body.Close()
		msg := fmt.Sprintf("download image from %s: %s", src.Redacted(), resp.Status)
		switch {
		case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && offset > 0:
			return body{}, fmt.Errorf("%s: %w", msg, errRangeNotSatisfiable)
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
			return body{}, &sourceError{typ: bsapi.ErrTypeSourceNotFound, msg: msg}
		case resp.StatusCode >= 400 && resp.StatusCode < 500 &&
			resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests &&
			resp.StatusCode != http.StatusRequestedRangeNotSatisfiable:
			return body{}, &sourceError{typ: bsapi.ErrTypeSourceRefused, msg: msg}
		default:
			return body{}, errors.New(msg)
		}
	}
	return b, nil
}

// contentRange parses "bytes start-end/total"; total is -1 when "*".
func contentRange(v string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, size, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	first, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	total = -1
	if size != "*" {
		if total, err = strconv.ParseInt(size, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return start, total, true
}

// openFile opens a file:// source. Its validator is its size and mtime.
func openFile(path string, offset int64, validator string) (body, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return body{}, &sourceError{typ: bsapi.ErrTypeSourceNotFound, msg: fmt.Sprintf("image file %s does not exist", path)}
	}
	if err != nil {
		return body{}, fmt.Errorf("image file %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return body{}, fmt.Errorf("image file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		_ = f.Close()
		return body{}, &sourceError{typ: bsapi.ErrTypeSourceRefused, msg: fmt.Sprintf("image file %s is not a regular file", path)}
	}
	v := strconv.FormatInt(st.Size(), 10) + "-" + strconv.FormatInt(st.ModTime().UnixNano(), 10)
	if validator != v || offset > st.Size() {
		offset = 0
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		_ = f.Close()
		return body{}, fmt.Errorf("image file %s: %w", path, err)
	}
	return body{r: f, offset: offset, total: st.Size(), validator: v}, nil
}
