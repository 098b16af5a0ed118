package node_test

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/aliyun"
	"github.com/zcloud/zcloud/activities/aliyun/aliyunsim"
	"github.com/zcloud/zcloud/api/apitest"
	"github.com/zcloud/zcloud/models/store/storetest"
	"github.com/zcloud/zcloud/workers/node"
)

const (
	simAK      = "LTAI5tZCloudTestKey01"
	simSecret  = "zcloud-test-secret-0123456789abcd"
	simAccount = "1234567890123456"
)

// hybridEnv is a whole ZCloud plus aliyunsim, the fake Alibaba endpoint,
// on loopback; the real Alibaba SDK is pointed at it.
type hybridEnv struct {
	*env
	sim *aliyunsim.Server
}

func newHybridEnv(t *testing.T, dsn string, tune func(*aliyun.Config)) *hybridEnv {
	t.Helper()
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		t.Setenv(k, "")
	}
	sim, err := aliyunsim.New(aliyunsim.Options{TransitionDelay: 100 * time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	sim.AddAccessKey(simAK, simSecret, simAccount)
	require.NoError(t, sim.Start("127.0.0.1:0"))
	t.Cleanup(func() { _ = sim.Close() })

	key := make([]byte, aliyun.KeySize)
	_, _ = rand.Read(key)
	cfg := aliyun.Config{Endpoint: sim.URL(), SecretKey: key, PollInterval: 50 * time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	e := &env{t: t, ts: startTemporal(t)}
	n, err := node.Start(context.Background(), node.Config{DB: dsn, Temporal: e.ts.FrontendAddr(), Namespace: e.ts.Namespace(),
		Listen: "127.0.0.1:0", Worker: true, SimFleet: true, AdminPassword: "password", Logger: quietLogger(), Aliyun: cfg})
	require.NoError(t, err)
	t.Cleanup(n.Stop)
	e.n = n
	e.c = apitest.New(n.Addr)
	require.NoError(t, e.c.Login("admin", "password"))
	return &hybridEnv{env: e, sim: sim}
}

// ecsClient is an SDK client of aliyunsim, for what a user does outside ZCloud.
func (h *hybridEnv) ecsClient(t *testing.T) *ecs.Client {
	t.Helper()
	cl, err := ecs.NewClientWithOptions("cn-hangzhou", sdk.NewConfig().WithScheme("HTTP"), credentials.NewAccessKeyCredential(simAK, simSecret))
	require.NoError(t, err)
	cl.Domain = h.sim.Endpoint()
	return cl
}

// remoteInstances lists the instances aliyunsim holds, through the SDK.
func (h *hybridEnv) remoteInstances(t *testing.T) []ecs.Instance {
	t.Helper()
	cl := h.ecsClient(t)
	req := ecs.CreateDescribeInstancesRequest()
	req.RegionId = "cn-hangzhou"
	resp, err := cl.DescribeInstances(req)
	require.NoError(t, err)
	return resp.Instances.Instance
}

func (h *hybridEnv) get(path string) map[string]json.RawMessage {
	h.t.Helper()
	out, err := h.c.Call(http.MethodGet, "v1/"+path, nil)
	require.NoError(h.t, err, "GET %s", path)
	return out
}

func (h *hybridEnv) inventories(path string) []map[string]any {
	h.t.Helper()
	var l []map[string]any
	require.NoError(h.t, json.Unmarshal(h.get(path)["inventories"], &l))
	return l
}

func (h *hybridEnv) post(path string, params map[string]any) map[string]any {
	h.t.Helper()
	inv, err := h.c.Create(path, params)
	require.NoError(h.t, err, "POST %s", path)
	return inv
}

func (h *hybridEnv) put(path, key string, params map[string]any) map[string]json.RawMessage {
	h.t.Helper()
	out, err := h.c.Call(http.MethodPut, "v1/"+path, map[string]any{key: params})
	require.NoError(h.t, err, "PUT %s", path)
	return out
}

func (h *hybridEnv) del(path string) {
	h.t.Helper()
	_, err := h.c.Call(http.MethodDelete, "v1/"+path, nil)
	require.NoError(h.t, err, "DELETE %s", path)
}

func (h *hybridEnv) count(table string) int {
	h.t.Helper()
	n, err := h.n.Store.Count(context.Background(), table, "1 = 1")
	require.NoError(h.t, err)
	return n
}

// hybridInfra is a key, a data center with one zone, a VPC, a VSwitch, a
// security group and the public images.
type hybridInfra struct {
	key, dc, zone, vpc, vsw, sg, image string
}

func (h *hybridEnv) buildHybridInfra() hybridInfra {
	h.t.Helper()
	var in hybridInfra
	in.key = h.post("hybrid/aliyun/key", map[string]any{"name": "main", "key": simAK, "secret": simSecret})["uuid"].(string)
	in.dc = h.post("hybrid/data-center", map[string]any{"regionId": "cn-hangzhou", "type": "aliyun"})["uuid"].(string)
	in.zone = h.post("hybrid/identity-zone", map[string]any{"dataCenterUuid": in.dc, "zoneId": "cn-hangzhou-h", "type": "aliyun"})["uuid"].(string)
	in.vpc = h.post("hybrid/aliyun/vpc", map[string]any{"dataCenterUuid": in.dc, "cidrBlock": "172.16.0.0/12", "name": "vpc-1", "vRouterName": "vr-1"})["uuid"].(string)
	in.vsw = h.post("hybrid/aliyun/vswitch", map[string]any{"vpcUuid": in.vpc, "identityZoneUuid": in.zone, "cidrBlock": "172.16.1.0/24", "name": "vsw-1"})["uuid"].(string)
	in.sg = h.post("hybrid/aliyun/security-group/remote", map[string]any{"vpcUuid": in.vpc, "name": "sg-1"})["uuid"].(string)
	out, err := h.c.Call(http.MethodPost, "v1/hybrid/aliyun/image/"+in.dc+"/sync", map[string]any{"params": map[string]any{"type": "system"}})
	require.NoError(h.t, err)
	var images []map[string]any
	require.NoError(h.t, json.Unmarshal(out["inventories"], &images))
	require.NotEmpty(h.t, images)
	for _, im := range images {
		if strings.Contains(im["ecsImageId"].(string), "ubuntu") || in.image == "" {
			in.image = im["uuid"].(string)
		}
	}
	return in
}

func (h *hybridEnv) ecsParams(in hybridInfra, name string) map[string]any {
	return map[string]any{"name": name, "ecsImageUuid": in.image, "ecsVSwitchUuid": in.vsw, "ecsSecurityGroupUuid": in.sg,
		"ecsRootPassword": "Passw0rd!zc", "instanceType": "ecs.c7.large", "ecsBandWidth": 0, "description": ""}
}

// TestHybridLifecycle drives AccessKeys, regions, zones, VPC, VSwitch,
// security groups and rules, ECS instances and EIPs through the REST API
// against aliyunsim, on SQLite and (when make test provides one) MariaDB.
func TestHybridLifecycle(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { hybridLifecycle(t, newHybridEnv(t, "sqlite::memory:", nil)) })
	t.Run("mariadb", func(t *testing.T) {
		dsn := storetest.MySQLDSN(t)
		if dsn == "" {
			t.Skip("ZCLOUD_TEST_MYSQL_DSN not set (make test sets it)")
		}
		hybridLifecycle(t, newHybridEnv(t, dsn, nil))
	})
}

func hybridLifecycle(t *testing.T, h *hybridEnv) {
	ctx := context.Background()
	var apiErr *apitest.APIError

	// A wrong secret or an unknown key id: a clear error, nothing stored.
	_, err := h.c.Create("hybrid/aliyun/key", map[string]any{"name": "bad", "key": simAK, "secret": "wrong-secret"})
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "SYS.1007", apiErr.Code, apiErr.Error())
	require.Contains(t, apiErr.Error(), "SignatureDoesNotMatch")
	_, err = h.c.Create("hybrid/aliyun/key", map[string]any{"name": "bad", "key": "LTAI5tNoSuchKey", "secret": simSecret})
	require.ErrorAs(t, err, &apiErr)
	require.Contains(t, apiErr.Error(), "InvalidAccessKeyId.NotFound")
	require.Zero(t, h.count("hybrid_accounts"))

	// A good key: validated with STS, secret encrypted at rest, never returned.
	key := h.post("hybrid/aliyun/key", map[string]any{"name": "main", "key": simAK, "secret": simSecret, "description": "first"})
	require.Equal(t, simAK, key["akey"])
	require.Equal(t, simAccount, key["hybridAccountId"])
	require.Equal(t, "true", key["current"], "an account's first key is current")
	require.NotContains(t, key, "secret")
	var stored string
	require.NoError(t, h.n.Store.DB().GetContext(ctx, &stored, "SELECT secret FROM hybrid_accounts WHERE uuid = ?", key["uuid"]))
	require.True(t, strings.HasPrefix(stored, "gcm1:"), "secret stored encrypted")
	require.NotContains(t, stored, simSecret)
	keys, _, err := h.c.Query("hybrid/hybrid/key", url.Values{"q": {"akey=" + simAK}})
	require.NoError(t, err)
	require.Len(t, keys, 1)
	raw, _ := json.Marshal(keys)
	require.NotContains(t, string(raw), simSecret)

	// Update, a second key, set current, detach, delete.
	_, err = h.c.Create("hybrid/aliyun/"+key["uuid"].(string)+"/key", map[string]any{"name": "renamed"})
	require.NoError(t, err)
	key2 := h.post("hybrid/aliyun/key", map[string]any{"name": "second", "key": simAK, "secret": simSecret})
	require.Equal(t, "false", key2["current"])
	cur := h.put("hybrid/hybrid/key/"+key2["uuid"].(string)+"/attach", "attachHybridKey", map[string]any{})
	require.Contains(t, string(cur["inventory"]), `"current":"true"`)
	k1, err := h.c.Get("hybrid/hybrid/key", key["uuid"].(string))
	require.NoError(t, err)
	require.Equal(t, "false", k1["current"])
	require.Equal(t, "renamed", k1["name"])
	h.put("hybrid/hybrid/key/"+key2["uuid"].(string)+"/detach", "detachHybridKey", map[string]any{})
	h.del("hybrid/aliyun/key/" + key2["uuid"].(string))
	require.Equal(t, 1, h.count("hybrid_accounts"))

	// Regions and zones.
	regions := h.inventories("hybrid/data-center/remote?type=aliyun")
	require.NotEmpty(t, regions)
	dc := h.post("hybrid/data-center", map[string]any{"regionId": "cn-hangzhou", "type": "aliyun", "description": "hz"})
	require.Equal(t, "cn-hangzhou", dc["regionId"])
	dcUUID := dc["uuid"].(string)
	_, err = h.c.Create("hybrid/data-center", map[string]any{"regionId": "xx-nowhere-1", "type": "aliyun"})
	require.ErrorAs(t, err, &apiErr, "an unknown region is refused")
	zones := h.inventories("hybrid/identity-zone/remote?dataCenterUuid=" + dcUUID)
	require.NotEmpty(t, zones)
	zone := h.post("hybrid/identity-zone", map[string]any{"dataCenterUuid": dcUUID, "zoneId": "cn-hangzhou-h", "type": "aliyun"})
	zoneUUID := zone["uuid"].(string)
	require.Len(t, h.inventories("hybrid/identity-zone/"+dcUUID+"/sync"), 1)
	synced, err := h.c.Call(http.MethodGet, "v1/hybrid/data-center/"+dcUUID+"/sync", nil)
	require.NoError(t, err)
	require.Contains(t, string(synced["inventory"]), `"deleted":"false"`)
	types := h.get("hybrid/ecs/type?identityZoneUuid=" + zoneUUID)
	require.Contains(t, string(types["types"]), "ecs.c7.large")

	// VPC, VSwitch, security group and a rule.
	vpc := h.post("hybrid/aliyun/vpc", map[string]any{"dataCenterUuid": dcUUID, "cidrBlock": "172.16.0.0/12", "name": "vpc-1", "vRouterName": "vr-1"})
	require.Equal(t, "Available", vpc["status"])
	require.NotEmpty(t, vpc["ecsVpcId"])
	vsw := h.post("hybrid/aliyun/vswitch", map[string]any{"vpcUuid": vpc["uuid"], "identityZoneUuid": zoneUUID, "cidrBlock": "172.16.1.0/24", "name": "vsw-1"})
	require.Equal(t, "Available", vsw["status"])
	sg := h.post("hybrid/aliyun/security-group/remote", map[string]any{"vpcUuid": vpc["uuid"], "name": "sg-1"})
	rule := h.post("hybrid/aliyun/security-group-rule", map[string]any{"groupUuid": sg["uuid"], "direction": "ingress", "protocol": "tcp",
		"portRange": "22/22", "cidr": "0.0.0.0/0", "priority": 1})
	require.Equal(t, "22/22", rule["portRange"])
	rules := h.put("hybrid/aliyun/security-group-rule/"+sg["uuid"].(string)+"/sync", "syncEcsSecurityGroupRuleFromRemote", map[string]any{})
	var ruleList []map[string]any
	require.NoError(t, json.Unmarshal(rules["inventories"], &ruleList))
	require.Len(t, ruleList, 1, "the sync finds exactly the rule added")
	require.Equal(t, rule["uuid"], ruleList[0]["uuid"])

	// Images, then an instance: created, started, Running.
	out, err := h.c.Call(http.MethodPost, "v1/hybrid/aliyun/image/"+dcUUID+"/sync", map[string]any{"params": map[string]any{"type": "system"}})
	require.NoError(t, err)
	var images []map[string]any
	require.NoError(t, json.Unmarshal(out["inventories"], &images))
	require.NotEmpty(t, images)
	in := hybridInfra{dc: dcUUID, zone: zoneUUID, vpc: vpc["uuid"].(string), vsw: vsw["uuid"].(string), sg: sg["uuid"].(string), image: images[0]["uuid"].(string)}
	start := time.Now()
	inst := h.post("hybrid/aliyun/ecs", h.ecsParams(in, "web-1"))
	t.Logf("ECS instance created and running in %s", time.Since(start))
	instUUID := inst["uuid"].(string)
	require.Equal(t, "Running", inst["ecsStatus"])
	require.NotEmpty(t, inst["privateIpAddress"])
	remoteList := h.remoteInstances(t)
	require.Len(t, remoteList, 1)
	require.Equal(t, inst["ecsInstanceId"], remoteList[0].InstanceId)
	raw, _ = json.Marshal(inst)
	require.NotContains(t, string(raw), "Passw0rd", "the root password is not in the inventory")
	owner, err := h.n.Store.Owner(ctx, instUUID)
	require.NoError(t, err)
	sess, err := h.n.Store.Session(ctx, h.c.Session)
	require.NoError(t, err)
	require.Equal(t, sess.AccountUUID, owner)

	// Wrong state: a clear error; nothing changed locally or remotely.
	_, err = h.c.Action("hybrid/aliyun/ecs", instUUID, "startEcsInstance", map[string]any{})
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "VM.1010", apiErr.Code, apiErr.Error())
	got, err := h.c.Get("hybrid/aliyun/ecs", instUUID)
	require.NoError(t, err)
	require.Equal(t, "Running", got["ecsStatus"])
	require.Equal(t, "Running", h.remoteInstances(t)[0].Status)

	for _, step := range []struct{ key, want string }{
		{"stopEcsInstance", "Stopped"}, {"startEcsInstance", "Running"}, {"rebootEcsInstance", "Running"},
	} {
		inv, err := h.c.Action("hybrid/aliyun/ecs", instUUID, step.key, map[string]any{})
		require.NoError(t, err, step.key)
		require.Equal(t, step.want, inv["ecsStatus"], step.key)
		require.Equal(t, step.want, h.remoteInstances(t)[0].Status, step.key)
	}
	upd := h.post("hybrid/aliyun/"+instUUID+"/ecs", map[string]any{"name": "web-renamed", "description": "front"})
	require.Equal(t, "web-renamed", upd["name"])
	require.Equal(t, "web-renamed", h.remoteInstances(t)[0].InstanceName)
	vnc := h.get("hybrid/aliyun/ecs-vnc/" + instUUID)
	require.NotEqual(t, `""`, string(vnc["vncUrl"]))

	// EIP: allocate, attach, detach, release.
	eip := h.post("hybrid/eip", map[string]any{"name": "eip-1", "bandWidthMb": 5, "type": "aliyun", "dataCenterUuid": dcUUID, "chargeType": "PayByTraffic"})
	require.Equal(t, "Available", eip["status"])
	eipUUID := eip["uuid"].(string)
	att := h.post("hybrid/eip/"+eipUUID+"/attach", map[string]any{"ecsUuid": instUUID, "type": "aliyun"})
	require.Equal(t, "InUse", att["status"])
	require.Equal(t, instUUID, att["allocateResourceUuid"])
	require.Equal(t, eip["eipAddress"], h.remoteInstances(t)[0].EipAddress.IpAddress)
	det := h.post("hybrid/eip/"+eipUUID+"/detach", map[string]any{"type": "aliyun"})
	require.Equal(t, "Available", det["status"])
	require.Nil(t, det["allocateResourceUuid"])
	eips := h.put("hybrid/eip/"+dcUUID+"/sync", "syncHybridEipFromRemote", map[string]any{"type": "aliyun"})
	require.Contains(t, string(eips["inventories"]), eipUUID, "the sync keeps the EIP's row")
	h.del("hybrid/eip/" + eipUUID + "/remote?type=aliyun")
	require.Zero(t, h.count("hybrid_eips"))

	// Sync keeps our rows (no twins) and refreshes their state.
	_, err = h.c.Call(http.MethodPost, "v1/hybrid/aliyun/ecs/"+dcUUID+"/sync", map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	require.Equal(t, 1, h.count("ecs_instances"))
	out, err = h.c.Call(http.MethodPost, "v1/hybrid/aliyun/vpc/"+dcUUID+"/sync", map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	require.Equal(t, 1, h.count("ecs_vpcs"))
	require.Contains(t, string(out["inventories"]), vpc["uuid"].(string))

	// An instance made outside ZCloud is imported by the sync, with its
	// zone, VSwitch, group and image mapped; once gone it is removed.
	cl := h.ecsClient(t)
	creq := ecs.CreateCreateInstanceRequest()
	creq.RegionId, creq.ZoneId, creq.ImageId, creq.InstanceType = "cn-hangzhou", "cn-hangzhou-h", images[0]["ecsImageId"].(string), "ecs.c7.large"
	creq.VSwitchId, creq.SecurityGroupId, creq.InstanceName = vsw["vSwitchId"].(string), sg["securityGroupId"].(string), "outside"
	cresp, err := cl.CreateInstance(creq)
	require.NoError(t, err)
	_, err = h.c.Call(http.MethodPost, "v1/hybrid/aliyun/ecs/"+dcUUID+"/sync", map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	imported, _, err := h.c.Query("hybrid/aliyun/ecs", url.Values{"q": {"ecsInstanceId=" + cresp.InstanceId}})
	require.NoError(t, err)
	require.Len(t, imported, 1)
	require.Equal(t, "outside", imported[0]["name"])
	require.Equal(t, vsw["uuid"], imported[0]["ecsVSwitchUuid"])
	require.Equal(t, sg["uuid"], imported[0]["ecsSecurityGroupUuid"])
	require.Equal(t, zoneUUID, imported[0]["identityZoneUuid"])
	require.Eventually(t, func() bool {
		dreq := ecs.CreateDeleteInstanceRequest()
		dreq.RegionId, dreq.InstanceId, dreq.Force = "cn-hangzhou", cresp.InstanceId, requests.NewBoolean(true)
		_, err := cl.DeleteInstance(dreq)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool { return len(h.remoteInstances(t)) == 1 }, 10*time.Second, 50*time.Millisecond)
	_, err = h.c.Call(http.MethodPost, "v1/hybrid/aliyun/ecs/"+dcUUID+"/sync", map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	require.Equal(t, 1, h.count("ecs_instances"), "the instance gone from Alibaba is gone from the inventory")

	// Deletes: instance, rule, group, VSwitch, VPC, then the local rows.
	h.del("hybrid/aliyun/ecs/" + instUUID + "/remote")
	require.Empty(t, h.remoteInstances(t))
	require.Zero(t, h.count("ecs_instances"))
	h.del("hybrid/aliyun/security-group-rule/remote/" + rule["uuid"].(string))
	h.del("hybrid/aliyun/security-group/remote/" + sg["uuid"].(string))
	h.del("hybrid/aliyun/vswitch/remote/" + vsw["uuid"].(string))
	h.del("hybrid/aliyun/vpc/remote/" + vpc["uuid"].(string))
	for _, table := range []string{"ecs_security_group_rules", "ecs_security_groups", "ecs_vswitches", "ecs_vpcs"} {
		require.Zero(t, h.count(table), table)
	}
	// Deleting what is gone succeeds; so does a sync that finds nothing.
	h.del("hybrid/aliyun/vpc/remote/" + vpc["uuid"].(string))
	_, err = h.c.Call(http.MethodPost, "v1/hybrid/aliyun/vpc/"+dcUUID+"/sync", map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	require.Zero(t, h.count("ecs_vpcs"))
	h.del("hybrid/identity-zone/" + zoneUUID)
	// The images still reference the data center.
	_, err = h.c.Call(http.MethodDelete, "v1/hybrid/data-center/"+dcUUID, nil)
	require.ErrorAs(t, err, &apiErr)
	for _, im := range images {
		h.del("hybrid/aliyun/image/" + im["uuid"].(string))
	}
	h.del("hybrid/data-center/" + dcUUID)
	require.Zero(t, h.count("data_centers"))
}

// TestHybridEcsCreateRollsBackAtEachStep makes each remote step of the
// instance create fail (aliyunsim's injection) and checks that both sides
// are rolled back: no instance at Alibaba, no row locally.
func TestHybridEcsCreateRollsBackAtEachStep(t *testing.T) {
	h := newHybridEnv(t, "sqlite::memory:", nil)
	in := h.buildHybridInfra()
	for _, step := range []struct{ action, code string }{
		{"CreateInstance", "QuotaExceeded.Instance"},
		{"DescribeInstances", "Forbidden.RAM"},
		{"StartInstance", "InvalidParameter"},
	} {
		t.Run(step.action, func(t *testing.T) {
			h.sim.InjectError(step.action, step.code, http.StatusForbidden)
			defer h.sim.ClearFaults()
			_, err := h.c.Create("hybrid/aliyun/ecs", h.ecsParams(in, "vm-"+step.action))
			var apiErr *apitest.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Contains(t, apiErr.Error(), step.code)
			require.Zero(t, h.count("ecs_instances"), "no local row")
			owners, err := h.n.Store.Count(context.Background(), "account_resource_refs", "resource_type = ?", "EcsInstance")
			require.NoError(t, err)
			require.Zero(t, owners, "no owner record")
			require.Empty(t, h.remoteInstances(t), "no remote instance")
		})
	}
	inst := h.post("hybrid/aliyun/ecs", h.ecsParams(in, "vm-ok"))
	require.Equal(t, "Running", inst["ecsStatus"])
	require.Len(t, h.remoteInstances(t), 1)
}

// TestHybridThrottlingIsRetried throttles Alibaba calls: the activities back
// off and the jobs succeed.
func TestHybridThrottlingIsRetried(t *testing.T) {
	h := newHybridEnv(t, "sqlite::memory:", nil)
	in := h.buildHybridInfra()
	h.sim.InjectThrottle("CreateVpc", 3)
	before := h.sim.Calls("CreateVpc")
	start := time.Now()
	vpc := h.post("hybrid/aliyun/vpc", map[string]any{"dataCenterUuid": in.dc, "cidrBlock": "192.168.0.0/16", "name": "vpc-t", "vRouterName": "vr"})
	t.Logf("vpc created through 3 throttled calls in %s", time.Since(start))
	require.Equal(t, "Available", vpc["status"])
	require.Equal(t, 4, h.sim.Calls("CreateVpc")-before, "three throttled attempts and one that passed")
	require.Equal(t, 2, h.count("ecs_vpcs"))

	// Throttling on every action, a few times, during an instance create.
	h.sim.InjectThrottle("", 4)
	inst := h.post("hybrid/aliyun/ecs", h.ecsParams(in, "vm-throttled"))
	require.Equal(t, "Running", inst["ecsStatus"])
	require.Len(t, h.remoteInstances(t), 1)
}

// TestHybridCreateIdempotent loses the reply of CreateInstance (the call
// outlives the client's timeout, but Alibaba creates the instance): the
// retried activity sends the same ClientToken and gets the same instance,
// so there is exactly one.
func TestHybridCreateIdempotent(t *testing.T) {
	h := newHybridEnv(t, "sqlite::memory:", func(c *aliyun.Config) { c.Timeout = time.Second })
	in := h.buildHybridInfra()
	h.sim.SetLatency("CreateInstance", 2*time.Second)
	var done atomic.Bool
	go func() {
		for !done.Load() && h.sim.Calls("CreateInstance") == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		h.sim.SetLatency("CreateInstance", 0) // the retry is answered at once
	}()
	defer done.Store(true)
	inst := h.post("hybrid/aliyun/ecs", h.ecsParams(in, "vm-once"))
	require.Equal(t, "Running", inst["ecsStatus"])
	require.GreaterOrEqual(t, h.sim.Calls("CreateInstance"), 2, "the lost reply was retried")
	remote := h.remoteInstances(t)
	require.Len(t, remote, 1, "one instance for one ClientToken")
	require.Equal(t, inst["ecsInstanceId"], remote[0].InstanceId)
}

// TestHybridOssAndImageUpload creates and adds OSS buckets, then turns a
// local image into a custom ECS image through OSS (upload → ImportImage →
// Available), and checks the rollback when the import fails.
func TestHybridOssAndImageUpload(t *testing.T) {
	h := newHybridEnv(t, "sqlite::memory:", nil)
	var apiErr *apitest.APIError
	h.post("hybrid/aliyun/key", map[string]any{"name": "main", "key": simAK, "secret": simSecret})
	dc := h.post("hybrid/data-center", map[string]any{"regionId": "cn-hangzhou", "type": "aliyun"})["uuid"].(string)

	// Buckets: create, list, refuse a twin, add an existing one, refuse a missing one.
	b := h.post("hybrid/aliyun/oss-bucket/remote", map[string]any{"dataCenterUuid": dc, "bucketName": "zc-images-1"})
	require.Equal(t, "true", b["current"], "a data center's first bucket is its upload bucket")
	require.Contains(t, h.sim.Buckets(), "zc-images-1")
	require.Contains(t, string(h.get("hybrid/oss/" + dc + "/remote")["inventories"]), "zc-images-1")
	_, err := h.c.Create("hybrid/aliyun/oss-bucket/remote", map[string]any{"dataCenterUuid": dc, "bucketName": "zc-images-1"})
	require.ErrorAs(t, err, &apiErr, "an existing bucket is not adopted by a create")
	require.Equal(t, 1, h.count("oss_buckets"))
	_, err = h.c.Create("hybrid/aliyun/oss-bucket", map[string]any{"dataCenterUuid": dc, "bucketName": "zc-no-such-bucket"})
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "SYS.1003", apiErr.Code, apiErr.Error())
	require.Equal(t, 1, h.count("oss_buckets"))
	bucketUUID := b["uuid"].(string)
	// Remove the row, then add the bucket back from Alibaba.
	h.del("hybrid/aliyun/oss-bucket/" + bucketUUID)
	b = h.post("hybrid/aliyun/oss-bucket", map[string]any{"dataCenterUuid": dc, "bucketName": "zc-images-1"})
	bucketUUID = b["uuid"].(string)
	h.put("hybrid/aliyun/oss-bucket/"+bucketUUID+"/attach", "attachOssBucketToEcsDataCenter", map[string]any{})

	// A local image whose bits an HTTP server on loopback serves.
	data := make([]byte, 3<<20+12345)
	_, _ = rand.Read(data)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(data) }))
	t.Cleanup(srv.Close)
	bs := h.post("backup-storage/simulators", map[string]any{"name": "bs", "url": "/sim/bs", "totalCapacity": int64(1) << 40})
	img := h.post("images", map[string]any{"name": "local", "url": srv.URL + "/local.qcow2", "backupStorageUuids": []string{bs["uuid"].(string)},
		"format": "qcow2", "platform": "Linux"})

	// The import fails: the uploaded object and the imported image go.
	before := len(h.sim.Images())
	h.sim.InjectError("DescribeImages", "Forbidden.RAM", http.StatusForbidden)
	_, err = h.c.Create("hybrid/aliyun/image", map[string]any{"imageUuid": img["uuid"], "dataCenterUuid": dc, "name": "from-local-fail"})
	require.ErrorAs(t, err, &apiErr)
	h.sim.ClearFaults()
	require.Len(t, h.sim.Images(), before, "the imported image was deleted")
	require.Zero(t, h.count("ecs_images"))

	start := time.Now()
	ei := h.post("hybrid/aliyun/image", map[string]any{"imageUuid": img["uuid"], "dataCenterUuid": dc, "name": "from-local"})
	t.Logf("local image uploaded (%d bytes) and imported in %s", len(data), time.Since(start))
	require.Equal(t, "self", ei["type"])
	require.Equal(t, img["uuid"], ei["localImageUuid"])
	sum := md5.Sum(data)
	require.Equal(t, hex.EncodeToString(sum[:]), ei["ossMd5Sum"], "the bytes that reached OSS are the image's")
	var found bool
	for _, im := range h.sim.Images() {
		if im.ImageID == ei["ecsImageId"] {
			found = true
			require.Equal(t, "Available", im.Status)
		}
	}
	require.True(t, found)

	// Deleting the image and then the bucket: the bucket is empty (the
	// uploads were removed), so OSS accepts it.
	h.del("hybrid/aliyun/image/remote/" + ei["uuid"].(string))
	require.Len(t, h.sim.Images(), before)
	h.del("hybrid/aliyun/oss-bucket/remote/" + bucketUUID)
	require.NotContains(t, h.sim.Buckets(), "zc-images-1")
	require.Zero(t, h.count("oss_buckets"))
}

// TestHybridVpn syncs a VPN gateway bought at Alibaba, creates a customer
// gateway, IKE and IPsec configurations and a VPN connection through the
// REST API, checks the rollback of a failed connection, then deletes all.
func TestHybridVpn(t *testing.T) {
	h := newHybridEnv(t, "sqlite::memory:", nil)
	in := h.buildHybridInfra()
	var apiErr *apitest.APIError
	vpcInv, err := h.c.Get("hybrid/aliyun/vpc", in.vpc)
	require.NoError(t, err)
	vswInv, err := h.c.Get("hybrid/aliyun/vswitch", in.vsw)
	require.NoError(t, err)

	// The VPN gateway is bought at Alibaba (here: through the SDK).
	cl, err := vpc.NewClientWithOptions("cn-hangzhou", sdk.NewConfig().WithScheme("HTTP"), credentials.NewAccessKeyCredential(simAK, simSecret))
	require.NoError(t, err)
	cl.Domain = h.sim.Endpoint()
	req := vpc.CreateCreateVpnGatewayRequest()
	req.RegionId, req.VpcId, req.VSwitchId = "cn-hangzhou", vpcInv["ecsVpcId"].(string), vswInv["vSwitchId"].(string)
	req.Bandwidth, req.EnableIpsec, req.Name = requests.NewInteger(10), requests.NewBoolean(true), "vpn-gw"
	_, err = cl.CreateVpnGateway(req)
	require.NoError(t, err)
	var gws []map[string]any
	require.Eventually(t, func() bool {
		gws = nil
		out := h.put("hybrid/vpc-vpn/"+in.dc+"/sync", "syncVpcVpnGatewayFromRemote", map[string]any{})
		_ = json.Unmarshal(out["inventories"], &gws)
		return len(gws) == 1 && gws[0]["status"] == "active"
	}, 20*time.Second, 100*time.Millisecond)
	require.Equal(t, in.vsw, gws[0]["vSwitchUuid"])
	gw := gws[0]["uuid"].(string)

	ugw := h.post("hybrid/user-vpn", map[string]any{"dataCenterUuid": in.dc, "ip": "203.0.113.10", "name": "office"})
	require.NotEmpty(t, ugw["gatewayId"])
	ike := h.post("hybrid/vpn-connection/ike", map[string]any{"name": "ike", "psk": "pre-shared-42", "localIp": gws[0]["publicIp"], "remoteIp": "203.0.113.10", "version": "ikev2", "encAlg": "aes-256", "authAlg": "sha1", "pfs": "group14"})
	require.NotContains(t, ike, "psk", "the pre-shared key is not returned")
	var storedPsk string
	require.NoError(t, h.n.Store.DB().GetContext(context.Background(), &storedPsk, "SELECT psk FROM vpc_vpn_ike_configs WHERE uuid = ?", ike["uuid"]))
	require.NotContains(t, storedPsk, "pre-shared-42")
	ipsec := h.post("hybrid/vpn-connection/ipsec", map[string]any{"name": "ipsec", "encAlg": "aes-256", "authAlg": "sha1", "pfs": "group14", "lifetime": 3600})
	conn := map[string]any{"userGatewayUuid": ugw["uuid"], "vpnGatewayUuid": gw, "name": "to-office", "localCidr": "172.16.1.0/24",
		"remoteCidr": "10.20.0.0/16", "active": true, "ikeConfUuid": ike["uuid"], "ipsecConfUuid": ipsec["uuid"]}

	// The gateway never settles: the connection made is deleted again.
	h.sim.InjectError("DescribeVpnGateways", "Forbidden.RAM", http.StatusForbidden)
	_, err = h.c.Create("hybrid/vpn-connection", conn)
	require.ErrorAs(t, err, &apiErr)
	h.sim.ClearFaults()
	require.Empty(t, h.sim.VpnConnections(), "no remote connection left")
	require.Zero(t, h.count("vpc_vpn_connections"))

	vco := h.post("hybrid/vpn-connection", conn)
	require.Equal(t, "10.20.0.0/16", vco["remoteSubnet"])
	remote := h.sim.VpnConnections()
	require.Len(t, remote, 1)
	require.Equal(t, "pre-shared-42", remote[0].IkeConfig.Psk, "the decrypted key reached Alibaba")
	// The configuration for the peer device, read back from Alibaba; no key in it.
	conf, err := h.c.Call(http.MethodGet, "v1/hybrid/vpn-conf/"+vco["uuid"].(string)+"/remote", nil)
	require.NoError(t, err)
	require.Contains(t, string(conf["configuration"]), `"remoteSubnet":"10.20.0.0/16"`)
	require.Contains(t, string(conf["configuration"]), `"remote":"203.0.113.10"`)
	require.NotContains(t, string(conf["configuration"]), "pre-shared-42")
	synced := h.put("hybrid/vpn-connection/"+in.dc+"/sync", "syncVpcVpnConnectionFromRemote", map[string]any{})
	require.Contains(t, string(synced["inventories"]), vco["uuid"].(string))
	require.Equal(t, 1, h.count("vpc_vpn_connections"))

	// The VPC's VRouter, and a route to the office through the VPN gateway.
	var vrs []map[string]any
	require.NoError(t, json.Unmarshal(h.put("hybrid/aliyun/vrouter/"+in.vpc+"/sync", "syncAliyunVirtualRouterFromRemote", map[string]any{})["inventories"], &vrs))
	require.Len(t, vrs, 1)
	require.Equal(t, vpcInv["vRouterId"], vrs[0]["vrId"])
	vr := vrs[0]["uuid"].(string)
	route := h.post("hybrid/aliyun/route-entry", map[string]any{"vRouterUuid": vr, "dstCidrBlock": "10.20.0.0/16", "nextHopUuid": gw,
		"nextHopType": "VpnGateway", "vRouterType": "vrouter"})
	require.Equal(t, "Available", route["status"])
	require.Equal(t, gws[0]["gatewayId"], route["nextHopId"])
	var routes []map[string]any
	require.NoError(t, json.Unmarshal(h.put("hybrid/aliyun/route-entry/"+vr+"/sync", "syncAliyunRouteEntryFromRemote", map[string]any{"vRouterType": "vrouter"})["inventories"], &routes))
	custom := 0
	for _, r := range routes {
		if r["type"] == "Custom" {
			custom++
			require.Equal(t, route["uuid"], r["uuid"], "the sync finds the route's row, no twin")
		}
	}
	require.Equal(t, 1, custom)
	h.del("hybrid/aliyun/route-entry/" + route["uuid"].(string))
	require.Empty(t, h.sim.RouteEntries(), "no custom route left at Alibaba")
	h.del("hybrid/aliyun/vrouter/" + vr)

	_, err = h.c.Call(http.MethodDelete, "v1/hybrid/vpn-connection/ike/"+ike["uuid"].(string), nil)
	require.ErrorAs(t, err, &apiErr, "a configuration in use is kept")
	h.del("hybrid/vpn-connection/" + vco["uuid"].(string) + "/remote")
	require.Empty(t, h.sim.VpnConnections())
	h.del("hybrid/user-gateway/" + ugw["uuid"].(string) + "/remote")
	require.Empty(t, h.sim.CustomerGateways())
	h.del("hybrid/vpn-connection/ike/" + ike["uuid"].(string))
	h.del("hybrid/vpn-connection/ipsec/" + ipsec["uuid"].(string))
	h.del("hybrid/vpn-gateway/" + gw)
	for _, table := range []string{"vpc_vpn_connections", "vpc_user_vpn_gateways", "vpc_vpn_ike_configs", "vpc_vpn_ipsec_configs", "vpc_vpn_gateways",
		"vpc_virtual_route_entries", "vpc_virtual_routers"} {
		require.Zero(t, h.count(table), table)
	}
}
