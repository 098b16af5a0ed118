package testhost_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/crypto/ssh"
	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/hostworker/testhost"
)

const h2LibvirtUUID = "6c1f3d2e-8a4b-4c5d-9e6f-7a8b9c0d1e2f"

// TestTwoHosts proves that two hosts live side by side: separate addresses,
// root logs in over SSH with each host's own password and lands in that
// host's namespace, each host reaches the root side, and each runs its own
// libvirtd with its own host UUID, while the real /etc/shadow stays as it
// was.
func TestTwoHosts(t *testing.T) {
	shadowBefore := fileSum(t, "/etc/shadow")
	hosts := []*testhost.Host{
		testhost.New(t, "h1", testhost.Options{}),
		testhost.New(t, "h2", testhost.Options{
			Subnet:          netip.MustParsePrefix("10.251.255.248/30"),
			LibvirtHostUUID: h2LibvirtUUID,
		}),
	}
	require.Equal(t, netip.MustParseAddr("10.251.255.250"), hosts[1].IP(), "host IP from an explicit subnet")
	require.Equal(t, netip.MustParseAddr("10.251.255.249"), hosts[1].RootIP(), "root IP from an explicit subnet")
	require.NotEqual(t, hosts[0].IP(), hosts[1].IP())
	require.False(t, hosts[0].Subnet().Overlaps(hosts[1].Subnet()), "subnets %s and %s overlap", hosts[0].Subnet(), hosts[1].Subnet())
	require.NotEqual(t, hosts[0].NetNS(), hosts[1].NetNS())

	ports := map[string]int{}
	for _, h := range hosts {
		ports[h.Name()] = h.StartSSHD()
	}
	for _, h := range hosts {
		t.Run("ssh/"+h.Name(), func(t *testing.T) {
			port := ports[h.Name()]
			addr := net.JoinHostPort(h.IP().String(), strconv.Itoa(port))
			out := sshRun(t, addr, h.RootPassword(), h.SSHHostKey(), "readlink /proc/self/ns/net; id -u; hostname -I")
			lines := strings.Fields(out)
			require.GreaterOrEqual(t, len(lines), 3, "ssh output %q", out)
			require.Equal(t, h.NetNS(), lines[0], "ssh session's network namespace")
			require.Equal(t, "0", lines[1], "ssh session's uid")
			require.Equal(t, h.IP().String(), lines[2], "addresses inside the host")

			_, err := sshDial(addr, "wrong-"+h.RootPassword(), h.SSHHostKey())
			require.Error(t, err, "login with a wrong password")
			require.Contains(t, err.Error(), "unable to authenticate")
		})
		t.Run("reaches-root/"+h.Name(), func(t *testing.T) {
			ln, err := net.Listen("tcp", net.JoinHostPort(h.RootIP().String(), "0"))
			require.NoError(t, err)
			defer ln.Close()
			got := make(chan string, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- err.Error()
					return
				}
				defer c.Close()
				got <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			}()
			port := ln.Addr().(*net.TCPAddr).Port
			_, err = h.Exec(t.Context(), "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", h.RootIP(), port))
			require.NoError(t, err)
			require.Equal(t, h.IP().String(), <-got, "source address of the host's connection")
		})
	}
	require.Equal(t, shadowBefore, fileSum(t, "/etc/shadow"), "the real /etc/shadow changed")

	daemons := map[string]testhost.Libvirtd{}
	for _, h := range hosts {
		start := time.Now()
		daemons[h.Name()] = h.StartLibvirtd()
		t.Logf("%s: libvirtd ready in %s", h.Name(), time.Since(start).Round(time.Millisecond))
	}
	t.Run("libvirtd", func(t *testing.T) {
		uuids := map[string]string{}
		for _, h := range hosts {
			l := daemons[h.Name()]
			start := time.Now()
			remote := capsHostUUID(t, exec.Command("virsh", "-c", l.URI, "capabilities"))
			require.Equal(t, l.HostUUID, remote, "host UUID over %s", l.URI)
			local, err := h.Exec(t.Context(), "virsh", "-c", l.LocalURI, "capabilities")
			require.NoError(t, err)
			require.Equal(t, l.HostUUID, parseCapsUUID(t, local), "host UUID over %s inside the host", l.LocalURI)
			require.True(t, h.Contains(l.PID), "libvirtd %d runs inside the host", l.PID)
			uuids[h.Name()] = remote
			t.Logf("%s: host UUID %s, first capabilities in %s", h.Name(), remote, time.Since(start).Round(time.Millisecond))
		}
		require.NotEqual(t, uuids["h1"], uuids["h2"], "the two daemons answer with the same host UUID")
		require.Equal(t, h2LibvirtUUID, uuids["h2"], "host UUID from Options")
		// The machine's own domain and network definitions stay out of the
		// hosts' libvirtd: their /etc/libvirt/qemu starts empty, and the
		// real one is left as it was.
		machine, err := os.ReadDir("/etc/libvirt/qemu")
		require.NoError(t, err)
		for _, h := range hosts {
			own, err := os.ReadDir(h.Path("/etc/libvirt/qemu"))
			require.NoError(t, err)
			require.Empty(t, own, "%s sees definitions of the machine's libvirtd", h.Name())
		}
		after, err := os.ReadDir("/etc/libvirt/qemu")
		require.NoError(t, err)
		require.Equal(t, len(machine), len(after), "the real /etc/libvirt/qemu changed")
	})
}

// TestCleanupLeavesNothing starts daemons and a stray background process
// inside a host, lets the host's cleanup run, and checks that no process,
// namespace or link is left.
func TestCleanupLeavesNothing(t *testing.T) {
	var (
		netNS, link string
		pids        []int
	)
	t.Run("host", func(t *testing.T) {
		h := testhost.New(t, "gone", testhost.Options{})
		h.StartSSHD()
		h.StartDaemon("sleeper", "sleep", "3600")
		// A process that no one tracks, as an agent's supervisor would be.
		_, err := h.Exec(t.Context(), "sh", "-c", "setsid sleep 3600 </dev/null >/dev/null 2>&1 &")
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(h.Processes()) >= 4 }, 10*time.Second, 20*time.Millisecond,
			"holder, sshd, sleeper and the stray sleep inside the host")
		netNS, link, pids = h.NetNS(), h.RootLink(), h.Processes()
		_, err = netlink.LinkByName(link)
		require.NoError(t, err, "root-side link exists while the host lives")
	})
	require.NotEmpty(t, pids)
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
			require.NotEqual(t, netNS, ns, "process %d still runs in the host's namespace", pid)
		}
	}
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	for _, e := range entries {
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/net"); err == nil {
			require.NotEqual(t, netNS, ns, "process %s is in the deleted host's namespace", e.Name())
		}
	}
	_, err = netlink.LinkByName(link)
	var nf netlink.LinkNotFoundError
	require.ErrorAs(t, err, &nf, "root-side link %s after cleanup", link)
}

func sshDial(addr, password string, hostKey ssh.PublicKey) (*ssh.Client, error) {
	return ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User:            "root",
		Auth:            []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
		Timeout:         10 * time.Second,
	})
}

func sshRun(t *testing.T, addr, password string, hostKey ssh.PublicKey, cmd string) string {
	t.Helper()
	c, err := sshDial(addr, password, hostKey)
	require.NoError(t, err, "ssh login to %s", addr)
	defer c.Close()
	s, err := c.NewSession()
	require.NoError(t, err)
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	require.NoError(t, err, "%s: %s", cmd, out)
	return string(out)
}

func capsHostUUID(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s: %s", cmd, out)
	return parseCapsUUID(t, out)
}

func parseCapsUUID(t *testing.T, xml []byte) string {
	t.Helper()
	var caps libvirtxml.Caps
	require.NoError(t, caps.Unmarshal(string(bytes.TrimSpace(xml))), "capabilities XML")
	require.NotEmpty(t, caps.Host.UUID)
	return caps.Host.UUID
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(b)
}

// TestLab puts two hosts on one lab bridge: they reach each other and the
// root side directly, and the bridge goes with the test.
func TestLab(t *testing.T) {
	var bridge string
	t.Run("hosts", func(t *testing.T) {
		lab := testhost.NewLab(t, "lab", netip.MustParsePrefix("10.252.7.0/24"))
		bridge = lab.Bridge()
		a := testhost.New(t, "a", testhost.Options{Lab: lab})
		b := testhost.New(t, "b", testhost.Options{Lab: lab})
		require.Equal(t, lab.RootIP(), a.RootIP())
		require.Equal(t, a.Subnet(), b.Subnet())
		for _, target := range []netip.Addr{b.IP(), lab.RootIP()} {
			out, err := a.Exec(t.Context(), "busybox", "ping", "-c", "1", "-W", "3", target.String())
			require.NoError(t, err, "ping %s from a: %s", target, out)
		}
	})
	_, err := netlink.LinkByName(bridge)
	require.Error(t, err, "the lab bridge is removed")
}
