package bsapi

// PartialFile is the file, relative to the store directory, holding image
// imageUUID (lower case) while it arrives: a download or an HTTP upload in
// progress, or the file that an uploader with SSH access to the store (a
// KVM host writing to an Sftp backup storage over SFTP) writes before
// ActImportFile with ImportFileParams.Written takes it in. Deleting the
// image removes it.
func PartialFile(imageUUID string) string { return "partial/" + imageUUID + ".part" }

// WrittenFile is what an uploader wrote to PartialFile: the agent imports
// the file only when it holds these bytes.
type WrittenFile struct {
	ActualSize int64  `json:"actualSize"`
	MD5Sum     string `json:"md5Sum"`
}
