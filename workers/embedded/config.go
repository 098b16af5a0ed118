package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/resolver"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	clusterName = "active"
	// namespaceRetention is how long closed workflow executions stay
	// describable. ZStack keeps finished jobs for 3 h; the job API needs their
	// results for at least that long.
	namespaceRetention = 24 * time.Hour
	dataStoreName      = "sqlite-default"
)

// serverConfig is the static configuration of one server instance.
type serverConfig struct {
	server       *config.Config
	frontendAddr string
	dbFile       string // absolute path; "" for in-memory
}

// buildConfig assembles the server configuration for o, with free ports for
// every internal listener.
func buildConfig(o Options) (*serverConfig, error) {
	// The history, matching and worker services and all membership (ringpop)
	// listeners bind to internalIP, which every service must be able to reach:
	// loopback when the frontend listens on a wildcard address, else o.Host.
	internalIP := dialHost(o.Host)

	frontendPort := o.FrontendPort
	if frontendPort != 0 {
		// Fail before the server is half built, which leaks its listeners.
		if err := checkPortFree(o.Host, frontendPort); err != nil {
			return nil, fmt.Errorf("frontend port: %w", err)
		}
	}
	// Frontend HTTP and membership, and gRPC plus membership for the others.
	n := 8
	if frontendPort == 0 {
		n++
	}
	ports, err := freePorts(internalIP, n, o.FrontendPort, o.UIPort)
	if err != nil {
		return nil, err
	}
	next := func() int {
		p := ports[0]
		ports = ports[1:]
		return p
	}
	if frontendPort == 0 {
		frontendPort = next()
	}
	frontendAddr := hostPort(dialHost(o.Host), frontendPort)
	service := func(bindIP string, grpcPort int) config.Service {
		return config.Service{RPC: config.RPC{
			GRPCPort:       grpcPort,
			MembershipPort: next(),
			BindOnIP:       bindIP,
		}}
	}

	sqlCfg, err := sqlConfig(o.DBFile)
	if err != nil {
		return nil, err
	}

	cfg := &config.Config{}
	cfg.Global.Membership = config.Membership{
		MaxJoinDuration:  30 * time.Second,
		BroadcastAddress: internalIP,
	}
	cfg.Persistence = config.Persistence{
		DefaultStore:     dataStoreName,
		VisibilityStore:  dataStoreName,
		NumHistoryShards: 1,
		DataStores:       map[string]config.DataStore{dataStoreName: {SQL: sqlCfg}},
	}
	cfg.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontendAddr,
			},
		},
	}
	cfg.DCRedirectionPolicy.Policy = "noop"
	frontend := service(o.Host, frontendPort)
	// The HTTP API is unused, but without it the server warns at every start
	// that Nexus endpoints are unavailable.
	frontend.RPC.HTTPPort = next()
	cfg.Services = map[string]config.Service{
		"frontend": frontend,
		"history":  service(internalIP, next()),
		"matching": service(internalIP, next()),
		"worker":   service(internalIP, next()),
	}
	cfg.Archival.History.State = "disabled"
	cfg.Archival.Visibility.State = "disabled"
	cfg.NamespaceDefaults.Archival.History.State = "disabled"
	cfg.NamespaceDefaults.Archival.Visibility.State = "disabled"
	// The server's internal worker service dials the frontend through this.
	cfg.PublicClient.HostPort = frontendAddr
	sc := &serverConfig{server: cfg, frontendAddr: frontendAddr}
	if o.DBFile != "" {
		sc.dbFile = sqlCfg.DatabaseName
	}
	return sc, nil
}

// sqlConfig returns the sqlite plugin's configuration: a file database when
// dbFile is set, else a private in-memory database.
func sqlConfig(dbFile string) (*config.SQL, error) {
	if dbFile == "" {
		// Shared cache lets the server's many connections see one database;
		// the random name keeps concurrent servers in one process apart.
		return &config.SQL{
			PluginName:        sqliteplugin.PluginName,
			DatabaseName:      "zcloud-" + strconv.FormatUint(rand.Uint64(), 36),
			ConnectAttributes: map[string]string{"mode": "memory", "cache": "shared"},
		}, nil
	}
	abs, err := filepath.Abs(dbFile)
	if err != nil {
		return nil, fmt.Errorf("resolve db file %q: %w", dbFile, err)
	}
	// The plugin builds the DSN as "file:<name>?<attributes>" without escaping.
	if strings.ContainsAny(abs, "?#") {
		return nil, fmt.Errorf("db file %q: path must not contain '?' or '#'", abs)
	}
	return &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: abs,
		// The plugin passes every attribute that is not a URI parameter (mode,
		// cache, ...) on as a pragma under its raw name. A leading underscore,
		// as the CLI's dev server adds, makes SQLite ignore it silently. WAL is
		// about 3.5x faster under concurrent load.
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "normal",
		},
	}, nil
}

// preparePersistence creates the schema in a new database file, and the
// namespace if it does not exist yet; the frontend loads namespaces into its
// registry at start-up, so it must exist before. An in-memory database gets
// its schema from the plugin on first connection, here in CreateNamespaces;
// it outlives that connection because the plugin's connection pool never
// closes a database (the same holds for files: a server stopped in this
// process leaves its file open until the process exits).
func preparePersistence(ctx context.Context, o Options, cfg *serverConfig) error {
	sqlCfg := cfg.server.Persistence.DataStores[dataStoreName].SQL
	if o.DBFile != "" {
		if err := setupSchemaIfNew(sqlCfg); err != nil {
			return err
		}
		if err := pruneMembership(ctx, sqlCfg); err != nil {
			return err
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, o.Namespace, false, nil)
	if err != nil {
		return fmt.Errorf("namespace %q config: %w", o.Namespace, err)
	}
	ns.Detail.Config.Retention = durationpb.New(namespaceRetention)
	// A no-op for a namespace that exists, so retention set here applies only
	// to new database files.
	if err := sqliteschema.CreateNamespaces(sqlCfg, ns); err != nil {
		return fmt.Errorf("create namespace %q: %w", o.Namespace, err)
	}
	return nil
}

// pruneMembership deletes the cluster membership records of earlier runs.
// Each service bootstraps its ringpop ring from the hosts that heartbeated in
// the last 20 s; after a quick restart those include the previous run's dead
// listeners, and a service that finds no live peer among them waits out
// MaxJoinDuration (30 s) with its ring empty ("Not enough hosts to serve the
// request"). The file lock guarantees that no other server uses this file.
func pruneMembership(ctx context.Context, sqlCfg *config.SQL) error {
	db, err := sql.NewSQLDB(sqlplugin.DbKindUnknown, sqlCfg, resolver.NewNoopResolver(), log.NewNoopLogger(), metrics.NoopMetricsHandler)
	if err != nil {
		return fmt.Errorf("open db to prune cluster membership: %w", err)
	}
	defer func() { _ = db.Close() }()
	// Records expire after 48 h; everything older than a century from now
	// is every record.
	filter := &sqlplugin.PruneClusterMembershipFilter{PruneRecordsBefore: time.Now().AddDate(100, 0, 0)}
	if _, err := db.PruneClusterMembership(ctx, filter); err != nil {
		return fmt.Errorf("prune cluster membership: %w", err)
	}
	return nil
}

// setupSchemaIfNew creates Temporal's tables when the database file does not
// exist or is empty. A file whose setup failed is removed, so that the next
// start tries again.
func setupSchemaIfNew(sqlCfg *config.SQL) error {
	path := sqlCfg.DatabaseName
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("stat db file: %w", err)
	case fi.Size() > 0:
		return nil
	}
	if err := sqliteschema.SetupSchema(sqlCfg); err != nil {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(path + suffix)
		}
		return fmt.Errorf("set up schema in %s: %w", path, err)
	}
	return nil
}

// freePorts returns n distinct TCP ports that are free on ip, none of them
// in exclude (the ports the caller chose, which are not bound yet). Each port
// is left in TIME_WAIT by closing an accepted connection from the server side,
// so the kernel does not hand it out again for bind(:0) for a minute, while
// the server can still bind it (Go listeners set SO_REUSEADDR). That keeps
// servers started concurrently in one process from picking the same ports.
func freePorts(ip string, n int, exclude ...int) ([]int, error) {
	listeners := make([]*net.TCPListener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for len(ports) < n {
		l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.ParseIP(ip)})
		if err != nil {
			return nil, fmt.Errorf("find free port on %s: %w", ip, err)
		}
		listeners = append(listeners, l) // held open, so that ports are distinct
		addr := l.Addr().(*net.TCPAddr)
		if slices.Contains(exclude, addr.Port) {
			continue
		}
		if err := parkInTimeWait(l, addr); err != nil {
			return nil, fmt.Errorf("find free port on %s: %w", ip, err)
		}
		ports = append(ports, addr.Port)
	}
	return ports, nil
}

// checkPortFree fails if host:port cannot be listened on.
func checkPortFree(host string, port int) error {
	l, err := net.Listen("tcp", hostPort(host, port))
	if err != nil {
		return err
	}
	return l.Close()
}

// parkInTimeWait connects to l and closes the accepted end first, which puts
// l's port into TIME_WAIT.
func parkInTimeWait(l *net.TCPListener, addr *net.TCPAddr) error {
	c, err := net.DialTCP("tcp", nil, addr)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	a, err := l.Accept()
	if err != nil {
		return err
	}
	return a.Close()
}
