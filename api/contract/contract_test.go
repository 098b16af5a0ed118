package contract

import (
	"bufio"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/models"
)

func loadSpec(t *testing.T) *Spec {
	t.Helper()
	s, err := Load()
	require.NoError(t, err)
	return s
}

// TestLoadParsesEveryRow checks that every data row of the embedded table
// becomes an API, and that every parameter of every row parses.
func TestLoadParsesEveryRow(t *testing.T) {
	s := loadSpec(t)

	rows := 0
	params := 0
	sc := bufio.NewScanner(strings.NewReader(apiTSV))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		rows++
		cols := strings.Split(sc.Text(), "\t")
		a, ok := s.API(cols[0])
		if !ok {
			t.Fatalf("row %q: api not found", cols[0])
		}
		if got, want := len(a.Params), len(splitTopLevel(cols[5])); got != want {
			t.Errorf("%s: got %d params, want %d", a.Name, got, want)
		}
		params += len(a.Params)
		for _, p := range a.Params {
			if p.Name == "" || p.Type == "" {
				t.Errorf("%s: param with empty name or type: %+v", a.Name, p)
			}
		}
	}
	require.NoError(t, sc.Err())
	if got := len(s.APIs()); got != rows {
		t.Errorf("got %d apis, want %d rows", got, rows)
	}
	if rows < 1800 || params < 5000 {
		t.Errorf("suspiciously small table: %d rows, %d params", rows, params)
	}
}

func TestParamSyntax(t *testing.T) {
	s := loadSpec(t)
	i64 := func(n int64) *int64 { return &n }
	tests := []struct {
		api, param string
		want       Param
		kind       Kind
	}{
		{"CreateVmInstance", "name", Param{Name: "name", Required: true, Type: "String", MaxLength: 255}, KindString},
		{"ChangeHostState", "stateEvent", Param{Name: "stateEvent", Required: true, Type: "String", ValidValues: []string{"enable", "disable", "maintain"}}, KindString},
		{"CreateInstanceOffering", "cpuNum", Param{Name: "cpuNum", Required: true, Type: "int", Min: i64(1), Max: i64(1024)}, KindInt},
		{"CreateInstanceOffering", "memorySize", Param{Name: "memorySize", Required: true, Type: "long", Min: i64(1), Max: i64(9223372036854775807)}, KindLong},
		{"CreateVmInstance", "architecture", Param{Name: "architecture", Type: "String", ValidValues: []string{"x86_64", "aarch64", "mips64el", "loongarch64"}, MaxLength: 32}, KindString},
		{"CreateVmInstance", "dataVolumeSystemTagsOnIndex", Param{Name: "dataVolumeSystemTagsOnIndex", Type: "Map"}, KindMap},
		{"CreateVmInstance", "virtio", Param{Name: "virtio", Type: "Boolean"}, KindBool},
		{"CreateVmInstance", "l3NetworkUuids", Param{Name: "l3NetworkUuids", Type: "List"}, KindList},
		{"CreateVmInstance", "cpuNum", Param{Name: "cpuNum", Type: "Integer"}, KindInt},
		{"AddImage", "system", Param{Name: "system", Type: "boolean"}, KindBool},
		{"AddSimulatorHost", "memoryCapacity", Param{Name: "memoryCapacity", Required: true, Type: "long"}, KindLong},
		{"CreateL3Network", "ipVersion", Param{Name: "ipVersion", Type: "Integer", ValidValues: []string{"4", "6"}}, KindInt},
		{"Query", "conditions", Param{Name: "conditions", Required: true, Type: "List<String>"}, KindList},
	}
	for _, tt := range tests {
		t.Run(tt.api+"."+tt.param, func(t *testing.T) {
			a, ok := s.API(tt.api)
			require.True(t, ok)
			p, ok := a.Param(tt.param)
			require.True(t, ok)
			require.Equal(t, tt.want, *p)
			require.Equal(t, tt.kind, p.Kind())
		})
	}
}

func TestAPIRow(t *testing.T) {
	s := loadSpec(t)
	a, ok := s.API("ChangeHostState")
	require.True(t, ok)
	require.Equal(t, "PUT", a.Method)
	require.Equal(t, "/hosts/{uuid}/actions", a.Path)
	require.Equal(t, "changeHostState", a.BodyKey)
	require.True(t, a.Async)
	require.Equal(t, []string{"uuid"}, a.PathParams())

	a, ok = s.API("AttachBackupStorageToZone")
	require.True(t, ok)
	require.Equal(t, []string{"zoneUuid", "backupStorageUuid"}, a.PathParams())

	a, ok = s.API("QueryVmInstance")
	require.True(t, ok)
	require.False(t, a.Async)
	require.Equal(t, "GET", a.Method)

	_, ok = s.API("NoSuchApi")
	require.False(t, ok)
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, row string }{
		{"columns", "A\tPOST\t/a\tparams\ttrue"},
		{"method", "A\tPATCH\t/a\tparams\ttrue\t"},
		{"async", "A\tPOST\t/a\tparams\tyes\t"},
		{"no type", "A\tPOST\t/a\tparams\ttrue\tname"},
		{"rule", "A\tPOST\t/a\tparams\ttrue\tname:String(min 3)"},
		{"range", "A\tPOST\t/a\tparams\ttrue\tn:int(range 5,1)"},
		{"duplicate param", "A\tPOST\t/a\tparams\ttrue\tn:int, n:int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader("api\tmethod\tpath\tbody_key\tasync\tparams\n" + tt.row + "\n"))
			require.Error(t, err)
		})
	}
	_, err := Parse(strings.NewReader("A\tPOST\t/a\tparams\ttrue\t\nA\tPOST\t/b\tparams\ttrue\t\n"))
	require.ErrorContains(t, err, "duplicate api")
}

// decode reads a JSON body the way the server does (numbers as float64).
func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	return m
}

// decodeNumber reads a JSON body with json.Number, as a decoder with
// UseNumber does.
func decodeNumber(t *testing.T, body string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	var m map[string]any
	require.NoError(t, d.Decode(&m))
	return m
}

func TestValidateAndNormalize(t *testing.T) {
	s := loadSpec(t)
	tests := []struct {
		name    string
		api     string
		body    string
		wantErr string         // substring of the error; empty for success
		want    map[string]any // normalized params when valid
	}{
		{
			name: "go sdk CreateVmInstance with zero values",
			api:  "CreateVmInstance",
			body: `{"name":"vm","instanceOfferingUuid":"x","cpuNum":0,"memorySize":0,"zoneUuid":""}`,
			want: map[string]any{"name": "vm", "instanceOfferingUuid": "x"},
		},
		{
			name: "CreateVmInstance full",
			api:  "CreateVmInstance",
			body: `{"name":"vm","cpuNum":2,"memorySize":1073741824,"imageUuid":"img","l3NetworkUuids":["l3"],"strategy":"InstantStart","virtio":true,"dataVolumeSystemTagsOnIndex":{"0":["a"]},"systemTags":[],"rootDiskSize":0}`,
			want: map[string]any{"name": "vm", "cpuNum": int64(2), "memorySize": int64(1073741824), "imageUuid": "img",
				"l3NetworkUuids": []any{"l3"}, "strategy": "InstantStart", "virtio": true,
				"dataVolumeSystemTagsOnIndex": map[string]any{"0": []any{"a"}}},
		},
		{
			name:    "CreateVmInstance missing name",
			api:     "CreateVmInstance",
			body:    `{"name":"","instanceOfferingUuid":"x"}`,
			wantErr: "missing required parameter [name]",
		},
		{
			name:    "CreateVmInstance bad strategy",
			api:     "CreateVmInstance",
			body:    `{"name":"vm","strategy":"instantstart"}`,
			wantErr: `invalid parameter [strategy]: value "instantstart" is not one of [InstantStart, JustCreate, CreateStopped]`,
		},
		{
			name:    "CreateVmInstance name too long",
			api:     "CreateVmInstance",
			body:    `{"name":"` + strings.Repeat("n", 256) + `"}`,
			wantErr: "invalid parameter [name]: length 256 exceeds the maximum of 255",
		},
		{
			name: "CreateVmInstance name of 255 multi-byte characters",
			api:  "CreateVmInstance",
			body: `{"name":"` + strings.Repeat("虚", 255) + `"}`,
			want: map[string]any{"name": strings.Repeat("虚", 255)},
		},
		{
			name:    "CreateVmInstance cpuNum not integral",
			api:     "CreateVmInstance",
			body:    `{"name":"vm","cpuNum":1.5}`,
			wantErr: "invalid parameter [cpuNum]: expected a 32-bit integer, got 1.5",
		},
		{
			name:    "CreateVmInstance cpuNum beyond 32 bits",
			api:     "CreateVmInstance",
			body:    `{"name":"vm","cpuNum":4294967296}`,
			wantErr: "invalid parameter [cpuNum]: expected a 32-bit integer",
		},
		{
			name:    "CreateVmInstance list given a string",
			api:     "CreateVmInstance",
			body:    `{"name":"vm","l3NetworkUuids":"l3"}`,
			wantErr: `invalid parameter [l3NetworkUuids]: expected a list, got "l3"`,
		},
		{
			name:    "CreateVmInstance reservedMemorySize negative",
			api:     "CreateVmInstance",
			body:    `{"name":"vm","reservedMemorySize":-1}`,
			wantErr: "invalid parameter [reservedMemorySize]: value -1 is out of range [0, 9223372036854775807]",
		},
		{
			name: "CreateVmInstance gson leniency",
			api:  "CreateVmInstance",
			body: `{"name":123,"cpuNum":"4","virtio":"TRUE","memorySize":2e9}`,
			want: map[string]any{"name": "123", "cpuNum": int64(4), "virtio": true, "memorySize": int64(2000000000)},
		},
		{
			name: "unknown params are ignored and kept",
			api:  "CreateVmInstance",
			body: `{"name":"vm","futureOption":"x","emptyFuture":""}`,
			want: map[string]any{"name": "vm", "futureOption": "x"},
		},
		{
			name:    "CreateInstanceOffering go sdk zero cpuNum",
			api:     "CreateInstanceOffering",
			body:    `{"name":"small","cpuNum":0,"memorySize":1073741824,"sortKey":0}`,
			wantErr: "invalid parameter [cpuNum]: value 0 is out of range [1, 1024]",
		},
		{
			name:    "CreateInstanceOffering cpuNum too large",
			api:     "CreateInstanceOffering",
			body:    `{"name":"big","cpuNum":1025,"memorySize":1073741824}`,
			wantErr: "invalid parameter [cpuNum]: value 1025 is out of range [1, 1024]",
		},
		{
			name:    "CreateInstanceOffering memorySize missing",
			api:     "CreateInstanceOffering",
			body:    `{"name":"small","cpuNum":1}`,
			wantErr: "missing required parameter [memorySize]",
		},
		{
			name: "CreateInstanceOffering ok",
			api:  "CreateInstanceOffering",
			body: `{"name":"small","description":"","cpuNum":1,"memorySize":1073741824,"reservedMemorySize":0,"sortKey":0,"type":""}`,
			want: map[string]any{"name": "small", "cpuNum": int64(1), "memorySize": int64(1073741824)},
		},
		{
			name: "ChangeHostState ok",
			api:  "ChangeHostState",
			body: `{"uuid":"h1","stateEvent":"maintain"}`,
			want: map[string]any{"uuid": "h1", "stateEvent": "maintain"},
		},
		{
			name:    "ChangeHostState is case-sensitive",
			api:     "ChangeHostState",
			body:    `{"uuid":"h1","stateEvent":"Enable"}`,
			wantErr: `invalid parameter [stateEvent]: value "Enable" is not one of [enable, disable, maintain]`,
		},
		{
			name:    "ChangeHostState missing path uuid",
			api:     "ChangeHostState",
			body:    `{"stateEvent":"enable"}`,
			wantErr: "missing required parameter [uuid]",
		},
		{
			name:    "ChangeHostState null stateEvent",
			api:     "ChangeHostState",
			body:    `{"uuid":"h1","stateEvent":null}`,
			wantErr: "missing required parameter [stateEvent]",
		},
		{
			name: "AddSimulatorHost ok",
			api:  "AddSimulatorHost",
			body: `{"memoryCapacity":8589934592,"cpuCapacity":16,"name":"sim1","description":"","managementIp":"127.0.0.2","clusterUuid":"c1"}`,
			want: map[string]any{"memoryCapacity": int64(8589934592), "cpuCapacity": int64(16), "name": "sim1",
				"managementIp": "127.0.0.2", "clusterUuid": "c1"},
		},
		{
			name:    "AddSimulatorHost zero capacity is not set",
			api:     "AddSimulatorHost",
			body:    `{"memoryCapacity":0,"cpuCapacity":16,"name":"sim1","managementIp":"127.0.0.2","clusterUuid":"c1"}`,
			wantErr: "missing required parameter [memoryCapacity]",
		},
		{
			name:    "AddSimulatorHost capacity as bool",
			api:     "AddSimulatorHost",
			body:    `{"memoryCapacity":true,"cpuCapacity":16,"name":"sim1","managementIp":"127.0.0.2","clusterUuid":"c1"}`,
			wantErr: "invalid parameter [memoryCapacity]: expected an integer, got true",
		},
		{
			name: "AddImage go sdk false booleans",
			api:  "AddImage",
			body: `{"name":"img","url":"http://x/i.qcow2","backupStorageUuids":["bs"],"system":false,"virtio":false,"format":"qcow2"}`,
			want: map[string]any{"name": "img", "url": "http://x/i.qcow2", "backupStorageUuids": []any{"bs"}, "format": "qcow2"},
		},
		{
			name:    "CreateL3Network ipVersion valid values on an integer",
			api:     "CreateL3Network",
			body:    `{"name":"l3","l2NetworkUuid":"l2","ipVersion":5}`,
			wantErr: "invalid parameter [ipVersion]: value 5 is not one of [4, 6]",
		},
		{
			name: "CreateL3Network ipVersion ok",
			api:  "CreateL3Network",
			body: `{"name":"l3","l2NetworkUuid":"l2","ipVersion":4,"system":false,"enableIPAM":false}`,
			want: map[string]any{"name": "l3", "l2NetworkUuid": "l2", "ipVersion": int64(4)},
		},
	}
	for _, tt := range tests {
		for _, dec := range []struct {
			name string
			fn   func(*testing.T, string) map[string]any
		}{{"float64", decode}, {"json.Number", decodeNumber}} {
			t.Run(tt.name+"/"+dec.name, func(t *testing.T) {
				a, ok := s.API(tt.api)
				require.True(t, ok)
				params := dec.fn(t, tt.body)
				err := a.Validate(params)
				if tt.wantErr != "" {
					require.Error(t, err)
					require.True(t, errors.Is(err, models.ErrInvalid), "want an Invalid error, got %v", err)
					require.Equal(t, models.CodeInvalidArgument, models.AsError(err).Code)
					require.Contains(t, err.Error(), tt.wantErr)
					return
				}
				require.NoError(t, err)
				got := a.Normalize(params)
				require.Equal(t, tt.want, got)
				// Normalized params validate too, and normalizing is idempotent.
				require.NoError(t, a.Validate(got))
				require.Equal(t, got, a.Normalize(got))
			})
		}
	}
}

func TestValidateFirstErrorInTableOrder(t *testing.T) {
	s := loadSpec(t)
	a, _ := s.API("CreateInstanceOffering")
	// name (first in the table) and cpuNum are both wrong: name is reported.
	err := a.Validate(map[string]any{"cpuNum": 5000.0, "memorySize": 1.0})
	require.ErrorContains(t, err, "[name]")
}

func TestValidateListElements(t *testing.T) {
	spec, err := Parse(strings.NewReader("A\tPOST\t/a\tparams\ttrue\ttypes:List(one of VolumeVO,VmInstanceVO), tags:Map\n"))
	require.NoError(t, err)
	a, _ := spec.API("A")
	require.NoError(t, a.Validate(map[string]any{"types": []any{"VolumeVO", "VmInstanceVO"}}))
	require.NoError(t, a.Validate(map[string]any{"types": []string{"VolumeVO"}, "tags": map[string]any{"a": 1.0}}))
	require.ErrorContains(t, a.Validate(map[string]any{"types": []any{"VolumeVO", "HostVO"}}),
		`invalid parameter [types]: value "HostVO" is not one of [VolumeVO, VmInstanceVO]`)
	require.ErrorContains(t, a.Validate(map[string]any{"tags": []any{"x"}}), "invalid parameter [tags]: expected a map, got a list")
	require.Equal(t, map[string]any{"types": []any{"VolumeVO"}}, a.Normalize(map[string]any{"types": []string{"VolumeVO"}, "tags": map[string]any{}}))
}
