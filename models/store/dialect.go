package store

import (
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// Dialect is the SQL dialect of the store's database. The few places that
// differ between SQLite and MySQL/MariaDB look at it; nothing else does.
type Dialect int

// Supported dialects.
const (
	SQLite Dialect = iota
	MySQL
)

func (d Dialect) String() string {
	if d == MySQL {
		return "mysql"
	}
	return "sqlite"
}

// isDuplicateKey reports whether err is a primary-key or unique-index
// violation, which allocation code treats as "someone else won".
func isDuplicateKey(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "PRIMARY KEY constraint failed") ||
		strings.Contains(s, "constraint failed: UNIQUE")
}
