package node_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/api/apitest"
)

// vrouterServices gives an L3 the VirtualRouter provider's DHCP, DNS and
// SNAT: it becomes a vRouter network, served by a router created on demand.
func vrouterServices(t *testing.T, c *apitest.Client, l3 string) {
	t.Helper()
	providers, _, err := c.Query("network-services/providers", nil)
	require.NoError(t, err)
	var vr string
	for _, p := range providers {
		if p["type"] == "VirtualRouter" {
			vr = p["uuid"].(string)
		}
	}
	require.NotEmpty(t, vr, "the VirtualRouter provider exists")
	_, err = c.Call("POST", "v1/l3-networks/"+l3+"/network-services", map[string]any{"params": map[string]any{
		"networkServices": map[string]any{vr: []string{"DHCP", "DNS", "SNAT"}}}})
	require.NoError(t, err)
}

// TestVRouterOnDemandSim creates VMs on a vRouter network of simulated
// hosts: without a default virtual router offering the creation fails with
// ZStack's error and leaves nothing; with one, the router is made on
// demand, but simulated agents serve no routers, so every one of five
// concurrent creations fails and rolls back, router included. The router
// that does get made (one for five VMs) is proven on the real agent
// (TestRouterAppliance).
func TestVRouterOnDemandSim(t *testing.T) {
	onBothStores(t, vrouterOnDemandSim)
}

func vrouterOnDemandSim(t *testing.T, e *env) {
	in := e.buildInfra(1)
	c := e.c
	count := e.count
	public := e.publicL3(in)
	vrouterServices(t, c, in.l3)

	// A non-default offering is not taken.
	plain := e.mustCreate("instance-offerings/virtual-routers", map[string]any{"name": "plain", "zoneUuid": in.zone,
		"managementNetworkUuid": public, "imageUuid": in.image, "cpuNum": 1, "memorySize": int64(256) << 20})
	_, err := c.Create("vm-instances", e.vmParams(in, "vm"))
	require.ErrorContains(t, err, "please at least create a default virtual router offering in that zone")
	require.ErrorContains(t, err, "SYS.1006")
	e.assertClean(in)
	require.Zero(t, count("virtual_routers", "1 = 1"))

	// With a default offering, five concurrent creations share one ensure
	// per L3; the simulated host cannot realise the router, so each fails
	// and nothing is left.
	e.mustCreate("instance-offerings/virtual-routers", map[string]any{"name": "default", "zoneUuid": in.zone, "isDefault": true,
		"managementNetworkUuid": public, "imageUuid": in.image, "cpuNum": 1, "memorySize": int64(256) << 20})
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Create("vm-instances", e.vmParams(in, "vm"))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.ErrorContains(t, err, "not supported", "creation %d", i)
	}
	e.assertClean(in)
	require.Zero(t, count("virtual_routers", "1 = 1"), "the failed router is deleted")
	require.Zero(t, count("virtual_router_nics", "1 = 1"))
	require.Zero(t, count("used_ips", "l3_network_uuid = ?", public), "the router's public IP is released")
	require.Zero(t, count("router_change_journal", "1 = 1"))

	// A VM created stopped needs no router yet.
	p := e.vmParams(in, "stopped")
	p["strategy"] = "CreateStopped"
	vm, err := c.Create("vm-instances", p)
	require.NoError(t, err)
	require.Equal(t, "Stopped", vm["state"])
	_, err = c.Action("vm-instances", vm["uuid"].(string), "startVmInstance", map[string]any{})
	require.ErrorContains(t, err, "not supported", "starting it makes the router")
	require.Zero(t, count("virtual_routers", "1 = 1"))
	require.NoError(t, c.Delete("vm-instances", vm["uuid"].(string)))
	_, err = c.Call("PUT", "v1/vm-instances/"+vm["uuid"].(string)+"/actions", map[string]any{"expungeVmInstance": map[string]any{}})
	require.NoError(t, err)
	require.NoError(t, c.Delete("instance-offerings", plain))
}

// vrouterBed is what the vRouter step of TestRouterAppliance takes from
// its bed: the zone, the image and instance offering of its VMs, the
// public network and its outside server, and a fresh Private L3 on the
// L2 of bridge br_<phys>.
type vrouterBed struct {
	zone, image, offering, public, l3, phys string
	outside                                 string // URL of the outside server's /cgi-bin/peer
}

// vrouterOnDemand proves a vRouter network on the real agent: five VMs
// created at once on it end with one router (made from the zone's default
// offering, holding the L3's gateway); a guest with one VM's MAC gets that
// VM's address from the router's DHCP and reaches the outside through its
// SNAT, also after the router was stopped and started. Everything made is
// deleted again.
func (l *routerLab) vrouterOnDemand(t *testing.T, b vrouterBed) {
	c := l.c
	l.bridge(b.phys)
	vrouterServices(t, c, b.l3)
	vro := l.mustCreate("instance-offerings/virtual-routers", map[string]any{"name": "vro-default", "zoneUuid": b.zone, "isDefault": true,
		"managementNetworkUuid": b.public, "imageUuid": b.image, "cpuNum": 1, "memorySize": int64(256) << 20})["uuid"].(string)

	start := time.Now()
	vms := make([]map[string]any, 5)
	errs := make([]error, len(vms))
	var wg sync.WaitGroup
	for i := range vms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vms[i], errs[i] = c.Create("vm-instances", map[string]any{"name": fmt.Sprintf("vr-vm-%d", i), "instanceOfferingUuid": b.offering,
				"imageUuid": b.image, "l3NetworkUuids": []string{b.l3}})
		}()
	}
	wg.Wait()
	t.Logf("TIMING 5 concurrent CreateVmInstance on a new vRouter network (router made on demand): %s", time.Since(start).Round(time.Millisecond))
	for i, err := range errs {
		require.NoError(t, err, "creation %d", i)
	}
	routers, err := c.ListAll("vm-instances/appliances/virtual-routers", "vmNics.l3NetworkUuid="+b.l3)
	require.NoError(t, err)
	require.Len(t, routers, 1, "one router for the L3")
	router := routers[0]
	routerUUID := router["uuid"].(string)
	require.Equal(t, "VirtualRouter", router["applianceVmType"])
	require.Equal(t, "Running", router["state"])
	require.Equal(t, vro, router["instanceOfferingUuid"])
	var publicIP, gateway string
	for _, n := range router["vmNics"].([]any) {
		n := n.(map[string]any)
		switch n["l3NetworkUuid"] {
		case b.public:
			publicIP = n["ip"].(string)
		case b.l3:
			gateway = n["ip"].(string)
			require.Equal(t, "4", n["metaData"], "the L3 is the router's guest network")
		}
	}
	require.Equal(t, "172.31.5.1", gateway, "the router holds the L3's gateway")
	n, err := l.n.Store.Count(t.Context(), "virtual_router_nics", "l3_network_uuid = ?", b.l3)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = c.Get("vm-instances/appliances", routerUUID)
	require.NoError(t, err, "QueryApplianceVm lists it")

	// The router survives a stop and start, like any router.
	_, err = c.Action("vm-instances", routerUUID, "stopVmInstance", map[string]any{})
	require.NoError(t, err)
	_, err = c.Action("vm-instances", routerUUID, "startVmInstance", map[string]any{})
	require.NoError(t, err)

	// A guest with VM 0's MAC asks the router's DHCP for its address.
	nic := vms[0]["vmNics"].([]any)[0].(map[string]any)
	l.exec("ip", "netns", "add", "gv")
	l.exec("ip", "link", "add", "v-gv", "type", "veth", "peer", "name", "eth0", "netns", "gv")
	l.exec("ip", "link", "set", "v-gv", "master", "br_"+b.phys, "up")
	l.exec("ip", "-n", "gv", "link", "set", "eth0", "address", nic["mac"].(string))
	l.exec("ip", "-n", "gv", "link", "set", "eth0", "up")
	dir := t.TempDir()
	script := filepath.Join(dir, "lease.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/busybox sh\n[ \"$1\" = bound ] && echo \"$ip $router\" > "+dir+"/lease\nexit 0\n"), 0o755))
	start = time.Now()
	l.exec("ip", "netns", "exec", "gv", "/bin/busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "10", "-T", "1", "-s", script)
	t.Logf("TIMING DHCP lease from the vRouter: %s", time.Since(start).Round(time.Millisecond))
	lease, err := os.ReadFile(filepath.Join(dir, "lease"))
	require.NoError(t, err)
	require.Equal(t, []string{nic["ip"].(string), gateway}, strings.Fields(string(lease)), "the router leases the VM's address and routes it")
	l.exec("ip", "-n", "gv", "addr", "add", nic["ip"].(string)+"/24", "dev", "eth0")
	l.exec("ip", "-n", "gv", "route", "add", "default", "via", gateway)
	var seen string
	routerPoll(t, 10*time.Second, "the guest reaches outside", func() (err error) {
		seen, err = l.peer("gv", b.outside)
		return err
	})
	require.Equal(t, publicIP, seen, "outside sees the guest as the router's public IP (SNAT)")

	// The router stays when its VMs go; it is destroyed like any router.
	for _, vm := range vms {
		u := vm["uuid"].(string)
		require.NoError(t, c.Delete("vm-instances", u))
		_, err = c.Call("PUT", "v1/vm-instances/"+u+"/actions", map[string]any{"expungeVmInstance": map[string]any{}})
		require.NoError(t, err)
	}
	_, err = c.Get("vm-instances/appliances/virtual-routers", routerUUID)
	require.NoError(t, err, "the router outlives its VMs")
	require.NoError(t, c.Delete("vm-instances", routerUUID), "DestroyVmInstance of the on-demand router")
	require.NotContains(t, l.exec("ip", "netns", "list"), "zr-"+routerUUID[:8])
	require.NoError(t, c.Delete("instance-offerings", vro))
}
