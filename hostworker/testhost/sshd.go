package testhost

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHPort is the port sshd listens on, on the host's IP.
const SSHPort = 22

// sshdBinary is an absolute path because sshd re-executes itself.
const sshdBinary = "/usr/sbin/sshd"

// StartSSHD runs OpenSSH's sshd inside the host on IP():22 with a
// throw-away host key, root login with RootPassword() or an AuthorizeKey
// key, and the internal SFTP server, and returns the port once it accepts
// connections. It skips the test when sshd is missing, unless
// ZCLOUD_REQUIRE_NET=1.
func (h *Host) StartSSHD() int {
	h.t.Helper()
	need(h.t, RequireNetEnv, sshdBinary)
	if err := h.startSSHD(); err != nil {
		h.t.Fatalf("testhost %s: sshd: %v", h.name, err)
	}
	return SSHPort
}

// SSHHostKey is the host key of the sshd that StartSSHD started, for
// clients that verify it.
func (h *Host) SSHHostKey() ssh.PublicKey {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sshKey
}

// AuthorizeKey lets key log in as root (in the host's own /root).
func (h *Host) AuthorizeKey(key ssh.PublicKey) {
	h.t.Helper()
	dir := h.Path("/root/.ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		h.t.Fatalf("testhost %s: %v", h.name, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "authorized_keys"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		h.t.Fatalf("testhost %s: %v", h.name, err)
	}
	defer f.Close()
	if _, err := f.Write(ssh.MarshalAuthorizedKey(key)); err != nil {
		h.t.Fatalf("testhost %s: %v", h.name, err)
	}
}

func (h *Host) startSSHD() error {
	dir := filepath.Join(h.dir, "sshd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "testhost "+h.name)
	if err != nil {
		return err
	}
	keyPath := filepath.Join(dir, "ssh_host_ed25519_key")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(block), 0o600); err != nil {
		return err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	cfg := strings.Join([]string{
		fmt.Sprintf("ListenAddress %s", netip.AddrPortFrom(h.ip, SSHPort)),
		"HostKey " + keyPath,
		"PidFile none",
		"PermitRootLogin yes",
		"PasswordAuthentication yes",
		"PubkeyAuthentication yes",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"UseDNS no",
		"MaxStartups 64",
		"Subsystem sftp internal-sftp",
		"",
	}, "\n")
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	if _, err := h.startDaemon("sshd", []string{sshdBinary, "-D", "-e", "-f", cfgPath}); err != nil {
		return err
	}
	addr := netip.AddrPortFrom(h.ip, SSHPort).String()
	if err := h.waitReady("sshd", func() bool { return dialable(addr) }); err != nil {
		return err
	}
	h.mu.Lock()
	h.sshKey = sshPub
	h.mu.Unlock()
	return nil
}

// dialable reports whether a TCP connection to addr succeeds.
func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
