package activities

import "github.com/zcloud/zcloud/activities/hostapi"

// Activities of images made from volumes and snapshots, volumes made from
// data volume templates, and the image delete, recover, expunge lifecycle.
const (
	ImageFromVolumeRecord = "db.ImageFromVolumeRecord"
	ImageUploadToken      = "db.ImageUploadToken"
	ImageInfo             = "db.ImageInfo"
	ImageSetStatus        = "db.ImageSetStatus"
	ImageCheckExpunge     = "db.ImageCheckExpunge"
	ImageDeleteRef        = "db.ImageDeleteRef"
	ImageDeletePolicy     = "db.ImageDeletePolicy"
	TemplateVolumeInfo    = "db.TemplateVolumeInfo"
)

// ImageFromVolumeParams makes an image of a volume or a snapshot: the API's
// params as RunOp takes them (Op.Op is the API name) and the new image's
// UUID.
type ImageFromVolumeParams struct {
	Op        OpParams `json:"op"`
	ImageUUID string   `json:"imageUuid"`
}

// ImageTarget is a backup storage an image is written to. Agent is set
// for an ImageStore or Sftp backup storage (its agent takes the upload
// in); Sftp too for an Sftp one, which the host writes to over SFTP
// instead of HTTP; a simulator backup storage stores nothing.
type ImageTarget struct {
	BSUUID string `json:"backupStorageUuid"`
	Agent  bool   `json:"agent"`
	Sftp   bool   `json:"sftp,omitempty"`
}

// ImageSourceResult says where the image's bits come from: the volume (at
// SnapshotUUID, or as it is now), the host that writes the image, and the
// backup storages it goes to.
type ImageSourceResult struct {
	Volume       hostapi.VolumeSpec `json:"volume"`
	SnapshotUUID string             `json:"snapshotUuid,omitempty"`
	HostUUID     string             `json:"hostUuid"`
	Targets      []ImageTarget      `json:"targets"`
}

// ImageOpParams names an image and, optionally, some of its backup
// storages (empty: all).
type ImageOpParams struct {
	ImageUUID string   `json:"imageUuid"`
	BSUUIDs   []string `json:"backupStorageUuids,omitempty"`
}

// ImageRef is one backup storage's copy of an image.
type ImageRef struct {
	BSUUID string `json:"backupStorageUuid"`
	Agent  bool   `json:"agent"`
	Status string `json:"status"`
}

// ImageInfoResult is an image's status and its copies on the backup
// storages an ImageOpParams names.
type ImageInfoResult struct {
	Status    string     `json:"status"`
	MediaType string     `json:"mediaType"`
	Refs      []ImageRef `json:"refs"`
}

// ImageStatusParams sets the status of an image's copies on some backup
// storages (empty: all); the image takes Ready when a copy is Ready,
// Deleted when every copy is.
type ImageStatusParams struct {
	ImageUUID string   `json:"imageUuid"`
	BSUUIDs   []string `json:"backupStorageUuids,omitempty"`
	Status    string   `json:"status"`
}

// ImageRefParams names one backup storage's copy of an image.
type ImageRefParams struct {
	ImageUUID string `json:"imageUuid"`
	BSUUID    string `json:"backupStorageUuid"`
}
