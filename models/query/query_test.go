package query

import (
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/models"
)

func TestParseCondition(t *testing.T) {
	tests := []struct {
		in   string
		want Condition
	}{
		{"name=vm1", Condition{Path: []string{"name"}, Op: OpEq, Value: "vm1"}},
		{"name!=vm1", Condition{Path: []string{"name"}, Op: OpNotEq, Value: "vm1"}},
		{"cpuNum>2", Condition{Path: []string{"cpuNum"}, Op: OpGt, Value: "2"}},
		{"cpuNum>=2", Condition{Path: []string{"cpuNum"}, Op: OpGtEq, Value: "2"}},
		{"cpuNum<2", Condition{Path: []string{"cpuNum"}, Op: OpLt, Value: "2"}},
		{"cpuNum<=2", Condition{Path: []string{"cpuNum"}, Op: OpLtEq, Value: "2"}},
		{"state?=Running,Stopped", Condition{Path: []string{"state"}, Op: OpIn, Value: "Running,Stopped", Values: []string{"Running", "Stopped"}}},
		{"state!?=Running, Stopped,", Condition{Path: []string{"state"}, Op: OpNotIn, Value: "Running, Stopped,", Values: []string{"Running", "Stopped"}}},
		{"name~=vm%", Condition{Path: []string{"name"}, Op: OpLike, Value: "vm%"}},
		{"name!~=vm_1", Condition{Path: []string{"name"}, Op: OpNotLike, Value: "vm_1"}},
		{"hostUuid is null", Condition{Path: []string{"hostUuid"}, Op: OpIsNull}},
		{"hostUuid not null", Condition{Path: []string{"hostUuid"}, Op: OpNotNull}},
		{" hostUuid  is null ", Condition{Path: []string{"hostUuid"}, Op: OpIsNull}},
		{"vmNics.ip=10.0.0.5", Condition{Path: []string{"vmNics", "ip"}, Op: OpEq, Value: "10.0.0.5"}},
		{"vmNics.l3Network.name~=pub%", Condition{Path: []string{"vmNics", "l3Network", "name"}, Op: OpLike, Value: "pub%"}},
		{"__systemTag__=staticIp::10.10.1.20", Condition{Path: []string{"__systemTag__"}, Op: OpEq, Value: "staticIp::10.10.1.20"}},
		// The operator is the first one after the field; the value keeps the rest.
		{"description=a>b", Condition{Path: []string{"description"}, Op: OpEq, Value: "a>b"}},
		{"description=x!=y", Condition{Path: []string{"description"}, Op: OpEq, Value: "x!=y"}},
		{"url=http://h/?a=b", Condition{Path: []string{"url"}, Op: OpEq, Value: "http://h/?a=b"}},
		{"description=is null", Condition{Path: []string{"description"}, Op: OpEq, Value: "is null"}},
		{"name>=<", Condition{Path: []string{"name"}, Op: OpGtEq, Value: "<"}},
		// Values are not trimmed; an empty value compares with "".
		{"name= vm ", Condition{Path: []string{"name"}, Op: OpEq, Value: " vm "}},
		{"description=", Condition{Path: []string{"description"}, Op: OpEq, Value: ""}},
		{"name =vm", Condition{Path: []string{"name"}, Op: OpEq, Value: "vm"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCondition(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseConditionErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"name", "no valid operator after field [name]"},
		{"name:vm", "no valid operator after field [name]"},
		{"name is", "no valid operator"},
		{"name IS NULL", "no valid operator"},
		{"=vm", "does not start with a field name"},
		{"vmNics..ip=1", "bad field name [vmNics..ip]"},
		{".ip=1", "bad field name"},
		{"state?=", "needs a comma-separated list"},
		{"state!?= , ,", "needs a comma-separated list"},
		{"na me=x", "no valid operator after field [na]"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseCondition(tt.in)
			require.Error(t, err)
			require.True(t, errors.Is(err, models.ErrInvalid))
			require.Equal(t, models.CodeInvalidArgument, models.AsError(err).Code)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		query string // raw URL query, as a client sends it
		want  Query
	}{
		{"empty", "", Query{Limit: DefaultLimit}},
		{
			"sdk encoded uuid",
			"q=uuid%3Dabc",
			Query{Limit: DefaultLimit, Conditions: []Condition{{Path: []string{"uuid"}, Op: OpEq, Value: "abc"}}},
		},
		{
			"repeated q is AND, in order",
			"q=state%3DRunning&q=vmNics.ip%3D10.0.0.5&q=name~%3Dvm%25",
			Query{Limit: DefaultLimit, Conditions: []Condition{
				{Path: []string{"state"}, Op: OpEq, Value: "Running"},
				{Path: []string{"vmNics", "ip"}, Op: OpEq, Value: "10.0.0.5"},
				{Path: []string{"name"}, Op: OpLike, Value: "vm%"},
			}},
		},
		{
			"unencoded is null with plus and percent-encoded spaces",
			"q=hostUuid+is+null&q=zoneUuid%20not%20null",
			Query{Limit: DefaultLimit, Conditions: []Condition{
				{Path: []string{"hostUuid"}, Op: OpIsNull},
				{Path: []string{"zoneUuid"}, Op: OpNotNull},
			}},
		},
		{"empty q values are ignored", "q=&q=+&start=0", Query{Limit: DefaultLimit}},
		{"paging as ListAll sends it", "start=50&limit=50&replyWithCount=true", Query{Limit: 50, Start: 50, ReplyWithCount: true}},
		{"limit 0 means default", "limit=0", Query{Limit: DefaultLimit}},
		{"empty limit means default", "limit=", Query{Limit: DefaultLimit}},
		{"count", "count=TRUE", Query{Limit: DefaultLimit, Count: true}},
		{"count false", "count=false&replyWithCount=False", Query{Limit: DefaultLimit}},
		{"sort encoded plus", "sort=%2Bname", Query{Limit: DefaultLimit, Sort: "name"}},
		{"sort raw plus decodes to space", "sort=+name", Query{Limit: DefaultLimit, Sort: "name"}},
		{"sort minus", "sort=-createDate", Query{Limit: DefaultLimit, Sort: "createDate", SortDesc: true}},
		{"sort bare", "sort=name", Query{Limit: DefaultLimit, Sort: "name"}},
		{"sortBy desc", "sortBy=name&sortDirection=desc", Query{Limit: DefaultLimit, Sort: "name", SortDesc: true}},
		{"sortBy default asc", "sortBy=name", Query{Limit: DefaultLimit, Sort: "name"}},
		{"sort wins over sortBy", "sort=-uuid&sortBy=name&sortDirection=asc", Query{Limit: DefaultLimit, Sort: "uuid", SortDesc: true}},
		{"fields", "fields=uuid,%20name,,state", Query{Limit: DefaultLimit, Fields: []string{"uuid", "name", "state"}}},
		{"empty fields", "fields=", Query{Limit: DefaultLimit}},
		{"groupBy", "groupBy=zoneUuid", Query{Limit: DefaultLimit, GroupBy: "zoneUuid"}},
		{"unknown params ignored", "filterName=x&foo=bar", Query{Limit: DefaultLimit}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			got, err := Parse(v)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, query, want string }{
		{"negative limit", "limit=-1", "invalid query parameter [limit]: -1 is negative"},
		{"non-integer limit", "limit=ten", `invalid query parameter [limit]: "ten" is not an integer`},
		{"non-integer start", "start=1.5", `invalid query parameter [start]: "1.5" is not an integer`},
		{"negative start", "start=-5", "invalid query parameter [start]: -5 is negative"},
		{"bad count", "count=yes", `invalid query parameter [count]: "yes" is not true or false`},
		{"bad replyWithCount", "replyWithCount=1", "invalid query parameter [replyWithCount]"},
		{"bad sortDirection", "sortBy=name&sortDirection=up", `invalid query parameter [sortDirection]: "up" is not one of [asc, desc]`},
		{"sort without field", "sort=-", "invalid query parameter [sort]"},
		{"bad operator", "q=name%3Avm", "invalid query condition [name:vm]: no valid operator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			_, err = Parse(v)
			require.Error(t, err)
			require.True(t, errors.Is(err, models.ErrInvalid))
			require.Equal(t, models.CodeInvalidArgument, models.AsError(err).Code)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestOp(t *testing.T) {
	for _, op := range []Op{OpEq, OpNotEq, OpGt, OpGtEq, OpLt, OpLtEq, OpIn, OpNotIn, OpLike, OpNotLike, OpIsNull, OpNotNull} {
		require.True(t, op.Valid(), op)
	}
	require.False(t, Op("==").Valid())
	require.False(t, OpIsNull.HasValue())
	require.True(t, OpLike.HasValue())
	require.True(t, OpNotIn.IsList())
	require.False(t, OpEq.IsList())
	require.Equal(t, "vmNics.ip", Condition{Path: []string{"vmNics", "ip"}}.Field())
}
