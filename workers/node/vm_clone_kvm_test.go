package node_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// kvmCloud is what a VM needs on a kvmBed: one KVM host, a shared mount
// point primary storage, an ImageStore backup storage with the guest image,
// an L3 and an offering.
type kvmCloud struct {
	host, ps, image, l3, offering string
}

// setupCloud adds the bed's first host and the resources a VM needs
// through the REST API.
func (b *kvmBed) setupCloud(cidr string) kvmCloud {
	b.t.Helper()
	t, c, h := b.t, b.c, b.hosts[0]
	var k kvmCloud
	zone := b.mustCreate("zones", map[string]any{"name": "zone"})["uuid"].(string)
	cluster := b.mustCreate("clusters", map[string]any{"zoneUuid": zone, "name": "kvm", "hypervisorType": "KVM"})["uuid"].(string)
	k.host = b.mustCreate("hosts/kvm", map[string]any{"name": "kvm0", "managementIp": h.IP().String(), "username": "root",
		"password": h.RootPassword(), "sshPort": 22, "clusterUuid": cluster})["uuid"].(string)
	k.ps = b.mustCreate("primary-storage/smp", map[string]any{"name": "smp", "url": filepath.Join(b.shared, "ps"), "zoneUuid": zone})["uuid"].(string)
	_, err := c.Call("POST", "v1/clusters/"+cluster+"/primary-storage/"+k.ps, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	bs := b.mustCreate("backup-storage/image-store", map[string]any{"name": "bs", "hostname": b.bs.IP().String(), "username": "root",
		"password": b.bs.RootPassword(), "sshPort": 22, "url": "/var/lib/zcloud-bs"})["uuid"].(string)
	_, err = c.Call("POST", "v1/zones/"+zone+"/backup-storage/"+bs, nil)
	require.NoError(t, err)
	k.image = b.mustCreate("images", map[string]any{"name": "guest", "url": buildGuestImage(t, b.lab), "format": "qcow2",
		"platform": "Linux", "backupStorageUuids": []string{bs}})["uuid"].(string)
	l2 := b.mustCreate("l2-networks/no-vlan", map[string]any{"name": "l2", "zoneUuid": zone, "physicalInterface": "data0"})["uuid"].(string)
	_, err = c.Call("POST", "v1/l2-networks/"+l2+"/clusters/"+cluster, map[string]any{})
	require.NoError(t, err)
	k.l3 = b.mustCreate("l3-networks", map[string]any{"name": "l3", "l2NetworkUuid": l2, "category": "Private"})["uuid"].(string)
	b.mustCreate("l3-networks/"+k.l3+"/ip-ranges/by-cidr", map[string]any{"name": "r", "networkCidr": cidr})
	k.offering = b.mustCreate("instance-offerings", map[string]any{"name": "small", "cpuNum": 1, "memorySize": int64(256) << 20})["uuid"].(string)
	return k
}

// waitConnected waits until a host whose agent restarted is Connected
// again in the control plane's eyes (its ping loop may have seen the agent
// gone and reconnected it).
func (b *kvmBed) waitConnected(host string) {
	b.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		inv, err := b.c.Get("hosts", host)
		require.NoError(b.t, err)
		if inv["status"] == "Connected" {
			return
		}
		require.True(b.t, time.Now().Before(deadline), "host %s is %s", host, inv["status"])
		time.Sleep(200 * time.Millisecond)
	}
}

// diskIO runs one qemu-io command on a qcow2 file (read-only and sharing
// the lock when ro, for a disk a guest may use) and reports whether it
// succeeded: "read -P" passes only when the data is the pattern.
func diskIO(t *testing.T, path, command string, ro bool) bool {
	t.Helper()
	args := []string{"-f", "qcow2"}
	if ro {
		args = append(args, "-r", "-U")
	}
	out, err := exec.Command("qemu-io", append(args, "-c", command, path)...).CombinedOutput()
	if err != nil {
		t.Logf("qemu-io %q: %v: %s", command, err, out)
		return false
	}
	return !strings.Contains(string(out), "Pattern verification failed")
}

// qcow2Info is what the test reads of `qemu-img info`.
type qcow2Info struct {
	VirtualSize int64             `json:"virtual-size"`
	Backing     string            `json:"full-backing-filename"`
	Snapshots   []json.RawMessage `json:"snapshots"`
}

func imgInfo(t *testing.T, path string) qcow2Info {
	t.Helper()
	out, err := exec.Command("qemu-img", "info", "-U", "--output=json", path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	var i qcow2Info
	require.NoError(t, json.Unmarshal(out, &i))
	return i
}

func rootPath(t *testing.T, vm map[string]any) string {
	t.Helper()
	for _, v := range vm["allVolumes"].([]any) {
		if v := v.(map[string]any); v["type"] == "Root" {
			return v["installPath"].(string)
		}
	}
	t.Fatalf("vm %s has no root volume", vm["uuid"])
	return ""
}

// TestKVMCloneReimage clones a running guest and reimages a stopped one on
// a real host, through the REST API: a marker written into the source's
// root disk (qemu-io, VM stopped) is in the clone's disk, the clone boots
// on its own serial console with a new MAC and IP, a failure injected into
// the host's copy leaves no VM, domain, file or capacity behind, and
// reimage takes the marker away with the disk at the same path, after
// which the VM boots again.
func TestKVMCloneReimage(t *testing.T) {
	b := newKVMBed(t, 1)
	c := b.c
	k := b.setupCloud("192.168.70.0/24")
	consoleLog := func(vm string) string { return filepath.Join(b.shared, "console", vm+".log") }

	src := b.mustCreate("vm-instances", map[string]any{"name": "src", "instanceOfferingUuid": k.offering, "imageUuid": k.image,
		"l3NetworkUuids": []string{k.l3}})
	srcUUID := src["uuid"].(string)
	srcRoot := rootPath(t, src)
	_, err := c.Action("vm-instances", srcUUID, "stopVmInstance", map[string]any{"type": "cold"})
	require.NoError(t, err)
	marker := fmt.Sprintf("%d", imgInfo(t, srcRoot).VirtualSize-(1<<20))
	require.True(t, diskIO(t, srcRoot, "write -P 0x5a "+marker+" 64k", false), "marker written")
	require.NoError(t, os.Remove(consoleLog(srcUUID)))
	_, err = c.Action("vm-instances", srcUUID, "startVmInstance", map[string]any{})
	require.NoError(t, err)
	b.console(srcUUID, "zcloud-heartbeat 1 ", 2*time.Minute)

	// A clone of the running guest.
	t0 := time.Now()
	r, err := cloneVM(t, c, srcUUID, map[string]any{"names": []string{"clone"}})
	require.NoError(t, err)
	t.Logf("CloneVmInstance of a running guest to Running: %s", time.Since(t0).Round(time.Millisecond))
	require.Equal(t, 1, r.NumberOfClonedVM)
	clone := r.Inventories[0].Inventory
	cloneUUID := clone["uuid"].(string)
	require.Equal(t, "Running", clone["state"])
	require.Equal(t, k.image, clone["imageUuid"])
	b.console(cloneUUID, "zcloud-guest-boot", 2*time.Minute)
	srcNIC, cloneNIC := nicOf(t, src), nicOf(t, clone)
	require.NotEqual(t, srcNIC["mac"], cloneNIC["mac"])
	require.NotEqual(t, srcNIC["ip"], cloneNIC["ip"])
	xml, err := b.hosts[0].Exec(t.Context(), "virsh", "-c", "qemu:///system", "dumpxml", cloneUUID)
	require.NoError(t, err, "%s", xml)
	require.Contains(t, string(xml), cloneNIC["mac"].(string), "the clone's domain has its own mac")
	require.NotContains(t, string(xml), srcNIC["mac"].(string))
	cloneRoot := rootPath(t, clone)
	require.NotEqual(t, srcRoot, cloneRoot)
	require.True(t, diskIO(t, cloneRoot, "read -P 0x5a "+marker+" 64k", true), "the source's marker is in the clone's disk")
	require.Equal(t, imgInfo(t, srcRoot).Backing, imgInfo(t, cloneRoot).Backing, "the clone is an overlay on the cached image")
	require.Empty(t, imgInfo(t, srcRoot).Snapshots, "the temporary snapshot is gone")
	before, _ := os.ReadFile(consoleLog(srcUUID))
	deadline := time.Now().Add(time.Minute)
	for {
		now, _ := os.ReadFile(consoleLog(srcUUID))
		if len(now) > len(before) && strings.Contains(string(now[len(before):]), "zcloud-heartbeat") {
			break
		}
		require.True(t, time.Now().Before(deadline), "the source goes on running")
		time.Sleep(500 * time.Millisecond)
	}

	// The clone, stopped, cloned again without starting (CreateStopped):
	// its disk is copied at once. The host has 2 cpus: the stopped clone
	// gives one back for the failing clone below.
	_, err = c.Action("vm-instances", cloneUUID, "stopVmInstance", map[string]any{"type": "cold"})
	require.NoError(t, err)
	r, err = cloneVM(t, c, cloneUUID, map[string]any{"names": []string{"stopped"}, "strategy": "CreateStopped"})
	require.NoError(t, err)
	require.Equal(t, 1, r.NumberOfClonedVM)
	stopped := r.Inventories[0].Inventory
	require.Equal(t, "Stopped", stopped["state"])
	require.True(t, diskIO(t, rootPath(t, stopped), "read -P 0x5a "+marker+" 64k", true), "a clone of the clone has the marker")
	require.NoError(t, c.Delete("vm-instances", stopped["uuid"].(string)))
	_, err = c.Action("vm-instances", stopped["uuid"].(string), "expungeVmInstance", map[string]any{})
	require.NoError(t, err)

	// A failure injected into the host's copy rolls the clone back.
	hostBefore, err := c.Get("hosts", k.host)
	require.NoError(t, err)
	psBefore, err := c.Get("primary-storage", k.ps)
	require.NoError(t, err)
	b.setFaults("host.CloneVolume=fail:injected into the copy")
	b.waitConnected(k.host)
	_, err = cloneVM(t, c, srcUUID, map[string]any{"names": []string{"broken"}})
	require.ErrorContains(t, err, "injected into the copy")
	b.setFaults("")
	b.waitConnected(k.host)
	vms, err := c.ListAll("vm-instances")
	require.NoError(t, err)
	require.Len(t, vms, 2, "no vm row of the failed clone")
	titles, err := b.hosts[0].Exec(t.Context(), "virsh", "-c", "qemu:///system", "list", "--all", "--title")
	require.NoError(t, err, "%s", titles)
	require.NotContains(t, string(titles), " broken", "no domain of the failed clone")
	require.Contains(t, b.domains(b.hosts[0]), srcUUID)
	files, err := filepath.Glob(filepath.Join(b.shared, "ps", "*", "*"))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{srcRoot, cloneRoot}, files, "no volume file of the failed clone")
	hostAfter, err := c.Get("hosts", k.host)
	require.NoError(t, err)
	require.Equal(t, hostBefore["availableCpuCapacity"], hostAfter["availableCpuCapacity"])
	require.Equal(t, hostBefore["availableMemoryCapacity"], hostAfter["availableMemoryCapacity"])
	psAfter, err := c.Get("primary-storage", k.ps)
	require.NoError(t, err)
	require.Equal(t, psBefore["availableCapacity"], psAfter["availableCapacity"])

	// Reimage: the stopped source's disk is the image again, at its path.
	_, err = c.Action("vm-instances", srcUUID, "reimageVmInstance", map[string]any{})
	require.ErrorContains(t, err, "VM.1010", "a running vm is not reimaged")
	_, err = c.Action("vm-instances", srcUUID, "stopVmInstance", map[string]any{"type": "cold"})
	require.NoError(t, err)
	t0 = time.Now()
	vm, err := c.Action("vm-instances", srcUUID, "reimageVmInstance", map[string]any{})
	require.NoError(t, err)
	t.Logf("ReimageVmInstance: %s", time.Since(t0).Round(time.Millisecond))
	require.Equal(t, "Stopped", vm["state"])
	require.Equal(t, srcRoot, rootPath(t, vm), "same install path")
	require.True(t, diskIO(t, srcRoot, "read -P 0x00 "+marker+" 64k", true), "the marker is gone")
	require.True(t, diskIO(t, cloneRoot, "read -P 0x5a "+marker+" 64k", true), "the clone keeps its copy")
	require.NoError(t, os.Remove(consoleLog(srcUUID)))
	_, err = c.Action("vm-instances", srcUUID, "startVmInstance", map[string]any{})
	require.NoError(t, err)
	b.console(srcUUID, "zcloud-guest-boot", 2*time.Minute)

	for _, u := range []string{cloneUUID, srcUUID} {
		require.NoError(t, c.Delete("vm-instances", u))
		_, err = c.Action("vm-instances", u, "expungeVmInstance", map[string]any{})
		require.NoError(t, err)
	}
	require.NotContains(t, b.domains(b.hosts[0]), srcUUID)
	require.NotContains(t, b.domains(b.hosts[0]), cloneUUID)
	files, err = filepath.Glob(filepath.Join(b.shared, "ps", "*", "*"))
	require.NoError(t, err)
	require.Empty(t, files, "no volume file left")
}
