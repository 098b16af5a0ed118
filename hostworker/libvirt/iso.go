//go:build libvirt

package libvirt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	virt "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// cdromOf returns x's first CD-ROM drive, or nil.
func cdromOf(x *libvirtxml.Domain) *libvirtxml.DomainDisk {
	if x.Devices == nil {
		return nil
	}
	for i := range x.Devices.Disks {
		if x.Devices.Disks[i].Device == "cdrom" {
			return &x.Devices.Disks[i]
		}
	}
	return nil
}

// cdromFile is the file in a CD-ROM drive; "" when empty.
func cdromFile(disk *libvirtxml.DomainDisk) string {
	if disk.Source == nil || disk.Source.File == nil {
		return ""
	}
	return disk.Source.File.File
}

// AttachISO fetches the ISO into the image cache (once per image, like a
// root volume's image) and inserts it into the domain's CD-ROM drive.
func (d *Driver) AttachISO(ctx context.Context, vmUUID string, iso hostapi.ISOSpec) error {
	if err := checkVMUUID(vmUUID); err != nil {
		return fail("attach iso", err)
	}
	img, err := d.cachedImage(ctx, iso.ImageUUID, iso.URL)
	if err != nil {
		return fail("attach iso", fmt.Errorf("iso %s: %w", iso.ImageUUID, err))
	}
	_, err = d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		return "", changeMedia(dom, vmUUID, img.path)
	})
	if err != nil {
		return fail("attach iso", err)
	}
	return nil
}

// DetachISO ejects the domain's CD-ROM; an empty drive or a missing domain
// is fine.
func (d *Driver) DetachISO(_ context.Context, vmUUID string) error {
	if err := checkVMUUID(vmUUID); err != nil {
		return fail("detach iso", err)
	}
	_, err := d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		return "", changeMedia(dom, vmUUID, "")
	})
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fail("detach iso", err)
	}
	return nil
}

// changeMedia puts path (empty: nothing) into the domain's CD-ROM drive, in
// the running domain (a media change, which the guest sees as a disc
// inserted or ejected) and in the definition; a drive already holding path
// is left alone.
func changeMedia(dom *virt.Domain, vmUUID, path string) error {
	active, err := dom.IsActive()
	if err != nil {
		return fmt.Errorf("domain active: %w", err)
	}
	for _, live := range []bool{false, true} {
		if live && !active {
			continue
		}
		flags, modify := virt.DOMAIN_XML_INACTIVE, virt.DOMAIN_DEVICE_MODIFY_CONFIG
		if live {
			flags, modify = 0, virt.DOMAIN_DEVICE_MODIFY_LIVE
		}
		x, err := domainXML(dom, flags)
		if err != nil {
			return err
		}
		disk := cdromOf(x)
		if disk == nil {
			return models.Conflict("vm %s has no cd-rom drive (defined before drives were added: restart it)", vmUUID)
		}
		if cdromFile(disk) == path {
			continue
		}
		disk.Source = &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: path}}
		if path == "" {
			disk.Source = nil
		}
		doc, err := disk.Marshal()
		if err != nil {
			return fmt.Errorf("marshal cd-rom: %w", err)
		}
		// Without FORCE libvirt opens the tray and waits for it; with FORCE
		// QEMU refuses to insert into an empty closed tray ("Tray of the
		// device is not open"). A guest that locked the tray is ejected with
		// FORCE.
		err = dom.UpdateDeviceFlags(doc, modify)
		// A guest still probing its drive can close the tray between
		// libvirt opening it and QEMU inserting (CI saw a booting TCG guest
		// do so for over 3 s): the tray settles, try again for a while.
		for deadline := time.Now().Add(trayRetryFor); err != nil && live && path != "" && trayNotOpen(err) && time.Now().Before(deadline); {
			time.Sleep(300 * time.Millisecond)
			err = dom.UpdateDeviceFlags(doc, modify)
		}
		if err != nil && path == "" && live {
			err = dom.UpdateDeviceFlags(doc, modify|virt.DOMAIN_DEVICE_MODIFY_FORCE)
		}
		if err != nil {
			return fmt.Errorf("change cd-rom media: %w", err)
		}
	}
	return nil
}

// trayRetryFor bounds how long a media change waits for a guest that keeps
// closing its tray.
const trayRetryFor = 20 * time.Second

// trayNotOpen tells QEMU's refusal to change the medium of a closed tray,
// worded "Tray of the device is not open" by one command and "Tray of device
// 'ide0-0-0' is not open" by another (blockdev-remove-medium).
func trayNotOpen(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Tray of ") && strings.Contains(msg, " is not open")
}
