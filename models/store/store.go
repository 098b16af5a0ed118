// Package store is ZCloud's database access: one portable schema applied by
// numbered, embedded migrations, on SQLite (default) or MySQL/MariaDB.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/go-sql-driver/mysql" // MySQL/MariaDB driver
	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // SQLite driver

	"github.com/zcloud/zcloud/models"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is the database. It is safe for concurrent use.
type Store struct {
	db      *sqlx.DB
	dialect Dialect
	cols    sync.Map // reflect.Type -> []string, column names of an entity
	res     Registry
}

// Open connects to the database named by dsn:
//
//	sqlite:<path>        a SQLite file (created if missing)
//	sqlite::memory:      a private in-memory SQLite database (tests)
//	mysql://<go-sql-driver DSN>, e.g. mysql://zcloud:pw@tcp(127.0.0.1:3306)/zcloud
//
// and applies pending migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	var (
		db  *sqlx.DB
		d   Dialect
		err error
	)
	switch {
	case strings.HasPrefix(dsn, "mysql://"):
		d = MySQL
		db, err = sqlx.Open("mysql", strings.TrimPrefix(dsn, "mysql://"))
		if err == nil {
			db.SetMaxOpenConns(64)
			db.SetMaxIdleConns(64)
			db.SetConnMaxLifetime(time.Hour)
		}
	case strings.HasPrefix(dsn, "sqlite:"):
		d = SQLite
		db, err = sqlx.Open("sqlite", sqliteDSN(strings.TrimPrefix(dsn, "sqlite:")))
		if err == nil {
			// SQLite has one writer at a time; with several connections the
			// losers sleep in SQLite's busy handler (1, 2, 5, 10 ... 100 ms),
			// which dominated latency under load. One connection queues them
			// in Go instead, and every statement here is sub-millisecond.
			// Nothing may run a statement on s.db while holding a transaction.
			db.SetMaxOpenConns(1)
			db.SetMaxIdleConns(1)
		}
	default:
		return nil, fmt.Errorf("open store: unknown database %q (want sqlite:<path> or mysql://<dsn>)", dsn)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{db: db, dialect: d, res: Resources()}
	if err := s.res.Check(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: query whitelist: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func sqliteDSN(path string) string {
	pragmas := "_pragma=busy_timeout(20000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	if path == ":memory:" {
		// A named shared-cache memory database, private to this Store.
		return "file:mem" + models.NewUUID() + "?mode=memory&cache=shared&" + pragmas
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + pragmas
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Dialect returns the store's SQL dialect.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB exposes the handle for tests and tools.
func (s *Store) DB() *sqlx.DB { return s.db }

// migrate applies the embedded migrations not yet recorded, in order.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_date BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(files)
	for _, f := range files {
		base := strings.TrimPrefix(f, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migrate: bad migration name %s", base)
		}
		var n int
		if err := s.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, v); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := migrationFS.ReadFile(f)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		// MySQL commits DDL implicitly, so statements run one by one; a
		// half-applied migration is not recorded and is retried whole, which
		// every migration must tolerate on MySQL by being re-runnable after
		// manual cleanup. On SQLite the whole file is one transaction.
		err = s.Tx(ctx, func(tx *sqlx.Tx) error {
			for _, stmt := range splitSQL(string(body)) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w", base, err)
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_date) VALUES (?, ?)`, v, models.Now())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

func splitSQL(body string) []string {
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		lines = append(lines, l)
	}
	var out []string
	for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";") {
		if t := strings.TrimSpace(stmt); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// Tx runs fn in a transaction, retrying it when the database reports a lock
// conflict (SQLite busy, MySQL deadlock). fn must be safe to re-run.
func (s *Store) Tx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		err = s.tx(ctx, fn)
		if err == nil || !isRetryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
	return err
}

func (s *Store) tx(ctx context.Context, fn func(tx *sqlx.Tx) error) (err error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func isRetryable(err error) bool {
	s := err.Error()
	return strings.Contains(s, "SQLITE_BUSY") || strings.Contains(s, "database is locked") ||
		strings.Contains(s, "Deadlock found") || strings.Contains(s, "Error 1213") || strings.Contains(s, "Error 1205")
}

// columns returns the db-tagged column names of an entity struct, including
// those of embedded structs, in field order.
func (s *Store) columns(t reflect.Type) []string {
	if c, ok := s.cols.Load(t); ok {
		return c.([]string)
	}
	var cols []string
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			if tag := f.Tag.Get("db"); tag != "" && tag != "-" {
				cols = append(cols, tag)
			}
		}
	}
	walk(t)
	s.cols.Store(t, cols)
	return cols
}

// insert writes an entity struct (pointer or value) into table.
func (s *Store) insert(ctx context.Context, ex sqlx.ExtContext, table string, v any) error {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	cols := s.columns(t)
	q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (:" + strings.Join(cols, ", :") + ")"
	_, err := sqlx.NamedExecContext(ctx, ex, q, v)
	if err != nil {
		if isDuplicateKey(err) {
			return models.Conflict("duplicate %s: %v", table, err)
		}
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return nil
}

// get reads one row by uuid into dst.
func get(ctx context.Context, q sqlx.QueryerContext, dst any, table, uuid string) error {
	err := sqlx.GetContext(ctx, q, dst, "SELECT * FROM "+table+" WHERE uuid = ?", uuid)
	if errors.Is(err, sql.ErrNoRows) {
		return models.NotFound("cannot find the resource[uuid:%s] in %s", uuid, table)
	}
	if err != nil {
		return fmt.Errorf("get %s %s: %w", table, uuid, err)
	}
	return nil
}

// Querier is what read helpers need: the DB or a transaction.
type Querier interface {
	sqlx.QueryerContext
	sqlx.ExecerContext
}
