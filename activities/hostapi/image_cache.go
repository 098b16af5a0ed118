package hostapi

// ActCleanUpImageCache removes the host's cached images that nothing on
// the host uses (CleanUpImageCacheOnPrimaryStorage).
const ActCleanUpImageCache = "host.CleanUpImageCache"

// CleanUpImageCacheParams asks a host to clean its image cache for a
// primary storage.
type CleanUpImageCacheParams struct {
	PrimaryStorageUUID string `json:"primaryStorageUuid"`
}

// CachedImage is one image file of a host's cache.
type CachedImage struct {
	// ImageUUID is the image the file caches, when its name says so.
	ImageUUID string `json:"imageUuid,omitempty"`
	Path      string `json:"path"`
	// Size is the bytes the file takes on disk.
	Size int64 `json:"size"`
}

// CleanUpImageCacheResult is what a cleanup removed and what it kept
// because a volume or a domain uses it.
type CleanUpImageCacheResult struct {
	Removed    []CachedImage `json:"removed"`
	Kept       []CachedImage `json:"kept"`
	FreedBytes int64         `json:"freedBytes"`
}
