package node_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/models"
)

// BenchmarkKVMCreate measures what ZCloud adds to starting a real guest:
// CreateVmInstance through the REST API until the job says Running, against
// `virsh define` + `virsh start` of the same domain XML on the same host
// (with its own copy of the root volume made beforehand). Each is run
// several times; the medians and the overhead are printed.
func BenchmarkKVMCreate(b *testing.B) {
	const rounds = 5
	bed := newKVMBed(b, 1)
	c := bed.c
	h := bed.hosts[0]
	imageURL := buildGuestImage(b, bed.lab)
	zone := bed.mustCreate("zones", map[string]any{"name": "zone"})["uuid"].(string)
	cluster := bed.mustCreate("clusters", map[string]any{"zoneUuid": zone, "name": "kvm", "hypervisorType": "KVM"})["uuid"].(string)
	bed.mustCreate("hosts/kvm", map[string]any{"name": "kvm0", "managementIp": h.IP().String(), "username": "root",
		"password": h.RootPassword(), "sshPort": 22, "clusterUuid": cluster})
	ps := bed.mustCreate("primary-storage/smp", map[string]any{"name": "smp", "url": filepath.Join(bed.shared, "ps"), "zoneUuid": zone})["uuid"].(string)
	_, err := c.Call("POST", "v1/clusters/"+cluster+"/primary-storage/"+ps, map[string]any{"params": map[string]any{}})
	require.NoError(b, err)
	bs := bed.mustCreate("backup-storage/image-store", map[string]any{"name": "bs", "hostname": bed.bs.IP().String(), "username": "root",
		"password": bed.bs.RootPassword(), "sshPort": 22, "url": "/var/lib/zcloud-bs"})["uuid"].(string)
	_, err = c.Call("POST", "v1/zones/"+zone+"/backup-storage/"+bs, nil)
	require.NoError(b, err)
	img := bed.mustCreate("images", map[string]any{"name": "guest", "url": imageURL, "format": "qcow2", "platform": "Linux",
		"backupStorageUuids": []string{bs}})["uuid"].(string)
	l2 := bed.mustCreate("l2-networks/no-vlan", map[string]any{"name": "l2", "zoneUuid": zone, "physicalInterface": "data0"})["uuid"].(string)
	_, err = c.Call("POST", "v1/l2-networks/"+l2+"/clusters/"+cluster, map[string]any{})
	require.NoError(b, err)
	l3 := bed.mustCreate("l3-networks", map[string]any{"name": "l3", "l2NetworkUuid": l2, "category": "Private"})["uuid"].(string)
	bed.mustCreate("l3-networks/"+l3+"/ip-ranges/by-cidr", map[string]any{"name": "r", "networkCidr": "192.168.60.0/24"})
	offering := bed.mustCreate("instance-offerings", map[string]any{"name": "small", "cpuNum": 1, "memorySize": int64(256) << 20})["uuid"].(string)
	params := map[string]any{"instanceOfferingUuid": offering, "imageUuid": img, "l3NetworkUuids": []string{l3}}
	virsh := func(args ...string) {
		out, err := exec.Command("virsh", append([]string{"-c", "qemu+tcp://" + h.IP().String() + "/system"}, args...)...).CombinedOutput()
		require.NoError(b, err, "virsh %v: %s", args, out)
	}
	cleanup := func(vm string) {
		require.NoError(b, c.Delete("vm-instances", vm))
		_, err := c.Action("vm-instances", vm, "expungeVmInstance", map[string]any{})
		require.NoError(b, err)
	}
	// Warm-up: the first create also fills the host's image cache.
	params["name"] = "warm"
	warm := bed.mustCreate("vm-instances", params)["uuid"].(string)
	xml, err := h.Exec(b.Context(), "virsh", "-c", "qemu:///system", "dumpxml", "--inactive", warm)
	require.NoError(b, err)
	cleanup(warm)

	var api, raw []time.Duration
	b.ResetTimer()
	for i := 0; i < rounds; i++ {
		params["name"] = fmt.Sprintf("bench-%d", i)
		t0 := time.Now()
		vm := bed.mustCreate("vm-instances", params)
		api = append(api, time.Since(t0))
		require.Equal(b, "Running", vm["state"])
		cleanup(vm["uuid"].(string))

		// The same domain by hand: a new identity and a copy of the disk.
		uuid := models.NewUUID()
		dir := filepath.Join(bed.shared, "raw")
		require.NoError(b, os.MkdirAll(dir, 0o755))
		disk := filepath.Join(dir, uuid+".qcow2")
		cached, err := filepath.Glob(filepath.Join(bed.shared, "imagecache", "*.image"))
		require.NoError(b, err)
		require.Len(b, cached, 1, "the host's cached image")
		out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", cached[0], disk).CombinedOutput()
		require.NoError(b, err, "%s", out)
		domXML := rawDomain(string(xml), uuid, disk)
		f := filepath.Join(dir, uuid+".xml")
		require.NoError(b, os.WriteFile(f, []byte(domXML), 0o644))
		t0 = time.Now()
		virsh("define", f)
		virsh("start", uuid)
		raw = append(raw, time.Since(t0))
		virsh("destroy", uuid)
		virsh("undefine", uuid)
		require.NoError(b, os.Remove(disk))
	}
	b.StopTimer()
	med := func(d []time.Duration) time.Duration { s := slices.Clone(d); slices.Sort(s); return s[len(s)/2] }
	b.ReportMetric(float64(med(api).Milliseconds()), "api-ms")
	b.ReportMetric(float64(med(raw).Milliseconds()), "virsh-ms")
	b.ReportMetric(float64((med(api) - med(raw)).Milliseconds()), "overhead-ms")
	fmt.Printf("KVM create to Running, median of %d: REST API %s, virsh define+start %s, overhead %s (target <= 150ms)\n  api %v\n  virsh %v\n",
		rounds, med(api).Round(time.Millisecond), med(raw).Round(time.Millisecond), (med(api) - med(raw)).Round(time.Millisecond), api, raw)
}

// rawDomain gives a dumped domain a new name, UUID and root disk, and drops
// what ties it to ZCloud's VM (its NIC's tap name, its console log).
func rawDomain(xml, uuid, disk string) string {
	cut := func(s, start, end string) string {
		i := strings.Index(s, start)
		if i < 0 {
			return s
		}
		j := strings.Index(s[i:], end)
		return s[:i] + s[i+j+len(end):]
	}
	name := xml[strings.Index(xml, "<name>")+len("<name>") : strings.Index(xml, "</name>")]
	oldUUID := xml[strings.Index(xml, "<uuid>")+len("<uuid>") : strings.Index(xml, "</uuid>")]
	xml = strings.Replace(xml, "<name>"+name+"</name>", "<name>"+uuid+"</name>", 1)
	xml = strings.Replace(xml, "<uuid>"+oldUUID+"</uuid>", "<uuid>"+uuid+"</uuid>", 1)
	i := strings.Index(xml, "<source file='")
	rest := xml[i+len("<source file='"):]
	xml = xml[:i] + "<source file='" + disk + rest[strings.Index(rest, "'"):]
	xml = cut(xml, "<backingStore", "</backingStore>")
	xml = cut(xml, "<target dev='vnic", "/>")
	return strings.ReplaceAll(xml, oldUUID, uuid)
}
