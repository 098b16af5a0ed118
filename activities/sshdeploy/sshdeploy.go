// Package sshdeploy installs the host agent (zcloud-hostworker) on a KVM host
// over SSH, as ZStack's AddKVMHost does with its Ansible playbook: it copies
// the agent binary when the host's differs, writes the agent's
// configuration, and runs the agent under systemd when systemd is the host's
// init, else under a small restart loop. It also removes the agent again
// (DeleteHost). Every step is idempotent: a deployment that changes nothing
// copies nothing and restarts nothing.
//
// The package is a control-plane activity: it runs where the agent binary
// is, never on the host.
package sshdeploy

import (
	"context"
	_ "embed" // the unit file and the supervisor script
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
)

// Activity names.
const (
	ActDeployAgent   = "sshdeploy.DeployAgent"
	ActUndeployAgent = "sshdeploy.UndeployAgent"
)

// Where the agent lives on a host. ConfigPath's keys are the agent's flags.
const (
	BinPath           = "/usr/local/bin/zcloud-hostworker"
	ConfigPath        = "/etc/zcloud/hostworker.conf"
	UnitPath          = "/etc/systemd/system/" + UnitName
	UnitName          = "zcloud-hostworker.service"
	SupervisorPath    = "/usr/local/lib/zcloud/hostworker-supervise"
	PIDFile           = "/run/zcloud-hostworker.pid"
	SupervisorPIDFile = "/run/zcloud-hostworker-supervisor.pid"
	LogPath           = "/var/log/zcloud-hostworker.log"
)

// How the agent runs on a host.
const (
	ModeSystemd    = "systemd"
	ModeSupervised = "supervised"
)

// Defaults of DeployParams.
const (
	DefaultSSHPort  = 22
	DefaultUsername = "root"
	DefaultDriver   = "libvirt"
	// DefaultNamespace is the Temporal namespace when none is given.
	DefaultNamespace = "default"
)

// Config keys the deployment writes itself; DeployParams.Config may not set
// them.
const (
	KeyHostUUID   = "host-uuid"
	KeyTemporal   = "temporal"
	KeyNamespace  = "namespace"
	KeyDriver     = "driver"
	KeyLibvirtURI = "libvirt-uri"
)

// unitFile is the systemd unit; deploy/systemd holds the same file for
// hand installs.
//
//go:embed zcloud-hostworker.service
var unitFile string

// supervisorScript runs the agent where systemd does not.
//
//go:embed supervise.sh
var supervisorScript string

// Target is how the control plane reaches a host over SSH.
type Target struct {
	ManagementIP string `json:"managementIp"`
	// SSHPort defaults to 22 and Username to root; deploying as another
	// user (sudo) is not supported.
	SSHPort  int    `json:"sshPort,omitempty"`
	Username string `json:"username,omitempty"`
	// Password or PrivateKey (PEM, unencrypted) logs in; with both, the
	// key is tried first.
	Password   string `json:"password,omitempty"`
	PrivateKey string `json:"privateKey,omitempty"`
	// HostKey is the host key's SHA256 fingerprint ("SHA256:..."); when
	// set, another key fails the login. Empty accepts any key, and the
	// result reports the one seen so that the caller can pin it.
	HostKey string `json:"hostKey,omitempty"`
}

// DeployParams asks for the agent of HostUUID on the host at Target.
type DeployParams struct {
	Target
	HostUUID string `json:"hostUuid"`
	// TemporalAddress (host:port) and TemporalNamespace are the Temporal
	// frontend as the host must dial it.
	TemporalAddress   string `json:"temporalAddress"`
	TemporalNamespace string `json:"temporalNamespace,omitempty"`
	// Driver is the agent's driver, DefaultDriver when empty.
	Driver string `json:"driver,omitempty"`
	// LibvirtURI is written as the libvirt-uri key when set.
	LibvirtURI string `json:"libvirtUri,omitempty"`
	// Config holds more agent flags (flag name → value).
	Config map[string]string `json:"config,omitempty"`
	// AgentBinary is the agent binary on the control plane; empty uses the
	// one the Activities were made with.
	AgentBinary string `json:"agentBinary,omitempty"`
}

// DeployResult is what a deployment did and found.
type DeployResult struct {
	HostUUID string `json:"hostUuid"`
	Mode     string `json:"mode"`
	// BinaryCopied is false when the host already had the same binary.
	BinaryCopied bool `json:"binaryCopied"`
	// ConfigChanged is true when the configuration, unit or supervisor
	// script was (re)written.
	ConfigChanged bool `json:"configChanged"`
	// Restarted is true when the agent was (re)started; a deployment that
	// found the same agent running leaves it alone.
	Restarted bool `json:"restarted"`
	// PID is the agent's process on the host.
	PID int `json:"pid"`
	// AgentVersion is what `zcloud-hostworker --version` prints on the host.
	AgentVersion string `json:"agentVersion"`
	BinarySHA256 string `json:"binarySha256"`
	// HostKey is the SHA256 fingerprint of the host key the host presented.
	HostKey string `json:"hostKey"`
}

// UndeployParams asks to stop and remove the agent on the host at Target.
type UndeployParams struct {
	Target
	HostUUID string `json:"hostUuid"`
}

// UndeployResult is what removing the agent found.
type UndeployResult struct {
	// Stopped is true when an agent was running.
	Stopped bool `json:"stopped"`
}

// Activities deploys agents from one control-plane node.
type Activities struct {
	agentBinary string
	logger      *slog.Logger
}

// New returns the activities; agentBinary is the agent binary deployed
// when DeployParams names none. A nil logger discards.
func New(agentBinary string, logger *slog.Logger) *Activities {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Activities{agentBinary: agentBinary, logger: logger}
}

// Register registers the activities under their names.
func (a *Activities) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(a.DeployAgent, activity.RegisterOptions{Name: ActDeployAgent})
	r.RegisterActivityWithOptions(a.UndeployAgent, activity.RegisterOptions{Name: ActUndeployAgent})
}

// DeployAgent is ActDeployAgent: Deploy with its errors turned into
// ApplicationErrors (see appError). It heartbeats while it runs.
func (a *Activities) DeployAgent(ctx context.Context, p DeployParams) (DeployResult, error) {
	defer keepAlive(ctx)()
	res, err := a.Deploy(ctx, p)
	return res, appError(err)
}

// UndeployAgent is ActUndeployAgent: Undeploy with its errors turned into
// ApplicationErrors.
func (a *Activities) UndeployAgent(ctx context.Context, p UndeployParams) (UndeployResult, error) {
	defer keepAlive(ctx)()
	res, err := a.Undeploy(ctx, p)
	return res, appError(err)
}

// appError gives err the shape the API maps back: an ApplicationError of
// type activities.ErrType carrying the models.Error. A wrong password or
// bad params are not retried; an unreachable host is, within the caller's
// retry policy; context errors pass through.
func appError(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var me *models.Error
	if !errors.As(err, &me) || me.Kind == models.KindInternal {
		return err
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), activities.ErrType, temporal.ApplicationErrorOptions{
		NonRetryable: me.Kind != models.KindUnavailable,
		Details:      []any{*me},
	})
}

// heartbeatEvery is how often a running deployment heartbeats.
const heartbeatEvery = 5 * time.Second

// keepAlive heartbeats until stop is called; outside an activity it does
// nothing.
func keepAlive(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
