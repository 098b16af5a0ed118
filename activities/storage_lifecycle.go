package activities

import "github.com/zcloud/zcloud/activities/hostapi"

// Activities of the primary storage lifecycle: state changes, reconnect,
// capacity sync and image cache cleanup.
const (
	PSInfo          = "db.PSInfo"
	PSVMs           = "db.PSVMs"
	PSRecordConnect = "db.PSRecordConnect"
)

// PSRef names a primary storage.
type PSRef struct {
	PSUUID string `json:"primaryStorageUuid"`
}

// PSInfoResult is a primary storage with the hosts that serve it: the
// Connected hosts of the clusters it is attached to. Storages are the
// directory storages of the hosts (Local, SharedMountPoint); a storage of
// another type has none.
type PSInfoResult struct {
	UUID    string      `json:"uuid"`
	Type    string      `json:"type"`
	State   string      `json:"state"`
	Status  string      `json:"status"`
	Hosts   []string    `json:"hosts"`
	Storage HostStorage `json:"storage"`
	// Directory says the storage is a directory of its hosts, which they
	// check and measure (HostStorages).
	Directory bool `json:"directory"`
}

// PSVM is a VM with a volume on a primary storage.
type PSVM struct {
	UUID     string `db:"uuid" json:"uuid"`
	State    string `db:"state" json:"state"`
	HostUUID string `db:"host_uuid" json:"hostUuid"`
}

// HostFailure is a host that could not do its part of an operation.
type HostFailure struct {
	HostUUID string `json:"hostUuid"`
	Error    string `json:"error"`
}

// PSConnectParams records what a ReconnectPrimaryStorage or
// SyncPrimaryStorageCapacity learnt from the hosts: how many reported the
// storage (their capacity is recorded already) and which failed. Sync also
// recomputes the available capacity from the volumes on the storage.
type PSConnectParams struct {
	PSUUID   string        `json:"primaryStorageUuid"`
	Asked    int           `json:"asked"`
	Failures []HostFailure `json:"failures,omitempty"`
	Sync     bool          `json:"sync,omitempty"`
}

// HostImageCacheCleanup is what one host removed from its image cache.
type HostImageCacheCleanup struct {
	HostUUID string                `json:"hostUuid"`
	Removed  []hostapi.CachedImage `json:"removed"`
	Freed    int64                 `json:"freedBytes"`
}

// ImageCacheCleanup is the result of CleanUpImageCacheOnPrimaryStorage:
// what each host removed, the bytes freed in all, and the hosts that
// failed.
type ImageCacheCleanup struct {
	PSUUID      string                  `json:"primaryStorageUuid"`
	Hosts       []HostImageCacheCleanup `json:"hosts"`
	FreedBytes  int64                   `json:"freedBytes"`
	FailedHosts []HostFailure           `json:"failedHosts,omitempty"`
}
