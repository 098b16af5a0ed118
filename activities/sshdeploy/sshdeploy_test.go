package sshdeploy_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"golang.org/x/crypto/ssh"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/sshdeploy"
	"github.com/zcloud/zcloud/hostworker/testhost"
	"github.com/zcloud/zcloud/models"
)

// TestUnitFileMatchesDeployCopy keeps the hand-install copy of the unit in
// deploy/systemd identical to the one the deployment installs.
func TestUnitFileMatchesDeployCopy(t *testing.T) {
	embedded, err := os.ReadFile("zcloud-hostworker.service")
	require.NoError(t, err)
	hand, err := os.ReadFile(filepath.Join(moduleRoot(t), "deploy", "systemd", "zcloud-hostworker.service"))
	require.NoError(t, err)
	require.Equal(t, string(embedded), string(hand))
}

// TestDeployRejectsBadParams checks the params that fail before any SSH.
func TestDeployRejectsBadParams(t *testing.T) {
	good := sshdeploy.DeployParams{
		Target:          sshdeploy.Target{ManagementIP: "127.0.0.1", SSHPort: 1, Password: "x"},
		HostUUID:        "h1",
		TemporalAddress: "127.0.0.1:7233",
		AgentBinary:     "/nonexistent/zcloud-hostworker",
	}
	for _, tc := range []struct {
		name   string
		change func(*sshdeploy.DeployParams)
	}{
		{"no host uuid", func(p *sshdeploy.DeployParams) { p.HostUUID = "" }},
		{"no temporal", func(p *sshdeploy.DeployParams) { p.TemporalAddress = "" }},
		{"managed key in config", func(p *sshdeploy.DeployParams) { p.Config = map[string]string{"host-uuid": "other"} }},
		{"config key not a flag", func(p *sshdeploy.DeployParams) { p.Config = map[string]string{"Bad Key": "v"} }},
		{"line break in value", func(p *sshdeploy.DeployParams) { p.Config = map[string]string{"log-level": "debug\ndriver=x"} }},
		{"no binary", func(p *sshdeploy.DeployParams) { p.AgentBinary = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			tc.change(&p)
			_, err := sshdeploy.New("", nil).Deploy(t.Context(), p)
			require.ErrorIs(t, err, models.ErrInvalid)
		})
	}
}

// TestConnectErrors proves that the API can tell a refused login from an
// unreachable host, both from Deploy and through the activity's
// ApplicationError, and that a pinned host key is enforced.
func TestConnectErrors(t *testing.T) {
	h := testhost.New(t, "auth", testhost.Options{})
	port := h.StartSSHD()
	target := sshdeploy.Target{ManagementIP: h.IP().String(), SSHPort: port, Password: h.RootPassword()}
	a := sshdeploy.New("", nil)

	for _, tc := range []struct {
		name      string
		target    sshdeploy.Target
		kind      error
		retryable bool
	}{
		{"wrong password", withPassword(target, "not-"+h.RootPassword()), models.ErrAuth, false},
		{"unknown user", withUser(target, "nobody-here"), models.ErrAuth, false},
		{"port closed", withPort(target, 2222), models.ErrUnavailable, true},
		{"host key mismatch", withHostKey(target, "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), models.ErrAuth, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := a.Undeploy(t.Context(), sshdeploy.UndeployParams{Target: tc.target, HostUUID: "h"})
			require.ErrorIs(t, err, tc.kind, "Undeploy: %v", err)
			require.Less(t, time.Since(start), 15*time.Second)

			env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
			a.Register(env)
			_, err = env.ExecuteActivity(sshdeploy.ActUndeployAgent, sshdeploy.UndeployParams{Target: tc.target, HostUUID: "h"})
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			require.Equal(t, activities.ErrType, appErr.Type())
			require.Equal(t, !tc.retryable, appErr.NonRetryable(), "non-retryable")
			var me models.Error
			require.NoError(t, appErr.Details(&me))
			require.ErrorIs(t, &me, tc.kind)
		})
	}

	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer, err := ssh.NewSignerFromKey(key)
	require.NoError(t, err)
	h.AuthorizeKey(signer.PublicKey())
	_, err = h.Exec(t.Context(), "useradd", "--no-create-home", "--home-dir", "/nonexistent", "zcloud-plain")
	require.NoError(t, err)
	_, err = h.ExecInput(t.Context(), strings.NewReader("zcloud-plain:plain-pw\n"), "chpasswd", "-c", "SHA512")
	require.NoError(t, err)

	t.Run("private key", func(t *testing.T) {
		block, err := ssh.MarshalPrivateKey(key, "")
		require.NoError(t, err)
		k := sshdeploy.Target{ManagementIP: h.IP().String(), SSHPort: port, PrivateKey: string(pem.EncodeToMemory(block))}
		_, err = a.Undeploy(t.Context(), sshdeploy.UndeployParams{Target: k, HostUUID: "h"})
		require.NoError(t, err)
	})
	t.Run("not root", func(t *testing.T) {
		plain := sshdeploy.Target{ManagementIP: h.IP().String(), SSHPort: port, Username: "zcloud-plain", Password: "plain-pw"}
		_, err := a.Undeploy(t.Context(), sshdeploy.UndeployParams{Target: plain, HostUUID: "h"})
		require.ErrorIs(t, err, models.ErrInvalid)
		require.ErrorIs(t, err, errors.ErrUnsupported)
	})
	t.Run("pinned host key", func(t *testing.T) {
		fp := withHostKey(target, fingerprint(t, h))
		res, err := a.Undeploy(t.Context(), sshdeploy.UndeployParams{Target: fp, HostUUID: "h"})
		require.NoError(t, err, "undeploy where nothing is deployed")
		require.False(t, res.Stopped)
	})
}

// TestDeployAgentThatCannotReachTemporal deploys a real agent binary whose
// Temporal address leads nowhere: the binary and config land on the host,
// the supervisor runs inside the host's namespaces, Deploy reports the
// agent's own error as Unavailable, and Undeploy stops the restart loop and
// removes everything.
func TestDeployAgentThatCannotReachTemporal(t *testing.T) {
	h := testhost.New(t, "noreach", testhost.Options{})
	port := h.StartSSHD()
	bin := buildAgent(t, "noreach")
	a := sshdeploy.New(bin, nil)
	target := sshdeploy.Target{ManagementIP: h.IP().String(), SSHPort: port, Password: h.RootPassword()}
	p := sshdeploy.DeployParams{
		Target:          target,
		HostUUID:        "host-noreach",
		TemporalAddress: netip.AddrPortFrom(h.RootIP(), closedPort(t, h.RootIP())).String(),
		Driver:          "sim",
	}
	_, err := a.Deploy(t.Context(), p)
	require.ErrorIs(t, err, models.ErrUnavailable)
	require.Contains(t, err.Error(), "connect to temporal", "the agent's own error")

	binOnHost, err := os.ReadFile(h.Path(sshdeploy.BinPath))
	require.NoError(t, err)
	binLocal, err := os.ReadFile(bin)
	require.NoError(t, err)
	require.True(t, string(binOnHost) == string(binLocal), "the binary on the host differs from the deployed one")
	_, err = os.Stat(sshdeploy.BinPath)
	require.ErrorIs(t, err, os.ErrNotExist, "the deployment wrote the real /usr/local/bin")
	conf, err := os.ReadFile(h.Path(sshdeploy.ConfigPath))
	require.NoError(t, err)
	require.Contains(t, string(conf), "host-uuid=host-noreach\n")
	require.Contains(t, string(conf), "driver=sim\n")

	sup := readPID(t, h, sshdeploy.SupervisorPIDFile)
	require.True(t, h.Contains(sup), "supervisor %d runs inside the host", sup)

	_, err = a.Undeploy(t.Context(), sshdeploy.UndeployParams{Target: target, HostUUID: "another-host"})
	require.ErrorIs(t, err, models.ErrConflict, "undeploy of another host's agent")

	res, err := a.Undeploy(t.Context(), sshdeploy.UndeployParams{Target: target, HostUUID: p.HostUUID})
	require.NoError(t, err)
	require.True(t, res.Stopped)
	require.Empty(t, agentProcesses(h), "agent processes left after undeploy")
	for _, f := range []string{sshdeploy.BinPath, sshdeploy.ConfigPath, sshdeploy.SupervisorPath, sshdeploy.PIDFile} {
		_, err := os.Stat(h.Path(f))
		require.ErrorIs(t, err, os.ErrNotExist, "%s after undeploy", f)
	}
	res, err = a.Undeploy(t.Context(), sshdeploy.UndeployParams{Target: target, HostUUID: p.HostUUID})
	require.NoError(t, err, "second undeploy")
	require.False(t, res.Stopped)
}

func withPassword(t sshdeploy.Target, pw string) sshdeploy.Target { t.Password = pw; return t }
func withUser(t sshdeploy.Target, u string) sshdeploy.Target      { t.Username = u; return t }
func withPort(t sshdeploy.Target, p int) sshdeploy.Target         { t.SSHPort = p; return t }
func withHostKey(t sshdeploy.Target, k string) sshdeploy.Target   { t.HostKey = k; return t }

// closedPort returns a port on ip where nothing listens.
func closedPort(t *testing.T, ip netip.Addr) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return uint16(port)
}

// agentProcesses lists the agent and supervisor processes inside h.
func agentProcesses(h *testhost.Host) []int {
	var pids []int
	for _, pid := range h.Processes() {
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if strings.Contains(string(cmdline), "zcloud-hostworker") || strings.Contains(string(cmdline), "hostworker-supervise") {
			pids = append(pids, pid)
		}
	}
	return pids
}

func readPID(t *testing.T, h *testhost.Host, file string) int {
	t.Helper()
	b, err := os.ReadFile(h.Path(file))
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	return pid
}

func fingerprint(t *testing.T, h *testhost.Host) string {
	t.Helper()
	k := h.SSHHostKey()
	require.NotNil(t, k)
	return ssh.FingerprintSHA256(k)
}

// buildAgent builds cmd/zcloud-hostworker with buildVersion set to version.
func buildAgent(t *testing.T, version string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "zcloud-hostworker")
	start := time.Now()
	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", out,
		"-ldflags", "-X main.buildVersion="+version, "./cmd/zcloud-hostworker")
	cmd.Dir = moduleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build agent: %v: %s", err, b)
	}
	t.Logf("built agent %q in %s", version, time.Since(start).Round(time.Millisecond))
	return out
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside the module")
	}
	return filepath.Dir(gomod)
}
