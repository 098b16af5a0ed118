package store

// FieldType says how a queryable field's text value from q= is converted
// before it is bound as an SQL argument.
type FieldType int

// Field types.
const (
	String FieldType = iota
	Int
	Bool
	Time // stored as unix milliseconds (BIGINT); q= accepts RFC 3339 or epoch ms
)

// Field is one whitelisted, queryable field of a resource: its ZStack JSON
// name and the column that holds it.
type Field struct {
	Name   string
	Column string
	Type   FieldType
}

// Relation lets a query condition reach a related resource, as ZStack's
// `q=vmNics.ip=10.0.0.5`: rows of this resource whose LocalColumn is in
// (SELECT RemoteColumn FROM Target's table WHERE <condition on Target>).
type Relation struct {
	Name         string // JSON name used in q=, e.g. "vmNics"
	Target       string // name of the related Resource in the registry
	LocalColumn  string
	RemoteColumn string
	// ValueField, when set, makes the relation a list of values in the
	// inventory (e.g. PrimaryStorage's attachedClusterUuids): q= naming the
	// relation itself compares this field of Target, as in
	// q=attachedClusterUuids=<clusterUuid>. Empty: only rel.field works.
	ValueField string
}

// Resource describes a queryable table. Only the fields and relations listed
// here can appear in a query: user input never becomes SQL text.
type Resource struct {
	Name      string // e.g. "VmInstance"
	Table     string
	Fields    []Field
	Relations []Relation
	// Filter is an SQL predicate always applied (e.g. hide expunged rows);
	// it is written by ZCloud, never built from input. Empty for none.
	Filter string
	// TagResourceType is the resource type under which tags of this resource
	// are stored (for q=__systemTag__ / __userTag__). Empty: not taggable.
	TagResourceType string
}

// Field looks up a field by JSON name.
func (r *Resource) Field(name string) (Field, bool) {
	for _, f := range r.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Relation looks up a relation by JSON name.
func (r *Resource) Relation(name string) (Relation, bool) {
	for _, rel := range r.Relations {
		if rel.Name == name {
			return rel, true
		}
	}
	return Relation{}, false
}
