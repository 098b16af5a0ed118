package node_test

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestKVMGuestConfig drives guest configuration through the REST API on a
// real host and one real guest: CPU mode from the kvm/vm.cpuMode global
// config (host-passthrough, which TCG gives as its "max" model), user-data,
// SSH key, hostname and a custom MAC as ZStack's system tags on
// CreateVmInstance, read by the guest from its NoCloud config drive and
// printed on its serial console; the guest agent channel in the domain
// and ChangeVmPassword answering that no agent is connected (the busybox
// guest has none); SSH key and hostname APIs; MAC and static IP changed
// on the stopped VM; passthrough APIs answering "not supported"; and
// nothing left behind.
func TestKVMGuestConfig(t *testing.T) {
	b := newKVMBed(t, 1)
	c := b.c
	imageURL := buildGuestImage(t, b.lab)
	h := b.hosts[0]

	zone := b.mustCreate("zones", map[string]any{"name": "zone"})["uuid"].(string)
	cluster := b.mustCreate("clusters", map[string]any{"zoneUuid": zone, "name": "kvm", "hypervisorType": "KVM"})["uuid"].(string)
	host := b.mustCreate("hosts/kvm", map[string]any{"name": "kvm0", "managementIp": h.IP().String(),
		"username": "root", "password": h.RootPassword(), "sshPort": 22, "clusterUuid": cluster})["uuid"].(string)
	ps := b.mustCreate("primary-storage/smp", map[string]any{"name": "smp", "url": filepath.Join(b.shared, "ps"), "zoneUuid": zone})["uuid"].(string)
	_, err := c.Call("POST", "v1/clusters/"+cluster+"/primary-storage/"+ps, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	bs := b.mustCreate("backup-storage/image-store", map[string]any{"name": "bs", "hostname": b.bs.IP().String(), "username": "root",
		"password": b.bs.RootPassword(), "sshPort": 22, "url": "/var/lib/zcloud-bs"})["uuid"].(string)
	_, err = c.Call("POST", "v1/zones/"+zone+"/backup-storage/"+bs, nil)
	require.NoError(t, err)
	img := b.mustCreate("images", map[string]any{"name": "guest", "url": imageURL, "format": "qcow2", "platform": "Linux",
		"backupStorageUuids": []string{bs}})["uuid"].(string)
	l2 := b.mustCreate("l2-networks/no-vlan", map[string]any{"name": "l2", "zoneUuid": zone, "physicalInterface": "data0"})["uuid"].(string)
	_, err = c.Call("POST", "v1/l2-networks/"+l2+"/clusters/"+cluster, map[string]any{})
	require.NoError(t, err)
	l3 := b.mustCreate("l3-networks", map[string]any{"name": "l3", "l2NetworkUuid": l2, "category": "Private"})["uuid"].(string)
	b.mustCreate("l3-networks/"+l3+"/ip-ranges/by-cidr", map[string]any{"name": "r", "networkCidr": "192.168.50.0/24"})
	offering := b.mustCreate("instance-offerings", map[string]any{"name": "small", "cpuNum": 1, "memorySize": int64(256) << 20})["uuid"].(string)

	// The CPU mode is a global config with ZStack's values.
	cpuMode := func(v string) error {
		_, err := c.Call("PUT", "v1/global-configurations/kvm/vm.cpuMode/actions", map[string]any{"updateGlobalConfig": map[string]any{"value": v}})
		return err
	}
	require.ErrorContains(t, cpuMode("turbo"), "is not one of none, host-model, host-passthrough")
	require.NoError(t, cpuMode("host-passthrough"))

	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@zcloud"
	const mac = "fa:16:3e:5a:00:01"
	userdata := base64.StdEncoding.EncodeToString([]byte("#cloud-config\nfinal_message: zcloud-userdata-ok\n"))
	params := map[string]any{"name": "cloud", "instanceOfferingUuid": offering, "imageUuid": img, "l3NetworkUuids": []string{l3}}

	// Bad tags fail at once and create nothing.
	for _, bad := range []string{"userdata::not base64!", "hostname::bad_name", "sshkey::not-a-key", "customMac::" + l3 + "::01:00:5e:00:00:01"} {
		_, err := c.Create("vm-instances", params, bad)
		require.Error(t, err, bad)
	}
	vms, err := c.ListAll("vm-instances")
	require.NoError(t, err)
	require.Empty(t, vms)

	t0 := time.Now()
	vm, err := c.Create("vm-instances", params, "userdata::"+userdata, "sshkey::"+key, "hostname::guest-01", "customMac::"+l3+"::"+mac)
	require.NoError(t, err)
	t.Logf("CreateVmInstance with guest configuration to Running: %s", time.Since(t0).Round(time.Millisecond))
	vmUUID := vm["uuid"].(string)
	nic := vm["vmNics"].([]any)[0].(map[string]any)
	require.Equal(t, mac, nic["mac"], "the custom MAC")

	// The guest reads its config drive.
	b.console(vmUUID, "zcloud-cidata vdb meta-data network-config user-data", 2*time.Minute)
	// The guest prints meta-data, user-data, then network-config: wait for
	// the last file's line, so that the others are all on the console.
	out := b.console(vmUUID, "zcloud-cidata-network-config:       macaddress: \""+mac+"\"", time.Minute)
	for _, want := range []string{"zcloud-cidata-meta-data: instance-id: " + vmUUID, "zcloud-cidata-meta-data: local-hostname: guest-01",
		"zcloud-cidata-meta-data:   - \"" + key + "\"", "zcloud-cidata-user-data: final_message: zcloud-userdata-ok"} {
		require.Contains(t, out, want)
	}

	// The domain: TCG's "max" CPU for host-passthrough, the agent channel.
	x, err := h.Exec(t.Context(), "virsh", "-c", "qemu:///system", "dumpxml", vmUUID)
	require.NoError(t, err, "%s", x)
	require.Contains(t, string(x), `<cpu mode='maximum'`, "TCG cannot pass the host CPU through: it gives its max model")
	require.Contains(t, string(x), `name='org.qemu.guest_agent.0'`)

	// No guest agent runs in the busybox guest: a clear error.
	_, err = c.Action("vm-instances", vmUUID, "changeVmPassword", map[string]any{"account": "root", "password": "n3w-Secret"})
	require.ErrorContains(t, err, "guest agent of vm "+vmUUID+" is not connected")

	// SSH key and hostname: recorded for the next boot.
	get := func(path, key string) string {
		m, err := c.Call("GET", "v1/vm-instances/"+vmUUID+"/"+path, nil)
		require.NoError(t, err)
		var v string
		require.NoError(t, json.Unmarshal(m[key], &v))
		return v
	}
	require.Equal(t, key, get("ssh-keys", "sshKey"))
	second := strings.Replace(key, "ops@zcloud", "second@zcloud", 1)
	_, err = c.Action("vm-instances", vmUUID, "setVmSshKey", map[string]any{"SshKey": second})
	require.NoError(t, err)
	require.Equal(t, second, get("ssh-keys", "sshKey"))
	_, err = c.Action("vm-instances", vmUUID, "setVmHostname", map[string]any{"hostname": "-bad"})
	require.Error(t, err)
	require.Equal(t, "guest-01", get("hostnames", "hostname"))
	_, err = c.Call("DELETE", "v1/vm-instances/"+vmUUID+"/hostnames", nil)
	require.NoError(t, err)
	require.Empty(t, get("hostnames", "hostname"))

	// MAC and static IP change on a stopped VM only.
	_, err = c.Action("vm-instances/nics", nic["uuid"].(string), "updateVmNicMac", map[string]any{"mac": "fa:16:3e:5a:00:02"})
	require.ErrorContains(t, err, "needs it Stopped")
	_, err = c.Action("vm-instances", vmUUID, "stopVmInstance", map[string]any{"type": "cold"})
	require.NoError(t, err)
	_, err = c.Action("vm-instances/nics", nic["uuid"].(string), "updateVmNicMac", map[string]any{"mac": "fa:16:3e:5a:00:02"})
	require.NoError(t, err)
	_, err = c.Call("PUT", "v1/vm-instances/"+vmUUID+"/actions", map[string]any{"setVmStaticIp": map[string]any{"l3NetworkUuid": l3, "ip": "192.168.50.77"}})
	require.NoError(t, err)
	got, err := c.Get("vm-instances", vmUUID)
	require.NoError(t, err)
	nic = got["vmNics"].([]any)[0].(map[string]any)
	require.Equal(t, "fa:16:3e:5a:00:02", nic["mac"])
	require.Equal(t, "192.168.50.77", nic["ip"])
	_, err = c.Call("PUT", "v1/vm-instances/"+vmUUID+"/actions", map[string]any{"setVmStaticIp": map[string]any{"l3NetworkUuid": l3, "ip": "10.0.0.1"}})
	require.Error(t, err, "an address outside the l3")
	got, err = c.Get("vm-instances", vmUUID)
	require.NoError(t, err)
	require.Equal(t, "192.168.50.77", got["vmNics"].([]any)[0].(map[string]any)["ip"], "a failed change keeps the address")

	// Passthrough needs devices no host reports.
	_, err = c.Call("POST", "v1/pci-device/pci-devices/"+vmUUID+"/attach", map[string]any{"params": map[string]any{"vmInstanceUuid": vmUUID}})
	require.ErrorContains(t, err, "not supported")

	require.NoError(t, c.Delete("vm-instances", vmUUID))
	_, err = c.Action("vm-instances", vmUUID, "expungeVmInstance", map[string]any{})
	require.NoError(t, err)
	require.Empty(t, b.domains(h))
	left, err := filepath.Glob(filepath.Join(b.shared, "ps", "*", "*"))
	require.NoError(t, err)
	require.Empty(t, left, "no volume or config drive left")
	require.NoError(t, cpuMode("none"))
	require.NoError(t, c.Delete("hosts", host))
}
