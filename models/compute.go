package models

// VolumeSnapshot (VolumeSnapshotInventory). On qcow2 volumes a snapshot is
// internal to the volume's file, named by the snapshot's UUID.
type VolumeSnapshot struct {
	Base
	Type                      string `db:"type" json:"type"`
	VolumeUUID                string `db:"volume_uuid" json:"volumeUuid"`
	PrimaryStorageUUID        Ref    `db:"primary_storage_uuid" json:"primaryStorageUuid,omitempty"`
	PrimaryStorageInstallPath Ref    `db:"primary_storage_install_path" json:"primaryStorageInstallPath,omitempty"`
	VolumeType                string `db:"volume_type" json:"volumeType"`
	Format                    string `db:"format" json:"format"`
	Size                      int64  `db:"size" json:"size"`
	State                     string `db:"state" json:"state"`
	Status                    string `db:"status" json:"status"`
}

// Volume types and snapshot statuses.
const (
	VolumeRoot = "Root"
	VolumeData = "Data"

	SnapshotReady    = "Ready"
	SnapshotCreating = "Creating"
)
