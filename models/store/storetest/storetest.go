// Package storetest gives tests a private database on the test MariaDB.
package storetest

import (
	"database/sql"
	"os"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql" // MySQL/MariaDB driver

	"github.com/zcloud/zcloud/models"
)

// MySQLDSN creates a fresh database on the server named by
// ZCLOUD_TEST_MYSQL_DSN (make test starts a private MariaDB and sets it),
// drops it when the test ends, and returns a store DSN for it. It returns ""
// when no server is configured, and fails the test instead when
// ZCLOUD_TEST_REQUIRE_MYSQL is set (CI).
func MySQLDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("ZCLOUD_TEST_MYSQL_DSN")
	if dsn == "" {
		if os.Getenv("ZCLOUD_TEST_REQUIRE_MYSQL") != "" {
			t.Fatal("ZCLOUD_TEST_REQUIRE_MYSQL is set but ZCLOUD_TEST_MYSQL_DSN is empty")
		}
		return ""
	}
	name := "zcloud_t_" + models.NewUUID()[:12]
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE " + name)
		admin.Close()
	})
	slash := strings.Index(dsn, "/")
	rest := ""
	if q := strings.Index(dsn, "?"); q >= 0 {
		rest = dsn[q:]
	}
	return "mysql://" + dsn[:slash] + "/" + name + rest
}
