package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/db"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/api/apitest"
	"github.com/zcloud/zcloud/models/store/storetest"
	"github.com/zcloud/zcloud/workers/embedded"
	"github.com/zcloud/zcloud/workers/node"
)

// env is a whole ZCloud in the test process: an in-memory Temporal server,
// a SQLite store, the API on a free loopback port, the control-plane worker
// and the simulated host fleet.
type env struct {
	t      testing.TB
	ts     *embedded.Server
	n      *node.Node
	faults *db.Faults
	c      *apitest.Client
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

func startTemporal(t testing.TB) *embedded.Server {
	t.Helper()
	ts, err := embedded.Start(context.Background(), embedded.Options{Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ts.Stop() })
	return ts
}

func newEnv(t testing.TB) *env { return newEnvOn(t, "sqlite::memory:") }

// newEnvOn is newEnv on a given store DSN.
func newEnvOn(t testing.TB, dsn string) *env {
	t.Helper()
	e := &env{t: t, ts: startTemporal(t), faults: &db.Faults{}}
	n, err := node.Start(context.Background(), node.Config{DB: dsn, Temporal: e.ts.FrontendAddr(), Namespace: e.ts.Namespace(),
		Listen: "127.0.0.1:0", Worker: true, SimFleet: true, AdminPassword: "password", Faults: e.faults, Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(n.Stop)
	e.n = n
	e.c = apitest.New(n.Addr)
	require.NoError(t, e.c.Login("admin", "password"))
	return e
}

// infra is a zone with one simulated cluster, its hosts, storage, an image,
// a flat L3 and an instance offering.
type infra struct {
	zone, cluster, ps, bs, image, l2, l3, offering string
	hosts                                          []string
}

func (e *env) mustCreate(path string, params map[string]any) string {
	e.t.Helper()
	inv, err := e.c.Create(path, params)
	require.NoError(e.t, err, "create %s", path)
	return inv["uuid"].(string)
}

// count counts the rows of table matching where.
func (e *env) count(table, where string, args ...any) int {
	e.t.Helper()
	n, err := e.n.Store.Count(context.Background(), table, where, args...)
	require.NoError(e.t, err)
	return n
}

// publicL3 makes a public L3 (198.51.100.0/24) on a NoVlan L2 attached
// to the infra's cluster, as routers need.
func (e *env) publicL3(in infra) string {
	e.t.Helper()
	pubL2 := e.mustCreate("l2-networks/no-vlan", map[string]any{"name": "pub", "zoneUuid": in.zone, "physicalInterface": "eth1"})
	_, err := e.c.Call("POST", "v1/l2-networks/"+pubL2+"/clusters/"+in.cluster, map[string]any{})
	require.NoError(e.t, err)
	public := e.mustCreate("l3-networks", map[string]any{"name": "public", "l2NetworkUuid": pubL2, "category": "Public"})
	e.mustCreate("l3-networks/"+public+"/ip-ranges/by-cidr", map[string]any{"name": "pub", "networkCidr": "198.51.100.0/24"})
	return public
}

func (e *env) buildInfra(hosts int) infra { return e.buildInfraN(hosts) }

// buildInfraN adds the hosts ten at a time.
func (e *env) buildInfraN(hosts int) infra {
	e.t.Helper()
	var in infra
	in.zone = e.mustCreate("zones", map[string]any{"name": "zone", "description": "", "isDefault": false})
	in.cluster = e.mustCreate("clusters", map[string]any{"zoneUuid": in.zone, "name": "cluster", "hypervisorType": "Simulator"})
	in.hosts = make([]string, hosts)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10)
	for i := 0; i < hosts; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			in.hosts[i] = e.mustCreate("hosts/simulators", map[string]any{"name": fmt.Sprintf("host-%d", i),
				"managementIp": fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), "clusterUuid": in.cluster, "cpuCapacity": 128, "memoryCapacity": int64(1) << 40})
		}(i)
	}
	wg.Wait()
	in.ps = e.mustCreate("primary-storage/simulators", map[string]any{"name": "ps", "url": "/sim/ps", "zoneUuid": in.zone, "totalCapacity": int64(1) << 50})
	_, err := e.c.Call("POST", "v1/clusters/"+in.cluster+"/primary-storage/"+in.ps, map[string]any{"params": map[string]any{}})
	require.NoError(e.t, err)
	in.bs = e.mustCreate("backup-storage/simulators", map[string]any{"name": "bs", "url": "/sim/bs", "totalCapacity": int64(1) << 50})
	_, err = e.c.Call("POST", "v1/zones/"+in.zone+"/backup-storage/"+in.bs, nil) // the SDK sends a literal null
	require.NoError(e.t, err)
	in.image = e.mustCreate("images", map[string]any{"name": "image", "url": "http://127.0.0.1/image.qcow2", "backupStorageUuids": []string{in.bs},
		"system": false, "virtio": false, "format": "qcow2", "platform": "Linux"})
	in.l2 = e.mustCreate("l2-networks/no-vlan", map[string]any{"name": "l2", "zoneUuid": in.zone, "physicalInterface": "eth0"})
	_, err = e.c.Call("POST", "v1/l2-networks/"+in.l2+"/clusters/"+in.cluster, map[string]any{})
	require.NoError(e.t, err)
	in.l3 = e.mustCreate("l3-networks", map[string]any{"name": "l3", "l2NetworkUuid": in.l2, "system": false, "enableIPAM": false, "category": "Private"})
	_ = e.mustCreate("l3-networks/"+in.l3+"/ip-ranges/by-cidr", map[string]any{"name": "range", "networkCidr": "10.10.0.0/16"})
	in.offering = e.mustCreate("instance-offerings", map[string]any{"name": "small", "cpuNum": 1, "memorySize": int64(1) << 30})
	return in
}

func (e *env) vmParams(in infra, name string) map[string]any {
	// Zero values as the Go SDK sends them.
	return map[string]any{"name": name, "instanceOfferingUuid": in.offering, "imageUuid": in.image, "l3NetworkUuids": []string{in.l3},
		"cpuNum": 0, "memorySize": 0, "zoneUuid": "", "clusterUuid": "", "hostUuid": "", "strategy": ""}
}

// assertClean checks that nothing of any VM is left: no VM, NIC, volume or
// used-IP row, every host and the primary storage at full capacity, and no
// domain or volume on any simulated host.
func (e *env) assertClean(in infra) {
	e.t.Helper()
	ctx := context.Background()
	for _, table := range []string{"vm_instances", "vm_nics", "volumes", "used_ips"} {
		n, err := e.n.Store.Count(ctx, table, "1 = 1")
		require.NoError(e.t, err)
		require.Zero(e.t, n, "rows left in %s", table)
	}
	hosts, err := e.c.ListAll("hosts")
	require.NoError(e.t, err)
	for _, h := range hosts {
		require.Equal(e.t, h["totalCpuCapacity"], h["availableCpuCapacity"], "cpu of host %s", h["uuid"])
		require.Equal(e.t, h["totalMemoryCapacity"], h["availableMemoryCapacity"], "memory of host %s", h["uuid"])
	}
	ps, err := e.c.Get("primary-storage", in.ps)
	require.NoError(e.t, err)
	require.Equal(e.t, ps["totalCapacity"], ps["availableCapacity"], "primary storage capacity")
	for _, h := range in.hosts {
		if d, ok := e.n.Fleet.Driver(h); ok {
			require.Empty(e.t, d.VMs(), "domains left on host %s", h)
			require.Empty(e.t, d.Volumes(), "volumes left on host %s", h)
		}
	}
}

// onBothStores runs fn on an env over SQLite and, when make test provides
// one, over MariaDB.
func onBothStores(t *testing.T, fn func(*testing.T, *env)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newEnv(t)) })
	t.Run("mariadb", func(t *testing.T) {
		dsn := storetest.MySQLDSN(t)
		if dsn == "" {
			t.Skip("ZCLOUD_TEST_MYSQL_DSN not set (make test sets it)")
		}
		fn(t, newEnvOn(t, dsn))
	})
}

// TestContractLifecycle drives the API as zstack-sdk-go does, from login to
// a running VM and back to expunged, on SQLite and (when make test provides
// one) on MariaDB.
func TestContractLifecycle(t *testing.T) {
	onBothStores(t, contractLifecycle)
}

func contractLifecycle(t *testing.T, e *env) {
	in := e.buildInfra(2)

	// GET by uuid: one inventory; unknown uuid: an empty list, not an error.
	z, err := e.c.Get("zones", in.zone)
	require.NoError(t, err)
	require.Equal(t, "zone", z["name"])
	items, _, err := e.c.Query("zones", url.Values{"q": {"uuid=00000000000000000000000000000000"}})
	require.NoError(t, err)
	require.Empty(t, items)

	vm, err := e.c.Create("vm-instances", e.vmParams(in, "vm-1"))
	require.NoError(t, err)
	uuid := vm["uuid"].(string)
	require.Equal(t, "Running", vm["state"])
	require.EqualValues(t, 1, vm["cpuNum"], "cpuNum 0 must not override the offering")
	nics := vm["vmNics"].([]any)
	require.Len(t, nics, 1)
	ip := nics[0].(map[string]any)["ip"].(string)
	require.NotEmpty(t, ip)
	require.Len(t, vm["allVolumes"].([]any), 1)

	// The VM, its volume and the zone are owned by the admin account.
	sess, err := e.n.Store.Session(context.Background(), e.c.Session)
	require.NoError(t, err)
	for _, r := range []string{uuid, vm["rootVolumeUuid"].(string), in.zone} {
		owner, err := e.n.Store.Owner(context.Background(), r)
		require.NoError(t, err)
		require.Equal(t, sess.AccountUUID, owner, "owner of %s", r)
	}

	// A static IP through ZStack's system tag, and a query on that tag.
	static, err := e.c.Create("vm-instances", e.vmParams(in, "vm-static"), "staticIp::"+in.l3+"::10.10.5.5")
	require.NoError(t, err)
	require.Equal(t, "10.10.5.5", static["vmNics"].([]any)[0].(map[string]any)["ip"])
	tagged, _, err := e.c.Query("vm-instances", url.Values{"q": {"__systemTag__=staticIp::" + in.l3 + "::10.10.5.5"}})
	require.NoError(t, err)
	require.Len(t, tagged, 1)
	require.Equal(t, static["uuid"], tagged[0]["uuid"])
	_, err = e.c.Create("vm-instances", e.vmParams(in, "vm-same-ip"), "staticIp::"+in.l3+"::10.10.5.5")
	require.Error(t, err, "a static ip in use is refused")
	require.NoError(t, e.c.Delete("vm-instances", static["uuid"].(string)))
	_, err = e.c.Call("PUT", "v1/vm-instances/"+static["uuid"].(string)+"/actions", map[string]any{"expungeVmInstance": map[string]any{}})
	require.NoError(t, err)

	// fields= keeps only the named fields.
	picked, _, err := e.c.Query("vm-instances", url.Values{"q": {"uuid=" + uuid}, "fields": {"uuid,state"}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"uuid": uuid, "state": "Running"}, picked[0])

	// Joins and operators.
	found, _, err := e.c.Query("vm-instances", url.Values{"q": {"vmNics.ip=" + ip, "state?=Running,Stopped"}})
	require.NoError(t, err)
	require.Len(t, found, 1)
	_, _, err = e.c.Query("vm-instances", url.Values{"q": {"nosuchfield=1"}})
	var apiErr *apitest.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "SYS.1007", apiErr.Code)

	// The host sees the domain running.
	host := vm["hostUuid"].(string)
	d, ok := e.n.Fleet.Driver(host)
	require.True(t, ok)
	require.Equal(t, hostapi.PowerRunning, d.VMs()[uuid].State)

	// A wrong-state operation fails with VM.1010 and changes nothing.
	_, err = e.c.Action("vm-instances", uuid, "startVmInstance", map[string]any{})
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "VM.1010", apiErr.Code)

	for _, step := range []struct{ key, want string }{
		{"stopVmInstance", "Stopped"}, {"startVmInstance", "Running"}, {"rebootVmInstance", "Running"},
	} {
		inv, err := e.c.Action("vm-instances", uuid, step.key, map[string]any{"type": "grace", "stopHa": false})
		require.NoError(t, err, step.key)
		require.Equal(t, step.want, inv["state"], step.key)
	}
	require.NoError(t, e.c.Delete("vm-instances", uuid))
	got, err := e.c.Get("vm-instances", uuid)
	require.NoError(t, err)
	require.Equal(t, "Destroyed", got["state"])
	inv, err := e.c.Action("vm-instances", uuid, "recoverVmInstance", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "Stopped", inv["state"])
	require.NoError(t, e.c.Delete("vm-instances", uuid))
	_, err = e.c.Call("PUT", "v1/vm-instances/"+uuid+"/actions", map[string]any{"expungeVmInstance": map[string]any{}})
	require.NoError(t, err)
	e.assertClean(in)

	// L3 services: DNS and the free-IP query.
	_, err = e.c.Create("l3-networks/"+in.l3+"/dns", map[string]any{"dns": "10.10.0.53"})
	require.NoError(t, err)
	l3, err := e.c.Get("l3-networks", in.l3)
	require.NoError(t, err)
	require.Equal(t, []any{"10.10.0.53"}, l3["dns"])
	require.Len(t, l3["ipRanges"], 1)
	free, _, err := e.c.Query("l3-networks/ip/free", url.Values{"l3NetworkUuid": {in.l3}, "limit": {"5"}})
	require.NoError(t, err)
	require.Len(t, free, 5)
	require.Equal(t, "10.10.0.2", free[0]["ip"], "the gateway 10.10.0.1 is not free")

	// Paging as ListAll does: 120 offerings over limit=50 pages.
	for i := 0; i < 3; i++ {
		e.mustCreate("disk-offerings", map[string]any{"name": fmt.Sprintf("d%d", i), "diskSize": 1 << 30})
	}
	all, err := e.c.ListAll("disk-offerings")
	require.NoError(t, err)
	require.Len(t, all, 3)

	// Bad input: a clear error, nothing created.
	_, err = e.c.Create("instance-offerings", map[string]any{"name": "bad", "cpuNum": 0, "memorySize": 1})
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "SYS.1007", apiErr.Code)
}

// TestCreateVMRollsBackAtEachStep injects a failure into each step of the
// create saga, control-plane and host side, and checks that the job fails
// with that step's error and leaves no trace.
func TestCreateVMRollsBackAtEachStep(t *testing.T) {
	e := newEnv(t)
	in := e.buildInfra(1)
	steps := []struct {
		name string
		set  func(msg string)
	}{}
	for _, s := range []string{activities.VMCreateRecord, activities.VMAllocateHost, activities.VMAllocateVolumes,
		activities.VMAllocateNICs, activities.VMAllocateIPs, activities.VMSetState + ":Running"} {
		s := s
		steps = append(steps, struct {
			name string
			set  func(msg string)
		}{s, func(msg string) { e.faults.Set(s, msg) }})
	}
	d, ok := e.n.Fleet.Driver(in.hosts[0])
	require.True(t, ok)
	for _, op := range []string{hostapi.ActInstantiateVolume, hostapi.ActCreateVM} {
		op := op
		steps = append(steps, struct {
			name string
			set  func(msg string)
		}{op, func(msg string) {
			if msg == "" {
				d.ClearFailures()
			} else {
				d.InjectFailure(op, msg)
			}
		}})
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.set("boom at " + s.name)
			defer s.set("")
			_, err := e.c.Create("vm-instances", e.vmParams(in, "vm-"+s.name))
			var apiErr *apitest.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Contains(t, apiErr.Error(), "boom at "+s.name)
			e.assertClean(in)
		})
	}
	// With no fault the same request succeeds on the same infrastructure.
	vm, err := e.c.Create("vm-instances", e.vmParams(in, "vm-ok"))
	require.NoError(t, err)
	require.Equal(t, "Running", vm["state"])
}

// TestDeadAgentFailsFast stops a host's agent: a VM placed on it fails on
// ScheduleToStart within seconds and rolls back.
func TestDeadAgentFailsFast(t *testing.T) {
	e := newEnv(t)
	in := e.buildInfra(1)
	require.NoError(t, e.n.Fleet.StopAgent(context.Background(), activities.SimAgentParams{HostUUID: in.hosts[0]}))
	start := time.Now()
	_, err := e.c.Create("vm-instances", e.vmParams(in, "vm-dead-host"))
	elapsed := time.Since(start)
	var apiErr *apitest.APIError
	require.True(t, errors.As(err, &apiErr), "want an API error, got %v", err)
	require.Equal(t, "HOST.1003", apiErr.Code, apiErr.Error())
	require.Less(t, elapsed, 3*hostapi.ScheduleToStart, "dead host must fail fast")
	t.Logf("dead host detected in %s", elapsed)
	e.assertClean(in)
}

func jsonBody(t testing.TB, v any) io.Reader {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return bytes.NewReader(b)
}

func decode(t testing.TB, resp *http.Response, v any) {
	defer resp.Body.Close()
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

// startJob submits an async API call and returns its job location.
func (e *env) startJob(method, path string, body any) string {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = jsonBody(e.t, body)
	}
	req, err := http.NewRequest(method, "http://"+e.n.Addr+"/zstack/"+path, rd)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "OAuth "+e.c.Session)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	var out struct{ Location string }
	decode(e.t, resp, &out)
	require.NotEmpty(e.t, out.Location)
	return out.Location
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
