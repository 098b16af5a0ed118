package activities

import "github.com/zcloud/zcloud/activities/hostapi"

// Activities of volumes, snapshots and migration.
const (
	VolumeInfo          = "db.VolumeInfo"
	VolumePlace         = "db.VolumePlace"
	VolumeUnplace       = "db.VolumeUnplace"
	VolumeSetAttachment = "db.VolumeSetAttachment"
	VolumeSetSize       = "db.VolumeSetSize"
	VolumeNextDevice    = "db.VolumeNextDevice"
	VolumeSetStatus     = "db.VolumeSetStatus"
	VolumeDeleteRecord  = "db.VolumeDeleteRecord"
	SnapshotInfo        = "db.SnapshotInfo"
	SnapshotRecord      = "db.SnapshotRecord"
	SnapshotDeleteRec   = "db.SnapshotDeleteRecord"
	VMMigrationTarget   = "db.VMMigrationTarget"
	VMMoveHost          = "db.VMMoveHost"
)

// VolumeRef names a volume.
type VolumeRef struct {
	VolumeUUID string `json:"volumeUuid"`
}

// VolumeInfoResult is what volume workflows need to know of a volume.
type VolumeInfoResult struct {
	Volume hostapi.VolumeSpec `json:"volume"`
	Type   string             `json:"type"`
	Status string             `json:"status"`
	// HostUUID is the host its file lives on (empty: not instantiated).
	HostUUID string `json:"hostUuid"`
	VMUUID   string `json:"vmUuid"`
	VMState  string `json:"vmState"`
	// VMHostUUID is the host the VM runs on (empty when it doesn't run).
	VMHostUUID string `json:"vmHostUuid"`
}

// VolumePlaceParams puts a not yet instantiated data volume next to a VM:
// on the primary storage of the VM's root volume (and on the VM's host
// for a local storage), taking its capacity.
type VolumePlaceParams struct {
	VolumeUUID string `json:"volumeUuid"`
	VMUUID     string `json:"vmUuid"`
}

// VolumeAttachmentParams records a volume attached to a VM (VMUUID empty:
// detached) and its device number.
type VolumeAttachmentParams struct {
	VolumeUUID string `json:"volumeUuid"`
	VMUUID     string `json:"vmUuid"`
	DeviceID   int    `json:"deviceId"`
}

// VolumeSizeParams records a volume's new size, taking the growth from its
// primary storage.
type VolumeSizeParams struct {
	VolumeUUID string `json:"volumeUuid"`
	Size       int64  `json:"size"`
}

// VolumeStatusParams sets a volume's status (Deleted, Ready).
type VolumeStatusParams struct {
	VolumeUUID string `json:"volumeUuid"`
	Status     string `json:"status"`
}

// SnapshotRef names a volume snapshot.
type SnapshotRef struct {
	SnapshotUUID string `json:"snapshotUuid"`
}

// SnapshotInfoResult is a snapshot with its volume.
type SnapshotInfoResult struct {
	SnapshotUUID string           `json:"snapshotUuid"`
	Status       string           `json:"status"`
	Volume       VolumeInfoResult `json:"volume"`
}

// SnapshotRecordParams records a snapshot: Creating before the host takes
// it (so that a crash leaves a trace to compensate), Ready after.
type SnapshotRecordParams struct {
	SnapshotUUID string `json:"snapshotUuid"`
	VolumeUUID   string `json:"volumeUuid"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	AccountUUID  string `json:"accountUuid"`
	Ready        bool   `json:"ready"`
	InstallPath  string `json:"installPath"`
	Size         int64  `json:"size"`
}

// VMMigrationParams asks for (or names) a migration's destination.
type VMMigrationParams struct {
	VMUUID   string `json:"vmUuid"`
	HostUUID string `json:"hostUuid"`
}

// VMMigrationTargetResult is where a VM can go and how its source host's
// hypervisor reaches the destination's.
type VMMigrationTargetResult struct {
	SourceHostUUID string `json:"sourceHostUuid"`
	HostUUID       string `json:"hostUuid"`
	DestinationURI string `json:"destinationUri"`
	// MigrationURI is where the memory stream goes: the destination's
	// management address (its hostname may not resolve from the source).
	MigrationURI string `json:"migrationUri,omitempty"`
}

// SimMigrationScheme starts the migration URI of a simulated host
// ("sim://<host uuid>"); real hosts are reached at
// qemu+tcp://<management ip>/system.
const SimMigrationScheme = "sim://"

// Primary storage activities.
const (
	HostStorages     = "db.HostStorages"
	ClusterHosts     = "db.ClusterHosts"
	PSRecordCapacity = "db.PSRecordCapacity"
)

// HostStorage is a directory primary storage a host serves.
type HostStorage struct {
	PSUUID string `db:"uuid" json:"primaryStorageUuid"`
	URL    string `db:"url" json:"url"`
	Type   string `db:"type" json:"type"`
}

// ClusterRef names a cluster.
type ClusterRef struct {
	ClusterUUID string `json:"clusterUuid"`
}

// PSCapacityParams records a host's report of a primary storage.
type PSCapacityParams struct {
	PSUUID    string `json:"primaryStorageUuid"`
	HostUUID  string `json:"hostUuid"`
	Total     int64  `json:"total"`
	Available int64  `json:"available"`
}
