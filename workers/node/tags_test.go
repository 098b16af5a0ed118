package node_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/api/apitest"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// tagAPI drives the tag APIs of one client.
type tagAPI struct {
	t *testing.T
	c *apitest.Client
}

func (a tagAPI) create(kind, resType, resUUID, tag string) (map[string]any, error) {
	return a.c.Create(kind, map[string]any{"resourceType": resType, "resourceUuid": resUUID, "tag": tag})
}

func (a tagAPI) mustCreate(kind, resType, resUUID, tag string) map[string]any {
	a.t.Helper()
	inv, err := a.create(kind, resType, resUUID, tag)
	require.NoError(a.t, err, "create %s %s on %s", kind, tag, resUUID)
	return inv
}

func (a tagAPI) update(uuid, tag string) (map[string]any, error) {
	return a.c.Action("system-tags", uuid, "updateSystemTag", map[string]any{"tag": tag})
}

func (a tagAPI) del(uuid string) error {
	_, err := a.c.Call("DELETE", "v1/tags/"+uuid, nil)
	return err
}

// tags lists the tags (table "system-tags" or "user-tags") of a resource.
func (a tagAPI) tags(kind, resUUID string) []string {
	a.t.Helper()
	invs, _, err := a.c.Query(kind, url.Values{"q": {"resourceUuid=" + resUUID}})
	require.NoError(a.t, err)
	var out []string
	for _, inv := range invs {
		out = append(out, inv["tag"].(string))
	}
	return out
}

// requireAPIError checks a refused call: its HTTP status, ZStack code and
// a part of its message.
func requireAPIError(t *testing.T, err error, status int, code, msg string) {
	t.Helper()
	var ae *apitest.APIError
	require.True(t, errors.As(err, &ae), "want an API error, got %v", err)
	require.Equal(t, status, ae.Status, "status of %v", err)
	require.Equal(t, code, ae.Code, "code of %v", err)
	require.Contains(t, ae.Desc+" "+ae.Detail, msg)
}

// TestTagAPIs creates, updates and deletes system and user tags on
// several resource types through the REST API, and proves that bad
// requests change nothing and that a tenant tags only its own resources.
func TestTagAPIs(t *testing.T) {
	e := newEnv(t)
	in := e.buildInfra(1)
	vm := e.mustCreate("vm-instances", e.vmParams(in, "tagged"))
	a := tagAPI{t: t, c: e.c}
	ctx := context.Background()

	// User tags: free labels on any taggable resource, one per (resource, tag).
	for _, r := range []struct{ typ, uuid string }{{"VmInstanceVO", vm}, {"HostVO", in.hosts[0]}, {"L3NetworkVO", in.l3}, {"ImageVO", in.image}} {
		inv := a.mustCreate("user-tags", r.typ, r.uuid, "owner::team-a")
		require.Equal(t, "User", inv["type"])
		again := a.mustCreate("user-tags", r.typ, r.uuid, "owner::team-a")
		require.Equal(t, inv["uuid"], again["uuid"], "creating a tag twice is a no-op")
		require.Equal(t, []string{"owner::team-a"}, a.tags("user-tags", r.uuid))
	}
	vmHits, _, err := e.c.Query("vm-instances", url.Values{"q": {"__userTag__=owner::team-a"}})
	require.NoError(t, err)
	require.Len(t, vmHits, 1)

	// A guest tag goes through the guest configuration (GetVmHostname reads it).
	hostname := func() string {
		m, err := e.c.Call("GET", "v1/vm-instances/"+vm+"/hostnames", nil)
		require.NoError(t, err)
		var h string
		require.NoError(t, json.Unmarshal(m["hostname"], &h))
		return h
	}
	hn := a.mustCreate("system-tags", "VmInstanceVO", vm, "hostname::web-1")
	require.Equal(t, "System", hn["type"])
	require.Equal(t, false, hn["inherent"])
	require.Equal(t, "web-1", hostname())
	upd, err := a.update(hn["uuid"].(string), "hostname::web-2")
	require.NoError(t, err)
	require.Equal(t, hn["uuid"], upd["uuid"], "an updated tag keeps its uuid")
	require.Equal(t, "hostname::web-2", upd["tag"])
	require.Equal(t, "web-2", hostname())

	// Several at once: an SSH key and user-data.
	ud := "#cloud-config\nruncmd: [echo hi]\n"
	m, err := e.c.Call("POST", "v1/system-tags/"+vm+"/tags", map[string]any{"params": map[string]any{"resourceType": "VmInstanceVO",
		"tags": []string{"sshkey::ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx tags@test", "userdata::" + base64.StdEncoding.EncodeToString([]byte(ud))}}})
	require.NoError(t, err)
	var invs []map[string]any
	require.NoError(t, json.Unmarshal(m["inventories"], &invs))
	require.Len(t, invs, 2)

	// A cluster's CPU model: a known pattern, validated, no side effect until the next start.
	cpu := a.mustCreate("system-tags", "ClusterVO", in.cluster, "clusterKVMCpuModel::Haswell-noTSX")
	_, err = a.update(cpu["uuid"].(string), "clusterKVMCpuModel::EPYC")
	require.NoError(t, err)
	require.Equal(t, []string{"clusterKVMCpuModel::EPYC"}, a.tags("system-tags", in.cluster))

	// Bad requests answer at once, ZStack-style, and change nothing.
	vols, _, err := e.c.Query("volumes", url.Values{"q": {"vmInstanceUuid=" + vm, "type=Root"}})
	require.NoError(t, err)
	require.Len(t, vols, 1)
	root := vols[0]["uuid"].(string)
	vmTags := a.tags("system-tags", vm)
	require.Len(t, vmTags, 3)
	for _, c := range []struct {
		name, kind, typ, uuid, tag string
		status                     int
		code, msg                  string
	}{
		{"bad resource type", "system-tags", "NoSuchVO", vm, "hostname::x", 400, "SYS.1007", "no resource type[NoSuchVO] found in tag system"},
		{"type without VO", "user-tags", "VmInstance", vm, "x", 400, "SYS.1007", "no resource type[VmInstance]"},
		{"missing resource", "user-tags", "VmInstanceVO", models.NewUUID(), "x", 404, "SYS.1003", "cannot find the resource"},
		{"resource of another type", "system-tags", "HostVO", vm, "x", 404, "SYS.1003", "cannot find the resource"},
		{"unknown pattern", "system-tags", "VmInstanceVO", vm, "foo::bar", 400, "SYS.1007", "no system tag matches[foo::bar] for resourceType[VmInstanceVO]"},
		{"pattern of another type", "system-tags", "HostVO", in.hosts[0], "hostname::h", 400, "SYS.1007", "no system tag matches"},
		{"bad userdata", "system-tags", "VmInstanceVO", vm, "userdata::not base64!", 400, "SYS.1007", "userdata must be base64"},
		{"bad hostname", "system-tags", "VmInstanceVO", vm, "hostname::-bad-", 400, "SYS.1007", "bad system tag"},
		{"second hostname", "system-tags", "VmInstanceVO", vm, "hostname::other", 409, "SYS.1007", "UpdateSystemTag"},
		{"static ip by tag", "system-tags", "VmInstanceVO", vm, "staticIp::" + in.l3 + "::10.10.0.99", 400, "SYS.1007", "SetVmStaticIp"},
		{"console password by tag", "system-tags", "VmInstanceVO", vm, "consolePassword::secret", 400, "SYS.1007", "SetVmConsolePassword"},
		{"shareable by tag", "system-tags", "VolumeVO", root, "shareable", 400, "SYS.1007", "CreateDataVolume"},
		{"bad cpu model", "system-tags", "ClusterVO", in.cluster, "clusterKVMCpuModel::a b", 400, "SYS.1007", "not a cpu model"},
		{"empty user tag", "user-tags", "VmInstanceVO", vm, " ", 400, "SYS.1007", "tag is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.create(c.kind, c.typ, c.uuid, c.tag)
			requireAPIError(t, err, c.status, c.code, c.msg)
		})
	}
	_, err = a.update(hn["uuid"].(string), "sshkey::ssh-rsa AAAA")
	requireAPIError(t, err, 400, "SYS.1007", "cannot become")
	_, err = a.update(models.NewUUID(), "hostname::x")
	requireAPIError(t, err, 404, "SYS.1003", "cannot find the system tag")
	require.Equal(t, vmTags, a.tags("system-tags", vm))
	require.Equal(t, "web-2", hostname())

	// Inherent tags (ZCloud's own) are neither deleted nor updated.
	_, err = e.n.Store.DB().ExecContext(ctx, `UPDATE system_tags SET inherent = TRUE WHERE uuid = ?`, cpu["uuid"])
	require.NoError(t, err)
	requireAPIError(t, a.del(cpu["uuid"].(string)), 409, "SYS.1006", "is an inherent system tag, can not be removed")
	_, err = a.update(cpu["uuid"].(string), "clusterKVMCpuModel::Haswell")
	requireAPIError(t, err, 409, "SYS.1006", "can not be updated")
	require.Equal(t, []string{"clusterKVMCpuModel::EPYC"}, a.tags("system-tags", in.cluster))
	_, err = e.n.Store.DB().ExecContext(ctx, `UPDATE system_tags SET inherent = FALSE WHERE uuid = ?`, cpu["uuid"])
	require.NoError(t, err)

	// A tag an API manages is not removed by DeleteTag either.
	_, err = e.c.Action("vm-instances", vm, "setVmConsolePassword", map[string]any{"consolePassword": "secret12"})
	require.NoError(t, err)
	pw, _, err := e.c.Query("system-tags", url.Values{"q": {"resourceUuid=" + vm, "tag~=consolePassword::%"}})
	require.NoError(t, err)
	require.Len(t, pw, 1)
	requireAPIError(t, a.del(pw[0]["uuid"].(string)), 400, "SYS.1007", "DeleteVmConsolePassword")

	// Deletes: a system tag (the guest's hostname goes), a user tag, and again (a no-op).
	require.NoError(t, a.del(hn["uuid"].(string)))
	require.Empty(t, hostname())
	require.NoError(t, a.del(cpu["uuid"].(string)))
	require.Empty(t, a.tags("system-tags", in.cluster))
	ut := a.mustCreate("user-tags", "ClusterVO", in.cluster, "rack-7")
	require.NoError(t, a.del(ut["uuid"].(string)))
	require.NoError(t, a.del(ut["uuid"].(string)))
	require.Empty(t, a.tags("user-tags", in.cluster))

	// CreateSystemTags is all or nothing: a failing tag undoes the ones before it.
	before := a.tags("system-tags", vm)
	_, err = e.c.Call("POST", "v1/system-tags/"+vm+"/tags", map[string]any{"params": map[string]any{"resourceType": "VmInstanceVO",
		"tags": []string{"hostname::first", "hostname::second"}}})
	requireAPIError(t, err, 503, "SYS.1007", "already has a hostname::<hostname> tag")
	require.Equal(t, before, a.tags("system-tags", vm))
	require.Empty(t, hostname())

	// ZStack's tag objects (/tags) are not built.
	_, err = e.c.Create("tags", map[string]any{"name": "n", "value": "v"})
	requireAPIError(t, err, 400, "SYS.1006", "not supported")

	// A tenant tags only what it owns.
	tenant := models.NewUUID()
	now := models.Now()
	_, err = e.n.Store.DB().ExecContext(ctx, `INSERT INTO accounts (uuid, name, type, password_hash, create_date, last_op_date) VALUES (?, ?, ?, ?, ?, ?)`,
		tenant, "tenant", store.AccountNormal, "x", now, now)
	require.NoError(t, err)
	require.NoError(t, e.n.Store.SetPassword(ctx, "tenant", "tenant-pw"))
	own := e.mustCreate("vm-instances", e.vmParams(in, "tenant-vm"))
	_, err = e.n.Store.DB().ExecContext(ctx, `UPDATE account_resource_refs SET account_uuid = ? WHERE resource_uuid = ?`, tenant, own)
	require.NoError(t, err)
	tc := apitest.New(e.n.Addr)
	require.NoError(t, tc.Login("tenant", "tenant-pw"))
	ta := tagAPI{t: t, c: tc}
	ta.mustCreate("user-tags", "VmInstanceVO", own, "mine")
	ta.mustCreate("system-tags", "VmInstanceVO", own, "hostname::mine")
	_, err = ta.create("user-tags", "VmInstanceVO", vm, "not-mine")
	requireAPIError(t, err, 403, "ID.1002", "permission denied")
	_, err = ta.create("system-tags", "HostVO", in.hosts[0], "x")
	requireAPIError(t, err, 403, "ID.1002", "permission denied")
	adminTag := a.tags("user-tags", in.hosts[0])
	hostTags, _, err := e.c.Query("user-tags", url.Values{"q": {"resourceUuid=" + in.hosts[0]}})
	require.NoError(t, err)
	requireAPIError(t, ta.del(hostTags[0]["uuid"].(string)), 403, "ID.1002", "permission denied")
	require.Equal(t, adminTag, a.tags("user-tags", in.hosts[0]))
	require.ElementsMatch(t, []string{"owner::team-a"}, a.tags("user-tags", vm))
}
