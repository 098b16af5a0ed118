// Command aliyunsim serves the fake Alibaba Cloud endpoint (ECS, VPC, VPN, Express Connect,
// STS, OSS) of package aliyunsim on one address, for `make dev` and manual tests.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/zcloud/zcloud/activities/aliyun/aliyunsim"
)

func main() {
	if err := root().Execute(); err != nil {
		os.Exit(1)
	}
}

func root() *cobra.Command {
	var (
		listen, stateFile, keys string
		throttle                float64
		latency, delay          time.Duration
		quota                   int
		verbose                 bool
	)
	cmd := &cobra.Command{
		Use:          "aliyunsim",
		Short:        "Fake Alibaba Cloud endpoint (ECS, VPC, VPN, Express Connect, STS, OSS) for tests and dev",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			ks, err := parseKeys(keys)
			if err != nil {
				return err
			}
			sim, err := aliyunsim.New(aliyunsim.Options{Keys: ks, StateFile: stateFile, TransitionDelay: delay,
				InstanceQuota: quota, Logger: log})
			if err != nil {
				return err
			}
			sim.SetThrottleRate(throttle)
			sim.SetLatency("", latency)
			if err := sim.Start(listen); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "aliyunsim on %s (classic SDK Domain %s)\n", sim.URL(), sim.Endpoint())
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			return sim.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8790", "address to listen on (host:port)")
	f.StringVar(&stateFile, "state-file", "", "JSON file holding the state across restarts (empty: memory only)")
	f.StringVar(&keys, "keys", "", "accepted AccessKeys as id:secret:accountId, comma-separated")
	f.Float64Var(&throttle, "throttle", 0, "probability (0..1) that any call fails with Throttling")
	f.DurationVar(&latency, "latency", 0, "added latency per call")
	f.DurationVar(&delay, "transition-delay", aliyunsim.DefaultTransitionDelay, "duration of each asynchronous state step")
	f.IntVar(&quota, "instance-quota", aliyunsim.DefaultInstanceQuota, "maximum instances per account and region")
	f.BoolVar(&verbose, "verbose", false, "log every request")
	return cmd
}

func parseKeys(s string) ([]aliyunsim.AccessKey, error) {
	var out []aliyunsim.AccessKey
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		parts := strings.Split(k, ":")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return nil, fmt.Errorf("bad --keys entry %q: want id:secret:accountId", k)
		}
		out = append(out, aliyunsim.AccessKey{ID: parts[0], Secret: parts[1], AccountID: parts[2]})
	}
	return out, nil
}
