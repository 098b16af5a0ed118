package sshdeploy

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// Time limits on the host.
const (
	// startTimeout bounds an agent's start until it logs that it reached
	// Temporal.
	startTimeout = 60 * time.Second
	// stopTimeout is how long a stopping agent may take before SIGKILL;
	// the agent gives running operations 10 s to finish.
	stopTimeout = 20 * time.Second
	pollEvery   = 100 * time.Millisecond
)

// Messages of the agent's JSON log that tell whether it started.
const (
	logStarted = "host agent starting"
	logFailed  = "zcloud-hostworker failed"
)

var configKey = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// errPollTimeout is a poll that ran out of time while its caller's context
// is still fine.
var errPollTimeout = errors.New("timed out")

// Deploy makes the host run the agent of p.HostUUID with p's configuration
// and the agent binary, changing only what differs. Errors are models
// errors: Invalid (bad params, an agent binary of another contract
// version, a non-root login), Auth (login refused, host key mismatch),
// Unavailable (host unreachable, agent unable to start, e.g. because it
// cannot reach Temporal); anything else is an internal failure worth a
// retry.
func (a *Activities) Deploy(ctx context.Context, p DeployParams) (DeployResult, error) {
	conf, err := configFile(p)
	if err != nil {
		return DeployResult{}, err
	}
	binary := p.AgentBinary
	if binary == "" {
		binary = a.agentBinary
	}
	if binary == "" {
		return DeployResult{}, models.Invalid("no agent binary to deploy")
	}
	sum, err := fileSHA256(binary)
	if err != nil {
		return DeployResult{}, fmt.Errorf("agent binary: %w", err)
	}
	r, err := dial(ctx, p.Target)
	if err != nil {
		return DeployResult{}, err
	}
	defer r.close()
	log := a.logger.With(slog.String("host_uuid", p.HostUUID), slog.String("ssh_addr", r.addr))
	if err := r.checkRoot(ctx); err != nil {
		return DeployResult{}, err
	}
	res := DeployResult{HostUUID: p.HostUUID, HostKey: r.hostKey, BinarySHA256: sum}

	remoteSum, err := r.sha256(ctx, BinPath)
	if err != nil {
		return res, err
	}
	if remoteSum != sum {
		if err := r.copyBinary(ctx, binary, sum); err != nil {
			return res, err
		}
		res.BinaryCopied = true
	}
	if res.AgentVersion, err = r.agentVersion(ctx); err != nil {
		return res, err
	}
	if res.ConfigChanged, err = r.ensureFile(ctx, ConfigPath, 0o600, conf); err != nil {
		return res, err
	}
	systemd, err := r.hasSystemd(ctx)
	if err != nil {
		return res, err
	}
	if systemd {
		err = r.runSystemd(ctx, &res)
	} else {
		err = r.runSupervised(ctx, &res)
	}
	if err != nil {
		return res, err
	}
	log.Info("host agent deployed", slog.String("mode", res.Mode), slog.Bool("binary_copied", res.BinaryCopied),
		slog.Bool("config_changed", res.ConfigChanged), slog.Bool("restarted", res.Restarted), slog.Int("pid", res.PID),
		slog.String("agent_version", res.AgentVersion))
	return res, nil
}

// Undeploy stops the agent and removes its binary, configuration, unit and
// supervisor (the log stays). A host without an agent succeeds. A host whose
// configuration names another host UUID is a Conflict: its agent is not
// ours to remove.
func (a *Activities) Undeploy(ctx context.Context, p UndeployParams) (UndeployResult, error) {
	r, err := dial(ctx, p.Target)
	if err != nil {
		return UndeployResult{}, err
	}
	defer r.close()
	if err := r.checkRoot(ctx); err != nil {
		return UndeployResult{}, err
	}
	if err := r.checkOwner(p.HostUUID); err != nil {
		return UndeployResult{}, err
	}
	var res UndeployResult
	systemd, err := r.hasSystemd(ctx)
	if err != nil {
		return res, err
	}
	if systemd {
		if _, ok, err := r.readFile(UnitPath); err != nil {
			return res, err
		} else if ok {
			active, err := r.systemdActive(ctx)
			if err != nil {
				return res, err
			}
			res.Stopped = active
			if _, err := r.run(ctx, "systemctl disable --now "+UnitName+" && rm -f "+quote(UnitPath)+" && systemctl daemon-reload"); err != nil {
				return res, err
			}
		}
	}
	stopped, err := r.stopSupervised(ctx)
	if err != nil {
		return res, err
	}
	res.Stopped = res.Stopped || stopped
	rm := []string{BinPath, ConfigPath, SupervisorPath, PIDFile, SupervisorPIDFile, UnitPath}
	cmd := "rm -f"
	for _, f := range rm {
		cmd += " " + quote(f)
	}
	cmd += "; rmdir " + quote(path.Dir(ConfigPath)) + " " + quote(path.Dir(SupervisorPath)) + " 2>/dev/null; true"
	if _, err := r.run(ctx, cmd); err != nil {
		return res, err
	}
	a.logger.Info("host agent removed", slog.String("host_uuid", p.HostUUID), slog.String("ssh_addr", r.addr),
		slog.Bool("stopped", res.Stopped))
	return res, nil
}

// configFile renders the agent's configuration: one flag=value a line.
func configFile(p DeployParams) (string, error) {
	if p.HostUUID == "" {
		return "", models.Invalid("host uuid is empty")
	}
	if p.TemporalAddress == "" {
		return "", models.Invalid("temporal address is empty")
	}
	kv := [][2]string{
		{KeyHostUUID, p.HostUUID},
		{KeyTemporal, p.TemporalAddress},
		{KeyNamespace, cmp.Or(p.TemporalNamespace, DefaultNamespace)},
		{KeyDriver, cmp.Or(p.Driver, DefaultDriver)},
	}
	if p.LibvirtURI != "" {
		kv = append(kv, [2]string{KeyLibvirtURI, p.LibvirtURI})
	}
	managed := map[string]bool{}
	for _, e := range kv {
		managed[e[0]] = true
	}
	for _, k := range slices.Sorted(maps.Keys(p.Config)) {
		switch {
		case managed[k], k == "config":
			return "", models.Invalid("config key %q is set by the deployment", k)
		case !configKey.MatchString(k):
			return "", models.Invalid("config key %q is not a flag name", k)
		}
		kv = append(kv, [2]string{k, p.Config[k]})
	}
	var b strings.Builder
	b.WriteString("# zcloud-hostworker configuration, written by ZCloud: keys are the agent's flags.\n")
	for _, e := range kv {
		if strings.ContainsAny(e[1], "\r\n") {
			return "", models.Invalid("config value of %q holds a line break", e[0])
		}
		b.WriteString(e[0] + "=" + e[1] + "\n")
	}
	return b.String(), nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkRoot refuses a login that is not root: installing the agent needs
// root and sudo is not supported.
func (r *remote) checkRoot(ctx context.Context) error {
	out, err := r.run(ctx, "id -u")
	if err != nil {
		return err
	}
	if uid := strings.TrimSpace(out); uid != "0" {
		return withCause(models.Invalid("login on %s has uid %s, not root", r.addr, uid),
			fmt.Errorf("deploying through sudo: %w", errors.ErrUnsupported))
	}
	return nil
}

// checkOwner fails when the host's configuration belongs to another host
// UUID.
func (r *remote) checkOwner(hostUUID string) error {
	b, ok, err := r.readFile(ConfigPath)
	if err != nil || !ok || hostUUID == "" {
		return err
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		if strings.TrimSpace(k) == KeyHostUUID && strings.TrimSpace(v) != hostUUID {
			return models.Conflict("%s runs the agent of host %s, not %s", r.addr, strings.TrimSpace(v), hostUUID)
		}
	}
	return nil
}

// copyBinary uploads the agent binary and checks what arrived.
func (r *remote) copyBinary(ctx context.Context, binary, sum string) error {
	f, err := os.Open(binary)
	if err != nil {
		return fmt.Errorf("agent binary: %w", err)
	}
	defer f.Close()
	progress := func(n int64) {
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, n)
		}
	}
	if err := r.writeFile(ctx, BinPath, 0o755, f, progress); err != nil {
		return err
	}
	got, err := r.sha256(ctx, BinPath)
	if err != nil {
		return err
	}
	if got != sum {
		return fmt.Errorf("agent binary on %s has sha256 %s after the copy, want %s", r.addr, got, sum)
	}
	return nil
}

// agentVersion runs the installed binary's --version and checks that it
// speaks this control plane's contract.
func (r *remote) agentVersion(ctx context.Context) (string, error) {
	out, err := r.run(ctx, quote(BinPath)+" --version")
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(out)
	if f := strings.Fields(v); len(f) < 2 || f[1] != hostapi.AgentVersion {
		return v, models.Invalid("agent on %s reports %q, want contract version %s", r.addr, v, hostapi.AgentVersion)
	}
	return v, nil
}

func (r *remote) hasSystemd(ctx context.Context) (bool, error) {
	out, err := r.run(ctx, "if [ -d /run/systemd/system ]; then echo yes; fi")
	return strings.TrimSpace(out) == "yes", err
}

func (r *remote) systemdActive(ctx context.Context) (bool, error) {
	out, err := r.run(ctx, "systemctl is-active "+UnitName+" || true")
	return strings.TrimSpace(out) == "active", err
}

// runSystemd installs the unit and (re)starts it when anything changed or
// it is not active.
func (r *remote) runSystemd(ctx context.Context, res *DeployResult) error {
	res.Mode = ModeSystemd
	unitChanged, err := r.ensureFile(ctx, UnitPath, 0o644, unitFile)
	if err != nil {
		return err
	}
	res.ConfigChanged = res.ConfigChanged || unitChanged
	// An earlier deployment may have run the agent without systemd.
	if _, err := r.stopSupervised(ctx); err != nil {
		return err
	}
	if unitChanged {
		if _, err := r.run(ctx, "systemctl daemon-reload"); err != nil {
			return err
		}
	}
	if _, err := r.run(ctx, "systemctl enable --quiet "+UnitName); err != nil {
		return err
	}
	mainPID := func() (int, error) {
		out, err := r.run(ctx, "systemctl show --property MainPID --value "+UnitName)
		if err != nil {
			return 0, err
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(out))
		return pid, nil
	}
	active, err := r.systemdActive(ctx)
	if err != nil {
		return err
	}
	if active && !res.BinaryCopied && !res.ConfigChanged {
		res.PID, err = mainPID()
		return err
	}
	offset, err := r.logSize(ctx)
	if err != nil {
		return err
	}
	if _, err := r.run(ctx, "systemctl restart "+UnitName); err != nil {
		return err
	}
	res.Restarted = true
	res.PID, err = r.waitStarted(ctx, offset, mainPID)
	return err
}

// runSupervised installs the supervisor script and (re)starts it when
// anything changed or the agent is not running.
func (r *remote) runSupervised(ctx context.Context, res *DeployResult) error {
	res.Mode = ModeSupervised
	scriptChanged, err := r.ensureFile(ctx, SupervisorPath, 0o755, supervisorScript)
	if err != nil {
		return err
	}
	res.ConfigChanged = res.ConfigChanged || scriptChanged
	agentPID := func() (int, error) {
		pid, err := r.readPID(PIDFile)
		if err != nil {
			return 0, err
		}
		ok, err := r.running(ctx, pid, BinPath)
		if err != nil || !ok {
			return 0, err
		}
		return pid, nil
	}
	if !res.BinaryCopied && !res.ConfigChanged {
		sup, err := r.readPID(SupervisorPIDFile)
		if err != nil {
			return err
		}
		supAlive, err := r.running(ctx, sup, path.Base(SupervisorPath))
		if err != nil {
			return err
		}
		pid, err := agentPID()
		if err != nil {
			return err
		}
		if supAlive && pid != 0 {
			res.PID = pid
			return nil
		}
	}
	if _, err := r.stopSupervised(ctx); err != nil {
		return err
	}
	offset, err := r.logSize(ctx)
	if err != nil {
		return err
	}
	// setsid puts the supervisor in its own session, so that the end of the
	// SSH session does not take it down.
	if _, err := r.run(ctx, "setsid /bin/sh "+quote(SupervisorPath)+" </dev/null >/dev/null 2>&1 &"); err != nil {
		return err
	}
	res.Restarted = true
	res.PID, err = r.waitStarted(ctx, offset, agentPID)
	return err
}

// stopSupervised stops an agent run by the supervisor script, by the PIDs
// in its PID files: SIGTERM to the supervisor (which stops the agent), then
// SIGKILL to both after stopTimeout. It reports whether anything ran.
func (r *remote) stopSupervised(ctx context.Context) (bool, error) {
	type proc struct {
		pidFile, match string
		pid            int
	}
	procs := []*proc{
		{pidFile: SupervisorPIDFile, match: path.Base(SupervisorPath)},
		{pidFile: PIDFile, match: BinPath},
	}
	alive := func() ([]*proc, error) {
		var live []*proc
		for _, p := range procs {
			ok, err := r.running(ctx, p.pid, p.match)
			if err != nil {
				return nil, err
			}
			if ok {
				live = append(live, p)
			}
		}
		return live, nil
	}
	for _, p := range procs {
		pid, err := r.readPID(p.pidFile)
		if err != nil {
			return false, err
		}
		p.pid = pid
	}
	live, err := alive()
	if err != nil {
		return false, err
	}
	removePIDFiles := "rm -f " + quote(SupervisorPIDFile) + " " + quote(PIDFile)
	if len(live) == 0 {
		_, err := r.run(ctx, removePIDFiles)
		return false, err
	}
	// The supervisor stops its agent itself; a lone agent gets SIGTERM.
	if _, err := r.run(ctx, "kill -TERM "+strconv.Itoa(live[0].pid)+" 2>/dev/null; true"); err != nil {
		return true, err
	}
	gone := func() (bool, error) {
		live, err := alive()
		return len(live) == 0, err
	}
	err = poll(ctx, stopTimeout, gone)
	if errors.Is(err, errPollTimeout) {
		cmd := "kill -KILL"
		for _, p := range live {
			cmd += " " + strconv.Itoa(p.pid)
		}
		if _, err := r.run(ctx, cmd+" 2>/dev/null; true"); err != nil {
			return true, err
		}
		err = poll(ctx, stopTimeout, gone)
	}
	if err != nil {
		return true, fmt.Errorf("stop agent on %s: %w", r.addr, err)
	}
	_, err = r.run(ctx, removePIDFiles)
	return true, err
}

func (r *remote) logSize(ctx context.Context) (int64, error) {
	out, err := r.run(ctx, "stat -c %s "+quote(LogPath)+" 2>/dev/null || echo 0")
	if err != nil {
		return 0, err
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	return n, nil
}

// waitStarted waits until the agent's log, past offset, says that it
// reached Temporal, and returns the agent's PID; a logged failure (for
// example Temporal unreachable from the host) is Unavailable.
func (r *remote) waitStarted(ctx context.Context, offset int64, pidOf func() (int, error)) (int, error) {
	var pid int
	var failure string
	err := poll(ctx, startTimeout, func() (bool, error) {
		out, err := r.run(ctx, "tail -c +"+strconv.FormatInt(offset+1, 10)+" "+quote(LogPath)+" 2>/dev/null; true")
		if err != nil {
			return false, err
		}
		for line := range strings.Lines(out) {
			var rec struct {
				Msg   string `json:"msg"`
				Error string `json:"error"`
			}
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			switch rec.Msg {
			case logFailed:
				failure = rec.Error
				return true, nil
			case logStarted:
				if pid, err = pidOf(); err != nil || pid == 0 {
					return false, err
				}
				return true, nil
			}
		}
		return false, nil
	})
	switch {
	case failure != "":
		e := models.Unavailable("agent on %s failed to start", r.addr).WithCode(models.CodeHostUnavailable)
		e.Details = failure
		return 0, e
	case errors.Is(err, errPollTimeout):
		return 0, models.Unavailable("agent on %s did not start within %s (log %s)", r.addr, startTimeout, LogPath).
			WithCode(models.CodeHostUnavailable)
	}
	return pid, err
}

// poll calls fn every pollEvery until it reports done or fails, or timeout
// passes (errPollTimeout).
func poll(ctx context.Context, timeout time.Duration, fn func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		done, err := fn()
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return errPollTimeout
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
