package hostapi

// Volume QoS activities: limits applied to a volume's disk in a running
// domain (and its definition), and read back from the hypervisor.
const (
	ActSetVolumeQoS = "host.SetVolumeQoS"
	ActGetVolumeQoS = "host.GetVolumeQoS"
)

// VolumeQoS limits a volume's I/O, in bytes and operations per second; zero
// is unlimited. A total limit excludes the read and write limits of the same
// unit, as in libvirt's <iotune>.
type VolumeQoS struct {
	TotalBandwidth int64 `json:"totalBandwidth,omitempty"`
	ReadBandwidth  int64 `json:"readBandwidth,omitempty"`
	WriteBandwidth int64 `json:"writeBandwidth,omitempty"`
	TotalIOPS      int64 `json:"totalIops,omitempty"`
	ReadIOPS       int64 `json:"readIops,omitempty"`
	WriteIOPS      int64 `json:"writeIops,omitempty"`
}

// IsZero reports whether q limits nothing.
func (q VolumeQoS) IsZero() bool { return q == VolumeQoS{} }

// SetVolumeQoSParams gives Volume.QoS (nil: unlimited) to the volume's disk
// in the VM's domain: live when it runs and in its definition. Setting the
// limits it has succeeds; a missing domain is models.ErrNotFound, a volume
// not in it models.ErrInvalid.
type SetVolumeQoSParams struct {
	VMUUID string     `json:"vmUuid"`
	Volume VolumeSpec `json:"volume"`
}

// GetVolumeQoSParams asks for the limits a running domain applies to a
// volume's disk.
type GetVolumeQoSParams struct {
	VMUUID string     `json:"vmUuid"`
	Volume VolumeSpec `json:"volume"`
}
