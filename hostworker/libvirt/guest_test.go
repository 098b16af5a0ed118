//go:build libvirt

package libvirt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	virt "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/domainxml"
	"github.com/zcloud/zcloud/hostworker/testhost"
	"github.com/zcloud/zcloud/models"
)

// Real-guest tests: QEMU guests under the system libvirtd (qemu:///system),
// booting the image deploy/scripts/guest-image.sh builds, served over HTTP on
// 127.0.0.1 as ImageStore serves images. They skip when libvirtd does not
// answer or the image cannot be built, and fail instead when
// ZCLOUD_REQUIRE_LIBVIRT=1. Start libvirtd with deploy/scripts/libvirtd.sh.

const (
	systemURI         = "qemu:///system"
	requireLibvirtEnv = "ZCLOUD_REQUIRE_LIBVIRT"
	// bootMarker is the first line the guest's /init writes to ttyS0.
	bootMarker = "zcloud-guest-boot"
	// firstHeartbeat is the guest's first heartbeat of a boot, written once
	// its acpid runs.
	firstHeartbeat = "zcloud-heartbeat 1 uptime"
	// guestTimeout bounds every wait for the guest; TCG on a loaded
	// 2-core machine boots in 6-12 s.
	guestTimeout = 90 * time.Second
)

// guestImages are built once per test binary and kernel-argument variant,
// and shared by the tests.
var guestImages = struct {
	mu     sync.Mutex
	dir    string
	byArgs map[string]string
}{byArgs: map[string]string{}}

func TestMain(m *testing.M) {
	code := m.Run()
	if guestImages.dir != "" {
		_ = os.RemoveAll(guestImages.dir)
	}
	os.Exit(code)
}

// skipOrFail skips the test, or fails it when ZCLOUD_REQUIRE_LIBVIRT=1.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv(requireLibvirtEnv) == "1" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format+" (set "+requireLibvirtEnv+"=1 to fail instead)", args...)
}

// needSystemLibvirt skips unless qemu:///system answers.
func needSystemLibvirt(t *testing.T) {
	t.Helper()
	c, err := virt.NewConnect(systemURI)
	if err != nil {
		skipOrFail(t, "libvirtd does not answer at %s (deploy/scripts/libvirtd.sh start DIR): %v", systemURI, err)
		return
	}
	_, _ = c.Close()
}

// buildGuestImage builds the guest image with extra kernel arguments, once.
func buildGuestImage(t *testing.T, kernelArgs string) (string, error) {
	t.Helper()
	guestImages.mu.Lock()
	defer guestImages.mu.Unlock()
	if path, ok := guestImages.byArgs[kernelArgs]; ok {
		return path, nil
	}
	script, err := filepath.Abs("../../deploy/scripts/guest-image.sh")
	if err != nil {
		return "", err
	}
	if guestImages.dir == "" {
		if guestImages.dir, err = os.MkdirTemp("", "zcloud-guest-image-"); err != nil {
			return "", err
		}
	}
	path := filepath.Join(guestImages.dir, fmt.Sprintf("guest-%d.qcow2", len(guestImages.byArgs)))
	start := time.Now()
	cmd := exec.Command(script, path)
	cmd.Env = append(os.Environ(), "ZCLOUD_GUEST_APPEND="+kernelArgs)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", script, err, out)
	}
	t.Logf("guest image (kernel args %q) built in %s", kernelArgs, time.Since(start).Round(time.Millisecond))
	guestImages.byArgs[kernelArgs] = path
	return path, nil
}

// imageURL builds the guest image (once) and serves it on 127.0.0.1.
func imageURL(t *testing.T, kernelArgs string) string {
	t.Helper()
	path, err := buildGuestImage(t, kernelArgs)
	if err != nil {
		skipOrFail(t, "cannot build the guest image: %v", err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(path))))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(path)
}

// traversableDir is a fresh directory QEMU can reach: QEMU runs as
// libvirt-qemu, which cannot enter t.TempDir's 0700 parent.
func traversableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "zcloud-libvirt-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// newGuestDriver is a driver on the system libvirtd with its storage in a
// fresh directory under dir (a new one when dir is empty).
func newGuestDriver(t *testing.T, uri, dir string) *Driver {
	t.Helper()
	if dir == "" {
		dir = traversableDir(t)
	}
	d, err := New(Config{
		URI:           uri,
		StorageDir:    filepath.Join(dir, "ps"),
		ImageCacheDir: filepath.Join(dir, "imagecache"),
		Grace:         20 * time.Second,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// guestVM is a 1-vCPU, 256 MiB VM with a root volume from the guest image.
func guestVM(t *testing.T, url string) hostapi.VMSpec {
	t.Helper()
	return hostapi.VMSpec{
		UUID:       newUUID(t),
		Name:       "guest-" + t.Name(),
		CPUNum:     1,
		MemorySize: 256 << 20,
		Platform:   "Linux",
		RootVolume: hostapi.VolumeSpec{
			UUID: newUUID(t), Type: VolumeRoot, PrimaryStorageUUID: newUUID(t),
			ImageUUID: newUUID(t), ImageURL: url,
		},
	}
}

// startGuest instantiates the root volume, creates and starts the VM and
// waits for the boot marker; the cleanup destroys the domain and deletes
// the volume, and checks both are gone.
func startGuest(t *testing.T, d *Driver, vm hostapi.VMSpec) {
	t.Helper()
	ctx := t.Context()
	_, err := d.InstantiateVolume(ctx, vm.RootVolume)
	require.NoError(t, err)
	t.Cleanup(func() { removeGuest(t, d, vm) })
	start := time.Now()
	st, err := d.CreateVM(ctx, vm, true)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerRunning, st)
	running := time.Since(start)
	waitConsole(t, d, vm.UUID, bootMarker, 1)
	t.Logf("create to running %s, to boot marker %s", running.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// removeGuest destroys the VM's domain and deletes its volumes, and checks
// that libvirt has no domain and the storage no file left.
func removeGuest(t *testing.T, d *Driver, vm hostapi.VMSpec) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, d.DestroyVM(ctx, vm.UUID))
	for _, vol := range append([]hostapi.VolumeSpec{vm.RootVolume}, vm.DataVolumes...) {
		require.NoError(t, d.DeleteVolume(ctx, vol))
		path, err := d.volumePath(vol)
		require.NoError(t, err)
		require.NoFileExists(t, path)
	}
	vms, err := d.ListVMs(ctx)
	require.NoError(t, err)
	for _, v := range vms {
		require.NotEqual(t, vm.UUID, v.UUID, "domain of vm %s left behind", vm.UUID)
	}
}

// consoleCount is how many console lines of the VM contain s.
func consoleCount(t *testing.T, d *Driver, vmUUID, s string) int {
	t.Helper()
	b, err := os.ReadFile(d.consolePath(vmUUID))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	require.NoError(t, err)
	return strings.Count(string(b), s)
}

// waitConsole polls the VM's serial console log until s appears n times.
func waitConsole(t *testing.T, d *Driver, vmUUID, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(guestTimeout)
	for consoleCount(t, d, vmUUID, s) < n {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(d.consolePath(vmUUID))
			t.Fatalf("%q did not appear %d times on the console of %s within %s; console:\n%s", s, n, vmUUID, guestTimeout, tail(string(b), 2000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// memTotal is the host's memory as /proc/meminfo reports it.
func memTotal(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/meminfo")
	require.NoError(t, err)
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kib * 1024
		}
	}
	t.Fatal("no MemTotal in /proc/meminfo")
	return 0
}

var heartbeatRE = regexp.MustCompile(`zcloud-heartbeat (\d+)`)

// lastHeartbeat is the highest heartbeat number on the console, or -1.
// The highest rather than the last: a migrated guest's destination writes
// the same file from its start while the source's lines stay further on.
func lastHeartbeat(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return -1
	}
	require.NoError(t, err)
	defer f.Close()
	last := -1
	s := bufio.NewScanner(f)
	for s.Scan() {
		for _, m := range heartbeatRE.FindAllStringSubmatch(s.Text(), -1) {
			if n, _ := strconv.Atoi(m[1]); n > last {
				last = n
			}
		}
	}
	return last
}

// waitHeartbeatAfter polls until the guest's heartbeat passes n.
func waitHeartbeatAfter(t *testing.T, path string, n int) int {
	t.Helper()
	deadline := time.Now().Add(guestTimeout)
	for {
		if hb := lastHeartbeat(t, path); hb > n {
			return hb
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(path)
			t.Fatalf("no heartbeat after %d in %s within %s; console:\n%s", n, path, guestTimeout, tail(string(b), 2000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func liveDomain(t *testing.T, uri, vmUUID string, flags virt.DomainXMLFlags) *libvirtxml.Domain {
	t.Helper()
	c, err := virt.NewConnect(uri)
	require.NoError(t, err)
	defer func() { _, _ = c.Close() }()
	dashed, err := domainxml.LibvirtUUID(vmUUID)
	require.NoError(t, err)
	dom, err := c.LookupDomainByUUIDString(dashed)
	require.NoError(t, err)
	defer func() { _ = dom.Free() }()
	x, err := domainXML(dom, flags)
	require.NoError(t, err)
	return x
}

// TestGuestLifecycle boots a real guest under TCG from an image URL and
// takes it through stop, start, reboot and destroy, reading its serial
// console at each step.
func TestGuestLifecycle(t *testing.T) {
	needSystemLibvirt(t)
	url := imageURL(t, "")
	d := newGuestDriver(t, systemURI, "")
	ctx := t.Context()

	probed, err := d.Probed(ctx)
	require.NoError(t, err)
	t.Logf("probe: %s (%s)", probed.DomainType, probed.Reason)
	facts, err := d.Facts(ctx)
	require.NoError(t, err)
	t.Logf("facts: %+v", facts)
	require.Equal(t, probed.DomainType, facts.DomainType)
	require.Equal(t, runtime.NumCPU(), facts.CPUNum, "cpus")
	require.Positive(t, facts.CPUSockets)
	require.Equal(t, memTotal(t), facts.MemoryBytes, "memory is /proc/meminfo's MemTotal")

	vm := guestVM(t, url)
	startGuest(t, d, vm)
	x := liveDomain(t, systemURI, vm.UUID, 0)
	require.Equal(t, probed.DomainType, x.Type, "domain type follows the probe")

	vms, err := d.ListVMs(ctx)
	require.NoError(t, err)
	require.Contains(t, vms, hostapi.VMState{UUID: vm.UUID, State: hostapi.PowerRunning})

	// A graceful stop presses the ACPI power button; the guest's acpid
	// (running once the first heartbeat is out) powers off and says so
	// before the grace period ends.
	waitConsole(t, d, vm.UUID, firstHeartbeat, 1)
	start := time.Now()
	st, err := d.StopVM(ctx, vm.UUID, "grace", 30*time.Second)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerStopped, st)
	took := time.Since(start)
	require.Equal(t, 1, consoleCount(t, d, vm.UUID, "zcloud-acpi-poweroff"), "the guest powered off on ACPI")
	require.Less(t, took, 30*time.Second, "the guest stopped before the grace timeout")
	t.Logf("graceful stop (ACPI) took %s", took.Round(time.Millisecond))

	// libvirt truncates the console file when the domain starts: from here
	// on it holds only the current boot.
	start = time.Now()
	st, err = d.StartVM(ctx, vm)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerRunning, st)
	waitConsole(t, d, vm.UUID, bootMarker, 1)
	t.Logf("start to boot marker %s", time.Since(start).Round(time.Millisecond))

	waitConsole(t, d, vm.UUID, firstHeartbeat, 1)
	start = time.Now()
	st, err = d.RebootVM(ctx, vm.UUID)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerRunning, st)
	waitConsole(t, d, vm.UUID, bootMarker, 1)
	t.Logf("reboot to boot marker %s", time.Since(start).Round(time.Millisecond))

	// A cold stop does not ask the guest.
	waitConsole(t, d, vm.UUID, firstHeartbeat, 1)
	st, err = d.StopVM(ctx, vm.UUID, "cold", 0)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerStopped, st)
	require.Zero(t, consoleCount(t, d, vm.UUID, "zcloud-acpi-poweroff"), "the cold stop did not go through the guest")
	vms, err = d.ListVMs(ctx)
	require.NoError(t, err)
	require.Contains(t, vms, hostapi.VMState{UUID: vm.UUID, State: hostapi.PowerStopped})
}

// TestGuestForcedStopAfterGrace proves the fallback of a graceful stop: a
// guest that ignores the ACPI power button (its acpid is off) is destroyed
// once the grace period ends.
func TestGuestForcedStopAfterGrace(t *testing.T) {
	needSystemLibvirt(t)
	url := imageURL(t, "zcloud.noacpi")
	d := newGuestDriver(t, systemURI, "")
	ctx := t.Context()
	vm := guestVM(t, url)
	startGuest(t, d, vm)
	waitHeartbeatAfter(t, d.consolePath(vm.UUID), 0)

	const grace = 3 * time.Second
	start := time.Now()
	st, err := d.StopVM(ctx, vm.UUID, "grace", grace)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerStopped, st)
	took := time.Since(start)
	require.GreaterOrEqual(t, took, grace, "the domain was destroyed only after the grace period")
	require.Zero(t, consoleCount(t, d, vm.UUID, "zcloud-acpi-poweroff"), "the guest ignored ACPI")
	vms, err := d.ListVMs(ctx)
	require.NoError(t, err)
	require.Contains(t, vms, hostapi.VMState{UUID: vm.UUID, State: hostapi.PowerStopped})
	t.Logf("guest ignoring ACPI, grace %s: forced stop after %s", grace, took.Round(time.Millisecond))
}

// TestGuestVolumes hot-plugs a data volume into a running guest, which sees
// it, grows it online, snapshots it live, pauses and resumes the guest, and
// unplugs the volume again; then plugs it into the stopped VM, which boots
// with it.
func TestGuestVolumes(t *testing.T) {
	needSystemLibvirt(t)
	url := imageURL(t, "")
	d := newGuestDriver(t, systemURI, "")
	ctx := t.Context()
	vm := guestVM(t, url)
	startGuest(t, d, vm)
	console := d.consolePath(vm.UUID)
	waitConsole(t, d, vm.UUID, firstHeartbeat, 1)

	data := hostapi.VolumeSpec{
		UUID: newUUID(t), Type: VolumeData, PrimaryStorageUUID: vm.RootVolume.PrimaryStorageUUID,
		Size: 64 << 20, DeviceID: 1,
	}
	_, err := d.InstantiateVolume(ctx, data)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, d.DestroyVM(context.Background(), vm.UUID))
		require.NoError(t, d.DeleteVolume(context.Background(), data))
	})
	dataPath, err := d.volumePath(data)
	require.NoError(t, err)
	hasDisk := func(flags virt.DomainXMLFlags) bool {
		return findDisk(liveDomain(t, systemURI, vm.UUID, flags), data.UUID, dataPath) != nil
	}

	// Hot-plug: the guest sees vdb; attaching again changes nothing.
	start := time.Now()
	dev, err := d.AttachVolume(ctx, vm.UUID, data)
	require.NoError(t, err)
	require.Equal(t, "vdb", dev)
	waitConsole(t, d, vm.UUID, "zcloud-disk-added vdb", 1)
	t.Logf("attach to guest seeing vdb: %s", time.Since(start).Round(time.Millisecond))
	dev, err = d.AttachVolume(ctx, vm.UUID, data)
	require.NoError(t, err)
	require.Equal(t, "vdb", dev)
	require.True(t, hasDisk(0), "running domain has the disk")
	require.True(t, hasDisk(virt.DOMAIN_XML_INACTIVE), "definition has the disk")
	other := data
	other.UUID = newUUID(t)
	_, err = d.InstantiateVolume(ctx, other)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.DeleteVolume(context.Background(), other)) })
	_, err = d.AttachVolume(ctx, vm.UUID, other)
	require.ErrorIs(t, err, models.ErrConflict, "vdb is taken")

	// Online resize goes through QEMU.
	size, err := d.ResizeVolume(ctx, data, 128<<20)
	require.NoError(t, err)
	require.Equal(t, int64(128<<20), size)
	require.Equal(t, int64(128<<20), info(t, dataPath).VirtualSize)
	size, err = d.ResizeVolume(ctx, data, 128<<20)
	require.NoError(t, err)
	require.Equal(t, int64(128<<20), size)
	_, err = d.ResizeVolume(ctx, data, 64<<20)
	require.ErrorIs(t, err, models.ErrInvalid, "no shrinking")

	// Live internal snapshots, of the data and the root volume.
	for _, vol := range []hostapi.VolumeSpec{data, vm.RootVolume} {
		snap := newUUID(t)
		res, err := d.CreateVolumeSnapshot(ctx, vol, snap)
		require.NoError(t, err)
		again, err := d.CreateVolumeSnapshot(ctx, vol, snap)
		require.NoError(t, err)
		require.Equal(t, res, again)
		require.True(t, hasSnapshot(info(t, res.InstallPath), snap))
		require.ErrorIs(t, d.RevertVolumeSnapshot(ctx, vol, snap), models.ErrConflict, "revert needs the vm stopped")
		copied := hostapi.VolumeSpec{UUID: newUUID(t), Type: VolumeData, PrimaryStorageUUID: vol.PrimaryStorageUUID}
		made, err := d.CreateVolumeFromSnapshot(ctx, vol, snap, copied)
		require.NoError(t, err)
		require.Empty(t, backingOf(info(t, made.InstallPath)), "a copy stands alone")
		require.NoError(t, d.DeleteVolume(ctx, copied))
		_, err = d.CreateVolumeFromSnapshot(ctx, vol, "", copied)
		require.ErrorIs(t, err, models.ErrConflict, "copying a running volume as it is")
		require.NoError(t, d.DeleteVolumeSnapshot(ctx, vol, snap))
		require.False(t, hasSnapshot(info(t, res.InstallPath), snap))
		require.NoError(t, d.DeleteVolumeSnapshot(ctx, vol, snap))
	}

	// Pause freezes the guest: no heartbeat for a while (a fixed window,
	// since nothing happening is what is checked); resume unfreezes it.
	st, err := d.PauseVM(ctx, vm.UUID)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerPaused, st)
	st, err = d.PauseVM(ctx, vm.UUID)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerPaused, st)
	vms, err := d.ListVMs(ctx)
	require.NoError(t, err)
	require.Contains(t, vms, hostapi.VMState{UUID: vm.UUID, State: hostapi.PowerPaused})
	paused := lastHeartbeat(t, console)
	time.Sleep(2500 * time.Millisecond)
	require.Equal(t, paused, lastHeartbeat(t, console), "a paused guest does not beat")
	st, err = d.ResumeVM(ctx, vm.UUID)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerRunning, st)
	waitHeartbeatAfter(t, console, paused)
	st, err = d.ResumeVM(ctx, vm.UUID)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerRunning, st)

	// Unplug: the guest loses vdb; detaching again changes nothing.
	start = time.Now()
	require.NoError(t, d.DetachVolume(ctx, vm.UUID, data))
	waitConsole(t, d, vm.UUID, "zcloud-disk-removed vdb", 1)
	t.Logf("detach to guest losing vdb: %s", time.Since(start).Round(time.Millisecond))
	require.False(t, hasDisk(0))
	require.False(t, hasDisk(virt.DOMAIN_XML_INACTIVE))
	require.NoError(t, d.DetachVolume(ctx, vm.UUID, data))

	// Attached to the stopped VM, the volume is there at the next boot.
	_, err = d.StopVM(ctx, vm.UUID, "cold", 0)
	require.NoError(t, err)
	_, err = d.PauseVM(ctx, vm.UUID)
	require.ErrorIs(t, err, models.ErrConflict, "a stopped vm does not pause")
	dev, err = d.AttachVolume(ctx, vm.UUID, data)
	require.NoError(t, err)
	require.Equal(t, "vdb", dev)
	_, err = d.StartVM(ctx, vm)
	require.NoError(t, err)
	waitConsole(t, d, vm.UUID, "zcloud-disks vda vdb", 1)
}

// TestLiveMigration migrates a running guest between two libvirtd on two
// test hosts (separate network and mount namespaces, different host UUIDs,
// one lab subnet) that share the storage directory, and checks that the
// guest keeps running at the destination: its heartbeat goes on counting
// on the serial console, with no new boot.
func TestLiveMigration(t *testing.T) {
	url := imageURL(t, "")
	lab := testhost.NewLab(t, "mig", netip.MustParsePrefix("10.252.77.0/24"))
	a := testhost.New(t, "a", testhost.Options{Lab: lab})
	b := testhost.New(t, "b", testhost.Options{Lab: lab})
	la, lb := a.StartLibvirtd(), b.StartLibvirtd()
	require.NotEqual(t, la.HostUUID, lb.HostUUID)

	// /tmp is the same directory in both hosts (they overlay /var/tmp,
	// not /tmp): shared storage, at the same path on both.
	shared, err := os.MkdirTemp("/tmp", "zcloud-migration-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(shared, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(shared) })
	da := newGuestDriver(t, la.URI, shared)
	db := newGuestDriver(t, lb.URI, shared)
	ctx := t.Context()

	vm := guestVM(t, url)
	startGuest(t, da, vm)
	// Runs before startGuest's cleanup, which deletes the volumes.
	t.Cleanup(func() { require.NoError(t, db.DestroyVM(context.Background(), vm.UUID)) })
	console := da.consolePath(vm.UUID)
	require.Equal(t, console, db.consolePath(vm.UUID))
	before := waitHeartbeatAfter(t, console, 3)

	p := hostapi.MigrateVMParams{
		VMUUID:         vm.UUID,
		DestinationURI: lb.URI,
		MigrationURI:   "tcp://" + b.IP().String(),
		SharedStorage:  true,
	}
	start := time.Now()
	st, err := da.MigrateVM(ctx, p)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerRunning, st)
	t.Logf("live migration of a %d MiB TCG guest took %s", vm.MemorySize>>20, time.Since(start).Round(time.Millisecond))

	srcVMs, err := da.ListVMs(ctx)
	require.NoError(t, err)
	require.NotContains(t, srcVMs, hostapi.VMState{UUID: vm.UUID, State: hostapi.PowerRunning}, "source dropped the domain")
	require.Empty(t, srcVMs)
	dstVMs, err := db.ListVMs(ctx)
	require.NoError(t, err)
	require.Equal(t, []hostapi.VMState{{UUID: vm.UUID, State: hostapi.PowerRunning}}, dstVMs)
	x := liveDomain(t, lb.URI, vm.UUID, virt.DOMAIN_XML_INACTIVE)
	require.Equal(t, strings.ReplaceAll(strings.ToLower(vm.UUID), "-", ""), x.Name, "destination keeps the definition")

	// The guest goes on counting: the next heartbeat comes within a few
	// seconds. A guest that had rebooted instead would need its boot (over
	// 5 s under TCG) plus one second per beat to pass the count again.
	ended := time.Now()
	after := lastHeartbeat(t, console)
	require.GreaterOrEqual(t, after, before)
	const window = 8 * time.Second
	require.Greater(t, after, 2, "a rebooted guest needs more than the window to pass this count")
	got := waitHeartbeatAfter(t, console, after)
	require.Less(t, time.Since(ended), window, "heartbeat %d came too late for a guest that kept running", got)
	got = waitHeartbeatAfter(t, console, after+2)
	t.Logf("heartbeat %d before migration, %d when it ended, %d at the destination", before, after, got)

	// Again: the VM is at the destination already, which is success.
	st, err = da.MigrateVM(ctx, p)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerRunning, st)
}
