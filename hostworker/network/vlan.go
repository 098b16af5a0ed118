package network

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ensureVLANDevice creates <phys>.<vlan>. Kernels built without CONFIG_VLAN_8021Q refuse the
// "vlan" link kind; the error then wraps both the kernel's errno and errors.ErrUnsupported.
func (h *Host) ensureVLANDevice(l L2) (netlink.Link, error) {
	name := l.UplinkName()
	existing, err := linkByName(h.nl, name)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		v, ok := existing.(*netlink.Vlan)
		if !ok || v.VlanId != l.VLAN {
			return nil, fmt.Errorf("%s exists but is not vlan %d on %s", name, l.VLAN, l.PhysicalInterface)
		}
		return existing, nil
	}
	parent, err := linkByName(h.nl, l.PhysicalInterface)
	if err != nil {
		return nil, err
	}
	if parent == nil {
		return nil, fmt.Errorf("physical interface %s not found", l.PhysicalInterface)
	}
	dev := &netlink.Vlan{
		LinkAttrs:    netlink.LinkAttrs{Name: name, ParentIndex: parent.Attrs().Index},
		VlanId:       l.VLAN,
		VlanProtocol: netlink.VLAN_PROTOCOL_8021Q,
	}
	if err := h.nl.LinkAdd(dev); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) {
			return nil, fmt.Errorf("create 802.1Q device %s: kernel has no 802.1Q VLAN support: %w: %w",
				name, errors.ErrUnsupported, err)
		}
		return nil, fmt.Errorf("create 802.1Q device %s: %w", name, err)
	}
	if err := h.nl.LinkSetUp(parent); err != nil {
		return nil, fmt.Errorf("set %s up: %w", l.PhysicalInterface, err)
	}
	return h.nl.LinkByName(name)
}
