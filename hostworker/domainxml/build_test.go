package domainxml

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/models"
)

// validSpec is a spec Build accepts; each error case breaks one thing.
func validSpec() Spec {
	return Spec{
		UUID:        vmUUID,
		Name:        "vm",
		DomainType:  DomainQEMU,
		Platform:    PlatformLinux,
		CPUNum:      1,
		MemoryBytes: 512 * mib,
		Disks: []Disk{
			{VolumeUUID: rootUUID, Path: "/ps/root.qcow2", Format: FormatQCOW2, DeviceID: 0},
			{VolumeUUID: data1, Path: "/ps/data1.qcow2", Format: FormatQCOW2, DeviceID: 1},
		},
		CDROMs: []CDROM{{Path: "/iso/a.iso"}},
		NICs: []NIC{
			{MAC: "fa:16:3e:00:00:01", Bridge: "br0", TargetDev: "vnic1.0"},
			{MAC: "fa:16:3e:00:00:02", Bridge: "br1", TargetDev: "vnic1.1"},
		},
		Console:     Console{VNC: true},
		HostDevices: []HostDev{{Type: HostDevPCI, Address: "0000:65:00.0"}},
		Metadata:    map[string]string{"k": "v"},
	}
}

func TestValidSpecBuilds(t *testing.T) {
	if _, err := Build(validSpec()); err != nil {
		t.Fatalf("Build(validSpec()) = %v, want no error", err)
	}
}

func TestBuildErrors(t *testing.T) {
	windows4Disks := func(s *Spec) {
		s.Platform = PlatformWindows
		s.Disks = nil
		for i, u := range []string{rootUUID, data1, data2, shared} {
			s.Disks = append(s.Disks, Disk{VolumeUUID: u, Path: "/ps/" + u, Format: FormatRaw, DeviceID: i})
		}
	}
	tests := []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		// identity
		{"short uuid", func(s *Spec) { s.UUID = "1234" }, `vm: uuid "1234" is not 32 hex characters`},
		{"dashed uuid", func(s *Spec) { s.UUID = "2f5a3c1e-9b7d-4e6f-8a0b-1c2d3e4f5a6b" }, "is not 32 hex characters"},
		{"non-hex uuid", func(s *Spec) { s.UUID = strings.Repeat("g", 32) }, "is not 32 hex characters"},
		{"name with newline", func(s *Spec) { s.Name = "a\nb" }, "vm name: \"a\\nb\" contains a control character"},
		{"name not utf-8", func(s *Spec) { s.Name = "\xff" }, "is not valid utf-8"},
		{"unknown domain type", func(s *Spec) { s.DomainType = "xen" }, `domain type "xen" is not kvm or qemu`},
		{"empty domain type", func(s *Spec) { s.DomainType = "" }, `domain type "" is not kvm or qemu`},
		// platform and machine
		{"unknown machine", func(s *Spec) { s.Machine = "virt" }, `machine "virt" is not pc, q35`},
		{"machine without version", func(s *Spec) { s.Machine = "pc-q35-" }, `machine "pc-q35-" is not`},
		{"unknown platform", func(s *Spec) { s.Platform = "linux" }, `platform "linux" is not one of Linux`},
		{"empty platform", func(s *Spec) { s.Platform = "" }, `platform "" is not one of`},
		// cpu and memory
		{"zero cpu", func(s *Spec) { s.CPUNum = 0 }, "cpu number 0 must be positive"},
		{"negative cpu", func(s *Spec) { s.CPUNum = -2 }, "cpu number -2 must be positive"},
		{"max cpu below cpu", func(s *Spec) { s.CPUNum, s.MaxCPUNum = 4, 2 }, "max cpu number 2 is less than cpu number 4"},
		{"zero memory", func(s *Spec) { s.MemoryBytes = 0 }, "memory 0 bytes must be positive"},
		{"memory not KiB", func(s *Spec) { s.MemoryBytes = 1000 }, "memory 1000 bytes is not a whole number of KiB"},
		{"max memory below memory", func(s *Spec) { s.MaxMemoryBytes = mib }, "max memory 1048576 bytes is less than memory 536870912 bytes"},
		{"max memory not KiB", func(s *Spec) { s.MaxMemoryBytes = gib + 1 }, "max memory 1073741825 bytes is not a whole number of KiB"},
		{"host-passthrough on tcg", func(s *Spec) { s.CPUMode = CPUHostPassthrough }, "cpu mode host-passthrough needs domain type kvm, not qemu"},
		{"unknown cpu mode", func(s *Spec) { s.CPUMode = "custom" }, `cpu mode "custom" is not`},
		// disks
		{"bad volume uuid", func(s *Spec) { s.Disks[1].VolumeUUID = "vol" }, `disk 1: volume uuid "vol" is not 32 hex characters`},
		{"volume twice", func(s *Spec) { s.Disks[1].VolumeUUID = strings.ToUpper(rootUUID) }, "disk 1: volume " + rootUUID + " is attached twice"},
		{"relative path", func(s *Spec) { s.Disks[0].Path = "ps/root.qcow2" }, `disk 0: path "ps/root.qcow2" is not a clean absolute path`},
		{"unclean path", func(s *Spec) { s.Disks[0].Path = "/ps/../root.qcow2" }, "is not a clean absolute path"},
		{"empty path", func(s *Spec) { s.Disks[0].Path = "" }, `disk 0: path "" is not a clean absolute path`},
		{"path twice", func(s *Spec) { s.Disks[1].Path = "/ps/root.qcow2" }, "disk 1: path /ps/root.qcow2 is used twice"},
		{"unknown format", func(s *Spec) { s.Disks[0].Format = "vmdk" }, `disk 0: format "vmdk" is not qcow2 or raw`},
		{"empty format", func(s *Spec) { s.Disks[0].Format = "" }, `format "" is not qcow2 or raw`},
		{"unknown bus", func(s *Spec) { s.Disks[1].Bus = "usb" }, `disk 1: bus "usb" is not one of virtio, ide, sata, scsi`},
		{"ide on q35", func(s *Spec) { s.Machine = MachineQ35; s.Disks[1].Bus = BusIDE }, "disk 1: bus ide does not exist on q35 machines"},
		{"ide on versioned q35", func(s *Spec) { s.Machine = "pc-q35-7.2"; s.Platform = PlatformOther; s.Disks[1].Bus = BusIDE }, "bus ide does not exist"},
		{"negative device id", func(s *Spec) { s.Disks[1].DeviceID = -1 }, "disk 1: device id -1 is negative"},
		{"device id twice", func(s *Spec) { s.Disks[1].DeviceID = 0 }, "disk 1: device id 0 is used twice"},
		{"ide device id beyond hdd", func(s *Spec) { s.Disks[1].Bus = BusIDE; s.Disks[1].DeviceID = 4 }, "disk 1: device id 4 on bus ide: ide has only 4 units"},
		{"unknown cache", func(s *Spec) { s.Disks[0].Cache = "fast" }, `disk 0: cache "fast" is not one of`},
		{"shareable qcow2", func(s *Spec) { s.Disks[1].Shareable = true }, "disk 1: shareable volume " + data1 + " must be raw, not qcow2"},
		{"shareable writeback", func(s *Spec) {
			s.Disks[1].Shareable, s.Disks[1].Format, s.Disks[1].Cache = true, FormatRaw, "writeback"
		}, "needs cache none or directsync, not writeback"},
		{"bad serial", func(s *Spec) { s.Disks[0].Serial = "a/b" }, `disk 0: serial "a/b" may hold only`},
		{"negative iotune", func(s *Spec) { s.Disks[0].IOTune = &IOTune{ReadIOPSSec: -1} }, "disk 0: iotune read iops -1 is negative"},
		{"total and read bytes", func(s *Spec) { s.Disks[0].IOTune = &IOTune{TotalBytesSec: 1, ReadBytesSec: 1} }, "iotune total bytes/s excludes read and write bytes/s"},
		{"total and write iops", func(s *Spec) { s.Disks[0].IOTune = &IOTune{TotalIOPSSec: 1, WriteIOPSSec: 1} }, "iotune total iops excludes read and write iops"},
		// cdroms
		{"relative cdrom", func(s *Spec) { s.CDROMs[0].Path = "a.iso" }, `cdrom 0: path "a.iso" is not a clean absolute path`},
		{"cdrom on a disk path", func(s *Spec) { s.CDROMs[0].Path = "/ps/data1.qcow2" }, "cdrom 0: path /ps/data1.qcow2 is used twice"},
		{"same iso twice", func(s *Spec) { s.CDROMs = append(s.CDROMs, CDROM{Path: "/iso/a.iso"}) }, "cdrom 1: path /iso/a.iso is used twice"},
		{"ide full", windows4Disks, "cdrom 0: no free ide unit: ide has only 4 (hda-hdd)"},
		// nics
		{"mac with dashes", func(s *Spec) { s.NICs[0].MAC = "fa-16-3e-00-00-01" }, `nic 0: mac "fa-16-3e-00-00-01" is not of the form aa:bb:cc:dd:ee:ff`},
		{"short mac", func(s *Spec) { s.NICs[0].MAC = "fa:16:3e:00:00" }, "is not of the form"},
		{"empty mac", func(s *Spec) { s.NICs[0].MAC = "" }, `mac "" is not of the form`},
		{"multicast mac", func(s *Spec) { s.NICs[0].MAC = "01:00:5e:00:00:01" }, "nic 0: mac 01:00:5e:00:00:01 is a multicast address"},
		{"zero mac", func(s *Spec) { s.NICs[0].MAC = "00:00:00:00:00:00" }, "is all zeros"},
		{"mac twice", func(s *Spec) { s.NICs[1].MAC = "FA:16:3E:00:00:01" }, "nic 1: mac fa:16:3e:00:00:01 is used twice"},
		{"no bridge", func(s *Spec) { s.NICs[0].Bridge = "" }, `nic 0: bridge: interface name "" must have 1 to 15 characters`},
		{"long bridge", func(s *Spec) { s.NICs[0].Bridge = "br_0123456789abcdef" }, "must have 1 to 15 characters"},
		{"bridge with slash", func(s *Spec) { s.NICs[0].Bridge = "br/0" }, `interface name "br/0" is not valid`},
		{"unknown model", func(s *Spec) { s.NICs[0].Model = "ne2k" }, `nic 0: model "ne2k" is not one of virtio, e1000, e1000e, rtl8139`},
		{"reserved tap name", func(s *Spec) { s.NICs[0].TargetDev = "vnet3" }, "nic 0: target dev vnet3: libvirt reserves the prefix vnet"},
		{"tap twice", func(s *Spec) { s.NICs[1].TargetDev = "vnic1.0" }, "nic 1: target dev vnic1.0 is used twice"},
		{"bad tap", func(s *Spec) { s.NICs[0].TargetDev = "tap 0" }, `nic 0: target dev: interface name "tap 0" is not valid`},
		{"mtu too small", func(s *Spec) { s.NICs[0].MTU = 10 }, "nic 0: mtu 10 is outside 68-65535"},
		{"negative bandwidth", func(s *Spec) { s.NICs[0].OutboundBytesSec = -5 }, "nic 0: bandwidth 0/-5 bytes/s is negative"},
		{"bad nic uuid", func(s *Spec) { s.NICs[1].UUID = "nic" }, `nic 1: uuid "nic" is not 32 hex characters`},
		// boot
		{"unknown boot device", func(s *Spec) { s.BootOrder = []string{"floppy"} }, `boot device "floppy" is not hd, cdrom or network`},
		{"boot device twice", func(s *Spec) { s.BootOrder = []string{BootHD, BootCDROM, BootHD} }, `boot order lists "hd" twice`},
		// console
		{"relative serial log", func(s *Spec) { s.Console.SerialLogPath = "serial.log" }, `serial log: path "serial.log" is not a clean absolute path`},
		{"vnc settings without vnc", func(s *Spec) { s.Console = Console{VNCPassword: "x"} }, "vnc listen, password or port given but vnc is off"},
		{"vnc listen not ip", func(s *Spec) { s.Console.VNCListen = "example.com" }, `vnc listen "example.com" is not an ip address`},
		{"vnc password too long", func(s *Spec) { s.Console.VNCPassword = "123456789" }, "vnc password has 9 characters; vnc allows at most 8"},
		{"vnc password not ascii", func(s *Spec) { s.Console.VNCPassword = "pässw" }, "vnc password may hold only printable ascii"},
		{"vnc port too low", func(s *Spec) { s.Console.VNCPort = 80 }, "vnc port 80 is outside 5900-65535"},
		{"unknown video", func(s *Spec) { s.Console.Video = "vmvga" }, `video "vmvga" is not one of vga, cirrus, qxl, virtio`},
		{"unknown video without vnc", func(s *Spec) { s.Console = Console{Video: "bochs"} }, `video "bochs" is not one of`},
		// host devices
		{"pci without function", func(s *Spec) { s.HostDevices[0].Address = "0000:65:00" }, `host device 0: pci address "0000:65:00" is not domain:bus:slot.function`},
		{"pci function 8", func(s *Spec) { s.HostDevices[0].Address = "65:00.8" }, "is not domain:bus:slot.function"},
		{"pci slot above 0x1f", func(s *Spec) { s.HostDevices[0].Address = "65:20.0" }, `pci address "65:20.0": slot 0x20 is above 0x1f`},
		{"pci twice", func(s *Spec) {
			s.HostDevices = append(s.HostDevices, HostDev{Type: HostDevPCI, Address: "65:00.0"})
		}, "host device 1: pci 0000:65:00.0 is passed through twice"},
		{"usb bad address", func(s *Spec) { s.HostDevices[0] = HostDev{Type: HostDevUSB, Address: "046d-c52b"} }, `usb address "046d-c52b" is neither vendor:product`},
		{"usb bus 0", func(s *Spec) { s.HostDevices[0] = HostDev{Type: HostDevUSB, Address: "000/004"} }, "bus must be 1-255 and device 1-127"},
		{"usb twice", func(s *Spec) {
			s.HostDevices = []HostDev{{Type: HostDevUSB, Address: "1/4"}, {Type: HostDevUSB, Address: "001/004"}}
		}, "host device 1: usb 001/004 is passed through twice"},
		{"unknown host device type", func(s *Spec) { s.HostDevices[0].Type = "scsi" }, `host device 0: type "scsi" is not pci or usb`},
		// metadata
		{"empty metadata key", func(s *Spec) { s.Metadata[""] = "x" }, "metadata key is empty"},
		{"metadata key with newline", func(s *Spec) { s.Metadata["a\nb"] = "x" }, "metadata key: \"a\\nb\" contains a control character"},
		{"metadata value with control", func(s *Spec) { s.Metadata["k"] = "a\x00b" }, "metadata k: value is not valid utf-8 text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.change(&s)
			d, err := Build(s)
			if err == nil {
				t.Fatalf("Build() = %v, want error containing %q", d, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build() error = %q, want it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "domain xml: ") {
				t.Errorf("Build() error = %q, want prefix %q", err, "domain xml: ")
			}
			if !errors.Is(err, models.ErrInvalid) {
				t.Errorf("errors.Is(%q, models.ErrInvalid) = false, want true", err)
			}
			if _, merr := Marshal(s); merr == nil || merr.Error() != err.Error() {
				t.Errorf("Marshal() error = %v, want %v", merr, err)
			}
		})
	}
}

// TestRoundTrip reads the produced XML back with libvirtxml and checks the
// fields the driver relies on; marshalling what was read must give the same
// XML again.
func TestRoundTrip(t *testing.T) {
	all := scenarios()
	for _, name := range slices.Sorted(maps.Keys(all)) {
		t.Run(name, func(t *testing.T) {
			out, err := Marshal(all[name])
			if err != nil {
				t.Fatal(err)
			}
			var d libvirtxml.Domain
			if err := d.Unmarshal(out); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			again, err := d.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if again != out {
				t.Errorf("Marshal(Unmarshal(xml)) differs:\ngot:\n%s\nwant:\n%s", again, out)
			}
		})
	}

	var d libvirtxml.Domain
	out, err := Marshal(scenarios()["linux_kvm_full"])
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Unmarshal(out); err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("type", d.Type, "kvm")
	check("name", d.Name, vmUUID)
	check("uuid", d.UUID, "2f5a3c1e-9b7d-4e6f-8a0b-1c2d3e4f5a6b")
	check("title", d.Title, "web-01 <prod> & co")
	check("memory", d.Memory.Value, uint(8*gib/1024))
	check("memory unit", d.Memory.Unit, "KiB")
	check("vcpus", d.VCPU.Value, uint(4))
	check("cpu mode", d.CPU.Mode, CPUHostPassthrough)
	check("machine", d.OS.Type.Machine, "pc")
	check("on_poweroff", d.OnPoweroff, "destroy")
	check("on_reboot", d.OnReboot, "restart")
	check("on_crash", d.OnCrash, "destroy")
	check("clock", d.Clock.Offset, "utc")

	wantDisks := []struct{ dev, bus, file, alias string }{
		{"vda", "virtio", "/var/lib/zcloud/ps/root.qcow2", "ua-" + rootUUID},
		{"vdb", "virtio", "/var/lib/zcloud/ps/data1.qcow2", "ua-" + data1},
		{"vdc", "virtio", "/var/lib/zcloud/ps/data2.qcow2", "ua-" + data2},
		{"vdd", "virtio", "", "ua-" + shared},
		{"hda", "ide", "/var/lib/zcloud/vm/" + vmUUID + "/cidata.iso", ""},
	}
	if len(d.Devices.Disks) != len(wantDisks) {
		t.Fatalf("disks = %d, want %d", len(d.Devices.Disks), len(wantDisks))
	}
	for i, w := range wantDisks {
		got := d.Devices.Disks[i]
		check("disk target", got.Target.Dev, w.dev)
		check("disk bus", got.Target.Bus, w.bus)
		if w.file != "" {
			check("disk file", got.Source.File.File, w.file)
		}
		if w.alias != "" {
			check("disk alias", got.Alias.Name, w.alias)
		}
	}
	check("shared disk source", d.Devices.Disks[3].Source.Block.Dev, "/dev/zcloud-vg/shared")
	check("shared disk shareable", d.Devices.Disks[3].Shareable != nil, true)
	check("shared disk cache", d.Devices.Disks[3].Driver.Cache, "none")
	check("data1 iotune", d.Devices.Disks[1].IOTune.TotalBytesSec, uint64(100*mib))
	check("root boot", d.Devices.Disks[0].Boot.Order, uint(1))
	check("cdrom boot", d.Devices.Disks[4].Boot.Order, uint(2))
	check("cdrom readonly", d.Devices.Disks[4].ReadOnly != nil, true)

	if len(d.Devices.Interfaces) != 2 {
		t.Fatalf("interfaces = %d, want 2", len(d.Devices.Interfaces))
	}
	nic := d.Devices.Interfaces[0]
	check("nic mac", nic.MAC.Address, "fa:16:3e:00:00:01")
	check("nic bridge", nic.Source.Bridge.Bridge, "br_eth0_100")
	check("nic model", nic.Model.Type, "virtio")
	check("nic tap", nic.Target.Dev, "vnic7.0")
	check("nic mtu", nic.MTU.Size, uint(9000))
	check("nic inbound", *nic.Bandwidth.Inbound.Average, 10240)
	check("nic outbound", *nic.Bandwidth.Outbound.Average, 5121)

	check("serial port", *d.Devices.Serials[0].Target.Port, uint(0))
	check("console target", d.Devices.Consoles[0].Target.Type, "serial")
	check("vnc password", d.Devices.Graphics[0].VNC.Passwd, "s3cret")
	check("vnc listen", d.Devices.Graphics[0].VNC.Listeners[0].Address.Address, "10.0.0.5")
	check("video", d.Devices.Videos[0].Model.Type, "qxl")
	check("qga channel", d.Devices.Channels[0].Target.VirtIO.Name, GuestAgentChannel)

	owner, ok, err := ParseOwner(&d)
	if err != nil || !ok {
		t.Fatalf("ParseOwner = %v, %v, %v; want ok", owner, ok, err)
	}
	check("owner vm uuid", owner.VMUUID, vmUUID)
	check("owner entry", owner.Entries["zone & note"], `a <b> "c"`)
	check("owner entries", len(owner.Entries), 3)
}

func TestRoundTripOnlineChange(t *testing.T) {
	out, err := Marshal(scenarios()["online_change"])
	if err != nil {
		t.Fatal(err)
	}
	var d libvirtxml.Domain
	if err := d.Unmarshal(out); err != nil {
		t.Fatal(err)
	}
	if d.VCPU.Value != 8 || d.VCPU.Current != 2 {
		t.Errorf("vcpu = %d current %d, want 8 current 2", d.VCPU.Value, d.VCPU.Current)
	}
	if d.MaximumMemory == nil || d.MaximumMemory.Value != uint(16*gib/1024) || d.MaximumMemory.Slots != memorySlots {
		t.Errorf("maxMemory = %+v, want %d KiB with %d slots", d.MaximumMemory, 16*gib/1024, memorySlots)
	}
	if d.Memory.Value != uint(gib/1024) || d.CurrentMemory.Value != uint(gib/1024) {
		t.Errorf("memory = %d, current = %d, want %d", d.Memory.Value, d.CurrentMemory.Value, gib/1024)
	}
	if c := d.CPU.Numa.Cell[0]; c.CPUs != "0-7" || c.Memory != uint(gib/1024) {
		t.Errorf("numa cell = %+v, want cpus 0-7 and the boot memory", c)
	}
	if tp := d.CPU.Topology; tp.Sockets*tp.Cores*tp.Threads != 8 {
		t.Errorf("topology %+v does not hold 8 vcpus", tp)
	}
	var ports int
	for _, c := range d.Devices.Controllers {
		if c.Model == "pcie-root-port" {
			ports++
		}
	}
	// root disk, nic, balloon, virtio-scsi, usb + 4 spare.
	if ports != 9 {
		t.Errorf("pcie-root-ports = %d, want 9", ports)
	}
	if d.Devices.Disks[1].Target.Dev != "sdb" || d.Devices.Controllers[0].Model != "virtio-scsi" {
		t.Errorf("scsi disk %s, first controller %s; want sdb and virtio-scsi", d.Devices.Disks[1].Target.Dev, d.Devices.Controllers[0].Model)
	}
}

func TestTargets(t *testing.T) {
	tests := []struct {
		name string
		spec func() Spec
		want []string
	}{
		{"cdrom fills the first free ide unit", func() Spec {
			s := validSpec()
			s.Platform = PlatformWindows
			s.Disks[1].DeviceID = 2
			s.CDROMs = []CDROM{{Path: "/iso/a.iso"}, {}}
			return s
		}, []string{"hda", "hdc", "hdb", "hdd"}},
		{"virtio disks keep their device id letter", func() Spec {
			s := validSpec()
			s.Disks[1].DeviceID = 27
			return s
		}, []string{"vda", "vdab", "hda"}},
		{"sata cdrom after sata disks on q35", func() Spec {
			s := validSpec()
			s.Machine = MachineQ35
			s.Platform = PlatformOther
			return s
		}, []string{"sda", "sdb", "sdc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Build(tt.spec())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, disk := range d.Devices.Disks {
				got = append(got, disk.Target.Dev)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("targets = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTargetName(t *testing.T) {
	for i, want := range map[int]string{0: "vda", 1: "vdb", 25: "vdz", 26: "vdaa", 27: "vdab", 701: "vdzz", 702: "vdaaa"} {
		if got := targetName("vd", i); got != want {
			t.Errorf("targetName(vd, %d) = %s, want %s", i, got, want)
		}
	}
}

func TestBootOrder(t *testing.T) {
	s := validSpec()
	s.BootOrder = []string{BootNetwork, BootCDROM, BootHD}
	d, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	order := func(b *libvirtxml.DomainDeviceBoot) uint {
		if b == nil {
			return 0
		}
		return b.Order
	}
	got := []uint{
		order(d.Devices.Interfaces[0].Boot), order(d.Devices.Interfaces[1].Boot),
		order(d.Devices.Disks[2].Boot), // cdrom
		order(d.Devices.Disks[0].Boot), // root
		order(d.Devices.Disks[1].Boot), // data disk: not bootable
	}
	if want := []uint{1, 2, 3, 4, 0}; !slices.Equal(got, want) {
		t.Errorf("boot orders = %v, want %v", got, want)
	}
	if d.OS.BootDevices != nil {
		t.Errorf("os boot devices = %v, want none (per-device boot only)", d.OS.BootDevices)
	}
}

func TestWindowsOnTCGHasNoHyperV(t *testing.T) {
	s := validSpec()
	s.Platform = PlatformWindows
	d, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	if d.Features.HyperV != nil {
		t.Errorf("hyperv = %+v, want none under TCG", d.Features.HyperV)
	}
	if d.Clock.Offset != "localtime" {
		t.Errorf("clock offset = %s, want localtime", d.Clock.Offset)
	}
	for _, tm := range d.Clock.Timer {
		if tm.Name == "hypervclock" {
			t.Errorf("timer hypervclock present under TCG")
		}
	}
	s.DomainType = DomainKVM
	if d, err = Build(s); err != nil {
		t.Fatal(err)
	}
	if d.Features.HyperV == nil {
		t.Errorf("hyperv missing under KVM")
	}
}

func TestSpecNotModified(t *testing.T) {
	s := scenarios()["linux_kvm_full"]
	before := s.Disks[0]
	if _, err := Build(s); err != nil {
		t.Fatal(err)
	}
	if s.Disks[0] != before {
		t.Errorf("Build reordered or changed the caller's disks: %+v, want %+v", s.Disks[0], before)
	}
}

func TestLibvirtUUID(t *testing.T) {
	got, err := LibvirtUUID("2F5A3C1E9B7D4E6F8A0B1C2D3E4F5A6B")
	if err != nil || got != "2f5a3c1e-9b7d-4e6f-8a0b-1c2d3e4f5a6b" {
		t.Errorf("LibvirtUUID = %q, %v; want the dashed lowercase form", got, err)
	}
	if _, err := LibvirtUUID("2f5a3c1e-9b7d-4e6f-8a0b-1c2d3e4f5a6b"); !errors.Is(err, models.ErrInvalid) {
		t.Errorf("LibvirtUUID(dashed) error = %v, want invalid", err)
	}
}

func TestParseOwner(t *testing.T) {
	tests := []struct {
		name     string
		metadata *libvirtxml.DomainMetadata
		wantOK   bool
		want     Owner
		wantErr  bool
	}{
		{"no metadata", nil, false, Owner{}, false},
		{"foreign metadata only", &libvirtxml.DomainMetadata{
			XML: `<libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0"/>`,
		}, false, Owner{}, false},
		{"prefixed, next to another tool's element", &libvirtxml.DomainMetadata{
			XML: `<other:x xmlns:other="urn:x"/><zc:vm xmlns:zc="https://zcloud.dev/xmlns/domain/1" uuid="` + vmUUID +
				`"><zc:entry key="a">b</zc:entry></zc:vm>`,
		}, true, Owner{VMUUID: vmUUID, Entries: map[string]string{"a": "b"}}, false},
		{"same local name, other namespace", &libvirtxml.DomainMetadata{
			XML: `<vm xmlns="urn:someone-else" uuid="` + vmUUID + `"/>`,
		}, false, Owner{}, false},
		{"malformed", &libvirtxml.DomainMetadata{XML: `<vm xmlns="https://zcloud.dev/xmlns/domain/1">`}, false, Owner{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ParseOwner(&libvirtxml.Domain{Metadata: tt.metadata})
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseOwner error = %v, want error %v", err, tt.wantErr)
			}
			if ok != tt.wantOK {
				t.Fatalf("ParseOwner ok = %v, want %v", ok, tt.wantOK)
			}
			if got.VMUUID != tt.want.VMUUID || !maps.Equal(got.Entries, tt.want.Entries) {
				t.Errorf("ParseOwner = %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, ok, err := ParseOwner(nil); ok || err != nil {
		t.Errorf("ParseOwner(nil) = %v, %v; want not ok, no error", ok, err)
	}
}
