//go:build libvirt

package libvirt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	virt "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/domainxml"
	"github.com/zcloud/zcloud/models"
)

// detachTimeout bounds the wait for a guest to release an unplugged disk;
// libvirt's own call returns after 5 s with the unplug still pending.
const detachTimeout = time.Minute

// domainXML reads and parses dom's XML: the running one (flags 0) or the
// definition (virt.DOMAIN_XML_INACTIVE).
func domainXML(dom *virt.Domain, flags virt.DomainXMLFlags) (*libvirtxml.Domain, error) {
	doc, err := dom.GetXMLDesc(flags)
	if err != nil {
		return nil, fmt.Errorf("domain xml: %w", err)
	}
	var x libvirtxml.Domain
	if err := x.Unmarshal(doc); err != nil {
		return nil, fmt.Errorf("parse domain xml: %w", err)
	}
	return &x, nil
}

// findDisk returns x's disk of a volume, known by its user alias or its
// file, or nil.
func findDisk(x *libvirtxml.Domain, volUUID, path string) *libvirtxml.DomainDisk {
	if x.Devices == nil {
		return nil
	}
	alias := "ua-" + strings.ToLower(volUUID)
	for i, disk := range x.Devices.Disks {
		if disk.Alias != nil && disk.Alias.Name == alias {
			return &x.Devices.Disks[i]
		}
		if disk.Source != nil && disk.Source.File != nil && disk.Source.File.File == path {
			return &x.Devices.Disks[i]
		}
	}
	return nil
}

// diskWithTarget returns x's disk or CD-ROM on target dev, or nil.
func diskWithTarget(x *libvirtxml.Domain, dev string) *libvirtxml.DomainDisk {
	if x.Devices == nil {
		return nil
	}
	for i, disk := range x.Devices.Disks {
		if disk.Target != nil && disk.Target.Dev == dev {
			return &x.Devices.Disks[i]
		}
	}
	return nil
}

// busOf is the bus of x's disks (the first one with device "disk"): the
// platform the domain was built for chose it, and a new disk takes the same.
func busOf(x *libvirtxml.Domain) (string, error) {
	if x.Devices != nil {
		for _, disk := range x.Devices.Disks {
			if disk.Device == "disk" && disk.Target != nil && disk.Target.Bus != "" {
				return disk.Target.Bus, nil
			}
		}
	}
	return "", fmt.Errorf("domain %s has no disk to take the bus from", x.Name)
}

func machineOf(x *libvirtxml.Domain) string {
	if x.OS == nil || x.OS.Type == nil {
		return ""
	}
	return x.OS.Type.Machine
}

// isRoot reports whether a disk target is the first of its bus (vda, hda,
// sda): the root volume's, which never detaches.
func isRoot(dev string) bool {
	return len(dev) == 3 && dev[2] == 'a'
}

// AttachVolume plugs an instantiated volume into the domain's definition
// and, when it runs, into the running guest (hot-plug), on the device its
// DeviceID names (1 = vdb). An attached volume stays attached; a device name
// another disk holds is a conflict.
func (d *Driver) AttachVolume(_ context.Context, vmUUID string, vol hostapi.VolumeSpec) (string, error) {
	dev, err := d.attach(vmUUID, vol)
	if err != nil {
		return "", fail("attach volume", err)
	}
	return dev, nil
}

func (d *Driver) attach(vmUUID string, vol hostapi.VolumeSpec) (string, error) {
	if err := checkVMUUID(vmUUID); err != nil {
		return "", err
	}
	if vol.DeviceID < 1 {
		return "", models.Invalid("data volume %s needs a device id of 1 or more, not %d", vol.UUID, vol.DeviceID)
	}
	path, err := d.volumePath(vol)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err != nil {
		return "", models.Invalid("volume %s is not instantiated on this host: %v", vol.UUID, err)
	}
	return d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		config, err := domainXML(dom, virt.DOMAIN_XML_INACTIVE)
		if err != nil {
			return "", err
		}
		bus, err := busOf(config)
		if err != nil {
			return "", err
		}
		spec, err := d.volumeDisk(vol)
		if err != nil {
			return "", err
		}
		spec.Bus = bus
		disk, err := domainxml.HotplugDisk(machineOf(config), spec)
		if err != nil {
			return "", err
		}
		dev := disk.Target.Dev
		diskXML, err := disk.Marshal()
		if err != nil {
			return "", fmt.Errorf("disk xml: %w", err)
		}
		if err := plugged(config, vol.UUID, path, dev); err != nil {
			if !errors.Is(err, errNotPlugged) {
				return "", err
			}
			if err := dom.AttachDeviceFlags(diskXML, virt.DOMAIN_DEVICE_MODIFY_CONFIG); err != nil {
				return "", fmt.Errorf("attach %s to the definition: %w", dev, err)
			}
		}
		active, err := dom.IsActive()
		if err != nil || !active {
			return dev, err
		}
		live, err := domainXML(dom, 0)
		if err != nil {
			return "", err
		}
		if err := plugged(live, vol.UUID, path, dev); err != nil {
			if !errors.Is(err, errNotPlugged) {
				return "", err
			}
			if err := dom.AttachDeviceFlags(diskXML, virt.DOMAIN_DEVICE_MODIFY_LIVE); err != nil {
				return "", fmt.Errorf("hot-plug %s: %w", dev, err)
			}
		}
		return dev, nil
	})
}

// errNotPlugged says a volume is not in a domain XML and its device is free.
var errNotPlugged = errors.New("not plugged")

// plugged checks a volume in one domain XML: nil when it is there on dev,
// errNotPlugged when it is not and dev is free, a conflict otherwise.
func plugged(x *libvirtxml.Domain, volUUID, path, dev string) error {
	if have := findDisk(x, volUUID, path); have != nil {
		if have.Target != nil && have.Target.Dev == dev {
			return nil
		}
		return models.Conflict("volume %s is attached to domain %s on another device", volUUID, x.Name)
	}
	if other := diskWithTarget(x, dev); other != nil {
		return models.Conflict("device %s of domain %s holds another disk", dev, x.Name)
	}
	return errNotPlugged
}

// DetachVolume unplugs a volume from the running guest, waits until the
// guest released it, and removes it from the definition. A volume not
// attached, or a missing domain, is fine; the root volume never detaches.
func (d *Driver) DetachVolume(ctx context.Context, vmUUID string, vol hostapi.VolumeSpec) error {
	if err := d.detach(ctx, vmUUID, vol); err != nil {
		return fail("detach volume", err)
	}
	return nil
}

func (d *Driver) detach(ctx context.Context, vmUUID string, vol hostapi.VolumeSpec) error {
	if err := checkVMUUID(vmUUID); err != nil {
		return err
	}
	path, err := d.volumePath(vol)
	if err != nil {
		return err
	}
	_, err = d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		active, err := dom.IsActive()
		if err != nil {
			return "", fmt.Errorf("domain state: %w", err)
		}
		if active {
			if err := unplug(ctx, dom, vol.UUID, path); err != nil {
				return "", err
			}
		}
		config, err := domainXML(dom, virt.DOMAIN_XML_INACTIVE)
		if err != nil {
			return "", err
		}
		if disk := findDisk(config, vol.UUID, path); disk != nil {
			if err := detachDisk(dom, disk, virt.DOMAIN_DEVICE_MODIFY_CONFIG); err != nil {
				return "", err
			}
		}
		return "", nil
	})
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	return err
}

// unplug removes a volume's disk from the running domain and polls until
// the guest has let go of it.
func unplug(ctx context.Context, dom *virt.Domain, volUUID, path string) error {
	deadline := time.Now().Add(detachTimeout)
	asked := false
	for {
		live, err := domainXML(dom, 0)
		if err != nil {
			return err
		}
		disk := findDisk(live, volUUID, path)
		if disk == nil {
			return nil
		}
		if !asked {
			if err := detachDisk(dom, disk, virt.DOMAIN_DEVICE_MODIFY_LIVE); err != nil {
				return err
			}
			asked = true
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the guest did not release %s within %s", disk.Target.Dev, detachTimeout)
		}
		t := time.NewTimer(jobPoll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the guest to release the disk: %w", ctx.Err())
		}
	}
}

func detachDisk(dom *virt.Domain, disk *libvirtxml.DomainDisk, flags virt.DomainDeviceModifyFlags) error {
	if disk.Target != nil && isRoot(disk.Target.Dev) {
		return models.Invalid("disk %s is the root volume: it does not detach", disk.Target.Dev)
	}
	doc, err := disk.Marshal()
	if err != nil {
		return fmt.Errorf("disk xml: %w", err)
	}
	if err := dom.DetachDeviceFlags(doc, flags); err != nil {
		return fmt.Errorf("detach %s: %w", disk.Target.Dev, err)
	}
	return nil
}

// diskUse is a domain with a disk on a volume file.
type diskUse struct {
	dom    *virt.Domain
	name   string
	target string
	// source is the disk's source element in the running domain, whose
	// index names QEMU's block node.
	source *libvirtxml.DomainDiskSource
}

// activeUser returns the running (or paused) domain with a disk on path, or
// nil; the caller frees its dom.
func activeUser(c *virt.Connect, path string) (*diskUse, error) {
	doms, err := c.ListAllDomains(virt.CONNECT_LIST_DOMAINS_ACTIVE)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	var found *diskUse
	for i := range doms {
		if found != nil {
			_ = doms[i].Free()
			continue
		}
		x, err := domainXML(&doms[i], 0)
		if isCode(err, virt.ERR_NO_DOMAIN) {
			_ = doms[i].Free()
			continue
		}
		if err != nil {
			_ = doms[i].Free()
			for j := i + 1; j < len(doms); j++ {
				_ = doms[j].Free()
			}
			return nil, err
		}
		if disk := findDisk(x, "", path); disk != nil && disk.Target != nil {
			found = &diskUse{dom: &doms[i], name: x.Name, target: disk.Target.Dev, source: disk.Source}
			continue
		}
		_ = doms[i].Free()
	}
	return found, nil
}

// runningUser names the running (or paused) domain with a disk on path, or
// "" when none has it.
func (d *Driver) runningUser(path string) (string, error) {
	return with(d, func(c *virt.Connect) (string, error) {
		u, err := activeUser(c, path)
		if err != nil || u == nil {
			return "", err
		}
		_ = u.dom.Free()
		return u.name, nil
	})
}

// statVolume stats a volume's file: models.ErrNotFound when missing.
func statVolume(vol hostapi.VolumeSpec, path string) error {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return models.NotFound("volume %s is not on this host", vol.UUID)
	}
	if err != nil {
		return fmt.Errorf("volume %s: %w", vol.UUID, err)
	}
	return nil
}
