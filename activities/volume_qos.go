package activities

import (
	"strconv"
	"strings"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// Activities of volume QoS and shareable volumes.
const (
	VolumeQoSSet      = "db.VolumeQoSSet"
	VolumeQoSTarget   = "db.VolumeQoSTarget"
	VolumeShareAttach = "db.VolumeShareAttach"
	VolumeShareDetach = "db.VolumeShareDetach"
	VolumeShareRefs   = "db.VolumeShareRefs"
)

// VolumeShareableTag is the system tag that makes a new data volume
// shareable (ZStack's VolumeSystemTags.SHAREABLE).
const VolumeShareableTag = "shareable"

// ZStack's volume QoS modes (MevocoVolumeConstants).
const (
	volumeQoSModeTotal     = "total"
	volumeQoSModeRead      = "read"
	volumeQoSModeWrite     = "write"
	volumeQoSModeAll       = "all"
	volumeQoSModeOverwrite = "overwrite"
)

// VolumeQoSChange is SetVolumeQos (the limits given), DeleteVolumeQos
// (Delete: the mode) or a compensation putting limits back (Replace).
type VolumeQoSChange struct {
	VolumeUUID string `json:"volumeUuid"`
	// ZStack's first form: one bandwidth for Mode total, read or write.
	Mode            string `json:"mode,omitempty"`
	VolumeBandwidth int64  `json:"volumeBandwidth,omitempty"`
	// The second form: any of the six limits.
	Limits hostapi.VolumeQoS `json:"limits"`
	// Delete is DeleteVolumeQos's mode: total, read, write, all or
	// overwrite (all limits, as all).
	Delete  string             `json:"delete,omitempty"`
	Replace *hostapi.VolumeQoS `json:"replace,omitempty"`
}

// VolumeQoSResult is a volume's limits before and after a change, with
// where its VM runs, if it does.
type VolumeQoSResult struct {
	Prev   hostapi.VolumeQoS  `json:"prev"`
	New    hostapi.VolumeQoS  `json:"new"`
	Volume hostapi.VolumeSpec `json:"volume"`
	// VMUUID, VMHostUUID and VMState are the VM the volume is attached to.
	VMUUID     string `json:"vmUuid"`
	VMHostUUID string `json:"vmHostUuid"`
	VMState    string `json:"vmState"`
}

// Validate checks a SetVolumeQos request as ZStack's API interceptor does;
// the ranges of each value are the API table's.
func (c VolumeQoSChange) Validate() error {
	l := c.Limits
	if !l.IsZero() {
		switch {
		case c.Mode != "" || c.VolumeBandwidth != 0:
			return models.Invalid("cannot set legacy params (mode, volumeBandwidth) and new params at the same time")
		case l.TotalIOPS != 0 && (l.ReadIOPS != 0 || l.WriteIOPS != 0):
			return models.Invalid("cannot set the read/write and the total IOPS limits at the same time")
		case l.TotalBandwidth != 0 && (l.ReadBandwidth != 0 || l.WriteBandwidth != 0):
			return models.Invalid("cannot set the read/write and the total bandwidth limits at the same time")
		}
		for _, v := range []int64{l.TotalBandwidth, l.ReadBandwidth, l.WriteBandwidth, l.TotalIOPS, l.ReadIOPS, l.WriteIOPS} {
			if v < 0 {
				return models.Invalid("volume qos limits may not be negative")
			}
		}
		return nil
	}
	if c.VolumeBandwidth <= 0 {
		return models.Invalid("the volume bandwidth cannot be null, must give a volume bandwidth value")
	}
	switch c.Mode {
	case "", volumeQoSModeTotal, volumeQoSModeRead, volumeQoSModeWrite:
		return nil
	}
	return models.Invalid("mode %q is not total, read or write", c.Mode)
}

// Apply is the limits a volume has after the change, from cur. A total
// limit replaces the read and write limits of its unit and either of those
// replaces the total, as libvirt cannot have both.
func (c VolumeQoSChange) Apply(cur hostapi.VolumeQoS) (hostapi.VolumeQoS, error) {
	if c.Replace != nil {
		return *c.Replace, nil
	}
	if c.Delete != "" {
		switch c.Delete {
		case volumeQoSModeTotal:
			cur.TotalBandwidth = 0
		case volumeQoSModeRead:
			cur.ReadBandwidth = 0
		case volumeQoSModeWrite:
			cur.WriteBandwidth = 0
		case volumeQoSModeAll, volumeQoSModeOverwrite:
			cur = hostapi.VolumeQoS{}
		default:
			return cur, models.Invalid("mode %q is not total, read, write, all or overwrite", c.Delete)
		}
		return cur, nil
	}
	if err := c.Validate(); err != nil {
		return cur, err
	}
	l := c.Limits
	if l.IsZero() {
		switch c.Mode {
		case volumeQoSModeRead:
			l.ReadBandwidth = c.VolumeBandwidth
		case volumeQoSModeWrite:
			l.WriteBandwidth = c.VolumeBandwidth
		default:
			l.TotalBandwidth = c.VolumeBandwidth
		}
	}
	switch {
	case l.TotalBandwidth != 0:
		cur.TotalBandwidth, cur.ReadBandwidth, cur.WriteBandwidth = l.TotalBandwidth, 0, 0
	case l.ReadBandwidth != 0 || l.WriteBandwidth != 0:
		cur.TotalBandwidth = 0
		cur.ReadBandwidth = cmpOr(l.ReadBandwidth, cur.ReadBandwidth)
		cur.WriteBandwidth = cmpOr(l.WriteBandwidth, cur.WriteBandwidth)
	}
	switch {
	case l.TotalIOPS != 0:
		cur.TotalIOPS, cur.ReadIOPS, cur.WriteIOPS = l.TotalIOPS, 0, 0
	case l.ReadIOPS != 0 || l.WriteIOPS != 0:
		cur.TotalIOPS = 0
		cur.ReadIOPS = cmpOr(l.ReadIOPS, cur.ReadIOPS)
		cur.WriteIOPS = cmpOr(l.WriteIOPS, cur.WriteIOPS)
	}
	return cur, nil
}

func cmpOr(v, otherwise int64) int64 {
	if v != 0 {
		return v
	}
	return otherwise
}

// volumeQoSKeys are the names of the limits in a volume's volumeQos
// string, the API's parameter names.
var volumeQoSKeys = []string{"totalBandwidth", "readBandwidth", "writeBandwidth", "totalIOPS", "readIOPS", "writeIOPS"}

func qosFields(q *hostapi.VolumeQoS) []*int64 {
	return []*int64{&q.TotalBandwidth, &q.ReadBandwidth, &q.WriteBandwidth, &q.TotalIOPS, &q.ReadIOPS, &q.WriteIOPS}
}

// FormatVolumeQoS is the volumeQos string of limits: "key=value" pairs of
// the limits set, comma separated; empty when unlimited.
func FormatVolumeQoS(q hostapi.VolumeQoS) string {
	var parts []string
	for i, f := range qosFields(&q) {
		if *f != 0 {
			parts = append(parts, volumeQoSKeys[i]+"="+strconv.FormatInt(*f, 10))
		}
	}
	return strings.Join(parts, ",")
}

// ParseVolumeQoS reads a volumeQos string (FormatVolumeQoS); unknown keys
// and bad values are skipped, as ZStack skips them.
func ParseVolumeQoS(s string) hostapi.VolumeQoS {
	var q hostapi.VolumeQoS
	fields := qosFields(&q)
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			continue
		}
		for i, key := range volumeQoSKeys {
			if k == key {
				*fields[i] = n
			}
		}
	}
	return q
}

// VolumeQoSOf is the limits of a volume record for its host spec: nil when
// unlimited.
func VolumeQoSOf(v models.Volume) *hostapi.VolumeQoS {
	q := ParseVolumeQoS(string(v.VolumeQos))
	if q.IsZero() {
		return nil
	}
	return &q
}

// VolumeShareParams attaches (or detaches) a shareable volume to a VM.
type VolumeShareParams struct {
	VolumeUUID string `json:"volumeUuid"`
	VMUUID     string `json:"vmUuid"`
}

// VolumeShareAttachResult is the device number the volume got in the VM;
// Existed says it was attached already.
type VolumeShareAttachResult struct {
	DeviceID int  `json:"deviceId"`
	Existed  bool `json:"existed"`
}

// VolumeShareRef is one VM a shareable volume is attached to.
type VolumeShareRef struct {
	VMUUID     string `json:"vmUuid"`
	DeviceID   int    `json:"deviceId"`
	VMState    string `json:"vmState"`
	VMHostUUID string `json:"vmHostUuid"`
}
