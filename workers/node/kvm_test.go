package node_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/aliyun"
	"github.com/zcloud/zcloud/activities/sshdeploy"
	"github.com/zcloud/zcloud/api/apitest"
	"github.com/zcloud/zcloud/hostworker/testhost"
	"github.com/zcloud/zcloud/workers/embedded"
	"github.com/zcloud/zcloud/workers/node"
)

// kvmBed is a whole ZCloud driving real hosts: test hosts (namespaces with
// their own sshd and libvirtd) on one lab bridge, the embedded Temporal on
// the lab's root address, the real zcloud-hostworker binary (libvirt
// driver) deployed to them over SSH by AddKVMHost, and a shared directory
// (visible at the same path in every host, as a shared mount point is).
type kvmBed struct {
	t      testing.TB
	lab    *testhost.Lab
	hosts  []*testhost.Host
	bs     *testhost.Host
	shared string
	n      *node.Node
	c      *apitest.Client
}

func requireEnv(t testing.TB, env, format string, args ...any) {
	t.Helper()
	if os.Getenv(env) == "1" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format+" (set "+env+"=1 to fail instead)", args...)
}

// buildAgent builds zcloud-hostworker with the libvirt driver.
func buildAgent(t testing.TB) string {
	t.Helper()
	if out, err := exec.Command("pkg-config", "--exists", "libvirt").CombinedOutput(); err != nil {
		requireEnv(t, "ZCLOUD_REQUIRE_LIBVIRT", "libvirt-dev is not installed: %v %s", err, out)
	}
	return buildAgentWith(t, "-tags", "libvirt")
}

// buildAgentWith builds zcloud-hostworker with extra go build flags.
func buildAgentWith(t testing.TB, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zcloud-hostworker")
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", bin, "github.com/zcloud/zcloud/cmd/zcloud-hostworker")...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "build agent: %s", out)
	return bin
}

// buildGuestImage runs deploy/scripts/guest-image.sh and serves the image
// on the lab's root address, where the backup storage host fetches it.
func buildGuestImage(t testing.TB, lab *testhost.Lab) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("../../deploy/scripts/guest-image.sh", filepath.Join(dir, "guest.qcow2")).CombinedOutput()
	if err != nil {
		requireEnv(t, "ZCLOUD_REQUIRE_LIBVIRT", "cannot build the guest image: %v %s", err, out)
	}
	l, err := net.Listen("tcp", lab.RootIP().String()+":0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String() + "/guest.qcow2"
}

func newKVMBed(t testing.TB, nHosts int) *kvmBed {
	if os.Geteuid() != 0 {
		requireEnv(t, "ZCLOUD_REQUIRE_LIBVIRT", "real hosts need root")
	}
	if _, err := exec.LookPath("libvirtd"); err != nil {
		if _, err := os.Stat("/usr/sbin/libvirtd"); err != nil {
			requireEnv(t, "ZCLOUD_REQUIRE_LIBVIRT", "libvirtd is not installed")
		}
	}
	b := &kvmBed{t: t}
	b.lab = testhost.NewLab(t, "kvm", netip.MustParsePrefix("10.252.9.0/24"))
	for i := 0; i < nHosts; i++ {
		h := testhost.New(t, fmt.Sprintf("kvm%d", i), testhost.Options{Lab: b.lab})
		h.StartSSHD()
		h.StartLibvirtd()
		// The VMs' L2 uplink: one end of a veth pair (this kernel has no
		// dummy devices), so that a bridge over it never takes the host's
		// management link.
		out, err := h.Exec(t.Context(), "ip", "link", "add", "data0", "type", "veth", "peer", "name", "data0p")
		require.NoError(t, err, "%s", out)
		out, err = h.Exec(t.Context(), "ip", "link", "set", "data0", "up")
		require.NoError(t, err, "%s", out)
		b.hosts = append(b.hosts, h)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, h := range b.hosts {
			log, _ := os.ReadFile(h.Path("/var/log/zcloud-hostworker.log"))
			var ops []string
			for _, l := range strings.Split(string(log), "\n") {
				if strings.Contains(l, `"op":`) || strings.Contains(l, "ERROR") || strings.Contains(l, "WARN") {
					ops = append(ops, l)
				}
			}
			log = []byte(strings.Join(ops, "\n"))
			doms, _ := h.Exec(context.Background(), "virsh", "-c", "qemu:///system", "list", "--all", "--name")
			for _, d := range strings.Fields(string(doms)) {
				x, _ := h.Exec(context.Background(), "virsh", "-c", "qemu:///system", "dumpxml", d)
				t.Logf("domain %s on %s:\n%s", d, h.Name(), x)
			}
			t.Logf("agent log of %s:\n%s", h.Name(), log)
		}
	})
	b.bs = testhost.New(t, "bs", testhost.Options{Lab: b.lab})
	b.bs.StartSSHD()
	shared, err := os.MkdirTemp("/tmp", "zcloud-smp-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(shared, 0o755)) // QEMU runs as libvirt-qemu
	t.Cleanup(func() { _ = os.RemoveAll(shared) })
	b.shared = shared

	ts, err := embedded.Start(context.Background(), embedded.Options{Host: b.lab.RootIP().String(), Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ts.Stop() })
	n, err := node.Start(context.Background(), node.Config{DB: "sqlite::memory:", Temporal: ts.FrontendAddr(), Namespace: ts.Namespace(),
		Listen: "127.0.0.1:0", Worker: true, AdminPassword: "password", Logger: quietLogger(),
		AgentBinary: buildAgent(t),
		// The secret key keeps Sftp backup storages' keys (and IPsec keys).
		Aliyun: aliyun.Config{SecretKey: secretKey(t)},
		AgentConfig: map[string]string{
			"libvirt-storage-dir":     filepath.Join(shared, "ps"),
			"libvirt-image-cache-dir": filepath.Join(shared, "imagecache"),
			"libvirt-grace":           "20s",
			"log-level":               "debug",
		}})
	require.NoError(t, err)
	t.Cleanup(n.Stop)
	b.n = n
	b.c = apitest.New(n.Addr)
	require.NoError(t, b.c.Login("admin", "password"))
	return b
}

// console waits until a VM's serial console log (written by the libvirt
// driver next to its storage directory) holds want.
func (b *kvmBed) console(vmUUID, want string, timeout time.Duration) string {
	b.t.Helper()
	path := filepath.Join(b.shared, "console", vmUUID+".log")
	deadline := time.Now().Add(timeout)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), want) {
			return string(data)
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("vm %s: %q not on its console after %s; console:\n%s", vmUUID, want, timeout, data)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var heartbeatRE = regexp.MustCompile(`zcloud-heartbeat (\d+) `)

// heartbeat is the highest heartbeat number on a VM's console, or -1. The
// highest, not the last or the newest bytes: after a live migration the
// destination's QEMU writes the shared log from its start again, over
// what the source wrote, and the file grows only once it passes it.
func (b *kvmBed) heartbeat(vmUUID string) int {
	data, _ := os.ReadFile(filepath.Join(b.shared, "console", vmUUID+".log"))
	n := -1
	for _, m := range heartbeatRE.FindAllSubmatch(data, -1) {
		if v, err := strconv.Atoi(string(m[1])); err == nil && v > n {
			n = v
		}
	}
	return n
}

// beating waits until a VM's console shows a heartbeat above n: the
// guest runs.
func (b *kvmBed) beating(vmUUID string, n int, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for b.heartbeat(vmUUID) <= n {
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(filepath.Join(b.shared, "console", vmUUID+".log"))
			b.t.Fatalf("vm %s: no heartbeat above %d on its console after %s; console:\n%s", vmUUID, n, timeout, data)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// domains lists the domains a host's libvirtd has.
func (b *kvmBed) domains(h *testhost.Host) []string {
	b.t.Helper()
	out, err := h.Exec(b.t.Context(), "virsh", "-c", "qemu:///system", "list", "--all", "--name")
	require.NoError(b.t, err, "%s", out)
	return strings.Fields(string(out))
}

func (b *kvmBed) mustCreate(path string, params map[string]any) map[string]any {
	b.t.Helper()
	inv, err := b.c.Create(path, params)
	require.NoError(b.t, err, "create %s", path)
	return inv
}

// setFaults rewrites the agents' configuration with the given --faults
// (empty: none) and restarts them (their supervisor brings them back).
func (b *kvmBed) setFaults(spec string) {
	b.t.Helper()
	for _, h := range b.hosts {
		conf, err := os.ReadFile(h.Path(sshdeploy.ConfigPath))
		require.NoError(b.t, err)
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(string(conf)), "\n") {
			if !strings.HasPrefix(l, "faults=") {
				lines = append(lines, l)
			}
		}
		if spec != "" {
			lines = append(lines, "faults="+spec)
		}
		require.NoError(b.t, os.WriteFile(h.Path(sshdeploy.ConfigPath), []byte(strings.Join(lines, "\n")+"\n"), 0o600))
		logPath := h.Path("/var/log/zcloud-hostworker.log")
		before, _ := os.ReadFile(logPath)
		starts := strings.Count(string(before), "host agent starting")
		pidText, err := os.ReadFile(h.Path(sshdeploy.PIDFile))
		require.NoError(b.t, err)
		pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
		require.NoError(b.t, err)
		require.NoError(b.t, syscall.Kill(pid, syscall.SIGTERM))
		deadline := time.Now().Add(30 * time.Second)
		for {
			now, _ := os.ReadFile(logPath)
			if strings.Count(string(now), "Started Worker") > starts && strings.Count(string(now), "host agent starting") > starts {
				break
			}
			require.True(b.t, time.Now().Before(deadline), "agent of %s did not restart", h.Name())
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestKVMEndToEnd drives real QEMU guests through the REST API: two KVM
// hosts and an ImageStore backup storage added over SSH, a shared mount
// point primary storage, a bootable image served over HTTP, a VM seen
// booting on its serial console, a data volume hot-plugged and seen by the
// guest, a snapshot taken and reverted, a live migration to the other host
// with the guest still running, and at the end nothing left on any host.
func TestKVMEndToEnd(t *testing.T) {
	b := newKVMBed(t, 2)
	c := b.c
	imageURL := buildGuestImage(t, b.lab)

	zone := b.mustCreate("zones", map[string]any{"name": "zone"})["uuid"].(string)
	cluster := b.mustCreate("clusters", map[string]any{"zoneUuid": zone, "name": "kvm", "hypervisorType": "KVM"})["uuid"].(string)

	// A wrong password is refused and leaves no host behind.
	_, err := c.Create("hosts/kvm", map[string]any{"name": "bad", "managementIp": b.hosts[0].IP().String(), "username": "root",
		"password": "wrong", "sshPort": 22, "clusterUuid": cluster})
	require.Error(t, err)
	hosts, err := c.ListAll("hosts")
	require.NoError(t, err)
	require.Empty(t, hosts, "a failed AddKVMHost rolls back")

	var hostUUIDs []string
	for i, h := range b.hosts {
		t0 := time.Now()
		inv := b.mustCreate("hosts/kvm", map[string]any{"name": fmt.Sprintf("kvm%d", i), "managementIp": h.IP().String(),
			"username": "root", "password": h.RootPassword(), "sshPort": 22, "clusterUuid": cluster})
		t.Logf("AddKVMHost %s: %s", h.IP(), time.Since(t0).Round(time.Millisecond))
		require.Equal(t, "Connected", inv["status"])
		require.Equal(t, "qemu", inv["domainType"], "KVM can't run guests here: TCG")
		require.NotContains(t, inv, "password")
		hostUUIDs = append(hostUUIDs, inv["uuid"].(string))
	}

	ps := b.mustCreate("primary-storage/smp", map[string]any{"name": "smp", "url": filepath.Join(b.shared, "ps"), "zoneUuid": zone})["uuid"].(string)
	_, err = c.Call("POST", "v1/clusters/"+cluster+"/primary-storage/"+ps, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	psInv, err := c.Get("primary-storage", ps)
	require.NoError(t, err)
	require.Greater(t, psInv["totalCapacity"].(float64), float64(0), "the hosts reported the directory's capacity")

	bs := b.mustCreate("backup-storage/image-store", map[string]any{"name": "bs", "hostname": b.bs.IP().String(), "username": "root",
		"password": b.bs.RootPassword(), "sshPort": 22, "url": "/var/lib/zcloud-bs"})
	require.Equal(t, "Connected", bs["status"])
	_, err = c.Call("POST", "v1/zones/"+zone+"/backup-storage/"+bs["uuid"].(string), nil)
	require.NoError(t, err)
	t0 := time.Now()
	img := b.mustCreate("images", map[string]any{"name": "guest", "url": imageURL, "format": "qcow2", "platform": "Linux",
		"backupStorageUuids": []string{bs["uuid"].(string)}})
	t.Logf("AddImage: %s", time.Since(t0).Round(time.Millisecond))
	require.Equal(t, "Ready", img["status"])
	require.Equal(t, "qcow2", img["format"])

	l2 := b.mustCreate("l2-networks/no-vlan", map[string]any{"name": "l2", "zoneUuid": zone, "physicalInterface": "data0"})["uuid"].(string)
	_, err = c.Call("POST", "v1/l2-networks/"+l2+"/clusters/"+cluster, map[string]any{})
	require.NoError(t, err)
	l3 := b.mustCreate("l3-networks", map[string]any{"name": "l3", "l2NetworkUuid": l2, "category": "Private"})["uuid"].(string)
	b.mustCreate("l3-networks/"+l3+"/ip-ranges/by-cidr", map[string]any{"name": "r", "networkCidr": "192.168.50.0/24"})
	offering := b.mustCreate("instance-offerings", map[string]any{"name": "small", "cpuNum": 1, "memorySize": int64(256) << 20})["uuid"].(string)

	// A failure injected into each host-side step of a VM create, on the
	// real driver: the job fails with it and leaves no domain, no volume
	// file, no capacity taken.
	vmParams := map[string]any{"name": "guest", "instanceOfferingUuid": offering, "imageUuid": img["uuid"], "l3NetworkUuids": []string{l3}}
	for _, op := range []string{"host.InstantiateVolume", "host.CreateVM"} {
		b.setFaults(op + "=fail:injected into " + op)
		_, err := c.Create("vm-instances", vmParams)
		require.ErrorContains(t, err, "injected into "+op)
		for _, h := range b.hosts {
			require.Empty(t, b.domains(h), "no domain left after a failed %s", op)
		}
		left, err := filepath.Glob(filepath.Join(b.shared, "ps", "*", "*.qcow2"))
		require.NoError(t, err)
		require.Empty(t, left, "no volume file left after a failed %s", op)
		vms, err := c.ListAll("vm-instances")
		require.NoError(t, err)
		require.Empty(t, vms)
		for _, h := range hostUUIDs {
			inv, err := c.Get("hosts", h)
			require.NoError(t, err)
			require.Equal(t, inv["totalCpuCapacity"], inv["availableCpuCapacity"])
		}
	}
	b.setFaults("")

	t0 = time.Now()
	vm := b.mustCreate("vm-instances", map[string]any{"name": "guest", "instanceOfferingUuid": offering, "imageUuid": img["uuid"],
		"l3NetworkUuids": []string{l3}})
	t.Logf("CreateVmInstance to Running: %s", time.Since(t0).Round(time.Millisecond))
	vmUUID := vm["uuid"].(string)
	require.Equal(t, "Running", vm["state"])
	require.Len(t, vm["allVolumes"], 1, "only the root volume: %v", vm["allVolumes"])
	b.console(vmUUID, "zcloud-guest-boot", 2*time.Minute)
	// The guest's init lists its disks, then watches for new ones: hot-plug
	// after its first heartbeat, so that the new disk is seen as added.
	b.console(vmUUID, "zcloud-heartbeat 1 ", time.Minute)

	// A data volume hot-plugged into the running guest.
	disk := b.mustCreate("disk-offerings", map[string]any{"name": "1G", "diskSize": int64(1) << 30})["uuid"].(string)
	vol := b.mustCreate("volumes/data", map[string]any{"name": "data", "diskOfferingUuid": disk})["uuid"].(string)
	_, err = c.Call("POST", "v1/volumes/"+vol+"/vm-instances/"+vmUUID, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	b.console(vmUUID, "zcloud-disk-added vdb", time.Minute)
	checkVolumeQoS(t, b, vmUUID, vol)
	checkShareableVolume(t, b, vmUUID, vol, vmParams)

	// A snapshot of the data volume, reverted with the VM stopped.
	snap := b.mustCreate("volumes/"+vol+"/volume-snapshots", map[string]any{"name": "s"})["uuid"].(string)
	_, err = c.Action("vm-instances", vmUUID, "stopVmInstance", map[string]any{"type": "cold"})
	require.NoError(t, err)
	_, err = c.Action("volume-snapshots", snap, "revertVolumeFromSnapshot", map[string]any{})
	require.NoError(t, err)
	// A standalone copy of the volume as it was at the snapshot.
	copied := b.mustCreate("volumes/data/from/volume-snapshots/"+snap, map[string]any{"name": "copy"})
	require.Equal(t, "Ready", copied["status"])
	out, err := exec.Command("qemu-img", "info", copied["installPath"].(string)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NotContains(t, string(out), "backing file", "a standalone copy")
	require.NoError(t, c.Delete("volumes", copied["uuid"].(string)))
	_, err = c.Action("volumes", copied["uuid"].(string), "expungeDataVolume", map[string]any{})
	require.NoError(t, err)
	vm, err = c.Action("vm-instances", vmUUID, "startVmInstance", map[string]any{})
	require.NoError(t, err)
	src := vm["hostUuid"].(string)

	// Live migration to the other host; the guest keeps running there.
	t0 = time.Now()
	vm, err = c.Action("vm-instances", vmUUID, "migrateVm", map[string]any{})
	require.NoError(t, err)
	t.Logf("MigrateVm: %s", time.Since(t0).Round(time.Millisecond))
	require.NotEqual(t, src, vm["hostUuid"])
	b.beating(vmUUID, b.heartbeat(vmUUID), 90*time.Second)
	for i, h := range b.hosts {
		doms := b.domains(h)
		if hostUUIDs[i] == vm["hostUuid"] {
			require.Len(t, doms, 1, "the destination runs the domain")
		} else {
			require.Empty(t, doms, "the source has no domain left")
		}
	}
	checkVolumeQoSKept(t, b, vmUUID, vol)

	// Everything goes away.
	_, err = c.Call("DELETE", "v1/volumes/"+vol+"/vm-instances?vmUuid="+vmUUID, nil)
	require.NoError(t, err)
	_, err = c.Call("DELETE", "v1/volumes/"+vol+"?deleteMode=Enforcing", nil)
	require.NoError(t, err)
	_, err = c.Action("volumes", vol, "expungeDataVolume", map[string]any{})
	require.NoError(t, err)
	require.NoError(t, c.Delete("vm-instances", vmUUID))
	_, err = c.Action("vm-instances", vmUUID, "expungeVmInstance", map[string]any{})
	require.NoError(t, err)
	for _, h := range b.hosts {
		require.Empty(t, b.domains(h))
	}
	left, err := filepath.Glob(filepath.Join(b.shared, "ps", "*", "*"))
	require.NoError(t, err)
	require.Empty(t, left, "no volume file left")
	for _, h := range hostUUIDs {
		inv, err := c.Get("hosts", h)
		require.NoError(t, err)
		require.Equal(t, inv["totalCpuCapacity"], inv["availableCpuCapacity"])
		require.NoError(t, c.Delete("hosts", h))
	}
}
