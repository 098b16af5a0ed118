//go:build libvirt

package libvirt

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	virt "libvirt.org/go/libvirt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/domainxml"
	"github.com/zcloud/zcloud/models"
)

const testSSHKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl zcloud@test"

// mtype reads a file of a vfat image on the host side (mtools).
func mtype(t *testing.T, image, name string) string {
	t.Helper()
	out, err := exec.Command("mtype", "-i", image, "::"+name).CombinedOutput()
	require.NoError(t, err, "mtype %s: %s", name, out)
	return string(out)
}

// TestConfigDriveOnTestDriver defines a VM with guest configuration on the
// test driver: the domain has the config drive (raw, vdz, serial cidata)
// and the guest agent channel; the drive holds NoCloud's three files with
// the VM's identity, key, hostname, user-data and NICs; the same spec
// makes the same image byte for byte; destroying the VM removes it.
func TestConfigDriveOnTestDriver(t *testing.T) {
	d := newTestDriver(t)
	ctx := t.Context()
	vm := testVM(t, d)
	vm.Guest = &hostapi.GuestSpec{Hostname: "web-01", SSHKeys: []string{testSSHKey}, UserData: "#cloud-config\nruncmd: [echo hi]\n"}
	_, err := d.CreateVM(ctx, vm, false)
	require.NoError(t, err)
	path, err := d.configDrivePath(vm)
	require.NoError(t, err)
	require.FileExists(t, path)

	x := liveDomain(t, testURI, vm.UUID, virt.DOMAIN_XML_INACTIVE)
	disk := findDisk(x, vm.UUID, path)
	require.NotNil(t, disk, "the domain has the config drive")
	require.Equal(t, "vdz", disk.Target.Dev)
	require.Equal(t, "raw", disk.Driver.Type)
	require.Equal(t, configDriveSerial, disk.Serial)
	require.Len(t, x.Devices.Channels, 1)
	require.Equal(t, domainxml.GuestAgentChannel, x.Devices.Channels[0].Target.VirtIO.Name)

	meta := mtype(t, path, "meta-data")
	require.Contains(t, meta, "instance-id: "+vm.UUID)
	require.Contains(t, meta, "local-hostname: web-01")
	require.Contains(t, meta, testSSHKey)
	require.Equal(t, vm.Guest.UserData, mtype(t, path, "user-data"))
	netcfg := mtype(t, path, "network-config")
	require.Contains(t, netcfg, "macaddress: \""+vm.NICs[0].MAC+"\"")
	require.Contains(t, netcfg, "dhcp4: true")
	label, err := exec.Command("mlabel", "-i", path, "-s", "::").CombinedOutput()
	require.NoError(t, err, "%s", label)
	require.Contains(t, strings.ToLower(string(label)), "cidata")

	before, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, d.writeConfigDrive(ctx, vm))
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after, "the same configuration gives the same image")

	// Bad guest configuration is refused before anything is defined.
	bad := testVM(t, d)
	bad.Guest = &hostapi.GuestSpec{Hostname: "bad_host"}
	_, err = d.CreateVM(ctx, bad, false)
	require.ErrorIs(t, err, models.ErrInvalid)

	require.NoError(t, d.DestroyVM(ctx, vm.UUID))
	require.NoFileExists(t, path, "the config drive goes with the domain")
	left, err := filepath.Glob(filepath.Join(filepath.Dir(path), "*.cidata.img"))
	require.NoError(t, err)
	require.Empty(t, left)
}

// TestCPUModeOnTestDriver maps the CPU modes on the test driver, which
// cannot report domain capabilities: every mode falls back to the default
// model and a named model is refused, since nothing says the host runs it.
func TestCPUModeOnTestDriver(t *testing.T) {
	d := newTestDriver(t)
	for _, cpu := range []*hostapi.CPUSpec{nil, {Mode: hostapi.CPUModeNone}, {Mode: hostapi.CPUModeHostModel}, {Mode: hostapi.CPUModeHostPassthrough}} {
		mode, model, err := d.cpuFor(cpu, domainxml.DomainQEMU)
		require.NoError(t, err)
		require.Empty(t, mode+model, "%+v", cpu)
	}
	_, _, err := d.cpuFor(&hostapi.CPUSpec{Mode: "Haswell"}, domainxml.DomainQEMU)
	require.ErrorIs(t, err, models.ErrInvalid)
	require.ErrorContains(t, err, "cpu model Haswell cannot run on this host")
}

// TestGuestConfigDrive boots a real guest with a config drive: the guest
// finds the vfat disk labelled cidata, mounts it and prints its files on
// its serial console. The domain runs TCG's "max" CPU for
// host-passthrough and has the guest agent channel; the busybox guest runs
// no qemu-guest-agent, so a password change is a clear conflict, not a
// success. Restarted with another key, the guest reads the new one.
func TestGuestConfigDrive(t *testing.T) {
	needSystemLibvirt(t)
	url := imageURL(t, "")
	d := newGuestDriver(t, systemURI, "")
	ctx := t.Context()
	probed, err := d.Probed(ctx)
	require.NoError(t, err)

	vm := guestVM(t, url)
	vm.Guest = &hostapi.GuestSpec{Hostname: "guest-01", SSHKeys: []string{testSSHKey}, UserData: "#cloud-config\nfinal_message: zcloud-userdata-ok\n"}
	vm.CPU = &hostapi.CPUSpec{Mode: hostapi.CPUModeHostPassthrough}
	startGuest(t, d, vm)
	waitConsole(t, d, vm.UUID, "zcloud-cidata vdb meta-data network-config user-data", 1)
	waitConsole(t, d, vm.UUID, "zcloud-cidata-meta-data: instance-id: "+vm.UUID, 1)
	waitConsole(t, d, vm.UUID, "zcloud-cidata-meta-data: local-hostname: guest-01", 1)
	waitConsole(t, d, vm.UUID, "zcloud-cidata-user-data: final_message: zcloud-userdata-ok", 1)

	x := liveDomain(t, systemURI, vm.UUID, 0)
	want := domainxml.CPUHostPassthrough
	if probed.DomainType == domainxml.DomainQEMU {
		want = domainxml.CPUMaximum // TCG cannot pass the host CPU through
	}
	require.Equal(t, want, x.CPU.Mode)
	require.Len(t, x.Devices.Channels, 1)
	require.Equal(t, domainxml.GuestAgentChannel, x.Devices.Channels[0].Target.VirtIO.Name)
	t.Logf("host-passthrough on %s runs cpu mode %s; guest agent channel state %q", probed.DomainType, x.CPU.Mode,
		x.Devices.Channels[0].Target.VirtIO.State)

	err = d.SetGuestPassword(ctx, vm.UUID, "root", "s3cret!")
	require.ErrorIs(t, err, models.ErrConflict)
	require.ErrorContains(t, err, "guest agent of vm "+vm.UUID+" is not connected")

	// Another key: the drive is written again at the next start.
	_, err = d.StopVM(ctx, vm.UUID, "cold", 0)
	require.NoError(t, err)
	err = d.SetGuestPassword(ctx, vm.UUID, "root", "s3cret!")
	require.ErrorIs(t, err, models.ErrConflict, "a stopped guest")
	vm.Guest.SSHKeys = []string{strings.Replace(testSSHKey, "zcloud@test", "zcloud@second", 1)}
	_, err = d.StartVM(ctx, vm)
	require.NoError(t, err)
	waitConsole(t, d, vm.UUID, "zcloud-cidata-meta-data:   - \""+vm.Guest.SSHKeys[0]+"\"", 1)
}
