// Package contract holds ZStack's REST API v1 table (api.tsv, from ZStack's
// Java SDK) as data, so that routes, body keys and parameter rules come from
// the published contract instead of being retyped by hand.
package contract

import (
	"bufio"
	_ "embed" // for the embedded API table
	"fmt"
	"io"
	"strconv"
	"strings"
)

// apiTSV is ZStack's API table: one row per API with its method, path, body
// key, async flag and parameters.
//
//go:embed api.tsv
var apiTSV string

// Spec is the parsed API table. It is read-only after construction and safe
// for concurrent use.
type Spec struct {
	apis   []*API
	byName map[string]*API
}

// API is one row of the table: how a ZStack API is called over REST.
type API struct {
	Name    string // e.g. "CreateVmInstance"
	Method  string // GET, POST, PUT or DELETE; empty for abstract rows
	Path    string // under /zstack/v1, with {placeholders}
	BodyKey string // "params" for creates, the action key for PUT .../actions, empty if none
	Async   bool   // whether the SDK polls a job for the result
	Params  []Param

	byName map[string]int
}

// Param is one request parameter of an API, with the rules ZStack's
// @APIParam declares for it.
type Param struct {
	Name        string
	Required    bool
	Type        string   // the Java type as published: String, int, Long, Boolean, List, Map...
	ValidValues []string // allowed values ("one of"); empty for any
	Min, Max    *int64   // inclusive numeric range ("range lo,hi"); nil for none
	MaxLength   int      // maximum string length ("max n"); 0 for none
}

// Kind is the JSON shape a parameter takes, derived from its Java type.
type Kind int

// Parameter kinds.
const (
	KindAny    Kind = iota // objects and types without a known JSON shape
	KindString             // String and enum types
	KindInt                // int, Integer: a 32-bit integer
	KindLong               // long, Long: a 64-bit integer
	KindFloat              // double, Double, float, Float
	KindBool               // boolean, Boolean
	KindList               // List, Set, List<...>
	KindMap                // Map
)

// String returns the kind's name as used in error messages.
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindInt:
		return "32-bit integer"
	case KindLong:
		return "integer"
	case KindFloat:
		return "number"
	case KindBool:
		return "boolean"
	case KindList:
		return "list"
	case KindMap:
		return "map"
	default:
		return "any"
	}
}

// noun names the kind with its article, for error messages.
func (k Kind) noun() string {
	switch k {
	case KindLong:
		return "an integer"
	case KindAny:
		return "any value"
	default:
		return "a " + k.String()
	}
}

// Kind returns the JSON shape of the parameter. Java enum types published
// with their fully qualified name (org.zstack.sdk...) travel as strings when
// they list valid values; other unknown types accept any JSON value.
func (p *Param) Kind() Kind {
	t := p.Type
	if i := strings.IndexByte(t, '<'); i >= 0 {
		t = t[:i]
	}
	switch t {
	case "String":
		return KindString
	case "int", "Integer":
		return KindInt
	case "long", "Long":
		return KindLong
	case "double", "Double", "float", "Float":
		return KindFloat
	case "boolean", "Boolean":
		return KindBool
	case "List", "Set", "Collection":
		return KindList
	case "Map":
		return KindMap
	}
	if len(p.ValidValues) > 0 {
		return KindString
	}
	return KindAny
}

// Load parses the API table embedded in the binary.
func Load() (*Spec, error) {
	return Parse(strings.NewReader(apiTSV))
}

// Parse reads an API table in the format of api.tsv: a header line, then one
// tab-separated row per API (name, method, path, body key, async, params).
func Parse(r io.Reader) (*Spec, error) {
	s := &Spec{byName: make(map[string]*API)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if line == 1 && strings.HasPrefix(text, "api\t") {
			continue
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		a, err := parseRow(text)
		if err != nil {
			return nil, fmt.Errorf("api table line %d: %w", line, err)
		}
		if _, dup := s.byName[a.Name]; dup {
			return nil, fmt.Errorf("api table line %d: duplicate api %q", line, a.Name)
		}
		s.apis = append(s.apis, a)
		s.byName[a.Name] = a
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read api table: %w", err)
	}
	return s, nil
}

// API returns the API of the given name, e.g. "CreateVmInstance".
func (s *Spec) API(name string) (*API, bool) {
	a, ok := s.byName[name]
	return a, ok
}

// APIs returns every API in table order. The caller must not modify them.
func (s *Spec) APIs() []*API {
	out := make([]*API, len(s.apis))
	copy(out, s.apis)
	return out
}

// Param returns the parameter of the given name.
func (a *API) Param(name string) (*Param, bool) {
	i, ok := a.byName[name]
	if !ok {
		return nil, false
	}
	return &a.Params[i], true
}

// PathParams returns the names of the {placeholders} in the API's path, in
// order. The caller copies their values into the params before Validate.
func (a *API) PathParams() []string {
	var names []string
	p := a.Path
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			return names
		}
		j := strings.IndexByte(p[i:], '}')
		if j < 0 {
			return names
		}
		names = append(names, p[i+1:i+j])
		p = p[i+j+1:]
	}
}

func parseRow(text string) (*API, error) {
	cols := strings.Split(text, "\t")
	if len(cols) != 6 {
		return nil, fmt.Errorf("want 6 tab-separated columns, got %d", len(cols))
	}
	a := &API{
		Name:    strings.TrimSpace(cols[0]),
		Method:  strings.TrimSpace(cols[1]),
		Path:    strings.TrimSpace(cols[2]),
		BodyKey: strings.TrimSpace(cols[3]),
		byName:  make(map[string]int),
	}
	if a.Name == "" {
		return nil, fmt.Errorf("empty api name")
	}
	switch a.Method {
	case "", "GET", "POST", "PUT", "DELETE":
	default:
		return nil, fmt.Errorf("api %s: unknown method %q", a.Name, a.Method)
	}
	switch async := strings.TrimSpace(cols[4]); async {
	case "true":
		a.Async = true
	case "false", "":
	default:
		return nil, fmt.Errorf("api %s: bad async flag %q", a.Name, async)
	}
	for _, field := range splitTopLevel(cols[5]) {
		p, err := parseParam(field)
		if err != nil {
			return nil, fmt.Errorf("api %s: %w", a.Name, err)
		}
		if _, dup := a.byName[p.Name]; dup {
			return nil, fmt.Errorf("api %s: duplicate parameter %q", a.Name, p.Name)
		}
		a.byName[p.Name] = len(a.Params)
		a.Params = append(a.Params, p)
	}
	return a, nil
}

// splitTopLevel splits the params column on commas outside parentheses and
// angle brackets, so that "one of a,b" and "List<String>" stay whole.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '<':
			depth++
		case ')', '>':
			depth--
		case ',':
			if depth == 0 {
				out = appendNonEmpty(out, s[start:i])
				start = i + 1
			}
		}
	}
	return appendNonEmpty(out, s[start:])
}

func appendNonEmpty(out []string, s string) []string {
	if s = strings.TrimSpace(s); s != "" {
		out = append(out, s)
	}
	return out
}

// parseParam parses one parameter such as "*name:String(max 255)",
// "cpuNum:int(range 1,1024)" or "architecture:String(one of a,b; max 32)".
func parseParam(s string) (Param, error) {
	var p Param
	if strings.HasPrefix(s, "*") {
		p.Required = true
		s = s[1:]
	}
	name, rest, ok := strings.Cut(s, ":")
	if !ok {
		return p, fmt.Errorf("parameter %q: missing ':type'", s)
	}
	p.Name = strings.TrimSpace(name)
	if p.Name == "" {
		return p, fmt.Errorf("parameter %q: empty name", s)
	}
	typ, rules := rest, ""
	if i := strings.IndexByte(rest, '('); i >= 0 {
		if !strings.HasSuffix(rest, ")") {
			return p, fmt.Errorf("parameter %s: unbalanced parentheses in %q", p.Name, rest)
		}
		typ, rules = rest[:i], rest[i+1:len(rest)-1]
	}
	p.Type = strings.TrimSpace(typ)
	if p.Type == "" {
		return p, fmt.Errorf("parameter %s: empty type", p.Name)
	}
	for _, rule := range strings.Split(rules, ";") {
		rule = strings.TrimSpace(rule)
		switch {
		case rule == "":
		case strings.HasPrefix(rule, "one of "):
			for _, v := range strings.Split(strings.TrimPrefix(rule, "one of "), ",") {
				p.ValidValues = append(p.ValidValues, strings.TrimSpace(v))
			}
		case strings.HasPrefix(rule, "range "):
			lo, hi, ok := strings.Cut(strings.TrimPrefix(rule, "range "), ",")
			if !ok {
				return p, fmt.Errorf("parameter %s: bad range %q", p.Name, rule)
			}
			low, err1 := strconv.ParseInt(strings.TrimSpace(lo), 10, 64)
			high, err2 := strconv.ParseInt(strings.TrimSpace(hi), 10, 64)
			if err1 != nil || err2 != nil || low > high {
				return p, fmt.Errorf("parameter %s: bad range %q", p.Name, rule)
			}
			p.Min, p.Max = &low, &high
		case strings.HasPrefix(rule, "max "):
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(rule, "max ")))
			if err != nil || n <= 0 {
				return p, fmt.Errorf("parameter %s: bad max length %q", p.Name, rule)
			}
			p.MaxLength = n
		default:
			return p, fmt.Errorf("parameter %s: unknown rule %q", p.Name, rule)
		}
	}
	return p, nil
}
