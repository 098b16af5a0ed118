package main

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/zcloud/zcloud/hostworker/network"
)

// newMetadataCommand is `zcloud-hostworker metadata`: the metadata server of
// one flat L3 (169.254.169.254 in its DHCP namespace), which the agent
// starts like dnsmasq and which outlives the agent.
func newMetadataCommand(logger *slog.Logger) *cobra.Command {
	var cfg network.MetadataServerConfig
	cmd := &cobra.Command{
		Use:   "metadata",
		Short: "Serve guests of a flat L3 their user-data and meta-data (started by the agent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = logger
			return network.RunMetadataServer(cmd.Context(), cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.Dir, "dir", "", "the L3's DHCP state directory (metadata.json, metadata.pid)")
	fl.StringVar(&cfg.Listen, "listen", "", "address to serve on, e.g. 169.254.169.254:80")
	fl.BoolVar(&cfg.Daemon, "daemon", false, "start the server in its own session and return once it listens")
	return cmd
}
