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
	"github.com/zcloud/zcloud/hostworker/domainxml"
	"github.com/zcloud/zcloud/models"
)

// findNIC returns x's interface of a NIC, known by its user alias or its
// MAC, or nil.
func findNIC(x *libvirtxml.Domain, nicUUID, mac string) *libvirtxml.DomainInterface {
	if x.Devices == nil {
		return nil
	}
	alias := "ua-" + strings.ToLower(nicUUID)
	for i, iface := range x.Devices.Interfaces {
		if iface.Alias != nil && iface.Alias.Name == alias {
			return &x.Devices.Interfaces[i]
		}
		if mac != "" && iface.MAC != nil && strings.EqualFold(iface.MAC.Address, mac) {
			return &x.Devices.Interfaces[i]
		}
	}
	return nil
}

// nicModel is the model a hot-plugged NIC gets: its record's, else that of
// the domain's first NIC, else virtio.
func nicModel(x *libvirtxml.Domain, nic hostapi.NICSpec) string {
	if nic.Driver != "" {
		return nic.Driver
	}
	if x.Devices != nil {
		for _, iface := range x.Devices.Interfaces {
			if iface.Model != nil && iface.Model.Type != "" {
				return iface.Model.Type
			}
		}
	}
	return domainxml.NICVirtio
}

// AttachNIC plugs a NIC into the domain's definition and, when it runs,
// into the running guest (hot-plug); its tap is named after the NIC, as at
// define time. A NIC already plugged stays; a NIC without a bridge is
// errors.ErrUnsupported, as domainSpec defines no interface for it.
func (d *Driver) AttachNIC(_ context.Context, vmUUID string, nic hostapi.NICSpec) error {
	if err := d.attachNIC(vmUUID, nic); err != nil {
		return fail("attach nic", err)
	}
	return nil
}

func (d *Driver) attachNIC(vmUUID string, nic hostapi.NICSpec) error {
	if nic.Bridge == "" {
		return fmt.Errorf("nic %s has no bridge: plugging it into its l2 network: %w", nic.UUID, errors.ErrUnsupported)
	}
	_, err := d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		config, err := domainXML(dom, virt.DOMAIN_XML_INACTIVE)
		if err != nil {
			return "", err
		}
		iface, err := domainxml.HotplugNIC(domainxml.NIC{UUID: nic.UUID, MAC: nic.MAC, Bridge: nic.Bridge, Model: nicModel(config, nic)})
		if err != nil {
			return "", err
		}
		doc, err := iface.Marshal()
		if err != nil {
			return "", fmt.Errorf("interface xml: %w", err)
		}
		if findNIC(config, nic.UUID, nic.MAC) == nil {
			if err := dom.AttachDeviceFlags(doc, virt.DOMAIN_DEVICE_MODIFY_CONFIG); err != nil {
				return "", fmt.Errorf("attach nic %s to the definition: %w", nic.UUID, err)
			}
		}
		active, err := dom.IsActive()
		if err != nil || !active {
			return "", err
		}
		live, err := domainXML(dom, 0)
		if err != nil {
			return "", err
		}
		if findNIC(live, nic.UUID, nic.MAC) == nil {
			if err := dom.AttachDeviceFlags(doc, virt.DOMAIN_DEVICE_MODIFY_LIVE); err != nil {
				return "", fmt.Errorf("hot-plug nic %s: %w", nic.UUID, err)
			}
		}
		return "", nil
	})
	return err
}

// DetachNIC unplugs a NIC from the running guest, waits until it is gone,
// and removes it from the definition. A NIC not plugged, or a missing
// domain, is fine.
func (d *Driver) DetachNIC(ctx context.Context, vmUUID string, nic hostapi.NICSpec) error {
	_, err := d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		active, err := dom.IsActive()
		if err != nil {
			return "", fmt.Errorf("domain state: %w", err)
		}
		if active {
			if err := unplugNIC(ctx, dom, nic); err != nil {
				return "", err
			}
		}
		config, err := domainXML(dom, virt.DOMAIN_XML_INACTIVE)
		if err != nil {
			return "", err
		}
		if iface := findNIC(config, nic.UUID, nic.MAC); iface != nil {
			if err := detachNIC(dom, iface, virt.DOMAIN_DEVICE_MODIFY_CONFIG); err != nil {
				return "", err
			}
		}
		return "", nil
	})
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fail("detach nic", err)
	}
	return nil
}

// unplugNIC removes a NIC from the running domain and polls until the
// guest has let go of it.
func unplugNIC(ctx context.Context, dom *virt.Domain, nic hostapi.NICSpec) error {
	deadline := time.Now().Add(detachTimeout)
	asked := false
	for {
		live, err := domainXML(dom, 0)
		if err != nil {
			return err
		}
		iface := findNIC(live, nic.UUID, nic.MAC)
		if iface == nil {
			return nil
		}
		if !asked {
			if err := detachNIC(dom, iface, virt.DOMAIN_DEVICE_MODIFY_LIVE); err != nil {
				return err
			}
			asked = true
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the guest did not release nic %s within %s", nic.UUID, detachTimeout)
		}
		t := time.NewTimer(jobPoll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the guest to release nic %s: %w", nic.UUID, ctx.Err())
		}
	}
}

func detachNIC(dom *virt.Domain, iface *libvirtxml.DomainInterface, flags virt.DomainDeviceModifyFlags) error {
	doc, err := iface.Marshal()
	if err != nil {
		return fmt.Errorf("interface xml: %w", err)
	}
	if err := dom.DetachDeviceFlags(doc, flags); err != nil {
		name := "without mac"
		if iface.MAC != nil {
			name = iface.MAC.Address
		}
		return fmt.Errorf("detach interface %s: %w", name, err)
	}
	return nil
}
