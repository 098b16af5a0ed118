package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/vishvananda/netlink"
)

// L2Type is a ZStack L2 network type.
type L2Type string

// The L2 network types a host can realise.
const (
	L2NoVlan L2Type = "L2NoVlanNetwork"
	L2Vlan   L2Type = "L2VlanNetwork"
	L2VXLAN  L2Type = "VxlanNetwork"
)

// ErrInUse is returned when a bridge still has ports other than its uplink.
var ErrInUse = errors.New("in use")

// VXLANPort is the IANA VXLAN UDP port every VTEP uses.
const VXLANPort = 4789

// vxlanOverhead is the outer Ethernet+IPv4+UDP+VXLAN header size a VXLAN device costs.
const vxlanOverhead = 50

// L2 describes the part of an L2 network a host needs. Field names follow L2NetworkInventory,
// L2VlanNetworkInventory and L2VxlanNetworkInventory.
type L2 struct {
	Type L2Type
	// PhysicalInterface is the host NIC for NoVlan and Vlan networks (same name on every host
	// of a cluster).
	PhysicalInterface string
	// VLAN is the 802.1Q id (1-4094) of a Vlan network.
	VLAN int
	// VNI is the VXLAN network identifier of a VxlanNetwork.
	VNI int
	// VTEPIP is this host's VTEP address; the underlay device is the one holding it.
	VTEPIP netip.Addr
	// Peers are the other hosts' VTEPs; broadcast, unknown unicast and multicast go to all.
	Peers []netip.Addr
	// MTU, when set, is applied to the uplink and the bridge; otherwise the kernel default
	// (the uplink's MTU; underlay minus 50 for VXLAN) stands.
	MTU int
}

// BridgeName is the ZStack name of the L2's bridge: br_<phys>, br_<phys>_<vlan>, br_vx_<vni>.
func (l L2) BridgeName() string {
	switch l.Type {
	case L2Vlan:
		return "br_" + l.PhysicalInterface + "_" + strconv.Itoa(l.VLAN)
	case L2VXLAN:
		return "br_vx_" + strconv.Itoa(l.VNI)
	default:
		return "br_" + l.PhysicalInterface
	}
}

// UplinkName is the bridge port that leaves the host: the NIC, <phys>.<vlan> or vxlan<vni>.
func (l L2) UplinkName() string {
	switch l.Type {
	case L2Vlan:
		return l.PhysicalInterface + "." + strconv.Itoa(l.VLAN)
	case L2VXLAN:
		return "vxlan" + strconv.Itoa(l.VNI)
	default:
		return l.PhysicalInterface
	}
}

func (l L2) validate() error {
	switch l.Type {
	case L2NoVlan, L2Vlan:
		if l.PhysicalInterface == "" {
			return fmt.Errorf("l2 %s needs a physical interface", l.Type)
		}
		if l.Type == L2Vlan && (l.VLAN < 1 || l.VLAN > 4094) {
			return fmt.Errorf("vlan id %d out of range 1-4094", l.VLAN)
		}
	case L2VXLAN:
		if l.VNI < 1 || l.VNI > 1<<24-1 {
			return fmt.Errorf("vni %d out of range 1-16777215", l.VNI)
		}
		if !l.VTEPIP.IsValid() {
			return errors.New("vxlan network needs a local vtep ip")
		}
	default:
		return fmt.Errorf("unknown l2 type %q", l.Type)
	}
	if err := checkIfName(l.BridgeName()); err != nil {
		return fmt.Errorf("bridge name: %w", err)
	}
	if err := checkIfName(l.UplinkName()); err != nil {
		return fmt.Errorf("uplink name: %w", err)
	}
	if l.MTU != 0 && (l.MTU < 68 || l.MTU > 65535) {
		return fmt.Errorf("mtu %d out of range 68-65535", l.MTU)
	}
	return nil
}

// EnsureBridge creates (or finds) the L2's bridge with its uplink enslaved and up, and returns
// the bridge name. For a Vlan network the 802.1Q device is created first; on a kernel without
// 802.1Q support that fails with an error wrapping errors.ErrUnsupported and nothing is left.
func (h *Host) EnsureBridge(ctx context.Context, l L2) (string, error) {
	if err := l.validate(); err != nil {
		return "", err
	}
	var uplink netlink.Link
	var err error
	switch l.Type {
	case L2NoVlan:
		uplink, err = linkByName(h.nl, l.PhysicalInterface)
		if err == nil && uplink == nil {
			err = fmt.Errorf("physical interface %s not found", l.PhysicalInterface)
		}
	case L2Vlan:
		uplink, err = h.ensureVLANDevice(l)
	case L2VXLAN:
		uplink, err = h.ensureVXLAN(l)
	}
	if err != nil {
		return "", err
	}
	br, err := h.ensureBridgeDevice(l.BridgeName())
	if err != nil {
		return "", err
	}
	if m := uplink.Attrs().MasterIndex; m != 0 && m != br.Attrs().Index {
		return "", fmt.Errorf("uplink %s already belongs to another bridge (ifindex %d): %w",
			l.UplinkName(), m, ErrInUse)
	}
	if l.MTU != 0 {
		if err := h.setMTU(uplink, l.MTU); err != nil {
			return "", err
		}
		if err := h.setMTU(br, l.MTU); err != nil {
			return "", err
		}
	}
	if uplink.Attrs().MasterIndex == 0 {
		if err := h.nl.LinkSetMaster(uplink, br); err != nil {
			return "", fmt.Errorf("enslave %s to %s: %w", l.UplinkName(), l.BridgeName(), err)
		}
	}
	if err := h.nl.LinkSetUp(uplink); err != nil {
		return "", fmt.Errorf("set %s up: %w", l.UplinkName(), err)
	}
	if l.Type == L2VXLAN {
		if err := h.UpdatePeers(ctx, l); err != nil {
			return "", err
		}
	}
	return l.BridgeName(), nil
}

func (h *Host) ensureBridgeDevice(name string) (netlink.Link, error) {
	br, err := linkByName(h.nl, name)
	if err != nil {
		return nil, err
	}
	if br == nil {
		if err := h.nl.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
			return nil, fmt.Errorf("create bridge %s: %w", name, err)
		}
		h.log.Info("created bridge", "bridge", name)
		if br, err = h.nl.LinkByName(name); err != nil {
			return nil, fmt.Errorf("look up bridge %s: %w", name, err)
		}
	} else if br.Type() != "bridge" {
		return nil, fmt.Errorf("%s exists and is a %s, not a bridge", name, br.Type())
	}
	if err := h.nl.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("set bridge %s up: %w", name, err)
	}
	return br, nil
}

func (h *Host) setMTU(l netlink.Link, mtu int) error {
	if l.Attrs().MTU == mtu {
		return nil
	}
	if err := h.nl.LinkSetMTU(l, mtu); err != nil {
		return fmt.Errorf("set mtu %d on %s: %w", mtu, l.Attrs().Name, err)
	}
	return nil
}

// bridgePorts lists the links enslaved to the bridge.
func (h *Host) bridgePorts(br netlink.Link) ([]netlink.Link, error) {
	links, err := h.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var ports []netlink.Link
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			ports = append(ports, l)
		}
	}
	return ports, nil
}

// DeleteBridge removes the L2's bridge and the uplink device this package created for it
// (802.1Q or VXLAN device); a physical NIC is only released. It refuses with ErrInUse while any
// port other than the uplink (a VM tap, a DHCP or EIP veth) remains. A missing bridge is fine.
func (h *Host) DeleteBridge(ctx context.Context, l L2) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := l.validate(); err != nil {
		return err
	}
	br, err := linkByName(h.nl, l.BridgeName())
	if err != nil {
		return err
	}
	if br != nil {
		ports, err := h.bridgePorts(br)
		if err != nil {
			return err
		}
		for _, p := range ports {
			if p.Attrs().Name != l.UplinkName() {
				return fmt.Errorf("bridge %s still has port %s: %w", l.BridgeName(), p.Attrs().Name, ErrInUse)
			}
		}
	}
	switch l.Type {
	case L2Vlan, L2VXLAN:
		if err := deleteLink(h.nl, l.UplinkName()); err != nil {
			return err
		}
	case L2NoVlan:
		up, err := linkByName(h.nl, l.PhysicalInterface)
		if err != nil {
			return err
		}
		if up != nil && br != nil && up.Attrs().MasterIndex == br.Attrs().Index {
			if err := h.nl.LinkSetNoMaster(up); err != nil {
				return fmt.Errorf("release %s from %s: %w", l.PhysicalInterface, l.BridgeName(), err)
			}
		}
	}
	if err := deleteLink(h.nl, l.BridgeName()); err != nil {
		return err
	}
	if br != nil {
		h.log.Info("deleted bridge", "bridge", l.BridgeName())
	}
	return nil
}

// AttachPort plugs an existing device (a VM tap, a veth) into a bridge, gives it the bridge's MTU
// and sets it up. libvirt does this for guest taps; the package uses it for its own veths.
func (h *Host) AttachPort(ctx context.Context, bridge, dev string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	br, err := linkByName(h.nl, bridge)
	if err != nil {
		return err
	}
	if br == nil {
		return fmt.Errorf("bridge %s not found", bridge)
	}
	port, err := linkByName(h.nl, dev)
	if err != nil {
		return err
	}
	if port == nil {
		return fmt.Errorf("device %s not found", dev)
	}
	if port.Attrs().MasterIndex != br.Attrs().Index {
		if err := h.nl.LinkSetMaster(port, br); err != nil {
			return fmt.Errorf("enslave %s to %s: %w", dev, bridge, err)
		}
	}
	if err := h.setMTU(port, br.Attrs().MTU); err != nil {
		return err
	}
	if err := h.nl.LinkSetUp(port); err != nil {
		return fmt.Errorf("set %s up: %w", dev, err)
	}
	return nil
}
