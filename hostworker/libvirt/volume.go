//go:build libvirt

package libvirt

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	virt "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/domainxml"
	"github.com/zcloud/zcloud/models"
)

// Volume types of hostapi.VolumeSpec.Type.
const (
	VolumeRoot = "Root"
	VolumeData = "Data"
)

// storageDirMode is the mode of the directories the driver makes for
// volumes and cached images: QEMU runs as its own user (libvirt-qemu) and
// must reach the files, which libvirt hands to that user when a domain
// starts.
const storageDirMode = 0o755

// imageInfo is the part of `qemu-img info --output=json` the driver reads.
type imageInfo struct {
	Format              string         `json:"format"`
	VirtualSize         int64          `json:"virtual-size"`
	ActualSize          int64          `json:"actual-size"`
	BackingFilename     string         `json:"backing-filename"`
	FullBackingFilename string         `json:"full-backing-filename"`
	BackingFormat       string         `json:"backing-filename-format"`
	Snapshots           []snapshotInfo `json:"snapshots"`
	FormatSpecific      struct {
		Data struct {
			DataFile string `json:"data-file"`
		} `json:"data"`
	} `json:"format-specific"`
}

// qemuImg runs qemu-img and returns its standard output.
func qemuImg(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "qemu-img", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("qemu-img %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// inspect reads an image's header. -U reads images a running QEMU holds
// locked.
func inspect(ctx context.Context, path string) (imageInfo, error) {
	out, err := qemuImg(ctx, "info", "-U", "--output=json", path)
	if err != nil {
		return imageInfo{}, err
	}
	var info imageInfo
	if err := json.Unmarshal(out, &info); err != nil {
		return imageInfo{}, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	return info, nil
}

// volumePath is where vol lives: its install path when given (which must
// lie under StorageDir, as the driver deletes what it names), else
// <StorageDir>/<psUuid>/<volUuid>.<format> (see volumeFormat).
func (d *Driver) volumePath(vol hostapi.VolumeSpec) (string, error) {
	if !models.IsUUID(vol.UUID) {
		return "", models.Invalid("volume uuid %q is not 32 hex characters", vol.UUID)
	}
	format, err := volumeFormat(vol)
	if err != nil {
		return "", err
	}
	if vol.InstallPath != "" {
		p := filepath.Clean(vol.InstallPath)
		rel, err := filepath.Rel(d.cfg.StorageDir, p)
		if !filepath.IsAbs(p) || err != nil || rel == "." || !filepath.IsLocal(rel) {
			return "", models.Invalid("volume %s: install path %q is not under %s", vol.UUID, vol.InstallPath, d.cfg.StorageDir)
		}
		return p, nil
	}
	if !models.IsUUID(vol.PrimaryStorageUUID) {
		return "", models.Invalid("volume %s: primary storage uuid %q is not 32 hex characters", vol.UUID, vol.PrimaryStorageUUID)
	}
	return filepath.Join(d.cfg.StorageDir, strings.ToLower(vol.PrimaryStorageUUID), strings.ToLower(vol.UUID)+"."+format), nil
}

// want is the image a volume must be: its format, backing file and size.
type want struct {
	format        string
	backing       string
	backingFormat string
	size          int64
}

// InstantiateVolume creates a volume's qcow2 file: a data volume blank of
// its size, a root volume as an overlay on its image, which is cached on the
// host first. A file that already is what the spec asks for is kept; one
// that is something else is a conflict.
func (d *Driver) InstantiateVolume(ctx context.Context, vol hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	res, err := d.instantiate(ctx, vol)
	if err != nil {
		return hostapi.InstantiateVolumeResult{}, fail("instantiate volume", err)
	}
	return res, nil
}

func (d *Driver) instantiate(ctx context.Context, vol hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	var none hostapi.InstantiateVolumeResult
	path, err := d.volumePath(vol)
	if err != nil {
		return none, err
	}
	if vol.Size < 0 {
		return none, models.Invalid("volume %s has negative size %d", vol.UUID, vol.Size)
	}
	var w want
	switch {
	case vol.ImageURL != "":
		image, err := d.cachedImage(ctx, vol.ImageUUID, vol.ImageURL)
		if err != nil {
			return none, err
		}
		w = want{format: domainxml.FormatQCOW2, backing: image.path, backingFormat: image.info.Format, size: max(vol.Size, image.info.VirtualSize)}
	case vol.Type == VolumeRoot || vol.ImageUUID != "":
		return none, models.Invalid("root volume %s has no image url", vol.UUID)
	case vol.Size == 0:
		return none, models.Invalid("volume %s has neither a size nor an image", vol.UUID)
	default:
		if w.format, err = volumeFormat(vol); err != nil {
			return none, err
		}
		w.size = vol.Size
	}

	if _, err := os.Stat(path); err == nil {
		return checkVolume(ctx, vol.UUID, path, w)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return none, fmt.Errorf("volume %s: %w", vol.UUID, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), storageDirMode); err != nil {
		return none, fmt.Errorf("volume directory: %w", err)
	}
	// Made under a temporary name and renamed, so that a crash never
	// leaves a half-made file under the volume's name.
	tmp := tempName(path)
	args := []string{"create", "-q", "-f", w.format}
	if w.backing != "" {
		args = append(args, "-b", w.backing, "-F", w.backingFormat)
	}
	args = append(args, tmp, strconv.FormatInt(w.size, 10))
	if _, err := qemuImg(ctx, args...); err != nil {
		_ = os.Remove(tmp)
		return none, err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return none, fmt.Errorf("volume %s: %w", vol.UUID, err)
	}
	return checkVolume(ctx, vol.UUID, path, w)
}

// checkVolume compares the file at path with what the spec asks for.
func checkVolume(ctx context.Context, volUUID, path string, w want) (hostapi.InstantiateVolumeResult, error) {
	info, err := inspect(ctx, path)
	if err != nil {
		return hostapi.InstantiateVolumeResult{}, err
	}
	if info.Format != w.format || info.VirtualSize != w.size || backingOf(info) != w.backing {
		return hostapi.InstantiateVolumeResult{}, models.Conflict(
			"volume %s exists with another spec: %s of %d bytes on backing %q, want %s of %d bytes on backing %q",
			volUUID, info.Format, info.VirtualSize, backingOf(info), w.format, w.size, w.backing)
	}
	return hostapi.InstantiateVolumeResult{InstallPath: path, ActualSize: info.ActualSize}, nil
}

func backingOf(info imageInfo) string {
	if info.FullBackingFilename != "" {
		return info.FullBackingFilename
	}
	return info.BackingFilename
}

func tempName(path string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return path + "." + hex.EncodeToString(b) + ".tmp"
}

// cached is an image in the cache.
type cached struct {
	path string
	info imageInfo
}

// cachedImage returns the image of url from the cache, fetching it first
// when missing. Concurrent calls for one image fetch it once.
func (d *Driver) cachedImage(ctx context.Context, imageUUID, rawURL string) (cached, error) {
	src, err := imageSource(rawURL)
	if err != nil {
		return cached{}, err
	}
	key := strings.ToLower(imageUUID)
	if !models.IsUUID(key) {
		sum := sha256.Sum256([]byte(rawURL))
		key = hex.EncodeToString(sum[:16])
	}
	path := filepath.Join(d.cfg.ImageCacheDir, key+cachedImageExt)
	defer d.cacheUse.hold(path)()
	v, err, _ := d.images.Do(path, func() (any, error) {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if err := d.fetchImage(ctx, src, path); err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, fmt.Errorf("image cache: %w", err)
		}
		info, err := inspect(ctx, path)
		if err != nil {
			return nil, err
		}
		return info, nil
	})
	if err != nil {
		return cached{}, err
	}
	return cached{path: path, info: v.(imageInfo)}, nil
}

// imageSource checks an image URL: a file:// path, or http(s) on a loopback
// address. Backup storages and their protocols come later; until then other
// URLs are not supported, and no download leaves the host.
func imageSource(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, models.Invalid("image url %q: %v", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" || !filepath.IsAbs(u.Path) {
			return nil, models.Invalid("image url %q is not file:///absolute/path", rawURL)
		}
		return u, nil
	case "http", "https":
		// A backup storage agent's address (ImageStore), or any web server.
		if u.Hostname() != "" {
			return u, nil
		}
	case hostapi.SftpScheme:
		// An Sftp backup storage's file, its key sealed to this host.
		if _, err := hostapi.ParseSftpSource(rawURL); err != nil {
			return nil, err
		}
		return u, nil
	}
	return nil, fmt.Errorf("image url %q: %w: only file://, http(s) and sftp:// URLs", rawURL, errors.ErrUnsupported)
}

// fetch copies the image at src to path through a temporary file, and
// refuses images with a backing file or an external data file of their own:
// they would let an image read any file on the host.
func fetch(ctx context.Context, client *http.Client, src *url.URL, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), storageDirMode); err != nil {
		return fmt.Errorf("image cache: %w", err)
	}
	tmp := tempName(path)
	defer func() { _ = os.Remove(tmp) }() // gone after the rename
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("image cache: %w", err)
	}
	err = download(ctx, client, src, f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("image cache: %w", cerr)
	}
	if err != nil {
		return err
	}
	info, err := inspect(ctx, tmp)
	if err != nil {
		return err
	}
	if backingOf(info) != "" {
		return models.Invalid("image %s has a backing file %q", src.Redacted(), backingOf(info))
	}
	if f := info.FormatSpecific.Data.DataFile; f != "" {
		return models.Invalid("image %s has an external data file %q", src.Redacted(), f)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("image cache: %w", err)
	}
	return nil
}

// download writes the content at src to w, stopping when ctx ends.
func download(ctx context.Context, client *http.Client, src *url.URL, w io.Writer) error {
	if src.Scheme == hostapi.SftpScheme {
		return downloadSFTP(ctx, src, w)
	}
	if src.Scheme == "file" {
		in, err := os.Open(src.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return models.Invalid("image %s does not exist", src.Path)
		}
		if err != nil {
			return fmt.Errorf("image %s: %w", src.Path, err)
		}
		defer in.Close()
		if _, err := io.Copy(w, ctxReader{ctx, in}); err != nil {
			return fmt.Errorf("copy image %s: %w", src.Path, err)
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.String(), nil)
	if err != nil {
		return models.Invalid("image url %s: %v", src.Redacted(), err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("download image: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode == http.StatusNotFound {
			return models.Invalid("image %s: %s", src.Redacted(), resp.Status)
		}
		return fmt.Errorf("download image %s: %s", src.Redacted(), resp.Status)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("download image %s: %w", src.Redacted(), err)
	}
	return nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// DeleteVolume removes the volume's file; a missing one is fine, one that a
// domain uses is a conflict, as deleting a disk under a VM would be.
func (d *Driver) DeleteVolume(_ context.Context, vol hostapi.VolumeSpec) error {
	path, err := d.volumePath(vol)
	if err != nil {
		return fail("delete volume", err)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	user, err := with(d, func(c *virt.Connect) (string, error) { return diskUser(c, path) })
	if err != nil {
		return fail("delete volume", err)
	}
	if user != "" {
		return fail("delete volume", models.Conflict("volume %s is used by domain %s", vol.UUID, user))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail("delete volume", err)
	}
	return nil
}

// diskUser returns the name of a domain with a disk on path, or "".
func diskUser(c *virt.Connect, path string) (string, error) {
	doms, err := c.ListAllDomains(0)
	if err != nil {
		return "", fmt.Errorf("list domains: %w", err)
	}
	defer func() {
		for i := range doms {
			_ = doms[i].Free()
		}
	}()
	for i := range doms {
		doc, err := doms[i].GetXMLDesc(virt.DOMAIN_XML_INACTIVE)
		if isCode(err, virt.ERR_NO_DOMAIN) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("domain xml: %w", err)
		}
		var x libvirtxml.Domain
		if err := x.Unmarshal(doc); err != nil {
			return "", fmt.Errorf("parse domain xml: %w", err)
		}
		if x.Devices == nil {
			continue
		}
		for _, disk := range x.Devices.Disks {
			if disk.Source != nil && disk.Source.File != nil && disk.Source.File.File == path {
				return x.Name, nil
			}
		}
	}
	return "", nil
}
