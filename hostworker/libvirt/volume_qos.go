//go:build libvirt

package libvirt

import (
	"context"
	"errors"
	"fmt"

	virt "libvirt.org/go/libvirt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/domainxml"
	"github.com/zcloud/zcloud/models"
)

// volumeFormat is the file format of vol: qcow2 (the default) for every
// volume, raw for a blank data volume (shareable volumes are raw: two QEMU
// processes writing one qcow2 would corrupt its metadata).
func volumeFormat(vol hostapi.VolumeSpec) (string, error) {
	switch vol.Format {
	case "", domainxml.FormatQCOW2:
		return domainxml.FormatQCOW2, nil
	case domainxml.FormatRaw:
		if vol.Type == VolumeRoot || vol.ImageURL != "" || vol.ImageUUID != "" {
			return "", fmt.Errorf("volume %s: a raw volume from an image: %w", vol.UUID, errors.ErrUnsupported)
		}
		return domainxml.FormatRaw, nil
	}
	return "", fmt.Errorf("volume %s: format %q: %w: only qcow2 and raw", vol.UUID, vol.Format, errors.ErrUnsupported)
}

// ioTune is the <iotune> of a volume's QoS; nil is unlimited.
func ioTune(q *hostapi.VolumeQoS) *domainxml.IOTune {
	if q == nil || q.IsZero() {
		return nil
	}
	return &domainxml.IOTune{TotalBytesSec: q.TotalBandwidth, ReadBytesSec: q.ReadBandwidth, WriteBytesSec: q.WriteBandwidth,
		TotalIOPSSec: q.TotalIOPS, ReadIOPSSec: q.ReadIOPS, WriteIOPSSec: q.WriteIOPS}
}

// volumeDisk is the domain disk of vol: the libvirt side of every place a
// volume becomes a disk (define, hot-plug), so that its format, sharing and
// limits are the same everywhere.
func (d *Driver) volumeDisk(vol hostapi.VolumeSpec) (domainxml.Disk, error) {
	path, err := d.volumePath(vol)
	if err != nil {
		return domainxml.Disk{}, err
	}
	format, err := volumeFormat(vol)
	if err != nil {
		return domainxml.Disk{}, err
	}
	return domainxml.Disk{VolumeUUID: vol.UUID, Path: path, Format: format, DeviceID: vol.DeviceID,
		Shareable: vol.Shareable, IOTune: ioTune(vol.QoS)}, nil
}

// SetVolumeQoS gives vol.QoS (nil: unlimited) to the volume's disk in the
// domain: in the running guest (QEMU's throttling, virDomainSetBlockIoTune)
// and in the definition. The same limits again change nothing visible.
func (d *Driver) SetVolumeQoS(_ context.Context, vmUUID string, vol hostapi.VolumeSpec) error {
	if err := d.setVolumeQoS(vmUUID, vol); err != nil {
		return fail("set volume qos", err)
	}
	return nil
}

func (d *Driver) setVolumeQoS(vmUUID string, vol hostapi.VolumeSpec) error {
	disk, err := d.volumeDisk(vol)
	if err != nil {
		return err
	}
	var q hostapi.VolumeQoS
	if vol.QoS != nil {
		q = *vol.QoS
	}
	if err := domainxml.CheckIOTune(disk.IOTune); err != nil {
		return err
	}
	_, err = d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		active, err := dom.IsActive()
		if err != nil {
			return "", fmt.Errorf("domain state: %w", err)
		}
		flags := virt.DOMAIN_AFFECT_CONFIG
		xmlFlags := virt.DOMAIN_XML_INACTIVE
		if active {
			flags |= virt.DOMAIN_AFFECT_LIVE
			xmlFlags = 0
		}
		x, err := domainXML(dom, xmlFlags)
		if err != nil {
			return "", err
		}
		have := findDisk(x, vol.UUID, disk.Path)
		if have == nil || have.Target == nil {
			return "", models.Invalid("volume %s is not attached to vm %s", vol.UUID, vmUUID)
		}
		params := &virt.DomainBlockIoTuneParameters{
			TotalBytesSecSet: true, TotalBytesSec: uint64(q.TotalBandwidth),
			ReadBytesSecSet: true, ReadBytesSec: uint64(q.ReadBandwidth),
			WriteBytesSecSet: true, WriteBytesSec: uint64(q.WriteBandwidth),
			TotalIopsSecSet: true, TotalIopsSec: uint64(q.TotalIOPS),
			ReadIopsSecSet: true, ReadIopsSec: uint64(q.ReadIOPS),
			WriteIopsSecSet: true, WriteIopsSec: uint64(q.WriteIOPS),
		}
		if err := dom.SetBlockIoTune(have.Target.Dev, params, flags); err != nil {
			return "", fmt.Errorf("block io tune of %s: %w", have.Target.Dev, err)
		}
		return "", nil
	})
	return err
}

// VolumeQoS reads the limits QEMU applies to the volume's disk in the
// running domain (virDomainGetBlockIoTune).
func (d *Driver) VolumeQoS(_ context.Context, vmUUID string, vol hostapi.VolumeSpec) (hostapi.VolumeQoS, error) {
	q, err := d.volumeQoS(vmUUID, vol)
	if err != nil {
		return hostapi.VolumeQoS{}, fail("get volume qos", err)
	}
	return q, nil
}

func (d *Driver) volumeQoS(vmUUID string, vol hostapi.VolumeSpec) (hostapi.VolumeQoS, error) {
	path, err := d.volumePath(vol)
	if err != nil {
		return hostapi.VolumeQoS{}, err
	}
	var q hostapi.VolumeQoS
	_, err = d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		active, err := dom.IsActive()
		if err != nil {
			return "", fmt.Errorf("domain state: %w", err)
		}
		if !active {
			return "", models.Conflict("vm %s is not running", vmUUID)
		}
		x, err := domainXML(dom, 0)
		if err != nil {
			return "", err
		}
		have := findDisk(x, vol.UUID, path)
		if have == nil || have.Target == nil {
			return "", models.Invalid("volume %s is not attached to vm %s", vol.UUID, vmUUID)
		}
		p, err := dom.GetBlockIoTune(have.Target.Dev, virt.DOMAIN_AFFECT_LIVE)
		if err != nil {
			return "", fmt.Errorf("block io tune of %s: %w", have.Target.Dev, err)
		}
		q = hostapi.VolumeQoS{TotalBandwidth: int64(p.TotalBytesSec), ReadBandwidth: int64(p.ReadBytesSec),
			WriteBandwidth: int64(p.WriteBytesSec), TotalIOPS: int64(p.TotalIopsSec), ReadIOPS: int64(p.ReadIopsSec),
			WriteIOPS: int64(p.WriteIopsSec)}
		return "", nil
	})
	return q, err
}
