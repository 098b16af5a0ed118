package models

import (
	"database/sql/driver"
	"fmt"
)

// Ref is an optional string, usually the UUID of another resource. It is
// stored as NULL when empty, so that `q=hostUuid is null` means what a ZStack
// user expects, and it is left out of JSON when empty, as ZStack's Gson does
// with nulls.
type Ref string

// Value implements driver.Valuer.
func (r Ref) Value() (driver.Value, error) {
	if r == "" {
		return nil, nil
	}
	return string(r), nil
}

// Scan implements sql.Scanner.
func (r *Ref) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*r = ""
	case string:
		*r = Ref(v)
	case []byte:
		*r = Ref(v)
	default:
		return fmt.Errorf("scan ref: unsupported type %T", src)
	}
	return nil
}

// String returns the value.
func (r Ref) String() string { return string(r) }
