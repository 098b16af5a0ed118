package hostapi

// Host activities of CloneVmInstance and ReimageVmInstance.
const (
	// ActCloneVolume copies a volume as it is now, while a domain runs on
	// it or not (CloneVolumeParams).
	ActCloneVolume = "host.CloneVolume"
	// ActReimageVolume re-creates a root volume from its image
	// (ReimageVolumeParams).
	ActReimageVolume = "host.ReimageVolume"
)

// CloneVolumeParams makes Target a copy of Volume as it is now. The copy
// keeps Volume's backing file (a root volume's cached image), so that it is
// what instantiating Target from the same image would have made, with the
// source's writes on top. A running domain may use Volume: the copy is then
// read from a temporary internal snapshot named Target.UUID, deleted when
// done, so it is a crash-consistent point in time. Making it again returns
// the one made.
type CloneVolumeParams struct {
	Volume VolumeSpec `json:"volume"`
	Target VolumeSpec `json:"target"`
}

// ReimageVolumeParams re-creates a root volume from its image
// (Volume.ImageUUID and ImageURL) at the same install path: the new file is
// made beside the old one and renamed over it, so a failure keeps the old
// disk. No running domain may use the volume, and a volume holding
// snapshots is refused (they live in its file and would be lost).
type ReimageVolumeParams struct {
	Volume VolumeSpec `json:"volume"`
}
