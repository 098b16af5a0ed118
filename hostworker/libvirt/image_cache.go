//go:build libvirt

package libvirt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	virt "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// cachedImageExt ends the name of every image in the cache (cachedImage);
// downloads in progress are temporary files beside them.
const cachedImageExt = ".image"

// maxBackingDepth bounds a backing chain walk: a loop in a corrupt chain
// must not hang the cleanup.
const maxBackingDepth = 64

// cacheUse counts the goroutines fetching or inspecting each cached image
// right now (cachedImage), so that a cleanup never removes an image a
// download is writing or has just written.
type cacheUse struct {
	mu sync.Mutex
	n  map[string]int
}

// hold marks path in use until release is called.
func (u *cacheUse) hold(path string) (release func()) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.n == nil {
		u.n = map[string]int{}
	}
	u.n[path]++
	return func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.n[path]--; u.n[path] <= 0 {
			delete(u.n, path)
		}
	}
}

func (u *cacheUse) busy(path string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.n[path] > 0
}

// CleanUpImageCache removes the images of the cache that nothing uses: no
// volume file under the storage directory has one in its backing chain
// (walked with qemu-img), no domain has one as a disk or CD-ROM, and no
// download is writing or inspecting it. Cleanups run one at a time.
// A cache directory shared by several hosts is cleaned from this host's
// view: the volume files are shared too, but another host's domains are not
// seen.
func (d *Driver) CleanUpImageCache(ctx context.Context) (hostapi.CleanUpImageCacheResult, error) {
	d.cleanMu.Lock()
	defer d.cleanMu.Unlock()
	res, err := d.cleanUpImageCache(ctx)
	if err != nil {
		return hostapi.CleanUpImageCacheResult{}, fail("clean up image cache", err)
	}
	return res, nil
}

func (d *Driver) cleanUpImageCache(ctx context.Context) (hostapi.CleanUpImageCacheResult, error) {
	res := hostapi.CleanUpImageCacheResult{Removed: []hostapi.CachedImage{}, Kept: []hostapi.CachedImage{}}
	images, err := d.cachedImages()
	if err != nil || len(images) == 0 {
		return res, err
	}
	used, err := d.usedFiles(ctx)
	if err != nil {
		return res, err
	}
	for _, img := range images {
		if used[img.Path] || d.cacheUse.busy(img.Path) {
			res.Kept = append(res.Kept, img)
			continue
		}
		if err := os.Remove(img.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("remove cached image: %w", err)
		}
		res.Removed = append(res.Removed, img)
		res.FreedBytes += img.Size
	}
	return res, nil
}

// cachedImages lists the images in the cache with the bytes each takes.
func (d *Driver) cachedImages() ([]hostapi.CachedImage, error) {
	entries, err := os.ReadDir(d.cfg.ImageCacheDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("image cache: %w", err)
	}
	var out []hostapi.CachedImage
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, cachedImageExt) {
			continue // a download in progress is a .tmp file
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("image cache: %w", err)
		}
		img := hostapi.CachedImage{Path: filepath.Join(d.cfg.ImageCacheDir, name), Size: diskBytes(info)}
		if id := strings.TrimSuffix(name, cachedImageExt); models.IsUUID(id) {
			img.ImageUUID = id
		}
		out = append(out, img)
	}
	return out, nil
}

// diskBytes is what a file takes on disk (a sparse image less than its
// length).
func diskBytes(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return info.Size()
}

// usedFiles is every file some volume or domain of the host reads: the
// volume files under the storage directory, every domain's disks, and the
// backing chains of all of them.
func (d *Driver) usedFiles(ctx context.Context) (map[string]bool, error) {
	var roots []string
	err := filepath.WalkDir(d.cfg.StorageDir, func(path string, e fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil // removed meanwhile, or no storage yet
		case err != nil:
			return err
		case e.IsDir() && path == d.cfg.ImageCacheDir:
			return filepath.SkipDir
		case e.Type().IsRegular():
			roots = append(roots, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk volumes: %w", err)
	}
	disks, err := with(d, domainDiskFiles)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, f := range slices.Concat(roots, disks) {
		if err := markChain(ctx, f, used); err != nil {
			return nil, err
		}
	}
	return used, nil
}

// markChain marks path and its backing chain used. A temporary file that
// vanished or cannot be read yet (a volume or export being written) is
// skipped; any other unreadable file fails the cleanup, as what it uses
// cannot be known.
func markChain(ctx context.Context, path string, used map[string]bool) error {
	for range maxBackingDepth {
		path = filepath.Clean(path)
		if used[path] {
			return nil
		}
		used[path] = true
		info, err := inspect(ctx, path)
		if err != nil {
			if _, serr := os.Stat(path); errors.Is(serr, fs.ErrNotExist) || strings.HasSuffix(path, ".tmp") {
				return nil
			}
			return fmt.Errorf("backing chain of %s: %w", path, err)
		}
		next := backingOf(info)
		if next == "" {
			return nil
		}
		path = next
	}
	return models.Invalid("backing chain of %s is deeper than %d files", path, maxBackingDepth)
}

// domainDiskFiles lists the files every domain (running or only defined)
// has as a disk or CD-ROM.
func domainDiskFiles(c *virt.Connect) ([]string, error) {
	doms, err := c.ListAllDomains(0)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	defer func() {
		for i := range doms {
			_ = doms[i].Free()
		}
	}()
	var out []string
	for i := range doms {
		for _, flags := range []virt.DomainXMLFlags{0, virt.DOMAIN_XML_INACTIVE} {
			doc, err := doms[i].GetXMLDesc(flags)
			if isCode(err, virt.ERR_NO_DOMAIN) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("domain xml: %w", err)
			}
			var x libvirtxml.Domain
			if err := x.Unmarshal(doc); err != nil {
				return nil, fmt.Errorf("parse domain xml: %w", err)
			}
			if x.Devices == nil {
				continue
			}
			for _, disk := range x.Devices.Disks {
				if disk.Source != nil && disk.Source.File != nil && disk.Source.File.File != "" {
					out = append(out, disk.Source.File.File)
				}
			}
		}
	}
	return out, nil
}
