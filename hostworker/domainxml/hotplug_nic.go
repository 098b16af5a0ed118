package domainxml

import (
	"fmt"

	"libvirt.org/go/libvirtxml"
)

// HotplugNIC returns the <interface> element that Build writes for n, for
// attaching n to a defined or running domain. n.Model must be set: the
// platform that would choose it is not in the domain, so the driver takes
// it from the NIC's record or the domain's other NICs.
func HotplugNIC(n NIC) (*libvirtxml.DomainInterface, error) {
	if n.Model == "" {
		return nil, fmt.Errorf("domain xml: nic %s: %w", n.UUID, invalid("model is empty"))
	}
	b := &builder{d: &libvirtxml.Domain{Devices: &libvirtxml.DomainDeviceList{}}}
	iface, err := b.nic(n, map[string]bool{}, map[string]bool{})
	if err != nil {
		return nil, fmt.Errorf("domain xml: nic %s: %w", n.UUID, err)
	}
	return &iface, nil
}
