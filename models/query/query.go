// Package query parses ZStack's query parameters (q=, limit, start, count,
// replyWithCount, sort, fields, groupBy) from a URL into a Query. It only
// parses: which fields exist, and the SQL, are the store's business
// (models/store.BuildSelect), so no user text ever becomes SQL.
package query

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/zcloud/zcloud/models"
)

// Op is a ZStack query operator as written in q=.
type Op string

// The operators of ZStack's RestServer (QUERY_OP_MAPPING).
const (
	OpEq      Op = "="
	OpNotEq   Op = "!="
	OpGt      Op = ">"
	OpGtEq    Op = ">="
	OpLt      Op = "<"
	OpLtEq    Op = "<="
	OpIn      Op = "?="  // value is a comma-separated list
	OpNotIn   Op = "!?=" // value is a comma-separated list
	OpLike    Op = "~="  // SQL LIKE with the caller's % and _
	OpNotLike Op = "!~="
	OpIsNull  Op = "is null"  // written "q=field is null", no value
	OpNotNull Op = "not null" // written "q=field not null", no value
)

// Valid reports whether op is one of the known operators.
func (op Op) Valid() bool {
	switch op {
	case OpEq, OpNotEq, OpGt, OpGtEq, OpLt, OpLtEq, OpIn, OpNotIn, OpLike, OpNotLike, OpIsNull, OpNotNull:
		return true
	}
	return false
}

// HasValue reports whether the operator compares with a value (all but the
// null checks).
func (op Op) HasValue() bool { return op != OpIsNull && op != OpNotNull }

// IsList reports whether the operator takes a comma-separated list.
func (op Op) IsList() bool { return op == OpIn || op == OpNotIn }

// DefaultLimit is the number of rows a query returns when it names no limit,
// as in ZStack.
const DefaultLimit = 1000

// Condition is one q= condition. Path is the field, split on "." to reach
// related resources: ["name"], ["vmNics", "ip"], ["__systemTag__"].
type Condition struct {
	Path   []string
	Op     Op
	Value  string   // the raw value; empty for the null checks
	Values []string // for ?= and !?=: Value split on commas, trimmed, empties dropped
}

// Field returns the condition's field as written, e.g. "vmNics.ip".
func (c Condition) Field() string { return strings.Join(c.Path, ".") }

// Query is a parsed ZStack query. Conditions are ANDed.
type Query struct {
	Conditions     []Condition
	Limit          int // rows per page; DefaultLimit when not given or 0
	Start          int // rows to skip
	Count          bool
	ReplyWithCount bool
	Sort           string // field to order by; empty for the default order
	SortDesc       bool
	Fields         []string // fields to return; empty for all
	GroupBy        string
}

// Parse reads a ZStack query from URL parameters. q may repeat; empty q
// values are ignored. Sorting is sort=+f / sort=-f (a bare f or a leading
// space, which is how an unencoded "+" arrives, sorts ascending), or
// sortBy=f with sortDirection=asc|desc; sort wins when both are given.
// Booleans accept true/false in any case. limit=0 means the default limit,
// as the Go SDK's zero values mean "not set". Unknown parameters are ignored.
// Errors are models.Invalid (ZStack code SYS.1007).
func Parse(v url.Values) (Query, error) {
	q := Query{Limit: DefaultLimit}
	for _, raw := range v["q"] {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		c, err := ParseCondition(raw)
		if err != nil {
			return Query{}, err
		}
		q.Conditions = append(q.Conditions, c)
	}

	var err error
	if s := get(v, "limit"); s != "" {
		if q.Limit, err = nonNegative("limit", s); err != nil {
			return Query{}, err
		}
		if q.Limit == 0 {
			q.Limit = DefaultLimit
		}
	}
	if s := get(v, "start"); s != "" {
		if q.Start, err = nonNegative("start", s); err != nil {
			return Query{}, err
		}
	}
	if q.Count, err = boolean(v, "count"); err != nil {
		return Query{}, err
	}
	if q.ReplyWithCount, err = boolean(v, "replyWithCount"); err != nil {
		return Query{}, err
	}
	q.GroupBy = get(v, "groupBy")

	if s := get(v, "sort"); s != "" {
		switch s[0] {
		case '+':
			s = s[1:]
		case '-':
			s, q.SortDesc = s[1:], true
		}
		q.Sort = strings.TrimSpace(s)
		if q.Sort == "" {
			return Query{}, models.Invalid("invalid query parameter [sort]: expected +field or -field")
		}
	} else if s := get(v, "sortBy"); s != "" {
		q.Sort = s
		switch dir := get(v, "sortDirection"); strings.ToLower(dir) {
		case "", "asc":
		case "desc":
			q.SortDesc = true
		default:
			return Query{}, models.Invalid("invalid query parameter [sortDirection]: %q is not one of [asc, desc]", dir)
		}
	}

	for _, f := range strings.Split(get(v, "fields"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			q.Fields = append(q.Fields, f)
		}
	}
	return q, nil
}

// ParseCondition parses one q= value such as "name=vm1", "vmNics.ip?=a,b",
// "__systemTag__~=staticIp::%" or "hostUuid is null". The operator is the
// first one after the field name, matched longest first, so a value may
// itself contain operator characters ("description=a>b" compares with
// "a>b"). Spaces around the field name are ignored; the value is kept as
// written, except that list values are trimmed.
func ParseCondition(s string) (Condition, error) {
	rest := strings.TrimLeft(s, " ")
	end := 0
	for end < len(rest) && isFieldChar(rest[end]) {
		end++
	}
	field := rest[:end]
	rest = strings.TrimLeft(rest[end:], " ")
	if field == "" {
		return Condition{}, models.Invalid("invalid query condition [%s]: it does not start with a field name", s)
	}
	path := strings.Split(field, ".")
	for _, p := range path {
		if p == "" {
			return Condition{}, models.Invalid("invalid query condition [%s]: bad field name [%s]", s, field)
		}
	}

	switch strings.TrimRight(rest, " ") {
	case string(OpIsNull):
		return Condition{Path: path, Op: OpIsNull}, nil
	case string(OpNotNull):
		return Condition{Path: path, Op: OpNotNull}, nil
	}
	// Operators written between field and value, longest first so that
	// "!?=" is not read as "!" and "?=".
	for _, op := range [...]Op{OpNotIn, OpNotLike, OpNotEq, OpGtEq, OpLtEq, OpLike, OpIn, OpEq, OpGt, OpLt} {
		if !strings.HasPrefix(rest, string(op)) {
			continue
		}
		c := Condition{Path: path, Op: op, Value: rest[len(op):]}
		if op.IsList() {
			c.Values = SplitList(c.Value)
			if len(c.Values) == 0 {
				return Condition{}, models.Invalid("invalid query condition [%s]: operator %s needs a comma-separated list of values", s, op)
			}
		}
		return c, nil
	}
	return Condition{}, models.Invalid("invalid query condition [%s]: no valid operator after field [%s]; "+
		"valid operators are =, !=, >, >=, <, <=, ?=, !?=, ~=, !~=, 'is null', 'not null'", s, field)
}

// SplitList splits the value of ?= and !?= on commas, trims each value and
// drops empty ones, as ZStack does.
func SplitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// isFieldChar reports whether b can be part of a field path: ZStack field
// names are Java identifiers, joined by dots for relations.
func isFieldChar(b byte) bool {
	return b == '_' || b == '.' || b == '$' ||
		('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z') || ('0' <= b && b <= '9')
}

// get returns the first value of a parameter, trimmed, as ZStack reads it.
func get(v url.Values, key string) string {
	return strings.TrimSpace(v.Get(key))
}

func nonNegative(key, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, models.Invalid("invalid query parameter [%s]: %q is not an integer", key, s)
	}
	if n < 0 {
		return 0, models.Invalid("invalid query parameter [%s]: %d is negative", key, n)
	}
	return n, nil
}

func boolean(v url.Values, key string) (bool, error) {
	switch s := get(v, key); strings.ToLower(s) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, models.Invalid("invalid query parameter [%s]: %q is not true or false", key, s)
	}
}
