package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/query"
)

// Registry is the query whitelist: every queryable resource by name. A
// relation's Target names another entry.
type Registry map[string]*Resource

// The pseudo-fields through which q= reaches a resource's tags, as in ZStack.
const (
	SystemTagField = "__systemTag__"
	UserTagField   = "__userTag__"
)

// Tag tables: both hold (uuid, resource_uuid, resource_type, tag, ...).
const (
	systemTagTable = "system_tags"
	userTagTable   = "user_tags"
)

// Check verifies the registry: every table and column is a plain SQL
// identifier, every relation's target and value field exist, and taggable
// resources have a uuid field. Run it once at start-up and in tests so that a
// broken whitelist fails there, not in a client's query.
func (reg Registry) Check() error {
	for name, r := range reg {
		if r == nil {
			return fmt.Errorf("registry: resource %s is nil", name)
		}
		if r.Name != name {
			return fmt.Errorf("registry: resource %s is registered as %s", r.Name, name)
		}
		if !isIdent(r.Table) {
			return fmt.Errorf("registry: %s: bad table name %q", name, r.Table)
		}
		if len(r.Fields) == 0 {
			return fmt.Errorf("registry: %s has no fields", name)
		}
		for _, f := range r.Fields {
			if !isIdent(f.Column) {
				return fmt.Errorf("registry: %s.%s: bad column name %q", name, f.Name, f.Column)
			}
		}
		for _, rel := range r.Relations {
			t, ok := reg[rel.Target]
			if !ok || t == nil {
				return fmt.Errorf("registry: relation %s.%s: unknown target %s", name, rel.Name, rel.Target)
			}
			if !isIdent(rel.LocalColumn) || !isIdent(rel.RemoteColumn) {
				return fmt.Errorf("registry: relation %s.%s: bad column names %q, %q", name, rel.Name, rel.LocalColumn, rel.RemoteColumn)
			}
			if _, clash := r.Field(rel.Name); clash {
				return fmt.Errorf("registry: %s.%s is both a field and a relation", name, rel.Name)
			}
			if rel.ValueField != "" {
				if _, ok := t.Field(rel.ValueField); !ok {
					return fmt.Errorf("registry: relation %s.%s: %s has no field %s", name, rel.Name, t.Name, rel.ValueField)
				}
			}
		}
		if r.TagResourceType != "" {
			if _, ok := r.Field("uuid"); !ok {
				return fmt.Errorf("registry: %s is taggable but has no uuid field", name)
			}
		}
	}
	return nil
}

// BuildSelect turns a parsed query into one SELECT of res's whitelisted
// columns, with conditions, ordering and paging. Every value travels as a
// bound argument (placeholders are "?" in both dialects); only identifiers
// from the whitelist and res.Filter are SQL text. The rules:
//
//   - Fields must be whitelisted; otherwise models.Invalid.
//   - "rel.field" conditions become LocalColumn IN (SELECT RemoteColumn FROM
//     target WHERE ...). Conditions on the same relation share one subquery,
//     so q=vmNics.ip=a&q=vmNics.l3NetworkUuid=b needs one NIC with both, as
//     in ZStack. Relations nest; the target's Filter applies inside.
//   - q= naming a relation with a ValueField (a list of values such as
//     attachedClusterUuids) compares that field; negative operators (!=,
//     !?=, !~=, is null) become NOT IN of the positive one: "not attached to".
//   - __systemTag__ / __userTag__ compare the tags of the resource's
//     TagResourceType, with the same negation, as ZStack's TagSqlBuilder.
//   - Values are converted per Field.Type: Int (decimal), Bool (true/false),
//     Time (epoch ms, RFC 3339, or "2006-01-02 15:04:05[.000]", the last read
//     as UTC). ~= and !~= bind the raw text: the caller's % and _ are
//     wildcards and a backslash escapes them, on both dialects.
//   - ?= and !?= bind one placeholder per value; an empty list is invalid.
//   - res.Filter, when set, is ANDed in parentheses.
//   - ORDER BY the sort field (whitelisted), else createDate; then uuid to
//     keep pages stable. LIMIT and OFFSET are bound; a limit of 0 means
//     query.DefaultLimit.
//
// q.Fields and q.GroupBy are not applied here: the caller filters output.
func BuildSelect(reg Registry, res *Resource, q query.Query, d Dialect) (sqlText string, args []any, err error) {
	b, err := newBuilder(reg, d)
	if err != nil {
		return "", nil, err
	}
	if q.Start < 0 || q.Limit < 0 {
		return "", nil, models.Invalid("invalid query: start and limit must not be negative")
	}
	cols, err := b.columns(res)
	if err != nil {
		return "", nil, err
	}
	const alias = "t0"
	b.aliases = 1
	where, err := b.where(res, alias, q.Conditions, nil, res.Name)
	if err != nil {
		return "", nil, err
	}
	order, err := b.orderBy(res, alias, q)
	if err != nil {
		return "", nil, err
	}
	var sb strings.Builder
	sb.WriteString("SELECT ")
	for i, c := range cols {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(b.col(alias, c) + " AS " + b.ident(c))
	}
	sb.WriteString(" FROM " + b.ident(res.Table) + " " + alias)
	if where != "" {
		sb.WriteString(" WHERE " + where)
	}
	sb.WriteString(" ORDER BY " + order + " LIMIT ? OFFSET ?")
	limit := q.Limit
	if limit == 0 {
		limit = query.DefaultLimit
	}
	b.args = append(b.args, limit, q.Start)
	if b.err != nil {
		return "", nil, b.err
	}
	return sb.String(), b.args, nil
}

// BuildCount is BuildSelect's COUNT(*) twin: same conditions, no order or
// paging. It answers count=true and replyWithCount=true.
func BuildCount(reg Registry, res *Resource, q query.Query, d Dialect) (sqlText string, args []any, err error) {
	b, err := newBuilder(reg, d)
	if err != nil {
		return "", nil, err
	}
	const alias = "t0"
	b.aliases = 1
	where, err := b.where(res, alias, q.Conditions, nil, res.Name)
	if err != nil {
		return "", nil, err
	}
	sqlText = "SELECT COUNT(*) FROM " + b.ident(res.Table) + " " + alias
	if where != "" {
		sqlText += " WHERE " + where
	}
	if b.err != nil {
		return "", nil, b.err
	}
	return sqlText, b.args, nil
}

// builder accumulates the arguments of one statement, in placeholder order.
type builder struct {
	reg     Registry
	d       Dialect
	args    []any
	aliases int   // next table alias number: t0, t1, ...
	err     error // first bad identifier met
}

func newBuilder(reg Registry, d Dialect) (*builder, error) {
	if d != SQLite && d != MySQL {
		return nil, fmt.Errorf("query: unknown dialect %d", int(d))
	}
	return &builder{reg: reg, d: d}, nil
}

func (b *builder) alias() string {
	a := "t" + strconv.Itoa(b.aliases)
	b.aliases++
	return a
}

// ident quotes a whitelisted identifier, refusing anything but [A-Za-z_][A-Za-z0-9_]*.
func (b *builder) ident(name string) string {
	if !isIdent(name) {
		if b.err == nil {
			b.err = fmt.Errorf("query: bad identifier %q in the registry", name)
		}
		return `""`
	}
	if b.d == MySQL {
		return "`" + name + "`"
	}
	return `"` + name + `"`
}

func (b *builder) col(alias, column string) string { return alias + "." + b.ident(column) }

// like is the LIKE operator with backslash as escape character in both
// dialects (MySQL's default; SQLite needs it spelled out).
func (b *builder) like() string {
	if b.d == MySQL {
		return "LIKE ?"
	}
	return `LIKE ? ESCAPE '\'`
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || (i > 0 && '0' <= c && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// columns lists res's whitelisted columns once each, in field order.
func (b *builder) columns(res *Resource) ([]string, error) {
	var cols []string
	seen := make(map[string]bool, len(res.Fields))
	for _, f := range res.Fields {
		if !seen[f.Column] {
			seen[f.Column] = true
			cols = append(cols, f.Column)
		}
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("query: resource %s has no fields", res.Name)
	}
	return cols, nil
}

func (b *builder) orderBy(res *Resource, alias string, q query.Query) (string, error) {
	var keys []string
	primary := ""
	if q.Sort != "" {
		f, ok := res.Field(q.Sort)
		if !ok {
			return "", models.Invalid("invalid query parameter [sort]: unknown field [%s] of %s", q.Sort, res.Name)
		}
		dir := " ASC"
		if q.SortDesc {
			dir = " DESC"
		}
		keys = append(keys, b.col(alias, f.Column)+dir)
		primary = f.Column
	} else if f, ok := res.Field("createDate"); ok {
		keys = append(keys, b.col(alias, f.Column)+" ASC")
		primary = f.Column
	}
	if f, ok := res.Field("uuid"); ok {
		if f.Column != primary {
			keys = append(keys, b.col(alias, f.Column)+" ASC")
		}
		return strings.Join(keys, ", "), nil
	}
	// No uuid: order by every column so that paging stays stable.
	cols, err := b.columns(res)
	if err != nil {
		return "", err
	}
	for _, c := range cols {
		if c != primary {
			keys = append(keys, b.col(alias, c)+" ASC")
		}
	}
	return strings.Join(keys, ", "), nil
}

// item is one predicate to build: a single condition, or the conditions
// that go through one relation.
type item struct {
	cond  query.Condition
	rel   string
	group []query.Condition // conditions under rel, with rel cut from their paths
}

// where builds the predicates of conds on res (table alias alias) plus
// res.Filter, ANDed; "" when there are none. prefix is the relation path
// walked so far and root the queried resource, for error messages.
func (b *builder) where(res *Resource, alias string, conds []query.Condition, prefix []string, root string) (string, error) {
	var items []*item
	byRel := map[string]*item{}
	for _, c := range conds {
		if len(c.Path) == 0 {
			return "", models.Invalid("invalid query condition: empty field name")
		}
		if len(c.Path) == 1 {
			items = append(items, &item{cond: c})
			continue
		}
		sub := c
		sub.Path = c.Path[1:]
		if it, ok := byRel[c.Path[0]]; ok {
			it.group = append(it.group, sub)
			continue
		}
		it := &item{rel: c.Path[0], group: []query.Condition{sub}}
		byRel[c.Path[0]] = it
		items = append(items, it)
	}

	var preds []string
	for _, it := range items {
		var (
			p   string
			err error
		)
		if it.rel != "" {
			p, err = b.relationPred(res, alias, it, prefix, root)
		} else {
			p, err = b.condPred(res, alias, it.cond, prefix, root)
		}
		if err != nil {
			return "", err
		}
		preds = append(preds, p)
	}
	if res.Filter != "" {
		preds = append(preds, "("+res.Filter+")")
	}
	return strings.Join(preds, " AND "), nil
}

func fullName(prefix, path []string) string {
	return strings.Join(append(append([]string(nil), prefix...), path...), ".")
}

func unknownField(prefix, path []string, root string) error {
	return models.Invalid("unknown field [%s] of %s", fullName(prefix, path), root)
}

// relationPred builds LocalColumn IN (SELECT RemoteColumn FROM target WHERE ...).
func (b *builder) relationPred(res *Resource, alias string, it *item, prefix []string, root string) (string, error) {
	rel, ok := res.Relation(it.rel)
	if !ok {
		return "", unknownField(prefix, append([]string{it.rel}, it.group[0].Path...), root)
	}
	target, err := b.target(res, rel)
	if err != nil {
		return "", err
	}
	sub := b.alias()
	inner, err := b.where(target, sub, it.group, append(append([]string(nil), prefix...), it.rel), root)
	if err != nil {
		return "", err
	}
	return b.col(alias, rel.LocalColumn) + " IN (" + b.subSelect(target, sub, rel.RemoteColumn, inner) + ")", nil
}

func (b *builder) target(res *Resource, rel Relation) (*Resource, error) {
	t, ok := b.reg[rel.Target]
	if !ok || t == nil {
		return nil, fmt.Errorf("query: relation %s.%s targets unknown resource %s", res.Name, rel.Name, rel.Target)
	}
	return t, nil
}

func (b *builder) subSelect(t *Resource, alias, column, where string) string {
	s := "SELECT " + b.col(alias, column) + " FROM " + b.ident(t.Table) + " " + alias
	if where != "" {
		s += " WHERE " + where
	}
	return s
}

// condPred builds the predicate of a condition on a field, a tag
// pseudo-field or a value-list relation of res.
func (b *builder) condPred(res *Resource, alias string, c query.Condition, prefix []string, root string) (string, error) {
	name := c.Path[0]
	switch name {
	case SystemTagField, UserTagField:
		return b.tagPred(res, alias, c, prefix, root)
	}
	if f, ok := res.Field(name); ok {
		return b.compare(b.col(alias, f.Column), f, c, fullName(prefix, c.Path))
	}
	if rel, ok := res.Relation(name); ok {
		if rel.ValueField == "" {
			return "", models.Invalid("invalid query condition: [%s] is a relation of %s; query one of its fields, e.g. %s.uuid",
				fullName(prefix, c.Path), root, fullName(prefix, c.Path))
		}
		target, err := b.target(res, rel)
		if err != nil {
			return "", err
		}
		f, ok := target.Field(rel.ValueField)
		if !ok {
			return "", fmt.Errorf("query: relation %s.%s: %s has no field %s", res.Name, rel.Name, target.Name, rel.ValueField)
		}
		pos, negate := positive(c.Op)
		c.Op = pos
		sub := b.alias()
		cmp, err := b.compare(b.col(sub, f.Column), f, c, fullName(prefix, c.Path))
		if err != nil {
			return "", err
		}
		inner := cmp
		if negate {
			// NOT IN over a NULL yields no rows at all: leave NULLs out.
			inner += " AND " + b.col(sub, rel.RemoteColumn) + " IS NOT NULL"
		}
		if target.Filter != "" {
			inner += " AND (" + target.Filter + ")"
		}
		return b.col(alias, rel.LocalColumn) + in(negate) + "(" + b.subSelect(target, sub, rel.RemoteColumn, inner) + ")", nil
	}
	return "", unknownField(prefix, c.Path, root)
}

// tagPred builds uuid [NOT] IN (SELECT resource_uuid FROM system_tags|user_tags
// WHERE resource_type = ? AND tag <op> ?).
func (b *builder) tagPred(res *Resource, alias string, c query.Condition, prefix []string, root string) (string, error) {
	if len(c.Path) != 1 {
		return "", unknownField(prefix, c.Path, root)
	}
	if res.TagResourceType == "" {
		return "", models.Invalid("invalid query condition: %s has no tags, so [%s] cannot be queried",
			res.Name, fullName(prefix, c.Path))
	}
	uuid, ok := res.Field("uuid")
	if !ok {
		return "", fmt.Errorf("query: taggable resource %s has no uuid field", res.Name)
	}
	table := systemTagTable
	if c.Path[0] == UserTagField {
		table = userTagTable
	}
	pos, negate := positive(c.Op)
	c.Op = pos
	sub := b.alias()
	b.args = append(b.args, res.TagResourceType)
	cmp, err := b.compare(b.col(sub, "tag"), Field{Name: c.Path[0], Column: "tag", Type: String}, c, fullName(prefix, c.Path))
	if err != nil {
		return "", err
	}
	inner := b.col(sub, "resource_type") + " = ? AND " + cmp
	if negate {
		inner += " AND " + b.col(sub, "resource_uuid") + " IS NOT NULL"
	}
	return b.col(alias, uuid.Column) + in(negate) + "(SELECT " + b.col(sub, "resource_uuid") + " FROM " + b.ident(table) + " " + sub +
		" WHERE " + inner + ")", nil
}

// positive maps a negative operator to its positive twin, so that "x has no
// tag t" is NOT IN (tags = t) rather than IN (tags != t).
func positive(op query.Op) (query.Op, bool) {
	switch op {
	case query.OpNotEq:
		return query.OpEq, true
	case query.OpNotIn:
		return query.OpIn, true
	case query.OpNotLike:
		return query.OpLike, true
	case query.OpIsNull:
		return query.OpNotNull, true
	}
	return op, false
}

func in(negate bool) string {
	if negate {
		return " NOT IN "
	}
	return " IN "
}

// compare builds "<column> <op> ?" for one condition, binding its value(s).
func (b *builder) compare(column string, f Field, c query.Condition, name string) (string, error) {
	switch c.Op {
	case query.OpEq, query.OpNotEq, query.OpGt, query.OpGtEq, query.OpLt, query.OpLtEq:
		v, err := convertValue(f, c.Value, name)
		if err != nil {
			return "", err
		}
		b.args = append(b.args, v)
		sqlOp := string(c.Op)
		if c.Op == query.OpNotEq {
			sqlOp = "<>"
		}
		return column + " " + sqlOp + " ?", nil
	case query.OpIn, query.OpNotIn:
		values := c.Values
		if len(values) == 0 {
			values = query.SplitList(c.Value)
		}
		if len(values) == 0 {
			return "", models.Invalid("invalid query condition [%s%s]: needs a comma-separated list of values", name, c.Op)
		}
		marks := make([]string, len(values))
		for i, s := range values {
			v, err := convertValue(f, s, name)
			if err != nil {
				return "", err
			}
			b.args = append(b.args, v)
			marks[i] = "?"
		}
		return column + in(c.Op == query.OpNotIn) + "(" + strings.Join(marks, ", ") + ")", nil
	case query.OpLike:
		b.args = append(b.args, c.Value)
		return column + " " + b.like(), nil
	case query.OpNotLike:
		b.args = append(b.args, c.Value)
		return column + " NOT " + b.like(), nil
	case query.OpIsNull:
		return column + " IS NULL", nil
	case query.OpNotNull:
		return column + " IS NOT NULL", nil
	}
	return "", models.Invalid("invalid query condition on [%s]: unknown operator [%s]", name, c.Op)
}

// convertValue turns the text of a q= value into the SQL argument for a field.
func convertValue(f Field, s, name string) (any, error) {
	switch f.Type {
	case Int:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, models.Invalid("invalid value [%s] of field [%s]: expected an integer", s, name)
		}
		return n, nil
	case Bool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, models.Invalid("invalid value [%s] of field [%s]: expected true or false", s, name)
	case Time:
		ms, ok := parseTime(strings.TrimSpace(s))
		if !ok {
			return nil, models.Invalid("invalid value [%s] of field [%s]: expected a time as RFC 3339, "+
				"'2006-01-02 15:04:05' (UTC) or epoch milliseconds", s, name)
		}
		return ms, nil
	default:
		return s, nil
	}
}

// parseTime reads epoch milliseconds, RFC 3339, or a zone-less date and time
// (ZStack's Timestamp.valueOf form, or ISO without zone) as UTC.
func parseTime(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixMilli(), true
	}
	for _, layout := range [...]string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}
