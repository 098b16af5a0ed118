package domainxml

import (
	"cmp"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/models"
)

// ideUnits is how many drives the IDE controller of the pc machine takes
// (two buses, master and slave): hda to hdd.
const ideUnits = 4

// serialPattern is what libvirt accepts as a disk serial.
var serialPattern = regexp.MustCompile(`^[A-Za-z0-9_.+\- ]+$`)

// cacheModes are libvirt's disk cache modes.
var cacheModes = []string{"default", "none", "writethrough", "writeback", "directsync", "unsafe"}

// targetPrefix is the target dev prefix of each bus.
func targetPrefix(bus string) string {
	switch bus {
	case BusVirtio:
		return "vd"
	case BusIDE:
		return "hd"
	default: // sata, scsi
		return "sd"
	}
}

// targetName names drive i of a prefix the way libvirt does: a..z, aa..az, ...
func targetName(prefix string, i int) string {
	var letters []byte
	for ; i >= 0; i = i/26 - 1 {
		letters = append([]byte{byte('a' + i%26)}, letters...)
	}
	return prefix + string(letters)
}

func (b *builder) takeTarget(prefix string, i int) {
	if b.targets == nil {
		b.targets = map[string]map[int]bool{}
	}
	if b.targets[prefix] == nil {
		b.targets[prefix] = map[int]bool{}
	}
	b.targets[prefix][i] = true
}

// emulatedBus is the bus of CD-ROMs, and of disks on platforms without
// virtio drivers: IDE on pc, SATA on q35 (which has no IDE).
func (b *builder) emulatedBus() string {
	if b.q35 {
		return BusSATA
	}
	return BusIDE
}

func (b *builder) disks() error {
	seenPath := map[string]bool{}
	seenVolume := map[string]bool{}
	seenID := map[int]bool{}
	type indexed struct {
		id   int
		disk libvirtxml.DomainDisk
	}
	var out []indexed
	for i, d := range b.s.Disks {
		disk, err := b.disk(d, seenPath, seenVolume, seenID)
		if err != nil {
			return fmt.Errorf("disk %d: %w", i, err)
		}
		out = append(out, indexed{id: d.DeviceID, disk: disk})
	}
	slices.SortFunc(out, func(a, c indexed) int { return cmp.Compare(a.id, c.id) })
	b.rootDisk = -1
	for i, o := range out {
		if o.id == 0 {
			b.rootDisk = i
		}
		b.d.Devices.Disks = append(b.d.Devices.Disks, o.disk)
	}
	return nil
}

func (b *builder) disk(d Disk, seenPath, seenVolume map[string]bool, seenID map[int]bool) (libvirtxml.DomainDisk, error) {
	var none libvirtxml.DomainDisk
	if !models.IsUUID(d.VolumeUUID) {
		return none, invalid("volume uuid %q is not 32 hex characters", d.VolumeUUID)
	}
	volume := strings.ToLower(d.VolumeUUID)
	if seenVolume[volume] {
		return none, invalid("volume %s is attached twice", volume)
	}
	seenVolume[volume] = true
	if err := checkPath(d.Path); err != nil {
		return none, err
	}
	if seenPath[d.Path] {
		return none, invalid("path %s is used twice", d.Path)
	}
	seenPath[d.Path] = true
	switch d.Format {
	case FormatQCOW2, FormatRaw:
	default:
		return none, invalid("format %q is not %s or %s", d.Format, FormatQCOW2, FormatRaw)
	}
	bus := d.Bus
	if bus == "" {
		bus = b.emulatedBus()
		if b.virtio {
			bus = BusVirtio
		}
	}
	switch bus {
	case BusVirtio, BusSATA, BusSCSI:
	case BusIDE:
		if b.q35 {
			return none, invalid("bus ide does not exist on q35 machines; use sata")
		}
	default:
		return none, invalid("bus %q is not one of %s, %s, %s, %s", bus, BusVirtio, BusIDE, BusSATA, BusSCSI)
	}
	if d.DeviceID < 0 {
		return none, invalid("device id %d is negative", d.DeviceID)
	}
	if seenID[d.DeviceID] {
		return none, invalid("device id %d is used twice", d.DeviceID)
	}
	seenID[d.DeviceID] = true
	if bus == BusIDE && d.DeviceID >= ideUnits {
		return none, invalid("device id %d on bus ide: ide has only %d units (hda-hdd)", d.DeviceID, ideUnits)
	}
	cache := d.Cache
	if cache != "" && !slices.Contains(cacheModes, cache) {
		return none, invalid("cache %q is not one of %s", cache, strings.Join(cacheModes, ", "))
	}
	if d.Shareable {
		if d.Format != FormatRaw {
			return none, invalid("shareable volume %s must be raw, not %s", volume, d.Format)
		}
		switch cache {
		case "":
			cache = "none"
		case "none", "directsync":
		default:
			return none, invalid("shareable volume %s needs cache none or directsync, not %s", volume, cache)
		}
	}
	serial := d.Serial
	if serial == "" {
		serial = volume
	}
	if !serialPattern.MatchString(serial) {
		return none, invalid("serial %q may hold only letters, digits, space and _.+-", serial)
	}
	iotune, err := diskIOTune(d.IOTune)
	if err != nil {
		return none, err
	}

	prefix := targetPrefix(bus)
	b.takeTarget(prefix, d.DeviceID)
	switch bus {
	case BusVirtio:
		b.pcieDevices++
	case BusSCSI:
		b.scsi = true
	}
	disk := libvirtxml.DomainDisk{
		Device: "disk",
		Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: d.Format, Cache: cache},
		Source: diskSource(d.Path),
		Target: &libvirtxml.DomainDiskTarget{Dev: targetName(prefix, d.DeviceID), Bus: bus},
		IOTune: iotune,
		Serial: serial,
		Alias:  &libvirtxml.DomainAlias{Name: "ua-" + volume},
	}
	if d.Shareable {
		disk.Shareable = &libvirtxml.DomainDiskShareable{}
	}
	return disk, nil
}

func checkPath(p string) error {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return invalid("path %q is not a clean absolute path", p)
	}
	return checkText(p)
}

// diskSource is a block source for device nodes (LVM, shared block) and a
// file source for everything else.
func diskSource(path string) *libvirtxml.DomainDiskSource {
	if strings.HasPrefix(path, "/dev/") {
		return &libvirtxml.DomainDiskSource{Block: &libvirtxml.DomainDiskSourceBlock{Dev: path}}
	}
	return &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: path}}
}

func diskIOTune(t *IOTune) (*libvirtxml.DomainDiskIOTune, error) {
	if t == nil || *t == (IOTune{}) {
		return nil, nil
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"total bytes/s", t.TotalBytesSec}, {"read bytes/s", t.ReadBytesSec}, {"write bytes/s", t.WriteBytesSec},
		{"total iops", t.TotalIOPSSec}, {"read iops", t.ReadIOPSSec}, {"write iops", t.WriteIOPSSec},
	} {
		if f.v < 0 {
			return nil, invalid("iotune %s %d is negative", f.name, f.v)
		}
	}
	if t.TotalBytesSec > 0 && (t.ReadBytesSec > 0 || t.WriteBytesSec > 0) {
		return nil, invalid("iotune total bytes/s excludes read and write bytes/s")
	}
	if t.TotalIOPSSec > 0 && (t.ReadIOPSSec > 0 || t.WriteIOPSSec > 0) {
		return nil, invalid("iotune total iops excludes read and write iops")
	}
	return &libvirtxml.DomainDiskIOTune{
		TotalBytesSec: uint64(t.TotalBytesSec),
		ReadBytesSec:  uint64(t.ReadBytesSec),
		WriteBytesSec: uint64(t.WriteBytesSec),
		TotalIopsSec:  uint64(t.TotalIOPSSec),
		ReadIopsSec:   uint64(t.ReadIOPSSec),
		WriteIopsSec:  uint64(t.WriteIOPSSec),
	}, nil
}

// cdroms adds the CD-ROM drives after the disks, on the emulated bus, each on
// the lowest target its bus has free.
func (b *builder) cdroms() error {
	seenPath := map[string]bool{}
	for _, d := range b.s.Disks {
		seenPath[d.Path] = true
	}
	bus := b.emulatedBus()
	prefix := targetPrefix(bus)
	next := 0
	for i, c := range b.s.CDROMs {
		if c.Path != "" {
			if err := checkPath(c.Path); err != nil {
				return fmt.Errorf("cdrom %d: %w", i, err)
			}
			if seenPath[c.Path] {
				return fmt.Errorf("cdrom %d: %w", i, invalid("path %s is used twice", c.Path))
			}
			seenPath[c.Path] = true
		}
		for b.targets[prefix][next] {
			next++
		}
		if bus == BusIDE && next >= ideUnits {
			return fmt.Errorf("cdrom %d: %w", i, invalid("no free ide unit: ide has only %d (hda-hdd)", ideUnits))
		}
		b.takeTarget(prefix, next)
		disk := libvirtxml.DomainDisk{
			Device:   "cdrom",
			Driver:   &libvirtxml.DomainDiskDriver{Name: "qemu", Type: FormatRaw},
			Source:   &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: c.Path}},
			Target:   &libvirtxml.DomainDiskTarget{Dev: targetName(prefix, next), Bus: bus},
			ReadOnly: &libvirtxml.DomainDiskReadOnly{},
		}
		b.d.Devices.Disks = append(b.d.Devices.Disks, disk)
	}
	return nil
}

// HotplugDisk returns the <disk> element that Build writes for d in a domain
// of the given machine (pc, q35 or a versioned name), for attaching d to a
// defined or running domain. d.Bus must be set: the driver takes it from the
// domain's other disks, since the platform that chose it is not in the
// domain. The element has no <boot>: only the root disk boots.
func HotplugDisk(machine string, d Disk) (*libvirtxml.DomainDisk, error) {
	if d.Bus == "" {
		return nil, fmt.Errorf("domain xml: disk of volume %s: %w", d.VolumeUUID, invalid("bus is empty"))
	}
	b := &builder{
		s: Spec{Machine: machine, Platform: PlatformOther, DomainType: DomainQEMU},
		d: &libvirtxml.Domain{Devices: &libvirtxml.DomainDeviceList{}},
	}
	if err := b.platform(); err != nil {
		return nil, fmt.Errorf("domain xml: %w", err)
	}
	disk, err := b.disk(d, map[string]bool{}, map[string]bool{}, map[int]bool{})
	if err != nil {
		return nil, fmt.Errorf("domain xml: disk of volume %s: %w", d.VolumeUUID, err)
	}
	return &disk, nil
}
