package domainxml

import (
	"bytes"
	"flag"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.xml from the current output")

const (
	vmUUID   = "2f5a3c1e9b7d4e6f8a0b1c2d3e4f5a6b"
	rootUUID = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
	data1    = "b1b2c3d4e5f60718293a4b5c6d7e8f91"
	data2    = "c1b2c3d4e5f60718293a4b5c6d7e8f92"
	shared   = "d1b2c3d4e5f60718293a4b5c6d7e8f93"
	nic1UUID = "e1b2c3d4e5f60718293a4b5c6d7e8f94"
)

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// scenarios are the golden cases: one testdata/<name>.xml each.
func scenarios() map[string]Spec {
	return map[string]Spec{
		// The smallest useful guest: TCG, one disk, serial console to a file.
		"linux_tcg_minimal": {
			UUID:        vmUUID,
			Name:        "tiny",
			DomainType:  DomainQEMU,
			Platform:    PlatformLinux,
			CPUNum:      1,
			MemoryBytes: 256 * mib,
			Disks: []Disk{
				{VolumeUUID: rootUUID, Path: "/var/lib/zcloud/ps/root.qcow2", Format: FormatQCOW2, DeviceID: 0},
			},
			Console: Console{SerialLogPath: "/var/log/zcloud/vm/" + vmUUID + ".serial.log"},
		},
		// Everything a Linux KVM guest can have.
		"linux_kvm_full": {
			UUID:        vmUUID,
			Name:        "web-01 <prod> & co",
			DomainType:  DomainKVM,
			Platform:    PlatformLinux,
			CPUNum:      4,
			MemoryBytes: 8 * gib,
			CPUMode:     CPUHostPassthrough,
			Disks: []Disk{
				// Given out of order: Build sorts by DeviceID.
				{VolumeUUID: data2, Path: "/var/lib/zcloud/ps/data2.qcow2", Format: FormatQCOW2, DeviceID: 2,
					IOTune: &IOTune{ReadIOPSSec: 2000, WriteIOPSSec: 1000}},
				{VolumeUUID: rootUUID, Path: "/var/lib/zcloud/ps/root.qcow2", Format: FormatQCOW2, DeviceID: 0},
				{VolumeUUID: data1, Path: "/var/lib/zcloud/ps/data1.qcow2", Format: FormatQCOW2, DeviceID: 1,
					Serial: "data-one", IOTune: &IOTune{TotalBytesSec: 100 * mib, TotalIOPSSec: 500}},
				{VolumeUUID: shared, Path: "/dev/zcloud-vg/shared", Format: FormatRaw, DeviceID: 3, Shareable: true},
			},
			CDROMs: []CDROM{{Path: "/var/lib/zcloud/vm/" + vmUUID + "/cidata.iso"}},
			NICs: []NIC{
				{UUID: nic1UUID, MAC: "FA:16:3E:00:00:01", Bridge: "br_eth0_100", TargetDev: "vnic7.0",
					MTU: 9000, InboundBytesSec: 10 * mib, OutboundBytesSec: 5*mib + 1},
				{MAC: "fa:16:3e:00:00:02", Bridge: "br_vx_5000", TargetDev: "vnic7.1"},
			},
			Console:    Console{VNC: true, VNCPassword: "s3cret", VNCListen: "10.0.0.5", Video: VideoQXL},
			GuestAgent: true,
			Metadata: map[string]string{
				"owner":       "account-admin",
				"hostUuid":    "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
				"zone & note": "a <b> \"c\"",
			},
		},
		// Windows without virtio drivers: IDE, e1000, local-time clock,
		// Hyper-V enlightenments, installed from a CD-ROM.
		"windows_emulated": {
			UUID:        vmUUID,
			Name:        "win2019",
			DomainType:  DomainKVM,
			Platform:    PlatformWindows,
			CPUNum:      2,
			MemoryBytes: 4 * gib,
			Disks: []Disk{
				{VolumeUUID: rootUUID, Path: "/var/lib/zcloud/ps/root.qcow2", Format: FormatQCOW2, DeviceID: 0},
				{VolumeUUID: data1, Path: "/var/lib/zcloud/ps/data1.raw", Format: FormatRaw, DeviceID: 1},
			},
			CDROMs: []CDROM{
				{Path: "/var/lib/zcloud/iso/windows2019.iso"},
				{}, // empty drive, e.g. for the virtio driver ISO later
			},
			NICs:      []NIC{{MAC: "fa:16:3e:00:00:03", Bridge: "br_eth0"}},
			BootOrder: []string{BootCDROM, BootHD},
			Console:   Console{VNC: true},
		},
		// Windows with virtio drivers on q35 under TCG: SATA CD-ROM, no
		// Hyper-V (a KVM feature).
		"windows_virtio_q35_tcg": {
			UUID:        vmUUID,
			DomainType:  DomainQEMU,
			Machine:     MachineQ35,
			Platform:    PlatformWindowsVirtio,
			CPUNum:      2,
			MemoryBytes: 2 * gib,
			Disks: []Disk{
				{VolumeUUID: rootUUID, Path: "/var/lib/zcloud/ps/root.qcow2", Format: FormatQCOW2, DeviceID: 0},
			},
			CDROMs:     []CDROM{{}},
			NICs:       []NIC{{MAC: "fa:16:3e:00:00:04", Bridge: "br_eth0", Model: NICE1000E}},
			Console:    Console{VNC: true, VNCPort: 5901, Video: VideoVirtio},
			GuestAgent: true,
		},
		// PCI (GPU and its audio function) and USB passthrough by bus/device.
		"passthrough": {
			UUID:        vmUUID,
			Name:        "gpu-box",
			DomainType:  DomainKVM,
			Platform:    PlatformLinux,
			CPUNum:      8,
			MemoryBytes: 16 * gib,
			CPUMode:     CPUHostModel,
			Disks: []Disk{
				{VolumeUUID: rootUUID, Path: "/var/lib/zcloud/ps/root.qcow2", Format: FormatQCOW2, DeviceID: 0},
			},
			NICs: []NIC{{MAC: "fa:16:3e:00:00:05", Bridge: "br_eth0"}},
			HostDevices: []HostDev{
				{Type: HostDevPCI, Address: "0000:65:00.0"},
				{Type: HostDevPCI, Address: "65:00.1"},
				{Type: HostDevUSB, Address: "001/004"},
			},
			BootOrder: []string{BootNetwork, BootHD},
		},
		// USB passthrough by vendor:product (see schemaDeviations).
		"usb_by_id": {
			UUID:        vmUUID,
			DomainType:  DomainQEMU,
			Platform:    PlatformLinux,
			CPUNum:      1,
			MemoryBytes: 512 * mib,
			HostDevices: []HostDev{{Type: HostDevUSB, Address: "046D:C52B"}},
		},
		// Room for online CPU and memory increase, on q35 with spare
		// root ports, a virtio-scsi data disk and a pty console.
		// A guest configured at boot (cpu.go, the libvirt driver's
		// guest.go): a NoCloud config drive as a raw disk on a high
		// target, the qemu guest agent channel, and TCG's "max" CPU.
		"guest_config": {
			UUID:        vmUUID,
			Name:        "cloud",
			DomainType:  DomainQEMU,
			Platform:    PlatformLinux,
			CPUNum:      1,
			MemoryBytes: 256 * mib,
			CPUMode:     CPUMaximum,
			Disks: []Disk{
				{VolumeUUID: rootUUID, Path: "/var/lib/zcloud/ps/root.qcow2", Format: FormatQCOW2, DeviceID: 0},
				{VolumeUUID: vmUUID, Path: "/var/lib/zcloud/ps/" + vmUUID + ".cidata.img", Format: FormatRaw, DeviceID: 25, Serial: "cidata"},
			},
			GuestAgent: true,
		},
		// A named CPU model, matched exactly.
		"cpu_custom_model": {
			UUID:        vmUUID,
			DomainType:  DomainKVM,
			Platform:    PlatformLinux,
			CPUNum:      2,
			MemoryBytes: 1 * gib,
			CPUModel:    "Haswell-noTSX",
			Disks: []Disk{
				{VolumeUUID: rootUUID, Path: "/var/lib/zcloud/ps/root.qcow2", Format: FormatQCOW2, DeviceID: 0},
			},
		},
		"online_change": {
			UUID:           vmUUID,
			Name:           "elastic",
			DomainType:     DomainQEMU,
			Machine:        MachineQ35,
			Platform:       PlatformLinux,
			CPUNum:         2,
			MaxCPUNum:      8,
			MemoryBytes:    1 * gib,
			MaxMemoryBytes: 16 * gib,
			CPUMode:        CPUHostModel,
			Disks: []Disk{
				{VolumeUUID: rootUUID, Path: "/var/lib/zcloud/ps/root.qcow2", Format: FormatQCOW2, DeviceID: 0},
				{VolumeUUID: data1, Path: "/var/lib/zcloud/ps/data1.qcow2", Format: FormatQCOW2, DeviceID: 1, Bus: BusSCSI},
			},
			NICs: []NIC{{MAC: "fa:16:3e:00:00:06", Bridge: "br_eth0"}},
		},
		// What the libvirt driver defines for SetVolumeQos and shareable
		// volumes (iotune_test.go).
		"volume_qos_shareable": volumeQoSScenario(),
	}
}

func TestGolden(t *testing.T) {
	for name, spec := range scenarios() {
		t.Run(name, func(t *testing.T) {
			got, err := Marshal(spec)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			got += "\n"
			path := filepath.Join("testdata", name+".xml")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run go test -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("Marshal output differs from %s (run go test -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

// TestGoldenFilesHaveScenarios catches golden files left behind by a
// renamed or removed scenario.
func TestGoldenFilesHaveScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	if err != nil {
		t.Fatal(err)
	}
	names := scenarios()
	for _, f := range files {
		name := filepath.Base(f[:len(f)-len(".xml")])
		if _, ok := names[name]; !ok {
			t.Errorf("%s has no scenario", f)
		}
	}
}

// TestDeterministic builds every scenario many times: map order must not
// leak into the XML.
func TestDeterministic(t *testing.T) {
	for _, name := range slices.Sorted(maps.Keys(scenarios())) {
		spec := scenarios()[name]
		first, err := Marshal(spec)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for range 20 {
			again, err := Marshal(spec)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if again != first {
				t.Fatalf("%s: output changed between two builds", name)
			}
		}
	}
}

// schemaDeviations are golden files that libvirt's RelaxNG schema rejects
// although libvirt's parser accepts them, with the reason.
var schemaDeviations = map[string]string{
	// libvirtxml writes <product> before <vendor>; the schema wants vendor
	// first, libvirt's parser reads both in any order.
	"usb_by_id.xml": "libvirtxml orders <product> before <vendor> in a usb hostdev source",
}

// TestSchema validates every golden file against libvirt's RelaxNG schema
// with virt-xml-validate (package libvirt-clients, which runs xmllint from
// libxml2-utils).
func TestSchema(t *testing.T) {
	tool, err := exec.LookPath("virt-xml-validate")
	if err != nil {
		t.Skip("virt-xml-validate not found (apt-get install libvirt-clients); golden files not checked against the libvirt schema")
	}
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint not found (apt-get install libxml2-utils), virt-xml-validate cannot run; golden files not checked against the libvirt schema")
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if why, ok := schemaDeviations[filepath.Base(f)]; ok {
				t.Skipf("known schema deviation: %s", why)
			}
			out, err := exec.CommandContext(t.Context(), tool, f, "domain").CombinedOutput()
			if err != nil {
				t.Errorf("virt-xml-validate %s: %v\n%s", f, err, out)
			}
		})
	}
}

// TestLibvirtParse defines every golden file on libvirt's in-process test
// driver (virsh -c test:///default, no daemon), which runs libvirt's own
// parser and its generic post-parse checks, plus the schema check except
// for the known deviations.
func TestLibvirtParse(t *testing.T) {
	virsh, err := exec.LookPath("virsh")
	if err != nil {
		t.Skip("virsh not found (apt-get install libvirt-clients); golden files not parsed by libvirt")
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			args := []string{"-c", "test:///default", "define", f}
			if _, ok := schemaDeviations[filepath.Base(f)]; !ok {
				args = append(args, "--validate")
			}
			out, err := exec.CommandContext(t.Context(), virsh, args...).CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("defined from")) {
				t.Errorf("virsh define %s: %v\n%s", f, err, out)
			}
		})
	}
}
