package models

import (
	"database/sql/driver"
	"fmt"
	"strconv"
	"time"
)

// Time is a timestamp stored as Unix milliseconds (a BIGINT in every SQL
// dialect) and written to clients as RFC 3339 with milliseconds and zone,
// which every ZStack client parses unambiguously (ZStack's Gson form has no
// zone and the Go SDK reads it as +08:00).
type Time int64

// Now returns the current time.
func Now() Time { return TimeOf(time.Now()) }

// TimeOf converts a time.Time.
func TimeOf(t time.Time) Time { return Time(t.UnixMilli()) }

// Std returns the time as a time.Time in UTC.
func (t Time) Std() time.Time { return time.UnixMilli(int64(t)).UTC() }

// IsZero reports whether the time is unset.
func (t Time) IsZero() bool { return t == 0 }

// MarshalJSON writes RFC 3339, or null when unset.
func (t Time) MarshalJSON() ([]byte, error) {
	if t == 0 {
		return []byte("null"), nil
	}
	return []byte(`"` + t.Std().Format("2006-01-02T15:04:05.000Z07:00") + `"`), nil
}

// UnmarshalJSON reads RFC 3339, epoch milliseconds or null.
func (t *Time) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" || s == `""` {
		*t = 0
		return nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*t = Time(n)
		return nil
	}
	v, err := time.Parse(`"`+time.RFC3339Nano+`"`, s)
	if err != nil {
		return fmt.Errorf("parse time %s: %w", s, err)
	}
	*t = TimeOf(v)
	return nil
}

// Value implements driver.Valuer.
func (t Time) Value() (driver.Value, error) { return int64(t), nil }

// Scan implements sql.Scanner.
func (t *Time) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = 0
	case int64:
		*t = Time(v)
	case []byte:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return fmt.Errorf("scan time %q: %w", v, err)
		}
		*t = Time(n)
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("scan time %q: %w", v, err)
		}
		*t = Time(n)
	default:
		return fmt.Errorf("scan time: unsupported type %T", src)
	}
	return nil
}
