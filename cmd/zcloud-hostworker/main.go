// Command zcloud-hostworker is the host agent: it serves its host's Temporal
// task queue with a driver (sim now, libvirt later). It holds no database
// credentials; everything it knows comes in activity params.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker"
	"github.com/zcloud/zcloud/hostworker/driver"
	"github.com/zcloud/zcloud/hostworker/imagestore"
	"github.com/zcloud/zcloud/hostworker/network"
	"github.com/zcloud/zcloud/hostworker/router"
	"github.com/zcloud/zcloud/hostworker/sim"
)

// faultsEnv holds sim faults when --sim-faults is not given.
const faultsEnv = "ZCLOUD_SIM_FAULTS"

// buildVersion names the build; release builds set it with
// -ldflags "-X main.buildVersion=...".
var buildVersion = "dev"

type flags struct {
	config    string
	hostUUID  string
	temporal  string
	namespace string
	driver    string
	logLevel  string
	simCPU    int
	simMemory string
	simFaults string
	faults    string // failures injected into any driver's operations
	// network: serve flat networking in the agent's network namespace
	network bool
	// libvirt driver options
	libvirtURI, libvirtStorageDir, libvirtImageCache, libvirtDomainType, libvirtGrace string
	// mode imagestore: the agent of an ImageStore backup storage whose
	// UUID is --host-uuid
	mode, bsDir, bsListen, bsURL string
	stateDir                     string // router appliances' state (host mode)
}

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var level slog.LevelVar
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: &level}))
	if err := newCommand(logger, &level).ExecuteContext(ctx); err != nil {
		logger.Error("zcloud-hostworker failed", slog.Any("error", err))
		return 1
	}
	return 0
}

func newCommand(logger *slog.Logger, level *slog.LevelVar) *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:           "zcloud-hostworker",
		Short:         "Serve a host's ZCloud activities on its Temporal task queue",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.config != "" {
				if err := applyConfig(cmd.Flags(), f.config); err != nil {
					return err
				}
			}
			if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			return serve(cmd.Context(), logger, f)
		},
	}
	cmd.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	cmd.AddCommand(newMetadataCommand(logger))
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "file of flag=value lines (keys are the flag names); flags given on the command line win")
	fl.StringVar(&f.hostUUID, "host-uuid", "", "UUID of the host this agent serves (required)")
	fl.StringVar(&f.temporal, "temporal", "127.0.0.1:7233", "Temporal frontend host:port")
	fl.StringVar(&f.namespace, "namespace", "default", "Temporal namespace")
	fl.StringVar(&f.driver, "driver", sim.Name, "host driver: "+strings.Join(hostworker.DriverNames(), ", "))
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.StringVar(&f.stateDir, "state-dir", "/var/lib/zcloud-hostworker", "directory of the agent's state; router appliances keep theirs under <dir>/routers")
	fl.StringVar(&f.mode, "mode", modeHost, "what this agent serves: host (a hypervisor host) or imagestore (an ImageStore backup storage)")
	fl.StringVar(&f.libvirtURI, "libvirt-uri", "", "libvirt: connection URI (default qemu:///system)")
	fl.StringVar(&f.libvirtStorageDir, "libvirt-storage-dir", "", "libvirt: directory under which volumes may live")
	fl.StringVar(&f.libvirtImageCache, "libvirt-image-cache-dir", "", "libvirt: directory of cached images")
	fl.StringVar(&f.libvirtDomainType, "libvirt-domain-type", "", "libvirt: kvm or qemu (default: probed)")
	fl.StringVar(&f.libvirtGrace, "libvirt-grace", "", "libvirt: graceful stop timeout, e.g. 60s")
	fl.StringVar(&f.bsDir, "bs-dir", "", "imagestore: directory holding the images")
	fl.StringVar(&f.bsListen, "bs-listen", "0.0.0.0:7090", "imagestore: HTTP address serving the images")
	fl.StringVar(&f.bsURL, "bs-url", "", "imagestore: URL hosts fetch images from, e.g. http://10.0.0.5:7090")
	fl.BoolVar(&f.network, "network", true, "serve flat networking (bridges, VXLAN, DHCP, security groups) in this agent's network namespace")
	fl.StringVar(&f.faults, "faults", "", `operations that fail, whatever the driver, e.g. "host.CreateVM=fail:boom" (tests and demos)`)
	fl.IntVar(&f.simCPU, "sim-cpu", 0, "sim: CPU count (0 for the default)")
	fl.StringVar(&f.simMemory, "sim-memory", "", `sim: memory in bytes or with a unit, e.g. "64G" (binary)`)
	fl.StringVar(&f.simFaults, "sim-faults", os.Getenv(faultsEnv),
		`sim: faults, e.g. "host.CreateVM=fail:boom,host.StartVM=delay:2s" (default $`+faultsEnv+`)`)
	return cmd
}

// version is the contract version the control plane compares
// (hostapi.AgentVersion) followed by what identifies the build.
func version() string {
	v := hostapi.AgentVersion + " (build " + buildVersion
	if bi, ok := debug.ReadBuildInfo(); ok {
		v += ", " + bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision", "vcs.modified":
				v += ", " + s.Key + "=" + s.Value
			}
		}
	}
	return v + ")"
}

// applyConfig sets every flag named in the file at path that the command
// line left unset. Lines are "flag=value"; blank lines and lines starting
// with # are skipped; an unknown flag is an error.
func applyConfig(fs *pflag.FlagSet, path string) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		fl := fs.Lookup(key)
		switch {
		case !ok:
			return fmt.Errorf("--config %s:%d: want flag=value", path, n)
		case fl == nil || key == "config":
			return fmt.Errorf("--config %s:%d: unknown flag %q", path, n, key)
		case fl.Changed:
			continue
		}
		if err := fs.Set(key, strings.TrimSpace(value)); err != nil {
			return fmt.Errorf("--config %s:%d: %w", path, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	return nil
}

// Modes of the agent.
const (
	modeHost       = "host"
	modeImageStore = "imagestore"
)

// driverOptions turns the driver's flags into its options.
func driverOptions(f flags) map[string]string {
	opts := map[string]string{}
	if f.driver == "libvirt" {
		for k, v := range map[string]string{"uri": f.libvirtURI, "storage-dir": f.libvirtStorageDir,
			"image-cache-dir": f.libvirtImageCache, "domain-type": f.libvirtDomainType, "grace": f.libvirtGrace} {
			if v != "" {
				opts[k] = v
			}
		}
		return opts
	}
	if f.driver != sim.Name {
		return opts
	}
	if f.simCPU != 0 {
		opts[sim.OptCPU] = strconv.Itoa(f.simCPU)
	}
	if f.simMemory != "" {
		opts[sim.OptMemory] = f.simMemory
	}
	if f.simFaults != "" {
		opts[sim.OptFaults] = f.simFaults
	}
	return opts
}

func serve(ctx context.Context, logger *slog.Logger, f flags) error {
	if strings.TrimSpace(f.hostUUID) == "" {
		return errors.New("--host-uuid is empty")
	}
	if f.mode != modeHost && f.mode != modeImageStore {
		return fmt.Errorf("--mode %q: want %s or %s", f.mode, modeHost, modeImageStore)
	}
	var d driver.Driver
	if f.mode == modeHost {
		var err error
		if d, err = hostworker.NewDriver(f.driver, driverOptions(f)); err != nil {
			return err
		}
		d = hostworker.WithRouters(d, hostworker.NewNetAgent(f.hostUUID, router.Config{StateDir: filepath.Join(f.stateDir, "routers")}, logger))
	}
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  f.temporal,
		Namespace: f.namespace,
		Logger:    tlog.NewStructuredLogger(logger),
	})
	if err != nil {
		return fmt.Errorf("connect to temporal at %s: %w", f.temporal, err)
	}
	defer c.Close()

	if f.mode == modeImageStore {
		// The same line as a host agent's: deployments wait for it.
		logger.Info("host agent starting", slog.String("mode", f.mode), slog.String("bs_uuid", f.hostUUID),
			slog.String("task_queue", bsapi.Queue(f.hostUUID)), slog.String("dir", f.bsDir), slog.String("url", f.bsURL))
		return imagestore.Run(ctx, imagestore.Config{BackupStorageUUID: f.hostUUID, Dir: f.bsDir, Listen: f.bsListen,
			AdvertiseURL: f.bsURL, Client: c, Logger: logger})
	}
	logger.Info("host agent starting",
		slog.String("host_uuid", f.hostUUID),
		slog.String("driver", f.driver),
		slog.String("task_queue", hostapi.Queue(f.hostUUID)),
		slog.String("temporal", f.temporal),
		slog.String("namespace", f.namespace))
	agent := hostworker.New(f.hostUUID, d, logger)
	if f.faults != "" {
		_, failures, err := sim.ParseFaults(f.faults)
		if err != nil {
			return fmt.Errorf("--faults: %w", err)
		}
		agent.SetFailures(failures)
	}
	if f.network {
		nh, err := network.NewHost(network.HostOptions{Logger: logger})
		if err != nil {
			return fmt.Errorf("host networking (--network=false turns it off): %w", err)
		}
		defer nh.Close()
		agent.SetFlatNetwork(hostworker.NewFlatNet(f.hostUUID, nh, "", logger))
	}
	if err := agent.Run(ctx, c, hostworker.DefaultWorkerOptions()); err != nil {
		return err
	}
	logger.Info("host agent stopped", slog.String("host_uuid", f.hostUUID))
	return nil
}
