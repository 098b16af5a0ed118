package aliyun

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
)

// oss returns an OSS client of the conn's region, signing with V4 (its
// credential scope names the region). The override endpoint is used
// path-style and without proxy.
func (c *conn) oss() (*oss.Client, error) {
	endpoint := "https://oss-" + c.region + ".aliyuncs.com"
	opts := []oss.ClientOption{oss.AuthVersion(oss.AuthV4), oss.Region(c.region),
		oss.Timeout(int64(c.a.cfg.Timeout/time.Second)+1, 600)}
	if c.a.cfg.Endpoint != "" {
		endpoint = c.a.cfg.Endpoint
		opts = append(opts, oss.ForcePathStyle(true), oss.HTTPClient(&http.Client{Transport: &http.Transport{Proxy: nil}}))
	}
	cl, err := oss.New(endpoint, c.akey, c.secret, opts...)
	if err != nil {
		return nil, fmt.Errorf("oss client: %w", err)
	}
	return cl, nil
}

// ossCall runs one OSS operation under the key's rate limit and maps its
// error like remoteErr does.
func (c *conn) ossCall(ctx context.Context, op string, fn func() error) error {
	if err := c.lim.Wait(ctx); err != nil {
		return fmt.Errorf("oss %s: rate limit: %w", op, err)
	}
	err := fn()
	if err == nil {
		return nil
	}
	var se oss.ServiceError
	var sep *oss.ServiceError
	switch {
	case errors.As(err, &se):
	case errors.As(err, &sep):
		se = *sep
	default:
		return temporal.NewApplicationErrorWithCause("oss "+op+": "+err.Error(), ErrTypeRetry, err)
	}
	if retryable(se.Code, se.StatusCode) {
		return temporal.NewApplicationError(fmt.Sprintf("oss %s: %s: %s", op, se.Code, se.Message), ErrTypeRetry)
	}
	me := &models.Error{Kind: models.KindInvalid, Code: models.CodeOperation, Message: "Alibaba OSS refused " + op,
		Details: se.Code + ": " + se.Message + " (request " + se.RequestID + ")"}
	switch {
	case strings.HasPrefix(se.Code, "NoSuch"):
		me.Kind, me.Code = models.KindNotFound, models.CodeNotFound
	case se.Code == "BucketAlreadyExists" || se.Code == "BucketNotEmpty":
		me.Kind = models.KindConflict
	case se.Code == "InvalidAccessKeyId" || se.Code == "SignatureDoesNotMatch" || se.Code == "AccessDenied":
		me.Kind, me.Code, me.Message = models.KindInvalid, models.CodeInvalidArgument, "Alibaba OSS rejected the AccessKey"
	}
	return temporal.NewNonRetryableApplicationError(me.Error(), activities.ErrType, nil, *me)
}

// bucketExists tells whether a bucket exists (and is ours).
func (c *conn) bucketExists(ctx context.Context, name string) (bool, error) {
	cl, err := c.oss()
	if err != nil {
		return false, err
	}
	err = c.ossCall(ctx, "GetBucketInfo", func() error { _, err := cl.GetBucketInfo(name); return err })
	if isNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// progressReader reports upload progress as activity heartbeats.
type progressReader struct {
	ctx   context.Context
	r     io.Reader
	n     int64
	total int64
	last  time.Time
	hash  io.Writer
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	_, _ = p.hash.Write(b[:n])
	if activity.IsActivity(p.ctx) && time.Since(p.last) > time.Second {
		p.last = time.Now()
		activity.RecordHeartbeat(p.ctx, map[string]int64{"uploaded": p.n, "total": p.total})
	}
	return n, err
}

// uploadFromURL streams an image from its URL into an OSS object,
// heartbeating its progress; it returns the size and MD5.
func (c *conn) uploadFromURL(ctx context.Context, src, bucket, object string) (int64, string, error) {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		return 0, "", wrap(&models.Error{Kind: models.KindInvalid, Code: models.CodeOperation,
			Message: "not supported: uploading an image whose url is not http(s)", Details: src, Cause: errors.ErrUnsupported})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return 0, "", wrap(models.Invalid("bad image url %s: %v", src, err))
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment}}).Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("fetch image %s: %w", src, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, "", wrap(models.Unavailable("fetch image %s: http status %d", src, resp.StatusCode))
	}
	cl, err := c.oss()
	if err != nil {
		return 0, "", err
	}
	b, err := cl.Bucket(bucket)
	if err != nil {
		return 0, "", fmt.Errorf("oss bucket: %w", err)
	}
	h := md5.New()
	pr := &progressReader{ctx: ctx, r: resp.Body, total: resp.ContentLength, hash: h}
	if err := c.ossCall(ctx, "PutObject", func() error { return b.PutObject(object, pr) }); err != nil {
		return 0, "", err
	}
	return pr.n, hex.EncodeToString(h.Sum(nil)), nil
}

// deleteObject deletes an OSS object; a missing one is fine.
func (c *conn) deleteObject(ctx context.Context, bucket, object string) error {
	cl, err := c.oss()
	if err != nil {
		return err
	}
	b, err := cl.Bucket(bucket)
	if err != nil {
		return fmt.Errorf("oss bucket: %w", err)
	}
	err = c.ossCall(ctx, "DeleteObject", func() error { return b.DeleteObject(object) })
	if isNotFound(err) {
		return nil
	}
	return err
}
