package hostapi

// ActUploadVolumeImage makes an image of a volume: the host writes a
// standalone qcow2 (no backing file, no snapshots) of the volume at a
// snapshot, or of the volume now through a temporary snapshot named by the
// image UUID, and PUTs it to an ImageStore backup storage's upload URL or
// writes it over SFTP into an Sftp backup storage's directory.
const ActUploadVolumeImage = "host.UploadVolumeImage"

// UploadVolumeImageParams asks for the image ImageUUID of Volume.
type UploadVolumeImageParams struct {
	Volume VolumeSpec `json:"volume"`
	// SnapshotUUID is the snapshot to copy; empty copies the volume as it
	// is now, through a temporary internal snapshot named ImageUUID (taken
	// live when a domain runs on the volume, so the image is
	// crash-consistent) that is deleted afterwards.
	SnapshotUUID string `json:"snapshotUuid,omitempty"`
	ImageUUID    string `json:"imageUuid"`
	// UploadURL and Token are the backup storage's upload grant
	// (bsapi.AllowUploadResult and the token given to it), or UploadURL
	// is an SftpSource URL (no token) naming the file to write on an Sftp
	// backup storage. Empty on a simulated host writing to a simulated
	// backup storage.
	UploadURL string `json:"uploadUrl,omitempty"`
	Token     string `json:"token,omitempty"`
}

// UploadVolumeImageResult is the image as the backup storage stored it,
// or (over SFTP) as the host wrote it: format, bytes and MD5 of the file.
type UploadVolumeImageResult struct {
	Format string `json:"format"`
	// Size is the virtual size, ActualSize the bytes of the file.
	Size       int64  `json:"size"`
	ActualSize int64  `json:"actualSize"`
	MD5Sum     string `json:"md5Sum,omitempty"`
}
