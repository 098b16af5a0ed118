// Command zcloud is the ZCloud control plane: server, worker, dev, migrate
// and admin commands.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/zcloud/zcloud/activities/aliyun"
	"github.com/zcloud/zcloud/activities/aliyun/aliyunsim"
	"github.com/zcloud/zcloud/activities/db"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workers/embedded"
	"github.com/zcloud/zcloud/workers/node"
)

func main() {
	if err := root().Execute(); err != nil {
		os.Exit(1)
	}
}

func logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func root() *cobra.Command {
	cmd := &cobra.Command{Use: "zcloud", Short: "ZCloud IaaS control plane", SilenceUsage: true}
	cmd.AddCommand(serverCmd(), workerCmd(), devCmd(), migrateCmd(), adminCmd())
	return cmd
}

// run starts a node and blocks until SIGINT/SIGTERM.
func run(cfg node.Config, banner func(*node.Node)) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := node.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.Stop()
	if banner != nil {
		banner(n)
	}
	<-ctx.Done()
	return nil
}

func serverCmd() *cobra.Command {
	var cfg node.Config
	cmd := &cobra.Command{Use: "server", Short: "run the API and the control-plane worker against a DB and a Temporal cluster",
		RunE: func(*cobra.Command, []string) error {
			cfg.Worker, cfg.Logger, cfg.Faults = true, logger(), db.NewFaultsFromEnv()
			return run(cfg, nil)
		}}
	flags(cmd, &cfg)
	cmd.Flags().StringVar(&cfg.Listen, "listen", ":8080", "API address")
	cmd.Flags().BoolVar(&cfg.SimFleet, "sim-agents", true, "host simulated host agents in this process")
	return cmd
}

func workerCmd() *cobra.Command {
	var cfg node.Config
	cmd := &cobra.Command{Use: "worker", Short: "run only the control-plane worker",
		RunE: func(*cobra.Command, []string) error {
			cfg.Worker, cfg.Logger, cfg.Faults = true, logger(), db.NewFaultsFromEnv()
			return run(cfg, nil)
		}}
	flags(cmd, &cfg)
	return cmd
}

func flags(cmd *cobra.Command, cfg *node.Config) {
	cmd.Flags().StringVar(&cfg.DB, "db", "sqlite:var/zcloud.db", "database: sqlite:<path> or mysql://user:pw@tcp(host:port)/db")
	cmd.Flags().StringVar(&cfg.Temporal, "temporal", "127.0.0.1:7233", "Temporal frontend host:port")
	cmd.Flags().StringVar(&cfg.Namespace, "namespace", "default", "Temporal namespace")
	cmd.Flags().StringVar(&cfg.TemporalUIURL, "temporal-ui", "", "Temporal Web UI URL for job links")
	cmd.Flags().StringVar(&cfg.AdminPassword, "admin-password", envOr("ZCLOUD_ADMIN_PASSWORD", "password"), "admin password set on first start")
	cmd.Flags().StringVar(&cfg.AgentBinary, "agent-binary", "", "zcloud-hostworker binary deployed to KVM hosts over SSH (empty: KVM hosts can't be added)")
	cmd.Flags().StringVar(&cfg.AgentTemporal, "agent-temporal", "", "Temporal frontend host:port as KVM hosts reach it (default: --temporal)")
	cmd.Flags().StringVar(&cfg.Aliyun.KeyFile, "hybrid-key-file", "var/hybrid.key", "key sealing Alibaba Cloud AccessKey secrets at rest (created 0600 if missing)")
	cmd.Flags().StringVar(&cfg.Aliyun.Endpoint, "aliyun-endpoint", "", "replace every Alibaba Cloud endpoint (e.g. http://127.0.0.1:9090, an aliyunsim)")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func devCmd() *cobra.Command {
	var dir, listen, aliyunAddr string
	var temporalPort, uiPort int
	cmd := &cobra.Command{Use: "dev", Short: "run everything embedded: Temporal, SQLite, API, worker, simulated hosts",
		RunE: func(*cobra.Command, []string) error {
			log := logger()
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			ts, err := embedded.Start(context.Background(), embedded.Options{DBFile: filepath.Join(dir, "temporal.db"),
				FrontendPort: temporalPort, UIPort: uiPort, Logger: log})
			if err != nil {
				return err
			}
			defer func() { _ = ts.Stop() }()
			// A simulated Alibaba Cloud, so that hybrid cloud works without
			// reaching the Internet: AccessKey devKeyID / devKeySecret.
			sim, err := aliyunsim.New(aliyunsim.Options{StateFile: filepath.Join(dir, "aliyunsim.json"),
				Keys: []aliyunsim.AccessKey{{ID: devKeyID, Secret: devKeySecret, AccountID: "1000000000000001"}}})
			if err != nil {
				return err
			}
			if err := sim.Start(aliyunAddr); err != nil {
				return err
			}
			defer func() { _ = sim.Close() }()
			pw := envOr("ZCLOUD_ADMIN_PASSWORD", "password")
			cfg := node.Config{DB: "sqlite:" + filepath.Join(dir, "zcloud.db"), Temporal: ts.FrontendAddr(), Namespace: ts.Namespace(),
				TemporalUIURL: ts.UIURL(), Listen: listen, Worker: true, SimFleet: true, AdminPassword: pw, Logger: log,
				Faults: db.NewFaultsFromEnv(), Aliyun: aliyun.Config{KeyFile: filepath.Join(dir, "hybrid.key"), Endpoint: sim.URL()}}
			return run(cfg, func(n *node.Node) {
				fmt.Printf("\nZCloud is up.\n  REST API:    http://%s/zstack/v1  (ZStack REST contract)\n  Temporal:    %s\n  Temporal UI: %s\n  Login:       account admin, password %q (send its SHA-512 hex)\n  Alibaba:     aliyunsim at %s, AccessKey %s / %s\n  State:       %s\n\n",
					n.Addr, ts.FrontendAddr(), ts.UIURL(), pw, sim.URL(), devKeyID, devKeySecret, dir)
			})
		}}
	cmd.Flags().StringVar(&dir, "dir", "var", "state directory")
	cmd.Flags().StringVar(&listen, "listen", ":8080", "API address")
	cmd.Flags().IntVar(&temporalPort, "temporal-port", 7233, "embedded Temporal frontend port")
	cmd.Flags().IntVar(&uiPort, "ui-port", 8233, "embedded Temporal Web UI port")
	cmd.Flags().StringVar(&aliyunAddr, "aliyunsim", "127.0.0.1:9090", "address of the embedded simulated Alibaba Cloud")
	return cmd
}

// The AccessKey `zcloud dev`'s simulated Alibaba Cloud knows.
const (
	devKeyID     = "LTAIzcloudDevKey01"
	devKeySecret = "zcloud-dev-secret-0000000000000"
)

func migrateCmd() *cobra.Command {
	var dsn string
	cmd := &cobra.Command{Use: "migrate", Short: "apply database migrations and exit",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := store.Open(cmd.Context(), dsn)
			if err != nil {
				return err
			}
			return s.Close()
		}}
	cmd.Flags().StringVar(&dsn, "db", "sqlite:var/zcloud.db", "database")
	return cmd
}

func adminCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "offline administration"}
	var dsn, pw string
	reset := &cobra.Command{Use: "reset-password", Short: "set the admin account's password (offline)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := store.Open(cmd.Context(), dsn)
			if err != nil {
				return err
			}
			defer s.Close()
			if _, err := s.EnsureAdmin(cmd.Context(), "admin", pw); err != nil {
				return err
			}
			if err := s.SetPassword(cmd.Context(), "admin", pw); err != nil {
				return err
			}
			fmt.Println("admin password reset")
			return nil
		}}
	reset.Flags().StringVar(&dsn, "db", "sqlite:var/zcloud.db", "database")
	reset.Flags().StringVar(&pw, "password", "password", "new password")
	cmd.AddCommand(reset)
	return cmd
}
