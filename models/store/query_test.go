package store_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/query"
	"github.com/zcloud/zcloud/models/store"
)

const querySchema = `
CREATE TABLE vm_instances (
  uuid TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, state TEXT NOT NULL,
  cpu_num INTEGER NOT NULL, ha INTEGER NOT NULL, host_uuid TEXT, create_date BIGINT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE vm_nics (
  uuid TEXT PRIMARY KEY, vm_instance_uuid TEXT, l3_network_uuid TEXT NOT NULL, ip TEXT,
  device_id INTEGER NOT NULL, create_date BIGINT NOT NULL);
CREATE TABLE l3_networks (uuid TEXT PRIMARY KEY, name TEXT NOT NULL, create_date BIGINT NOT NULL);
CREATE TABLE system_tags (uuid TEXT PRIMARY KEY, resource_uuid TEXT NOT NULL, resource_type TEXT NOT NULL, tag TEXT NOT NULL);
CREATE TABLE user_tags (uuid TEXT PRIMARY KEY, resource_uuid TEXT NOT NULL, resource_type TEXT NOT NULL, tag TEXT NOT NULL);

INSERT INTO vm_instances VALUES
  ('vm1', 'web-1', 'front', 'Running', 2, 1, 'h1', 1000, 0),
  ('vm2', 'web-2', NULL, 'Stopped', 4, 0, NULL, 2000, 0),
  ('vm3', 'db_1', 'database', 'Running', 8, 0, 'h2', 3000, 0),
  ('vm4', 'old', 'gone', 'Destroyed', 1, 0, 'h1', 500, 1),
  ('vm5', 'web%3', NULL, 'Running', 1, 0, 'h1', 4000, 0);
INSERT INTO vm_nics VALUES
  ('n1', 'vm1', 'l3a', '10.0.0.1', 0, 1000),
  ('n2', 'vm1', 'l3b', '192.168.0.1', 1, 1001),
  ('n3', 'vm2', 'l3a', '10.0.0.2', 0, 2000),
  ('n4', 'vm3', 'l3b', '192.168.0.3', 0, 3000),
  ('n5', NULL, 'l3a', '10.0.0.9', 0, 5000),
  ('n6', 'vm4', 'l3a', '10.0.0.4', 0, 500);
INSERT INTO l3_networks VALUES ('l3a', 'public', 1), ('l3b', 'private', 2);
INSERT INTO system_tags VALUES
  ('t1', 'vm1', 'VmInstanceVO', 'ha::NeverStop'),
  ('t2', 'vm3', 'VmInstanceVO', 'staticIp::l3b::192.168.0.3'),
  ('t3', 'vm2', 'HostVO', 'ha::NeverStop');
INSERT INTO user_tags VALUES ('u1', 'vm2', 'VmInstanceVO', 'team:a');
`

func queryRegistry() store.Registry {
	return store.Registry{
		"VmInstance": {
			Name:  "VmInstance",
			Table: "vm_instances",
			Fields: []store.Field{
				{Name: "uuid", Column: "uuid"},
				{Name: "name", Column: "name"},
				{Name: "description", Column: "description"},
				{Name: "state", Column: "state"},
				{Name: "cpuNum", Column: "cpu_num", Type: store.Int},
				{Name: "ha", Column: "ha", Type: store.Bool},
				{Name: "hostUuid", Column: "host_uuid"},
				{Name: "createDate", Column: "create_date", Type: store.Time},
			},
			Relations: []store.Relation{
				{Name: "vmNics", Target: "VmNic", LocalColumn: "uuid", RemoteColumn: "vm_instance_uuid"},
				{Name: "l3NetworkUuids", Target: "VmNic", LocalColumn: "uuid", RemoteColumn: "vm_instance_uuid", ValueField: "l3NetworkUuid"},
			},
			Filter:          "deleted = 0",
			TagResourceType: "VmInstanceVO",
		},
		"VmNic": {
			Name:  "VmNic",
			Table: "vm_nics",
			Fields: []store.Field{
				{Name: "uuid", Column: "uuid"},
				{Name: "vmInstanceUuid", Column: "vm_instance_uuid"},
				{Name: "l3NetworkUuid", Column: "l3_network_uuid"},
				{Name: "ip", Column: "ip"},
				{Name: "deviceId", Column: "device_id", Type: store.Int},
				{Name: "createDate", Column: "create_date", Type: store.Time},
			},
			Relations: []store.Relation{
				{Name: "l3Network", Target: "L3Network", LocalColumn: "l3_network_uuid", RemoteColumn: "uuid"},
				{Name: "vmInstance", Target: "VmInstance", LocalColumn: "vm_instance_uuid", RemoteColumn: "uuid"},
			},
		},
		"L3Network": {
			Name:  "L3Network",
			Table: "l3_networks",
			Fields: []store.Field{
				{Name: "uuid", Column: "uuid"},
				{Name: "name", Column: "name"},
				{Name: "createDate", Column: "create_date", Type: store.Time},
			},
		},
	}
}

func openQueryDB(t *testing.T) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("sqlite", "file:"+t.Name()+"?mode=memory")
	require.NoError(t, err)
	db.SetMaxOpenConns(1) // one connection: one private in-memory database
	t.Cleanup(func() { db.Close() })
	for _, stmt := range strings.Split(querySchema, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		_, err := db.ExecContext(t.Context(), stmt)
		require.NoError(t, err, stmt)
	}
	return db
}

// runQuery parses a raw URL query as a client sends it, runs BuildSelect and
// BuildCount on res, and returns the selected uuids in order and the count.
func runQuery(t *testing.T, db *sqlx.DB, reg store.Registry, res, rawQuery string) ([]string, int, error) {
	t.Helper()
	v, err := url.ParseQuery(rawQuery)
	require.NoError(t, err)
	q, err := query.Parse(v)
	if err != nil {
		return nil, 0, err
	}
	sqlText, args, err := store.BuildSelect(reg, reg[res], q, store.SQLite)
	if err != nil {
		return nil, 0, err
	}
	for _, cond := range q.Conditions {
		if strings.ContainsAny(cond.Value, "' ") && strings.Contains(sqlText, cond.Value) {
			t.Fatalf("user value %q appears in SQL %s", cond.Value, sqlText)
		}
	}
	rows, err := db.QueryxContext(t.Context(), sqlText, args...)
	require.NoError(t, err, sqlText)
	defer rows.Close()
	uuids := []string{}
	for rows.Next() {
		m := map[string]any{}
		require.NoError(t, rows.MapScan(m))
		uuids = append(uuids, m["uuid"].(string))
	}
	require.NoError(t, rows.Err())

	countSQL, countArgs, err := store.BuildCount(reg, reg[res], q, store.SQLite)
	require.NoError(t, err)
	var n int
	require.NoError(t, db.GetContext(t.Context(), &n, countSQL, countArgs...), countSQL)
	return uuids, n, nil
}

func TestBuildSelectSQLite(t *testing.T) {
	db := openQueryDB(t)
	reg := queryRegistry()
	require.NoError(t, reg.Check())

	all := []string{"vm1", "vm2", "vm3", "vm5"}
	tests := []struct {
		name  string
		query string
		want  []string
		count int // -1: len(want)
	}{
		{"no conditions, filter hides deleted, createDate order", "", all, -1},
		{"sdk encoded eq", "q=uuid%3Dvm2", []string{"vm2"}, -1},
		{"eq", "q=name=web-1", []string{"vm1"}, -1},
		{"eq filtered row", "q=uuid=vm4", []string{}, -1},
		{"not eq", "q=name!=web-1", []string{"vm2", "vm3", "vm5"}, -1},
		{"gt int", "q=cpuNum>2", []string{"vm2", "vm3"}, -1},
		{"gte int", "q=cpuNum>=4", []string{"vm2", "vm3"}, -1},
		{"lt int", "q=cpuNum<2", []string{"vm5"}, -1},
		{"lte int", "q=cpuNum<=2", []string{"vm1", "vm5"}, -1},
		{"in", "q=state?=Running,Stopped", all, -1},
		{"in with spaces", "q=uuid?=vm1,%20vm3", []string{"vm1", "vm3"}, -1},
		{"not in", "q=state!?=Running", []string{"vm2"}, -1},
		{"like", "q=name~=web%25", []string{"vm1", "vm2", "vm5"}, -1},
		{"like underscore wildcard", "q=name~=web_1", []string{"vm1"}, -1},
		{"like escaped percent", `q=name~=web\%25%25`, []string{"vm5"}, -1},
		{"like escaped underscore", `q=name~=db\_%25`, []string{"vm3"}, -1},
		{"not like", "q=name!~=web%25", []string{"vm3"}, -1},
		{"is null", "q=hostUuid+is+null", []string{"vm2"}, -1},
		{"not null", "q=hostUuid%20not%20null", []string{"vm1", "vm3", "vm5"}, -1},
		{"null description", "q=description is null", []string{"vm2", "vm5"}, -1},
		{"bool true", "q=ha=true", []string{"vm1"}, -1},
		{"bool false", "q=ha=FALSE", []string{"vm2", "vm3", "vm5"}, -1},
		{"time epoch ms", "q=createDate>=2000", []string{"vm2", "vm3", "vm5"}, -1},
		{"time rfc3339", "q=createDate<1970-01-01T00:00:02.5Z", []string{"vm1", "vm2"}, -1},
		{"time rfc3339 with zone", "q=createDate<1970-01-01T08:00:02.5%2B08:00", []string{"vm1", "vm2"}, -1},
		{"time zstack form", "q=createDate>1970-01-01 00:00:02", []string{"vm3", "vm5"}, -1},
		{"and", "q=state=Running&q=cpuNum>=2", []string{"vm1", "vm3"}, -1},
		{"join", "q=vmNics.ip=10.0.0.2", []string{"vm2"}, -1},
		{"join like", "q=vmNics.ip~=10.%25", []string{"vm1", "vm2"}, -1},
		{"join int", "q=vmNics.deviceId=1", []string{"vm1"}, -1},
		{"join filtered parent", "q=vmNics.ip=10.0.0.4", []string{}, -1},
		{"nested join", "q=vmNics.l3Network.name=private", []string{"vm1", "vm3"}, -1},
		{"one nic must match both conditions", "q=vmNics.ip=10.0.0.1&q=vmNics.l3NetworkUuid=l3b", []string{}, -1},
		{"one nic matching both", "q=vmNics.ip=192.168.0.1&q=vmNics.l3NetworkUuid=l3b", []string{"vm1"}, -1},
		{"value relation eq", "q=l3NetworkUuids=l3a", []string{"vm1", "vm2"}, -1},
		{"value relation not eq means not attached", "q=l3NetworkUuids!=l3a", []string{"vm3", "vm5"}, -1},
		{"value relation in", "q=l3NetworkUuids?=l3a,l3b", []string{"vm1", "vm2", "vm3"}, -1},
		{"value relation not in", "q=l3NetworkUuids!?=l3b", []string{"vm2", "vm5"}, -1},
		{"value relation is null", "q=l3NetworkUuids is null", []string{"vm5"}, -1},
		{"value relation not null", "q=l3NetworkUuids not null", []string{"vm1", "vm2", "vm3"}, -1},
		{"system tag eq", "q=__systemTag__=ha::NeverStop", []string{"vm1"}, -1},
		{"system tag like", "q=__systemTag__~=staticIp::%25", []string{"vm3"}, -1},
		{"system tag in", "q=__systemTag__?=ha::NeverStop,other", []string{"vm1"}, -1},
		{"system tag not eq means lacks the tag", "q=__systemTag__!=ha::NeverStop", []string{"vm2", "vm3", "vm5"}, -1},
		{"system tag not like", "q=__systemTag__!~=staticIp%25", []string{"vm1", "vm2", "vm5"}, -1},
		{"system tag is null", "q=__systemTag__ is null", []string{"vm2", "vm5"}, -1},
		{"system tag not null", "q=__systemTag__ not null", []string{"vm1", "vm3"}, -1},
		{"user tag", "q=__userTag__=team:a", []string{"vm2"}, -1},
		{"user tag lacks", "q=__userTag__!=team:a", []string{"vm1", "vm3", "vm5"}, -1},
		{"sort desc int", "sort=-cpuNum", []string{"vm3", "vm2", "vm1", "vm5"}, -1},
		{"sort asc name", "sort=%2Bname", []string{"vm3", "vm5", "vm1", "vm2"}, -1},
		{"sortBy desc", "sortBy=name&sortDirection=desc", []string{"vm2", "vm1", "vm5", "vm3"}, -1},
		{"sort ties broken by uuid", "sort=state", []string{"vm1", "vm3", "vm5", "vm2"}, -1},
		{"sort by uuid desc", "sort=-uuid", []string{"vm5", "vm3", "vm2", "vm1"}, -1},
		{"limit", "limit=2", []string{"vm1", "vm2"}, 4},
		{"limit and start", "limit=2&start=2", []string{"vm3", "vm5"}, 4},
		{"start past the end", "start=4", []string{}, 4},
		{"limit 0 is the default", "limit=0", all, -1},
		{"paged and filtered", "q=state=Running&limit=1&start=1&sort=-createDate", []string{"vm3"}, 3},
		{"injection in eq", "q=name=x'%20OR%20'1'='1", []string{}, -1},
		{"injection in like", "q=name~=%25'%20OR%20'1'='1", []string{}, -1},
		{"injection in in", "q=state?=Running')%20OR%20('1'='1", []string{}, -1},
		{"injection in join", "q=vmNics.ip=1'%20OR%201=1%20--", []string{}, -1},
		{"injection in tag", "q=__systemTag__=x'%20OR%20'1'='1", []string{}, -1},
		{"injection in tag negation", "q=__systemTag__!=x')%20OR%20('1'='1", all, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := runQuery(t, db, reg, "VmInstance", tt.query)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			want := tt.count
			if want < 0 {
				want = len(tt.want)
			}
			require.Equal(t, want, n, "count")
		})
	}

	// The tables survived every query above.
	got, _, err := runQuery(t, db, reg, "VmInstance", "")
	require.NoError(t, err)
	require.Equal(t, all, got)
}

func TestBuildSelectNestedBack(t *testing.T) {
	db := openQueryDB(t)
	reg := queryRegistry()
	got, n, err := runQuery(t, db, reg, "VmNic", "q=vmInstance.state=Running&q=l3Network.name=private")
	require.NoError(t, err)
	require.Equal(t, []string{"n2", "n4"}, got)
	require.Equal(t, 2, n)
	// vm4 is filtered out of VmInstance, so its NIC does not match through the relation.
	got, _, err = runQuery(t, db, reg, "VmNic", "q=vmInstance.name=old")
	require.NoError(t, err)
	require.Equal(t, []string{}, got)
}

func TestBuildSelectErrors(t *testing.T) {
	db := openQueryDB(t)
	reg := queryRegistry()
	tests := []struct{ name, query, want string }{
		{"unknown field", "q=nope=1", "unknown field [nope] of VmInstance"},
		{"unknown field through relation", "q=vmNics.nope=1", "unknown field [vmNics.nope] of VmInstance"},
		{"unknown nested field", "q=vmNics.l3Network.nope=1", "unknown field [vmNics.l3Network.nope] of VmInstance"},
		{"unknown relation", "q=vmNicz.ip=1", "unknown field [vmNicz.ip] of VmInstance"},
		{"field is not a relation", "q=name.x=1", "unknown field [name.x] of VmInstance"},
		{"relation without field", "q=vmNics=1", "[vmNics] is a relation of VmInstance"},
		{"bad int", "q=cpuNum=abc", "invalid value [abc] of field [cpuNum]: expected an integer"},
		{"bad int in list", "q=cpuNum?=1,x", "invalid value [x] of field [cpuNum]"},
		{"bad nested int", "q=vmNics.deviceId>one", "invalid value [one] of field [vmNics.deviceId]"},
		{"bad bool", "q=ha=yes", "invalid value [yes] of field [ha]: expected true or false"},
		{"bad time", "q=createDate>yesterday", "invalid value [yesterday] of field [createDate]: expected a time"},
		{"unknown sort field", "sort=-nope", "invalid query parameter [sort]: unknown field [nope] of VmInstance"},
		{"sort by relation", "sort=vmNics.ip", "invalid query parameter [sort]: unknown field [vmNics.ip]"},
		{"tags on untaggable", "q=vmNics.__systemTag__=x", "VmNic has no tags"},
		{"bad operator", "q=name%3D%3Dx", ""}, // "==x" is "=" with value "=x": valid, matches nothing
		{"no operator", "q=name:x", "no valid operator"},
		{"injection as field", "q=name%3BDROP%20TABLE%20vm_instances=1", "no valid operator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := runQuery(t, db, reg, "VmInstance", tt.query)
			if tt.want == "" {
				require.NoError(t, err)
				require.Empty(t, got)
				return
			}
			require.Error(t, err)
			require.True(t, errors.Is(err, models.ErrInvalid), "want Invalid, got %v", err)
			require.Equal(t, models.CodeInvalidArgument, models.AsError(err).Code)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestBuildSelectProgrammaticQueries(t *testing.T) {
	reg := queryRegistry()
	vm := reg["VmInstance"]
	tests := []struct {
		name string
		q    query.Query
		want string
	}{
		{"unknown operator", query.Query{Conditions: []query.Condition{{Path: []string{"name"}, Op: "==", Value: "x"}}}, "unknown operator [==]"},
		{"empty in list", query.Query{Conditions: []query.Condition{{Path: []string{"name"}, Op: query.OpIn}}}, "needs a comma-separated list"},
		{"empty path", query.Query{Conditions: []query.Condition{{Op: query.OpEq}}}, "empty field name"},
		{"negative start", query.Query{Start: -1}, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := store.BuildSelect(reg, vm, tt.q, store.SQLite)
			require.ErrorIs(t, err, models.ErrInvalid)
			require.ErrorContains(t, err, tt.want)
		})
	}

	// In lists given only as Value are split like q= does.
	sqlText, args, err := store.BuildCount(reg, vm, query.Query{Conditions: []query.Condition{{Path: []string{"uuid"}, Op: query.OpIn, Value: "a, b"}}}, store.SQLite)
	require.NoError(t, err)
	require.Equal(t, `SELECT COUNT(*) FROM "vm_instances" t0 WHERE t0."uuid" IN (?, ?) AND (deleted = 0)`, sqlText)
	require.Equal(t, []any{"a", "b"}, args)

	// A zero Limit means the default.
	_, args, err = store.BuildSelect(reg, reg["L3Network"], query.Query{}, store.SQLite)
	require.NoError(t, err)
	require.Equal(t, []any{query.DefaultLimit, 0}, args)
}

func TestBuildSelectText(t *testing.T) {
	reg := queryRegistry()
	q := query.Query{
		Conditions: []query.Condition{
			{Path: []string{"name"}, Op: query.OpLike, Value: "web%"},
			{Path: []string{"vmNics", "l3Network", "name"}, Op: query.OpEq, Value: "public"},
			{Path: []string{"__systemTag__"}, Op: query.OpNotEq, Value: "ha::NeverStop"},
		},
		Limit: 10, Start: 20, Sort: "cpuNum", SortDesc: true,
	}
	tests := []struct {
		d    store.Dialect
		want string
	}{
		{store.SQLite, `SELECT t0."uuid" AS "uuid", t0."name" AS "name", t0."description" AS "description", t0."state" AS "state", ` +
			`t0."cpu_num" AS "cpu_num", t0."ha" AS "ha", t0."host_uuid" AS "host_uuid", t0."create_date" AS "create_date" ` +
			`FROM "vm_instances" t0 WHERE t0."name" LIKE ? ESCAPE '\' ` +
			`AND t0."uuid" IN (SELECT t1."vm_instance_uuid" FROM "vm_nics" t1 WHERE t1."l3_network_uuid" IN (SELECT t2."uuid" FROM "l3_networks" t2 WHERE t2."name" = ?)) ` +
			`AND t0."uuid" NOT IN (SELECT t3."resource_uuid" FROM "system_tags" t3 WHERE t3."resource_type" = ? AND t3."tag" = ? AND t3."resource_uuid" IS NOT NULL) ` +
			`AND (deleted = 0) ORDER BY t0."cpu_num" DESC, t0."uuid" ASC LIMIT ? OFFSET ?`},
		{store.MySQL, "SELECT t0.`uuid` AS `uuid`, t0.`name` AS `name`, t0.`description` AS `description`, t0.`state` AS `state`, " +
			"t0.`cpu_num` AS `cpu_num`, t0.`ha` AS `ha`, t0.`host_uuid` AS `host_uuid`, t0.`create_date` AS `create_date` " +
			"FROM `vm_instances` t0 WHERE t0.`name` LIKE ? " +
			"AND t0.`uuid` IN (SELECT t1.`vm_instance_uuid` FROM `vm_nics` t1 WHERE t1.`l3_network_uuid` IN (SELECT t2.`uuid` FROM `l3_networks` t2 WHERE t2.`name` = ?)) " +
			"AND t0.`uuid` NOT IN (SELECT t3.`resource_uuid` FROM `system_tags` t3 WHERE t3.`resource_type` = ? AND t3.`tag` = ? AND t3.`resource_uuid` IS NOT NULL) " +
			"AND (deleted = 0) ORDER BY t0.`cpu_num` DESC, t0.`uuid` ASC LIMIT ? OFFSET ?"},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			got, args, err := store.BuildSelect(reg, reg["VmInstance"], q, tt.d)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, []any{"web%", "public", "VmInstanceVO", "ha::NeverStop", 10, 20}, args)
		})
	}
	_, _, err := store.BuildSelect(reg, reg["VmInstance"], q, store.Dialect(7))
	require.ErrorContains(t, err, "unknown dialect")
}

func TestRegistryCheck(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(store.Registry)
		want   string
	}{
		{"bad column", func(r store.Registry) { r["L3Network"].Fields[1].Column = "name; DROP TABLE x" }, "bad column name"},
		{"bad table", func(r store.Registry) { r["L3Network"].Table = "l3 networks" }, "bad table name"},
		{"unknown target", func(r store.Registry) { r["VmNic"].Relations[0].Target = "Nope" }, "unknown target Nope"},
		{"bad value field", func(r store.Registry) { r["VmInstance"].Relations[1].ValueField = "nope" }, "has no field nope"},
		{"field and relation clash", func(r store.Registry) { r["VmNic"].Relations[0].Name = "ip" }, "both a field and a relation"},
		{"taggable without uuid", func(r store.Registry) {
			r["L3Network"].TagResourceType = "L3NetworkVO"
			r["L3Network"].Fields = r["L3Network"].Fields[1:]
		}, "no uuid field"},
		{"misnamed", func(r store.Registry) { r["L3Network"].Name = "L3" }, "registered as"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := queryRegistry()
			tt.mutate(reg)
			require.ErrorContains(t, reg.Check(), tt.want)
		})
	}

	// BuildSelect refuses a bad identifier even without Check.
	reg := queryRegistry()
	reg["L3Network"].Fields[1].Column = `name" FROM x --`
	_, _, err := store.BuildSelect(reg, reg["L3Network"], query.Query{}, store.SQLite)
	require.ErrorContains(t, err, "bad identifier")
	require.False(t, errors.Is(err, models.ErrInvalid), "a broken registry is not the client's fault")

	// The product's registry is sound.
	require.NoError(t, store.Resources().Check())
}
