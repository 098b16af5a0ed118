package hostapi

// ActStorageCapacity reports (and creates, if missing) a primary storage's
// directory on the host: the capacity of the file system holding it.
const ActStorageCapacity = "host.StorageCapacity"

// StorageCapacityParams names a primary storage's directory on the host.
type StorageCapacityParams struct {
	PrimaryStorageUUID string `json:"primaryStorageUuid"`
	Path               string `json:"path"`
}

// StorageCapacityResult is the capacity of the file system holding a
// primary storage's directory.
type StorageCapacityResult struct {
	TotalBytes     int64 `json:"totalBytes"`
	AvailableBytes int64 `json:"availableBytes"`
}
