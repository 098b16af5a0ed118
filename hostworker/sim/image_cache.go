package sim

import (
	"context"
	"slices"

	"github.com/zcloud/zcloud/activities/hostapi"
)

// cachedImageBytes is what a cached image takes on a simulated host: the
// size the simulator backup storage gives every image.
const cachedImageBytes = 1 << 30

// cacheImage records an image fetched into the host's cache; the caller
// holds d.mu.
func (d *Driver) cacheImage(imageUUID string) {
	if imageUUID == "" {
		return
	}
	if d.cache == nil {
		d.cache = map[string]bool{}
	}
	d.cache[imageUUID] = true
}

// CachedImages lists the images in the host's cache, for tests.
func (d *Driver) CachedImages() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.cache))
	for id := range d.cache {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// CleanUpImageCache forgets the cached images that no volume is made of
// and no domain has in its CD-ROM, as the libvirt driver removes them.
func (d *Driver) CleanUpImageCache(ctx context.Context) (hostapi.CleanUpImageCacheResult, error) {
	res := hostapi.CleanUpImageCacheResult{Removed: []hostapi.CachedImage{}, Kept: []hostapi.CachedImage{}}
	if err := d.begin(ctx, hostapi.ActCleanUpImageCache); err != nil {
		return res, err
	}
	defer d.mu.Unlock()
	used := map[string]bool{}
	for _, v := range d.volumes {
		used[v.Spec.ImageUUID] = true
	}
	for _, vm := range d.domains {
		if vm.Spec.ISO != nil {
			used[vm.Spec.ISO.ImageUUID] = true
		}
	}
	ids := make([]string, 0, len(d.cache))
	for id := range d.cache {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		img := hostapi.CachedImage{ImageUUID: id, Path: "sim://imagecache/" + id, Size: cachedImageBytes}
		if used[id] {
			res.Kept = append(res.Kept, img)
			continue
		}
		delete(d.cache, id)
		res.Removed = append(res.Removed, img)
		res.FreedBytes += img.Size
	}
	return res, nil
}

// StorageBytes is the size of the file system a simulated host reports for
// every primary storage directory.
const StorageBytes int64 = 16 << 40

// StorageCapacity reports a primary storage directory of a simulated host:
// a file system of StorageBytes less what its volumes and cached images
// take.
func (d *Driver) StorageCapacity(ctx context.Context) (hostapi.StorageCapacityResult, error) {
	if err := d.begin(ctx, hostapi.ActStorageCapacity); err != nil {
		return hostapi.StorageCapacityResult{}, err
	}
	defer d.mu.Unlock()
	used := int64(len(d.cache)) * cachedImageBytes
	for _, v := range d.volumes {
		used += v.ActualSize
	}
	return hostapi.StorageCapacityResult{TotalBytes: StorageBytes, AvailableBytes: max(StorageBytes-used, 0)}, nil
}
