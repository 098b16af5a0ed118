package node_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/api/apitest"
)

// TestVMDeviceConsole drives the console APIs through REST on simulated
// hosts: the VNC address read from the host's live domain (a console on
// every address answered at the host's management IP, one port per running
// VM), the password recorded as ZStack's consolePassword system tag and
// given to the domain, a failing host step rolled back, the password of a
// stopped VM taken by its next start, removal, and the state and input
// errors. The real-guest side (QEMU's VNC server, RFB logins) is
// hostworker/libvirt's TestGuestConsolePassword.
func TestVMDeviceConsole(t *testing.T) {
	e := newEnv(t)
	in := e.buildInfra(1)
	c := e.c
	drv, ok := e.n.Fleet.Driver(in.hosts[0])
	require.True(t, ok)
	vm, err := c.Create("vm-instances", e.vmParams(in, "vm"))
	require.NoError(t, err)
	vmUUID := vm["uuid"].(string)
	other, err := c.Create("vm-instances", e.vmParams(in, "other"))
	require.NoError(t, err)

	address := func(uuid string) (string, int, string, error) {
		m, err := c.Call("GET", "v1/vm-instances/"+uuid+"/console-addresses", nil)
		if err != nil {
			return "", 0, "", err
		}
		var host, proto string
		var port int
		require.NoError(t, json.Unmarshal(m["hostIp"], &host))
		require.NoError(t, json.Unmarshal(m["port"], &port))
		require.NoError(t, json.Unmarshal(m["protocol"], &proto))
		return host, port, proto, nil
	}
	password := func(uuid string) string {
		m, err := c.Call("GET", "v1/vm-instances/"+uuid+"/console-passwords", nil)
		require.NoError(t, err)
		var pw string
		require.NoError(t, json.Unmarshal(m["consolePassword"], &pw))
		return pw
	}
	onHost := func(uuid string) string { return drv.VMs()[uuid].Spec.ConsolePassword }

	host, port, proto, err := address(vmUUID)
	require.NoError(t, err)
	require.Equal(t, "10.0.0.1", host, "a console on 0.0.0.0 is reached at the host's management ip")
	require.Equal(t, 5900, port)
	require.Equal(t, hostapi.ConsoleVNC, proto)
	_, otherPort, _, err := address(other["uuid"].(string))
	require.NoError(t, err)
	require.Equal(t, 5901, otherPort, "each running vm has its own port")
	require.Empty(t, password(vmUUID))

	// Bad passwords are refused before any job starts.
	var apiErr *apitest.APIError
	_, err = c.Action("vm-instances", vmUUID, "setVmConsolePassword", map[string]any{"consolePassword": "longer-than-8"})
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 400, apiErr.Status)
	_, err = c.Action("vm-instances", vmUUID, "setVmConsolePassword", map[string]any{"consolePassword": "a b"})
	require.ErrorContains(t, err, "printable ascii")

	inv, err := c.Action("vm-instances", vmUUID, "setVmConsolePassword", map[string]any{"consolePassword": "pw1"})
	require.NoError(t, err)
	require.Equal(t, vmUUID, inv["uuid"])
	require.Equal(t, "pw1", password(vmUUID))
	require.Equal(t, "pw1", onHost(vmUUID), "the running domain has the password")
	tags, err := c.ListAll("system-tags", "resourceUuid="+vmUUID)
	require.NoError(t, err)
	require.Len(t, tags, 1)
	require.Equal(t, "consolePassword::pw1", tags[0]["tag"])

	// A failing host step leaves the record and the domain as they were.
	drv.InjectFailure(hostapi.ActSetVMConsolePassword, "boom at console")
	_, err = c.Action("vm-instances", vmUUID, "setVmConsolePassword", map[string]any{"consolePassword": "pw2"})
	drv.ClearFailures()
	require.ErrorContains(t, err, "boom at console")
	require.Equal(t, "pw1", password(vmUUID))
	require.Equal(t, "pw1", onHost(vmUUID))

	// Stopped: no console; a new password is recorded and the next start
	// defines the domain with it.
	_, err = c.Action("vm-instances", vmUUID, "stopVmInstance", map[string]any{"type": "cold"})
	require.NoError(t, err)
	_, _, _, err = address(vmUUID)
	require.ErrorContains(t, err, "VM.1010")
	_, err = c.Action("vm-instances", vmUUID, "setVmConsolePassword", map[string]any{"consolePassword": "pw3"})
	require.NoError(t, err)
	require.Equal(t, "pw3", password(vmUUID))
	_, err = c.Action("vm-instances", vmUUID, "startVmInstance", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "pw3", onHost(vmUUID))
	_, port, _, err = address(vmUUID)
	require.NoError(t, err)
	require.Equal(t, 5900, port, "the stopped vm's port was freed and taken again")

	_, err = c.Call("DELETE", "v1/vm-instances/"+vmUUID+"/console-password", nil)
	require.NoError(t, err)
	require.Empty(t, password(vmUUID))
	require.Empty(t, onHost(vmUUID))
	tags, err = c.ListAll("system-tags", "resourceUuid="+vmUUID)
	require.NoError(t, err)
	require.Empty(t, tags)

	_, _, _, err = address("0123456789abcdef0123456789abcdef")
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 404, apiErr.Status)
}

// TestVMDeviceISO attaches an ISO image to a running VM and detaches it
// through REST on simulated hosts (the domain's CD-ROM follows, a failing
// host step rolls back), attaches one to a stopped VM (its next start
// defines the domain with it), and sets and reads the boot order. The
// real-guest side (QEMU's tray, the cached ISO, boot order in the domain)
// is hostworker/libvirt's TestGuestISO.
func TestVMDeviceISO(t *testing.T) {
	e := newEnv(t)
	in := e.buildInfra(1)
	c := e.c
	drv, ok := e.n.Fleet.Driver(in.hosts[0])
	require.True(t, ok)
	iso := e.mustCreate("images", map[string]any{"name": "iso", "url": "http://127.0.0.1/tools.iso", "backupStorageUuids": []string{in.bs},
		"mediaType": "ISO", "format": "iso", "platform": "Linux"})
	vm, err := c.Create("vm-instances", e.vmParams(in, "vm"))
	require.NoError(t, err)
	vmUUID := vm["uuid"].(string)
	inDrive := func() string {
		if spec := drv.VMs()[vmUUID].Spec; spec.ISO != nil {
			return spec.ISO.ImageUUID
		}
		return ""
	}
	isoTags := func() int {
		tags, err := c.ListAll("system-tags", "resourceUuid="+vmUUID, "tag~=iso::%")
		require.NoError(t, err)
		return len(tags)
	}

	// A root image is not an ISO.
	_, err = c.Call("POST", "v1/vm-instances/"+vmUUID+"/iso/"+in.image, map[string]any{"params": map[string]any{}})
	require.ErrorContains(t, err, "not an ISO")

	_, err = c.Call("POST", "v1/vm-instances/"+vmUUID+"/iso/"+iso, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	require.Equal(t, iso, inDrive(), "the running domain's cd-rom holds the iso")
	require.Equal(t, 1, isoTags())
	_, err = c.Call("POST", "v1/vm-instances/"+vmUUID+"/iso/"+iso, map[string]any{"params": map[string]any{}})
	require.NoError(t, err, "attaching it again succeeds")
	require.Equal(t, 1, isoTags())

	// Detach fails on the host: the iso stays, in the record and the drive.
	drv.InjectFailure(hostapi.ActDetachISO, "boom at eject")
	_, err = c.Call("DELETE", "v1/vm-instances/"+vmUUID+"/iso?isoUuid="+iso, nil)
	drv.ClearFailures()
	require.ErrorContains(t, err, "boom at eject")
	require.Equal(t, iso, inDrive())
	require.Equal(t, 1, isoTags())
	_, err = c.Call("DELETE", "v1/vm-instances/"+vmUUID+"/iso?isoUuid="+in.image, nil)
	require.ErrorContains(t, err, "is not attached")

	_, err = c.Call("DELETE", "v1/vm-instances/"+vmUUID+"/iso", nil)
	require.NoError(t, err)
	require.Empty(t, inDrive())
	require.Zero(t, isoTags())

	// Boot order: default, set (bad values refused), read back.
	orders := func() []string {
		m, err := c.Call("GET", "v1/vm-instances/"+vmUUID+"/boot-orders", nil)
		require.NoError(t, err)
		var o []string
		require.NoError(t, json.Unmarshal(m["orders"], &o))
		return o
	}
	require.Equal(t, []string{"HardDisk", "CdRom"}, orders())
	_, err = c.Action("vm-instances", vmUUID, "setVmBootOrder", map[string]any{"bootOrder": []string{"Floppy"}})
	require.ErrorContains(t, err, "not CdRom")
	_, err = c.Action("vm-instances", vmUUID, "setVmBootOrder", map[string]any{"bootOrder": []string{"CdRom", "CdRom"}})
	require.ErrorContains(t, err, "twice")
	_, err = c.Action("vm-instances", vmUUID, "setVmBootOrder", map[string]any{"bootOrder": []string{"CdRom", "HardDisk"}})
	require.NoError(t, err)
	require.Equal(t, []string{"CdRom", "HardDisk"}, orders())

	// Stopped: the iso and the boot order reach the domain at the next start.
	_, err = c.Action("vm-instances", vmUUID, "stopVmInstance", map[string]any{"type": "cold"})
	require.NoError(t, err)
	_, err = c.Call("POST", "v1/vm-instances/"+vmUUID+"/iso/"+iso, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	_, err = c.Action("vm-instances", vmUUID, "startVmInstance", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, iso, inDrive())
	require.Equal(t, []string{"CdRom", "HardDisk"}, drv.VMs()[vmUUID].Spec.BootOrder)
}

// TestVMDeviceCompute changes a VM's CPUs and memory through REST on a
// simulated host: online growth of a running VM (the domain and the host's
// capacity follow), a change the host cannot hold refused with nothing
// changed, online shrink refused by the host and rolled back, a stopped VM
// shrunk in its record and started at the new size, and
// ChangeInstanceOffering. The real-guest side is hostworker/libvirt's
// TestGuestOnlineCompute.
func TestVMDeviceCompute(t *testing.T) {
	e := newEnv(t)
	in := e.buildInfra(1)
	c := e.c
	drv, ok := e.n.Fleet.Driver(in.hosts[0])
	require.True(t, ok)
	vm, err := c.Create("vm-instances", e.vmParams(in, "vm"))
	require.NoError(t, err)
	vmUUID := vm["uuid"].(string)
	const gib = int64(1) << 30
	available := func() (float64, float64) {
		h, err := c.Get("hosts", in.hosts[0])
		require.NoError(t, err)
		return h["availableCpuCapacity"].(float64), h["availableMemoryCapacity"].(float64)
	}
	cpu0, mem0 := available()

	vm, err = c.Action("vm-instances", vmUUID, "updateVmInstance", map[string]any{"cpuNum": 2, "memorySize": 2 * gib, "name": "bigger"})
	require.NoError(t, err)
	require.EqualValues(t, 2, vm["cpuNum"])
	require.EqualValues(t, 2*gib, vm["memorySize"])
	require.Equal(t, "bigger", vm["name"])
	spec := drv.VMs()[vmUUID].Spec
	require.Equal(t, 2, spec.CPUNum, "the running domain grew")
	require.Equal(t, 2*gib, spec.MemorySize)
	cpu, mem := available()
	require.Equal(t, cpu0-1, cpu)
	require.Equal(t, mem0-float64(gib), mem)

	// More than the host has: refused, nothing changes.
	_, err = c.Action("vm-instances", vmUUID, "updateVmInstance", map[string]any{"cpuNum": 500})
	require.ErrorContains(t, err, "HOST.1007")
	cpu, mem = available()
	require.Equal(t, cpu0-1, cpu)
	require.Equal(t, mem0-float64(gib), mem)

	// Online shrink: the host refuses, record and capacity go back.
	_, err = c.Action("vm-instances", vmUUID, "updateVmInstance", map[string]any{"cpuNum": 1})
	require.ErrorContains(t, err, "online decrease")
	got, err := c.Get("vm-instances", vmUUID)
	require.NoError(t, err)
	require.EqualValues(t, 2, got["cpuNum"])
	cpu, _ = available()
	require.Equal(t, cpu0-1, cpu)

	// Stopped: any size, taken at the next start.
	_, err = c.Action("vm-instances", vmUUID, "stopVmInstance", map[string]any{"type": "cold"})
	require.NoError(t, err)
	small := e.mustCreate("instance-offerings", map[string]any{"name": "tiny", "cpuNum": 1, "memorySize": gib / 2})
	vm, err = c.Action("vm-instances", vmUUID, "changeInstanceOffering", map[string]any{"instanceOfferingUuid": small})
	require.NoError(t, err)
	require.EqualValues(t, 1, vm["cpuNum"])
	require.EqualValues(t, gib/2, vm["memorySize"])
	require.Equal(t, small, vm["instanceOfferingUuid"])
	_, err = c.Action("vm-instances", vmUUID, "startVmInstance", map[string]any{})
	require.NoError(t, err)
	spec = drv.VMs()[vmUUID].Spec
	require.Equal(t, 1, spec.CPUNum)
	require.Equal(t, gib/2, spec.MemorySize)
	cpu, mem = available()
	require.Equal(t, cpu0, cpu)
	require.Equal(t, mem0+float64(gib/2), mem)

	_, err = c.Action("vm-instances", vmUUID, "updateVmInstance", map[string]any{"platform": "Windows"})
	require.ErrorContains(t, err, "not supported")
}
