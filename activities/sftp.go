package activities

// SftpBSType is the Sftp backup storage's type, as ZStack names it.
const SftpBSType = "SftpBackupStorage"

// Sftp backup storage activities (activities/db/sftp.go). Prepare, the
// key removal and the update check reach the backup storage host over SSH
// and run on the control plane's queue; the others are local.
const (
	SftpBSPrepare      = "db.SftpBSPrepare"
	SftpBSRemoveKey    = "db.SftpBSRemoveKey"
	SftpBSCheckUpdate  = "db.SftpBSCheckUpdate"
	SftpBSRecordUpdate = "db.SftpBSRecordUpdate"
	SftpBSForgetUpdate = "db.SftpBSForgetUpdate"
	SftpBSUploadURL    = "db.SftpBSUploadURL"
)

// SftpUploadParams asks where HostUUID writes image ImageUUID on an Sftp
// backup storage (SftpBSUploadURL): an sftp:// URL of the file
// bsapi.PartialFile in its directory, the key sealed to the host.
type SftpUploadParams struct {
	BSUUID    string `json:"backupStorageUuid"`
	ImageUUID string `json:"imageUuid"`
	HostUUID  string `json:"hostUuid"`
}

// SftpBSUpdateParams changes how an Sftp backup storage is reached
// (UpdateSftpBackupStorage). Empty fields keep their value. A new password
// is never here: the API stored it under PendingUUID before the job
// started, so that it stays out of the job's history.
type SftpBSUpdateParams struct {
	BSUUID      string `json:"backupStorageUuid"`
	Hostname    string `json:"hostname,omitempty"`
	Username    string `json:"username,omitempty"`
	SSHPort     int    `json:"sshPort,omitempty"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// PendingUUID names the stored new password, if any.
	PendingUUID string `json:"pendingUuid,omitempty"`
}

// SftpBSCheckResult is what checking the new settings over SSH found.
type SftpBSCheckResult struct {
	// HostKey is the SHA256 fingerprint of the host's key.
	HostKey string `json:"hostKey"`
}

// SftpBSRecordParams saves checked settings.
type SftpBSRecordParams struct {
	SftpBSUpdateParams
	HostKey string `json:"hostKey"`
}
