package domainxml

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"libvirt.org/go/libvirtxml"
)

// videoModels are the display adapters a Spec may ask for.
var videoModels = []string{VideoVGA, VideoCirrus, VideoQXL, VideoVirtio}

var (
	pciPattern       = regexp.MustCompile(`^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$`)
	usbIDPattern     = regexp.MustCompile(`^([0-9a-f]{4}):([0-9a-f]{4})$`)
	usbDevicePattern = regexp.MustCompile(`^([0-9]{1,3})/([0-9]{1,3})$`)
)

// boot turns the class order into per-device <boot order>: the root disk for
// hd, every CD-ROM (empty ones too, so an ISO inserted later boots) for cdrom,
// every NIC for network.
func (b *builder) boot() error {
	order := b.s.BootOrder
	if len(order) == 0 {
		order = []string{BootHD, BootCDROM}
	}
	var n uint
	next := func() *libvirtxml.DomainDeviceBoot {
		n++
		return &libvirtxml.DomainDeviceBoot{Order: n}
	}
	devs := b.d.Devices
	seen := map[string]bool{}
	for _, class := range order {
		if seen[class] {
			return invalid("boot order lists %q twice", class)
		}
		seen[class] = true
		switch class {
		case BootHD:
			if b.rootDisk >= 0 {
				devs.Disks[b.rootDisk].Boot = next()
			}
		case BootCDROM:
			for i := range devs.Disks {
				if devs.Disks[i].Device == "cdrom" {
					devs.Disks[i].Boot = next()
				}
			}
		case BootNetwork:
			for i := range devs.Interfaces {
				devs.Interfaces[i].Boot = next()
			}
		default:
			return invalid("boot device %q is not %s, %s or %s", class, BootHD, BootCDROM, BootNetwork)
		}
	}
	return nil
}

// console adds serial port 0 with a console on it (both the same port), the
// VNC display and the video adapter.
func (b *builder) console() error {
	c := b.s.Console
	devs := b.d.Devices
	serialSource := func() *libvirtxml.DomainChardevSource {
		if c.SerialLogPath != "" {
			return &libvirtxml.DomainChardevSource{File: &libvirtxml.DomainChardevSourceFile{Path: c.SerialLogPath}}
		}
		return &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}}
	}
	if c.SerialLogPath != "" {
		if err := checkPath(c.SerialLogPath); err != nil {
			return fmt.Errorf("serial log: %w", err)
		}
	}
	port0, consolePort0 := uint(0), uint(0)
	devs.Serials = []libvirtxml.DomainSerial{{
		Source: serialSource(),
		Target: &libvirtxml.DomainSerialTarget{Port: &port0},
	}}
	devs.Consoles = []libvirtxml.DomainConsole{{
		Source: serialSource(),
		Target: &libvirtxml.DomainConsoleTarget{Type: "serial", Port: &consolePort0},
	}}

	video := c.Video
	if !c.VNC {
		if c.VNCListen != "" || c.VNCPassword != "" || c.VNCPort != 0 {
			return invalid("vnc listen, password or port given but vnc is off")
		}
	} else {
		vnc, err := vncGraphics(c)
		if err != nil {
			return err
		}
		devs.Graphics = []libvirtxml.DomainGraphic{{VNC: vnc}}
		// An absolute pointer keeps the VNC cursor in step with the guest's.
		devs.Inputs = []libvirtxml.DomainInput{{Type: "tablet", Bus: "usb"}}
		if video == "" {
			video = VideoVGA
		}
	}
	if video != "" {
		if !slices.Contains(videoModels, video) {
			return invalid("video %q is not one of %s", video, strings.Join(videoModels, ", "))
		}
		devs.Videos = []libvirtxml.DomainVideo{{Model: libvirtxml.DomainVideoModel{Type: video}}}
	}
	return nil
}

func vncGraphics(c Console) (*libvirtxml.DomainGraphicVNC, error) {
	listen := c.VNCListen
	if listen == "" {
		listen = "0.0.0.0"
	}
	if _, err := netip.ParseAddr(listen); err != nil {
		return nil, invalid("vnc listen %q is not an ip address", c.VNCListen)
	}
	if len(c.VNCPassword) > 8 {
		return nil, invalid("vnc password has %d characters; vnc allows at most 8", len(c.VNCPassword))
	}
	for _, r := range c.VNCPassword {
		if r < 0x20 || r > 0x7e {
			return nil, invalid("vnc password may hold only printable ascii")
		}
	}
	vnc := &libvirtxml.DomainGraphicVNC{
		Passwd:    c.VNCPassword,
		Listeners: []libvirtxml.DomainGraphicListener{{Address: &libvirtxml.DomainGraphicListenerAddress{Address: listen}}},
	}
	switch {
	case c.VNCPort == -1 || c.VNCPort == 0:
		vnc.Port, vnc.AutoPort = -1, "yes"
	case c.VNCPort >= 5900 && c.VNCPort <= 65535:
		vnc.Port, vnc.AutoPort = c.VNCPort, "no"
	default:
		return nil, invalid("vnc port %d is outside 5900-65535 (use -1 or 0 for any)", c.VNCPort)
	}
	return vnc, nil
}

// guestAgent adds the qemu-guest-agent channel. Its socket path is left to
// libvirt, which makes one per domain under its own channel directory with
// the right ownership and security labels.
func (b *builder) guestAgent() error {
	if !b.s.GuestAgent {
		return nil
	}
	b.d.Devices.Channels = []libvirtxml.DomainChannel{{
		Source: &libvirtxml.DomainChardevSource{UNIX: &libvirtxml.DomainChardevSourceUNIX{Mode: "bind"}},
		Target: &libvirtxml.DomainChannelTarget{VirtIO: &libvirtxml.DomainChannelTargetVirtIO{Name: GuestAgentChannel}},
	}}
	b.pcieDevices++ // virtio-serial controller
	return nil
}

func (b *builder) hostDevices() error {
	seen := map[string]bool{}
	for i, h := range b.s.HostDevices {
		dev, key, err := hostDevice(h)
		if err != nil {
			return fmt.Errorf("host device %d: %w", i, err)
		}
		if seen[key] {
			return fmt.Errorf("host device %d: %w", i, invalid("%s is passed through twice", key))
		}
		seen[key] = true
		if h.Type == HostDevPCI {
			b.pcieDevices++
		}
		b.d.Devices.Hostdevs = append(b.d.Devices.Hostdevs, dev)
	}
	return nil
}

// hostDevice builds one passthrough device and a key naming it, to catch
// the same device given twice in two spellings.
func hostDevice(h HostDev) (libvirtxml.DomainHostdev, string, error) {
	var none libvirtxml.DomainHostdev
	addr := strings.ToLower(h.Address)
	switch h.Type {
	case HostDevPCI:
		m := pciPattern.FindStringSubmatch(addr)
		if m == nil {
			return none, "", invalid("pci address %q is not domain:bus:slot.function (0000:65:00.0)", h.Address)
		}
		if m[1] == "" {
			m[1] = "0000"
		}
		domain, bus, slot, function := parseHex(m[1]), parseHex(m[2]), parseHex(m[3]), parseHex(m[4])
		if slot > 0x1f {
			return none, "", invalid("pci address %q: slot %#x is above 0x1f", h.Address, slot)
		}
		key := fmt.Sprintf("pci %04x:%02x:%02x.%x", domain, bus, slot, function)
		return libvirtxml.DomainHostdev{
			Managed: "yes",
			SubsysPCI: &libvirtxml.DomainHostdevSubsysPCI{Source: &libvirtxml.DomainHostdevSubsysPCISource{
				Address: &libvirtxml.DomainAddressPCI{Domain: &domain, Bus: &bus, Slot: &slot, Function: &function},
			}},
		}, key, nil
	case HostDevUSB:
		if m := usbIDPattern.FindStringSubmatch(addr); m != nil {
			return libvirtxml.DomainHostdev{
				SubsysUSB: &libvirtxml.DomainHostdevSubsysUSB{Source: &libvirtxml.DomainHostdevSubsysUSBSource{
					Vendor:  &libvirtxml.DomainHostDevProductVendorID{ID: "0x" + m[1]},
					Product: &libvirtxml.DomainHostDevProductVendorID{ID: "0x" + m[2]},
				}},
			}, "usb " + m[1] + ":" + m[2], nil
		}
		if m := usbDevicePattern.FindStringSubmatch(addr); m != nil {
			bus, _ := strconv.ParseUint(m[1], 10, 0)
			dev, _ := strconv.ParseUint(m[2], 10, 0)
			if bus < 1 || bus > 255 || dev < 1 || dev > 127 {
				return none, "", invalid("usb address %q: bus must be 1-255 and device 1-127", h.Address)
			}
			ubus, udev := uint(bus), uint(dev)
			return libvirtxml.DomainHostdev{
				SubsysUSB: &libvirtxml.DomainHostdevSubsysUSB{Source: &libvirtxml.DomainHostdevSubsysUSBSource{
					Address: &libvirtxml.DomainAddressUSB{Bus: &ubus, Device: &udev},
				}},
			}, fmt.Sprintf("usb %03d/%03d", bus, dev), nil
		}
		return none, "", invalid("usb address %q is neither vendor:product (046d:c52b) nor bus/device (001/004)", h.Address)
	default:
		return none, "", invalid("type %q is not %s or %s", h.Type, HostDevPCI, HostDevUSB)
	}
}

// parseHex parses a string the patterns above have already checked.
func parseHex(s string) uint {
	v, _ := strconv.ParseUint(s, 16, 0)
	return uint(v)
}

// controllers adds the balloon, the virtio-scsi controller when a disk needs
// it and, on q35, enough pcie-root-ports for every PCIe device plus spares
// for hot-plug (q35 cannot hot-plug into its root bus).
func (b *builder) controllers() error {
	devs := b.d.Devices
	if b.virtio {
		devs.MemBalloon = &libvirtxml.DomainMemBalloon{Model: "virtio"}
		b.pcieDevices++
	} else {
		devs.MemBalloon = &libvirtxml.DomainMemBalloon{Model: "none"}
	}
	if b.scsi {
		zero := uint(0)
		devs.Controllers = append(devs.Controllers, libvirtxml.DomainController{Type: "scsi", Index: &zero, Model: "virtio-scsi"})
		b.pcieDevices++
	}
	if b.q35 {
		b.pcieDevices++ // the USB controller libvirt adds (qemu-xhci)
		zero := uint(0)
		devs.Controllers = append(devs.Controllers, libvirtxml.DomainController{Type: "pci", Index: &zero, Model: "pcie-root"})
		for i := 1; i <= b.pcieDevices+hotplugRootPorts; i++ {
			index := uint(i)
			devs.Controllers = append(devs.Controllers, libvirtxml.DomainController{Type: "pci", Index: &index, Model: "pcie-root-port"})
		}
	}
	return nil
}

func (b *builder) metadata() error {
	for _, k := range slices.Sorted(maps.Keys(b.s.Metadata)) {
		v := b.s.Metadata[k]
		if k == "" {
			return invalid("metadata key is empty")
		}
		if err := checkText(k); err != nil {
			return fmt.Errorf("metadata key: %w", err)
		}
		if !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool {
			return r < 0x20 && r != '\t' && r != '\n' && r != '\r'
		}) {
			return invalid("metadata %s: value is not valid utf-8 text", k)
		}
	}
	m, err := metadata(b.uuid, b.s.Metadata)
	if err != nil {
		return err
	}
	b.d.Metadata = m
	return nil
}
