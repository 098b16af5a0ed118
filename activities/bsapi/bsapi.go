// Package bsapi is the contract between the control plane and the ImageStore
// backup storage agent (hostworker/imagestore): activity names, their params
// and results, error types, and the task queue of each backup storage. The
// agent stores images in a directory and serves them over HTTP to KVM hosts,
// as ZStack's ImageStore backup storage does. Both sides import this package;
// it imports nothing of ZCloud's but models.
package bsapi

import (
	"net/http"
	"time"
)

// QueuePrefix starts the name of every backup storage's task queue.
const QueuePrefix = "bs-"

// Queue is the task queue that only the agent of bsUUID polls.
func Queue(bsUUID string) string { return QueuePrefix + bsUUID }

// AgentVersion is the version of this contract, reported by Connect so that
// the control plane can refuse an agent it does not speak to.
const AgentVersion = "1"

// Type is the backup storage type the agent implements, as ZStack names it.
const Type = "ImageStoreBackupStorage"

// Activity names served on a backup storage queue. Every one is idempotent:
// calling it twice with the same params has the effect of calling it once.
const (
	// ActConnect identifies the agent and reports its capacity and URL.
	ActConnect = "bs.Connect"
	// ActStats reports the capacity of the store.
	ActStats = "bs.Stats"
	// ActDownloadImage fetches an image from a URL into the store. It
	// heartbeats a DownloadProgress and resumes from it when retried.
	ActDownloadImage = "bs.DownloadImage"
	// ActDeleteImage removes an image; a missing one is not an error.
	ActDeleteImage = "bs.DeleteImage"
	// ActGetImage describes a stored image, or fails with ErrTypeNotFound.
	ActGetImage = "bs.GetImage"
	// ActAllowUpload lets one uploader PUT an image's file (a host pushing
	// a VM volume to make an image of it) with a token.
	ActAllowUpload = "bs.AllowUpload"
	// ActImportFile finishes an upload allowed by ActAllowUpload, or takes
	// in a file written into the store over SFTP: it returns the stored
	// image (as DownloadImage would) and revokes the token.
	ActImportFile = "bs.ImportFile"
)

// Timeouts for callers of backup storage activities. A download heartbeats
// at least every HeartbeatEvery, so a caller sets HeartbeatTimeout to
// notice a dead agent long before StartToClose of a multi-GB image.
const (
	ScheduleToStart      = 10 * time.Second
	StartToClose         = 5 * time.Minute
	DownloadStartToClose = 6 * time.Hour
	HeartbeatEvery       = 2 * time.Second
	HeartbeatTimeout     = 30 * time.Second
)

// Error types carried by ApplicationErrors from the agent. All but
// ErrTypeFailed are non-retryable.
const (
	// ErrTypeInvalid: bad params (not a UUID, an unparsable or unsupported URL).
	ErrTypeInvalid = "Invalid"
	// ErrTypeNotFound: the image (GetImage, ImportFile) is not in the store.
	ErrTypeNotFound = "NotFound"
	// ErrTypeConflict: the image UUID is taken by an image of another source.
	ErrTypeConflict = "Conflict"
	// ErrTypeSourceNotFound: the origin has no such file (HTTP 404/410, or a
	// missing file:// path).
	ErrTypeSourceNotFound = "SourceNotFound"
	// ErrTypeSourceRefused: the origin refused the request (other HTTP 4xx).
	ErrTypeSourceRefused = "SourceRefused"
	// ErrTypeBadImage: the content is not a usable image (unknown format,
	// a qcow2 with a backing or external data file, corrupt).
	ErrTypeBadImage = "BadImage"
	// ErrTypeNoSpace: the store has not room enough for the image.
	ErrTypeNoSpace = "NoSpace"
	// ErrTypeUnsupported: the agent cannot do what was asked.
	ErrTypeUnsupported = "NotSupported"
	// ErrTypeFailed: anything else (network, origin 5xx, disk); retryable.
	ErrTypeFailed = "BackupStorageOperationFailed"
)

// Image formats the store keeps. ISO is told from raw by its CD001 magic.
const (
	FormatQCOW2 = "qcow2"
	FormatRaw   = "raw"
	FormatISO   = "iso"
)

// ImagePath is the URL path under which the agent's HTTP server serves the
// image file named file (e.g. "<uuid>.qcow2").
func ImagePath(file string) string { return "/images/" + file }

// UploadPath is the URL path that an uploader PUTs imageUUID's file to,
// sending the token as "Authorization: Bearer <token>".
func UploadPath(imageUUID string) string { return "/uploads/" + imageUUID }

// UploadMethod is the HTTP method of an upload.
const UploadMethod = http.MethodPut

// ConnectParams asks the agent to identify itself.
type ConnectParams struct {
	BackupStorageUUID string `json:"backupStorageUuid"`
}

// Capacity is the space of the file system holding the store.
type Capacity struct {
	TotalCapacity     int64 `json:"totalCapacity"`
	AvailableCapacity int64 `json:"availableCapacity"`
}

// ConnectResult is what the agent knows of itself.
type ConnectResult struct {
	BackupStorageUUID string `json:"backupStorageUuid"`
	AgentVersion      string `json:"agentVersion"`
	Type              string `json:"type"`
	// URL is the base of the agent's HTTP server, e.g. "http://10.0.0.5:7090".
	URL string `json:"url"`
	// StoreDir is the directory holding the images.
	StoreDir string `json:"storeDir"`
	Capacity
}

// StatsParams asks for the capacity.
type StatsParams struct {
	BackupStorageUUID string `json:"backupStorageUuid"`
}

// DownloadImageParams fetches URL into the store as image ImageUUID.
type DownloadImageParams struct {
	BackupStorageUUID string `json:"backupStorageUuid"`
	ImageUUID         string `json:"imageUuid"`
	// URL is http://, https:// or file:///absolute/path on the BS host.
	URL string `json:"url"`
	// Format is the caller's hint (qcow2, raw, iso). The agent detects the
	// real format and reports it; the hint is only logged when it differs.
	Format string `json:"format,omitempty"`
}

// DownloadProgress is the heartbeat detail of a download: what the control
// plane shows as the job's progress, and where a retry resumes.
type DownloadProgress struct {
	ImageUUID string `json:"imageUuid"`
	URL       string `json:"url"`
	// Phase is "download", then "inspect" (format and checksum) once all
	// bytes are in.
	Phase string `json:"phase"`
	// Done and Total are bytes; Total is -1 while the origin has not said.
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
	// Validator is the origin's ETag or Last-Modified, which a resumed
	// request sends as If-Range.
	Validator string `json:"validator,omitempty"`
}

// Download phases of DownloadProgress.
const (
	PhaseDownload = "download"
	PhaseInspect  = "inspect"
)

// ImageResult describes an image in the store.
type ImageResult struct {
	ImageUUID string `json:"imageUuid"`
	// InstallURL is where hosts fetch the image:
	// http://<bs>:<port>/images/<uuid>.<format>.
	InstallURL string `json:"installUrl"`
	// InstallPath is the image's file on the backup storage host.
	InstallPath string `json:"installPath"`
	Format      string `json:"format"`
	// Size is the virtual size (what a volume made of it holds); ActualSize
	// is the bytes of the file (ZStack's size and actualSize).
	Size       int64 `json:"size"`
	ActualSize int64 `json:"actualSize"`
	// MD5Sum is the hex MD5 of the file (ZStack's md5Sum), SHA256Sum its
	// hex SHA-256.
	MD5Sum    string `json:"md5Sum"`
	SHA256Sum string `json:"sha256Sum"`
	// SourceURL is where the image came from ("" for an upload).
	SourceURL string `json:"sourceUrl,omitempty"`
}

// DeleteImageParams removes an image, and any partial download or upload
// grant of it.
type DeleteImageParams struct {
	BackupStorageUUID string `json:"backupStorageUuid"`
	ImageUUID         string `json:"imageUuid"`
}

// GetImageParams asks about one image.
type GetImageParams struct {
	BackupStorageUUID string `json:"backupStorageUuid"`
	ImageUUID         string `json:"imageUuid"`
}

// AllowUploadParams lets the holder of Token PUT ImageUUID's file to
// UploadPath(ImageUUID) until ExpiresAt. The control plane makes the token
// (random, at least 16 bytes) and passes it to the uploader too; the agent
// keeps only its SHA-256. Calling it again with the same token is a no-op;
// with another token it replaces the grant.
type AllowUploadParams struct {
	BackupStorageUUID string    `json:"backupStorageUuid"`
	ImageUUID         string    `json:"imageUuid"`
	Token             string    `json:"token"`
	ExpiresAt         time.Time `json:"expiresAt"`
}

// AllowUploadResult tells where to upload.
type AllowUploadResult struct {
	// UploadURL is http://<bs>:<port>/uploads/<imageUuid>.
	UploadURL string `json:"uploadUrl"`
}

// ImportFileParams finishes the upload of ImageUUID.
type ImportFileParams struct {
	BackupStorageUUID string `json:"backupStorageUuid"`
	ImageUUID         string `json:"imageUuid"`
	// Written, when set, says the uploader wrote the file to
	// PartialFile(ImageUUID) itself (over SFTP) instead of PUTting it: the
	// agent checks it, inspects it and moves it into the store.
	Written *WrittenFile `json:"written,omitempty"`
}
