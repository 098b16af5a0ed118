//go:build libvirt

package libvirt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	virt "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/domainxml"
	"github.com/zcloud/zcloud/models"
)

// Guest configuration on libvirt hosts:
//
//   - A NoCloud config drive: a small vfat file system labelled cidata
//     (made by mkfs.vfat and filled by mcopy, from dosfstools and mtools),
//     beside the root volume so that it moves with shared storage, and
//     attached as a raw disk on the VM's disk bus at configDriveDeviceID.
//     cloud-init reads meta-data (instance-id = VM UUID, local-hostname,
//     public-keys), user-data and network-config (DHCP on each NIC, matched
//     by MAC). It is written again each time the domain is defined or
//     started, and removed with the domain.
//   - The qemu guest agent channel on every domain; passwords change
//     through it (SetGuestPassword).
//   - The vCPU model, checked against libvirt's domain capabilities for the
//     probed domain type (cpuFor).

// configDriveDeviceID is the config drive's device ID: vdz (sdz on SATA),
// far from the data volumes, which count up from 1.
const configDriveDeviceID = 25

// configDriveSerial is the disk serial the guest sees (/dev/disk/by-id).
const configDriveSerial = "cidata"

// configDriveSize is the size of the config drive's vfat file system in
// KiB: user-data is at most hostapi.MaxUserData.
const configDriveSize = 2048

// configDriveEpoch is the time stamp of every file on the config drive, so
// that the same configuration makes the same image byte for byte.
var configDriveEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// configDrivePath is where a VM's config drive lives: beside its root
// volume, so that it is on shared storage when the root volume is.
func (d *Driver) configDrivePath(vm hostapi.VMSpec) (string, error) {
	root, err := d.volumePath(vm.RootVolume)
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(root), strings.ToLower(vm.UUID)+".cidata.img"), nil
}

// guestSpec adds to a domain spec the guest agent channel and, for a VM
// with guest configuration, its config drive on the bus of its disks.
func (d *Driver) guestSpec(s *domainxml.Spec, vm hostapi.VMSpec) error {
	s.GuestAgent = true
	if vm.Guest == nil {
		return nil
	}
	if err := hostapi.ValidateGuest(*vm.Guest); err != nil {
		return err
	}
	path, err := d.configDrivePath(vm)
	if err != nil {
		return err
	}
	disk := domainxml.Disk{VolumeUUID: vm.UUID, Path: path, Format: domainxml.FormatRaw,
		DeviceID: configDriveDeviceID, Serial: configDriveSerial}
	if s.Platform == domainxml.PlatformWindows || s.Platform == domainxml.PlatformOther {
		// No virtio drivers, and IDE has only four units: SATA.
		disk.Bus = domainxml.BusSATA
	}
	s.Disks = append(s.Disks, disk)
	return nil
}

// configDriveFiles are the files of a VM's config drive, by name.
func configDriveFiles(vm hostapi.VMSpec) map[string]string {
	g := vm.Guest
	var meta strings.Builder
	fmt.Fprintf(&meta, "instance-id: %s\n", strings.ToLower(vm.UUID))
	if g.Hostname != "" {
		fmt.Fprintf(&meta, "local-hostname: %s\n", g.Hostname)
	}
	if len(g.SSHKeys) > 0 {
		meta.WriteString("public-keys:\n")
		for _, k := range g.SSHKeys {
			fmt.Fprintf(&meta, "  - %s\n", yamlQuote(k))
		}
	}
	net := "version: 2\nethernets:\n"
	nics := slices.Clone(vm.NICs)
	slices.SortFunc(nics, func(a, b hostapi.NICSpec) int { return a.DeviceID - b.DeviceID })
	for _, n := range nics {
		net += fmt.Sprintf("  nic%d:\n    match:\n      macaddress: %s\n    dhcp4: true\n", n.DeviceID, yamlQuote(strings.ToLower(n.MAC)))
	}
	if len(nics) == 0 {
		net = "version: 2\nethernets: {}\n"
	}
	return map[string]string{"meta-data": meta.String(), "user-data": g.UserData, "network-config": net}
}

// yamlQuote quotes s as a YAML double-quoted scalar.
func yamlQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// writeConfigDrive makes vm's config drive (or removes a stale one when
// the VM has no guest configuration). The image is built beside its final
// path and renamed over it, so that a domain never sees half a drive.
func (d *Driver) writeConfigDrive(ctx context.Context, vm hostapi.VMSpec) error {
	path, err := d.configDrivePath(vm)
	if err != nil {
		return err
	}
	if vm.Guest == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove config drive: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("config drive directory: %w", err)
	}
	src, err := os.MkdirTemp("", "zcloud-cidata-")
	if err != nil {
		return fmt.Errorf("config drive: %w", err)
	}
	defer os.RemoveAll(src)
	files := configDriveFiles(vm)
	names := []string{"meta-data", "user-data", "network-config"}
	for _, name := range names {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(files[name]), 0o600); err != nil {
			return fmt.Errorf("config drive: %w", err)
		}
		if err := os.Chtimes(p, configDriveEpoch, configDriveEpoch); err != nil {
			return fmt.Errorf("config drive: %w", err)
		}
	}
	tmp := tempName(path)
	defer os.Remove(tmp)
	// --invariant and a fixed volume id and time stamps: the same
	// configuration gives the same bytes.
	if out, err := exec.CommandContext(ctx, "mkfs.vfat", "--invariant", "-i", "2d8c1da7", "-n", "cidata", "-C", tmp,
		fmt.Sprint(configDriveSize)).CombinedOutput(); err != nil {
		return fmt.Errorf("config drive: mkfs.vfat (dosfstools): %w: %s", err, strings.TrimSpace(string(out)))
	}
	args := []string{"-i", tmp, "-m"}
	for _, name := range names {
		args = append(args, filepath.Join(src, name))
	}
	if out, err := exec.CommandContext(ctx, "mcopy", append(args, "::")...).CombinedOutput(); err != nil {
		return fmt.Errorf("config drive: mcopy (mtools): %w: %s", err, strings.TrimSpace(string(out)))
	}
	// QEMU runs as libvirt-qemu: the drive must be readable by it, as
	// volumes are.
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("config drive: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("config drive: %w", err)
	}
	return nil
}

// removeConfigDrives deletes a VM's config drive from every primary
// storage directory: the domain that named it may be gone already.
func (d *Driver) removeConfigDrives(vmUUID string) error {
	paths, err := filepath.Glob(filepath.Join(d.cfg.StorageDir, "*", strings.ToLower(vmUUID)+".cidata.img"))
	if err != nil {
		return fmt.Errorf("config drives of vm %s: %w", vmUUID, err)
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove config drive: %w", err)
		}
	}
	return nil
}

// cpuCaps is what libvirt's domain capabilities say of the vCPU models of
// one domain type.
type cpuCaps struct {
	modes  map[string]bool // supported modes
	usable map[string]bool // custom models the host can run
}

// cpuCapsCache keeps one host's domain capabilities per domain type: they
// do not change while libvirtd runs.
type cpuCapsCache struct {
	mu   sync.Mutex
	caps map[string]cpuCaps
}

// domainCPUCaps reads libvirt's domain capabilities for domainType, once.
func (d *Driver) domainCPUCaps(domainType string) (cpuCaps, error) {
	d.cpuCaps.mu.Lock()
	defer d.cpuCaps.mu.Unlock()
	if c, ok := d.cpuCaps.caps[domainType]; ok {
		return c, nil
	}
	doc, err := with(d, func(c *virt.Connect) (string, error) {
		return c.GetDomainCapabilities("", "x86_64", "", domainType, 0)
	})
	if isCode(err, virt.ERR_NO_SUPPORT) {
		// A driver that cannot tell (the test driver): no mode or model is
		// known to work, so every VM gets the default model.
		doc, err = "<domainCapabilities/>", nil
	}
	if err != nil {
		return cpuCaps{}, fmt.Errorf("domain capabilities of %s: %w", domainType, err)
	}
	var x libvirtxml.DomainCaps
	if err := x.Unmarshal(doc); err != nil {
		return cpuCaps{}, fmt.Errorf("parse domain capabilities: %w", err)
	}
	c := cpuCaps{modes: map[string]bool{}, usable: map[string]bool{}}
	if x.CPU != nil {
		for _, m := range x.CPU.Modes {
			if m.Supported != "yes" {
				continue
			}
			c.modes[m.Name] = true
			if m.Name == "custom" {
				for _, model := range m.Models {
					if model.Usable == "yes" {
						c.usable[model.Name] = true
					}
				}
			}
		}
	}
	if d.cpuCaps.caps == nil {
		d.cpuCaps.caps = map[string]cpuCaps{}
	}
	d.cpuCaps.caps[domainType] = c
	return c, nil
}

// cpuFor maps the CPU a VM asks for to what this host gives it, by
// libvirt's domain capabilities for the probed domain type:
//
//   - none (or no CPU spec): the hypervisor's default model;
//   - host-passthrough: itself where supported (KVM); under TCG, which
//     cannot pass the host CPU through, QEMU's "max" model (every feature
//     TCG emulates, CPUMaximum), else the default;
//   - host-model: itself where supported, else the default;
//   - a named model: itself when the host can run it, else
//     models.ErrInvalid saying so (a guest must not silently get another
//     CPU than the one its operator named).
func (d *Driver) cpuFor(cpu *hostapi.CPUSpec, domainType string) (mode, model string, err error) {
	if cpu == nil || cpu.Mode == "" || cpu.Mode == hostapi.CPUModeNone {
		return "", "", nil
	}
	caps, err := d.domainCPUCaps(domainType)
	if err != nil {
		return "", "", err
	}
	switch cpu.Mode {
	case hostapi.CPUModeHostPassthrough:
		switch {
		case caps.modes[domainxml.CPUHostPassthrough] && domainType == domainxml.DomainKVM:
			return domainxml.CPUHostPassthrough, "", nil
		case caps.modes[domainxml.CPUMaximum]:
			return domainxml.CPUMaximum, "", nil
		}
		return "", "", nil
	case hostapi.CPUModeHostModel:
		if caps.modes[domainxml.CPUHostModel] {
			return domainxml.CPUHostModel, "", nil
		}
		return "", "", nil
	}
	if !caps.usable[cpu.Mode] {
		return "", "", models.Invalid("cpu model %s cannot run on this host (%s domains): libvirt's domain capabilities do not list it as usable",
			cpu.Mode, domainType)
	}
	return "", cpu.Mode, nil
}

// SetGuestPassword changes account's password inside the running guest
// through its qemu guest agent (guest-set-user-password). A guest whose
// agent is not connected, or a domain that is not running, is
// models.ErrConflict.
func (d *Driver) SetGuestPassword(_ context.Context, vmUUID, account, password string) error {
	if account == "" || password == "" {
		return fail("set guest password", models.Invalid("account and password are required"))
	}
	_, err := d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		if active, err := dom.IsActive(); err != nil || !active {
			if err != nil {
				return "", fmt.Errorf("domain state: %w", err)
			}
			return "", models.Conflict("vm %s is not running: its guest agent cannot change a password", vmUUID)
		}
		err := dom.SetUserPassword(account, password, 0)
		switch {
		case isCode(err, virt.ERR_AGENT_UNRESPONSIVE, virt.ERR_AGENT_UNSYNCED):
			return "", &models.Error{Kind: models.KindConflict, Code: models.DefaultCode(models.KindConflict),
				Message: fmt.Sprintf("the qemu guest agent of vm %s is not connected: install and start qemu-guest-agent in the guest", vmUUID),
				Cause:   err}
		case isCode(err, virt.ERR_OPERATION_INVALID):
			return "", models.Conflict("vm %s is not running: its guest agent cannot change a password", vmUUID)
		case err != nil:
			return "", fmt.Errorf("guest-set-user-password for %s: %w", account, err)
		}
		return "", nil
	})
	if err != nil {
		return fail("set guest password", err)
	}
	return nil
}
