//go:build libvirt

package libvirt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/domainxml"
	"github.com/zcloud/zcloud/models"
)

// UploadVolumeImage writes a standalone qcow2 of a volume at a snapshot (or
// as it is now, through a temporary internal snapshot named by the image
// UUID: taken live when a domain runs on the volume) next to the volume,
// PUTs it to the backup storage's upload URL and removes it. The backup
// storage answers an image it holds already as stored, so a retried upload
// succeeds.
func (d *Driver) UploadVolumeImage(ctx context.Context, p hostapi.UploadVolumeImageParams) (hostapi.UploadVolumeImageResult, error) {
	res, err := d.uploadImage(ctx, p)
	if err != nil {
		return hostapi.UploadVolumeImageResult{}, fail("upload volume image", err)
	}
	return res, nil
}

func (d *Driver) uploadImage(ctx context.Context, p hostapi.UploadVolumeImageParams) (hostapi.UploadVolumeImageResult, error) {
	var none hostapi.UploadVolumeImageResult
	dst, err := d.uploadDestination(p)
	if err != nil {
		return none, err
	}
	path, err := d.volumePath(p.Volume)
	if err != nil {
		return none, err
	}
	if err := statVolume(p.Volume, path); err != nil {
		return none, err
	}
	snap := p.SnapshotUUID
	if snap == "" {
		snap = p.ImageUUID
		if _, err := d.createSnapshot(ctx, p.Volume, snap); err != nil {
			return none, fmt.Errorf("temporary snapshot: %w", err)
		}
	}
	tmp, err := d.exportSnapshot(ctx, p, path, snap)
	if p.SnapshotUUID == "" {
		if derr := d.deleteSnapshot(context.WithoutCancel(ctx), p.Volume, snap); err == nil && derr != nil {
			err = fmt.Errorf("delete temporary snapshot: %w", derr)
		}
	}
	if tmp != "" {
		defer func() { _ = os.Remove(tmp) }()
	}
	if err != nil {
		return none, err
	}
	if dst.Scheme == hostapi.SftpScheme {
		return uploadSFTP(ctx, dst, tmp)
	}
	return d.upload(ctx, dst, p.Token, tmp)
}

// uploadDestination checks where the image goes: an http(s) upload URL
// with its token, or an sftp:// file of an Sftp backup storage, whose
// sealed key is opened now, before any work.
func (d *Driver) uploadDestination(p hostapi.UploadVolumeImageParams) (*url.URL, error) {
	dst, err := url.Parse(p.UploadURL)
	switch {
	case strings.HasPrefix(p.UploadURL, hostapi.SftpScheme+":"):
		if err != nil { // the parser's error would quote the key
			return nil, models.Invalid("image %s: the sftp upload url does not parse", p.ImageUUID)
		}
		return d.openSftpSource(dst)
	case err != nil || (dst.Scheme != "http" && dst.Scheme != "https") || dst.Host == "" || p.Token == "":
		return nil, models.Invalid("image %s: upload url %q is neither sftp nor http(s) with a token", p.ImageUUID, p.UploadURL)
	}
	return dst, nil
}

// exportSnapshot writes the volume at snapshot snap as a standalone qcow2
// beside it and returns the file's path (set also when it failed half way,
// for the caller to remove).
func (d *Driver) exportSnapshot(ctx context.Context, p hostapi.UploadVolumeImageParams, path, snap string) (string, error) {
	name, err := snapshotName(snap)
	if err != nil {
		return "", err
	}
	info, err := inspect(ctx, path)
	if err != nil {
		return "", err
	}
	if !hasSnapshot(info, name) {
		return "", models.NotFound("volume %s has no snapshot %s", p.Volume.UUID, name)
	}
	tmp := filepath.Join(filepath.Dir(path), strings.ToLower(p.ImageUUID)+".image.tmp")
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("image %s: %w", p.ImageUUID, err)
	}
	_, err = qemuImg(ctx, "convert", "-q", "-U", "-f", domainxml.FormatQCOW2, "-O", domainxml.FormatQCOW2,
		"-l", "snapshot.name="+name, path, tmp)
	return tmp, err
}

// upload PUTs the file at path to dst with the bearer token and reads the
// stored image the backup storage answers.
func (d *Driver) upload(ctx context.Context, dst *url.URL, token, path string) (hostapi.UploadVolumeImageResult, error) {
	var none hostapi.UploadVolumeImageResult
	f, err := os.Open(path)
	if err != nil {
		return none, fmt.Errorf("open image: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return none, fmt.Errorf("open image: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, bsapi.UploadMethod, dst.String(), f)
	if err != nil {
		return none, models.Invalid("upload url %s: %v", dst.Redacted(), err)
	}
	req.ContentLength = st.Size()
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := d.http.Do(req)
	if err != nil {
		return none, fmt.Errorf("upload image to %s: %w", dst.Redacted(), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := strings.TrimSpace(string(body))
	switch resp.StatusCode {
	case http.StatusOK, http.StatusCreated:
	case http.StatusUnauthorized:
		return none, models.Invalid("backup storage refused the upload grant of %s: %s", dst.Redacted(), msg)
	case http.StatusUnprocessableEntity:
		return none, models.Invalid("backup storage refused the image as unusable: %s", msg)
	case http.StatusInsufficientStorage:
		return none, models.Conflict("backup storage has no room for the image: %s", msg)
	default:
		return none, fmt.Errorf("upload image to %s: %s: %s", dst.Redacted(), resp.Status, msg)
	}
	var img bsapi.ImageResult
	if err := json.Unmarshal(body, &img); err != nil {
		return none, fmt.Errorf("upload image to %s: reply %q: %w", dst.Redacted(), msg, err)
	}
	return hostapi.UploadVolumeImageResult{Format: img.Format, Size: img.Size, ActualSize: img.ActualSize, MD5Sum: img.MD5Sum}, nil
}
