package domainxml

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/models"
)

var macPattern = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)

// reservedTapPrefixes are tap names libvirt treats as its own: it drops them
// from the config and picks another name at start.
var reservedTapPrefixes = []string{"vnet", "vif", "macvtap", "macvlan"}

// nicModels are the NIC models a Spec may ask for.
var nicModels = []string{NICVirtio, NICE1000, NICE1000E, NICRTL8139}

func (b *builder) nics() error {
	seenMAC := map[string]bool{}
	seenTap := map[string]bool{}
	for i, n := range b.s.NICs {
		iface, err := b.nic(n, seenMAC, seenTap)
		if err != nil {
			return fmt.Errorf("nic %d: %w", i, err)
		}
		b.d.Devices.Interfaces = append(b.d.Devices.Interfaces, iface)
		b.pcieDevices++
	}
	return nil
}

func (b *builder) nic(n NIC, seenMAC, seenTap map[string]bool) (libvirtxml.DomainInterface, error) {
	var none libvirtxml.DomainInterface
	mac := strings.ToLower(n.MAC)
	if !macPattern.MatchString(mac) {
		return none, invalid("mac %q is not of the form aa:bb:cc:dd:ee:ff", n.MAC)
	}
	if mac == "00:00:00:00:00:00" {
		return none, invalid("mac %s is all zeros", mac)
	}
	if first := mac[1]; strings.IndexByte("13579bdf", first) >= 0 {
		return none, invalid("mac %s is a multicast address", mac)
	}
	if seenMAC[mac] {
		return none, invalid("mac %s is used twice", mac)
	}
	seenMAC[mac] = true
	if err := checkIfName(n.Bridge); err != nil {
		return none, fmt.Errorf("bridge: %w", err)
	}
	model := n.Model
	if model == "" {
		model = NICE1000
		if b.virtio {
			model = NICVirtio
		}
	}
	if !slices.Contains(nicModels, model) {
		return none, invalid("model %q is not one of %s", model, strings.Join(nicModels, ", "))
	}
	iface := libvirtxml.DomainInterface{
		MAC:    &libvirtxml.DomainInterfaceMAC{Address: mac},
		Source: &libvirtxml.DomainInterfaceSource{Bridge: &libvirtxml.DomainInterfaceSourceBridge{Bridge: n.Bridge}},
		Model:  &libvirtxml.DomainInterfaceModel{Type: model},
	}
	if n.TargetDev == "" && n.UUID != "" {
		// Security groups match on the tap: name it after the NIC, not
		// libvirt's next vnetN.
		n.TargetDev = netapi.TapName(n.UUID)
	}
	if n.TargetDev != "" {
		if err := checkIfName(n.TargetDev); err != nil {
			return none, fmt.Errorf("target dev: %w", err)
		}
		for _, p := range reservedTapPrefixes {
			if strings.HasPrefix(n.TargetDev, p) {
				return none, invalid("target dev %s: libvirt reserves the prefix %s", n.TargetDev, p)
			}
		}
		if seenTap[n.TargetDev] {
			return none, invalid("target dev %s is used twice", n.TargetDev)
		}
		seenTap[n.TargetDev] = true
		iface.Target = &libvirtxml.DomainInterfaceTarget{Dev: n.TargetDev}
	}
	if n.MTU != 0 {
		if n.MTU < 68 || n.MTU > 65535 {
			return none, invalid("mtu %d is outside 68-65535", n.MTU)
		}
		iface.MTU = &libvirtxml.DomainInterfaceMTU{Size: uint(n.MTU)}
	}
	if n.InboundBytesSec < 0 || n.OutboundBytesSec < 0 {
		return none, invalid("bandwidth %d/%d bytes/s is negative", n.InboundBytesSec, n.OutboundBytesSec)
	}
	if n.InboundBytesSec > 0 || n.OutboundBytesSec > 0 {
		iface.Bandwidth = &libvirtxml.DomainInterfaceBandwidth{
			Inbound:  bandwidth(n.InboundBytesSec),
			Outbound: bandwidth(n.OutboundBytesSec),
		}
	}
	if n.UUID != "" {
		if !models.IsUUID(n.UUID) {
			return none, invalid("uuid %q is not 32 hex characters", n.UUID)
		}
		iface.Alias = &libvirtxml.DomainAlias{Name: "ua-" + strings.ToLower(n.UUID)}
	}
	return iface, nil
}

// bandwidth is libvirt's average rate, in KiB/s rounded up; nil when
// unlimited.
func bandwidth(bytesSec int64) *libvirtxml.DomainInterfaceBandwidthParams {
	if bytesSec == 0 {
		return nil
	}
	kib := int((bytesSec + 1023) / 1024)
	return &libvirtxml.DomainInterfaceBandwidthParams{Average: &kib}
}

// checkIfName checks a Linux interface name: 1-15 bytes, no slash,
// whitespace or colon.
func checkIfName(name string) error {
	if name == "" || len(name) > 15 {
		return invalid("interface name %q must have 1 to 15 characters", name)
	}
	if name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n") {
		return invalid("interface name %q is not valid", name)
	}
	for _, r := range name {
		if r < 0x21 || r > 0x7e {
			return invalid("interface name %q is not valid", name)
		}
	}
	return nil
}
