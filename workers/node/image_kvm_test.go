package node_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// qemuIO runs qemu-io commands on a volume file; a pattern read that does
// not match fails.
func qemuIO(t *testing.T, path string, cmds ...string) {
	t.Helper()
	var args []string
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("qemu-io", append(args, path)...).CombinedOutput()
	require.NoError(t, err, "qemu-io %v %s: %s", cmds, path, out)
	require.NotContains(t, string(out), "failed", "qemu-io %v %s", cmds, path)
}

// TestKVMImages proves images made of volumes on a real host through the
// REST API: a root volume template of a running guest (live, through a
// temporary snapshot) uploaded to the ImageStore backup storage, a new VM
// booted from it; a data volume template of a volume holding data, a
// volume made of it holding the same data; a template of a snapshot
// holding the data as it was then; a failed upload leaving no record and
// no file; delete, recover and expunge with the file gone from the backup
// storage; the backup storage's availableCapacity following an image add
// and expunge.
func TestKVMImages(t *testing.T) {
	b := newKVMBed(t, 1)
	c := b.c
	imageURL := buildGuestImage(t, b.lab)
	zone := b.mustCreate("zones", map[string]any{"name": "zone"})["uuid"].(string)
	cluster := b.mustCreate("clusters", map[string]any{"zoneUuid": zone, "name": "kvm", "hypervisorType": "KVM"})["uuid"].(string)
	h := b.hosts[0]
	b.mustCreate("hosts/kvm", map[string]any{"name": "kvm0", "managementIp": h.IP().String(), "username": "root",
		"password": h.RootPassword(), "sshPort": 22, "clusterUuid": cluster})
	ps := b.mustCreate("primary-storage/smp", map[string]any{"name": "smp", "url": filepath.Join(b.shared, "ps"), "zoneUuid": zone})["uuid"].(string)
	_, err := c.Call("POST", "v1/clusters/"+cluster+"/primary-storage/"+ps, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	bsDir := "/var/lib/zcloud-bs"
	bs := b.mustCreate("backup-storage/image-store", map[string]any{"name": "bs", "hostname": b.bs.IP().String(), "username": "root",
		"password": b.bs.RootPassword(), "sshPort": 22, "url": bsDir})["uuid"].(string)
	_, err = c.Call("POST", "v1/zones/"+zone+"/backup-storage/"+bs, nil)
	require.NoError(t, err)
	guest := b.mustCreate("images", map[string]any{"name": "guest", "url": imageURL, "format": "qcow2", "platform": "Linux",
		"backupStorageUuids": []string{bs}})
	l2 := b.mustCreate("l2-networks/no-vlan", map[string]any{"name": "l2", "zoneUuid": zone, "physicalInterface": "data0"})["uuid"].(string)
	_, err = c.Call("POST", "v1/l2-networks/"+l2+"/clusters/"+cluster, map[string]any{})
	require.NoError(t, err)
	l3 := b.mustCreate("l3-networks", map[string]any{"name": "l3", "l2NetworkUuid": l2, "category": "Private"})["uuid"].(string)
	b.mustCreate("l3-networks/"+l3+"/ip-ranges/by-cidr", map[string]any{"name": "r", "networkCidr": "192.168.51.0/24"})
	offering := b.mustCreate("instance-offerings", map[string]any{"name": "small", "cpuNum": 1, "memorySize": int64(256) << 20})["uuid"].(string)
	vm := b.mustCreate("vm-instances", map[string]any{"name": "src", "instanceOfferingUuid": offering, "imageUuid": guest["uuid"],
		"l3NetworkUuids": []string{l3}})
	vmUUID, root := vm["uuid"].(string), vm["rootVolumeUuid"].(string)
	b.console(vmUUID, "zcloud-guest-boot", 2*time.Minute)

	bsImages := func() []string {
		t.Helper()
		files, err := filepath.Glob(b.bs.Path(filepath.Join(bsDir, "*", "*")))
		require.NoError(t, err)
		return files
	}
	stored := bsImages() // the guest image and its metadata

	// A failure injected into the host's upload rolls back: no image
	// record, nothing on the backup storage.
	b.setFaults("host.UploadVolumeImage=fail:injected into the upload")
	_, err = c.Create("images/root-volume-templates/from/volumes/"+root, map[string]any{"name": "bad"})
	require.ErrorContains(t, err, "injected into the upload")
	b.setFaults("")
	images, err := c.ListAll("images")
	require.NoError(t, err)
	require.Len(t, images, 1, "only the guest image")
	require.ElementsMatch(t, stored, bsImages(), "no file or grant left on the backup storage")

	// A root volume template of the running guest, and a VM booted from it.
	t0 := time.Now()
	tmpl := b.mustCreate("images/root-volume-templates/from/volumes/"+root, map[string]any{"name": "tmpl"})
	t.Logf("CreateRootVolumeTemplateFromRootVolume (live): %s", time.Since(t0).Round(time.Millisecond))
	require.Equal(t, "Ready", tmpl["status"])
	require.Equal(t, "qcow2", tmpl["format"])
	require.Equal(t, "Linux", tmpl["platform"])
	require.Equal(t, guest["size"], tmpl["size"])
	require.NotEmpty(t, tmpl["md5Sum"])
	tmplFile := b.bs.Path(filepath.Join(bsDir, "images", tmpl["uuid"].(string)+".qcow2"))
	out, err := exec.Command("qemu-img", "info", "-U", tmplFile).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NotContains(t, string(out), "backing file", "a standalone image")
	rootVol, err := c.Get("volumes", root)
	require.NoError(t, err)
	out, err = exec.Command("qemu-img", "snapshot", "-U", "-l", rootVol["installPath"].(string)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NotContains(t, string(out), tmpl["uuid"], "the temporary snapshot is gone")
	vm2 := b.mustCreate("vm-instances", map[string]any{"name": "from-tmpl", "instanceOfferingUuid": offering, "imageUuid": tmpl["uuid"],
		"l3NetworkUuids": []string{l3}})
	b.console(vm2["uuid"].(string), "zcloud-guest-boot", 2*time.Minute)
	require.NoError(t, c.Delete("vm-instances", vm2["uuid"].(string)))
	_, err = c.Action("vm-instances", vm2["uuid"].(string), "expungeVmInstance", map[string]any{})
	require.NoError(t, err)
	checkKVMImageCache(t, b, ps, guest["uuid"].(string), tmpl["uuid"].(string))

	// A data volume holding data (written while detached), its template,
	// and a volume made of the template holding the same data.
	disk := b.mustCreate("disk-offerings", map[string]any{"name": "64M", "diskSize": int64(64) << 20})["uuid"].(string)
	vol := b.mustCreate("volumes/data", map[string]any{"name": "data", "diskOfferingUuid": disk})["uuid"].(string)
	_, err = c.Call("POST", "v1/volumes/"+vol+"/vm-instances/"+vmUUID, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	_, err = c.Call("DELETE", "v1/volumes/"+vol+"/vm-instances?vmUuid="+vmUUID, nil)
	require.NoError(t, err)
	volInv, err := c.Get("volumes", vol)
	require.NoError(t, err)
	volPath := volInv["installPath"].(string)
	qemuIO(t, volPath, "write -P 0x5a 0 1M", "write -P 0xa5 32M 1M")
	snap := b.mustCreate("volumes/"+vol+"/volume-snapshots", map[string]any{"name": "s"})["uuid"].(string)
	qemuIO(t, volPath, "write -P 0x77 0 1M")
	dtmpl := b.mustCreate("images/data-volume-templates/from/volumes/"+vol, map[string]any{"name": "dtmpl"})
	require.Equal(t, "DataVolumeTemplate", dtmpl["mediaType"])
	require.EqualValues(t, int64(64)<<20, dtmpl["size"])
	made := b.mustCreate("volumes/data/from/data-volume-templates/"+dtmpl["uuid"].(string), map[string]any{"name": "made", "primaryStorageUuid": ps})
	require.Equal(t, "Ready", made["status"])
	require.EqualValues(t, int64(64)<<20, made["size"])
	qemuIO(t, made["installPath"].(string), "read -P 0x77 0 1M", "read -P 0xa5 32M 1M", "read -P 0 2M 1M")

	// A template of the snapshot holds the data as it was then.
	stmpl := b.mustCreate("images/data-volume-templates/from/volume-snapshots/"+snap, map[string]any{"name": "stmpl", "backupStorageUuids": []string{bs}})
	smade := b.mustCreate("volumes/data/from/data-volume-templates/"+stmpl["uuid"].(string), map[string]any{"name": "smade", "primaryStorageUuid": ps})
	qemuIO(t, smade["installPath"].(string), "read -P 0x5a 0 1M", "read -P 0xa5 32M 1M")

	// Delete keeps the file (recoverable), recover, delete, expunge: the
	// file leaves the backup storage and the record goes.
	img := stmpl["uuid"].(string)
	imgFile := b.bs.Path(filepath.Join(bsDir, "images", img+".qcow2"))
	require.FileExists(t, imgFile)
	require.NoError(t, c.Delete("images", img))
	require.FileExists(t, imgFile)
	got, err := c.Action("images", img, "recoverImage", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "Ready", got["status"])
	require.NoError(t, c.Delete("images", img))
	_, err = c.Action("images", img, "expungeImage", map[string]any{})
	require.NoError(t, err)
	_, err = os.Stat(imgFile)
	require.ErrorIs(t, err, os.ErrNotExist, "the image left the backup storage")
	_, err = c.Get("images", img)
	require.ErrorContains(t, err, "0 inventories", "the image is gone")
	// The volume made of it lives on: its host cached the image.
	qemuIO(t, smade["installPath"].(string), "read -P 0x5a 0 1M")
	checkBSCapacity(t, b, bs, bsDir)

	checkSftpBackupStorage(t, b, sftpCase{zone: zone, l3: l3, offering: offering, imageURL: imageURL, root: root})
}
