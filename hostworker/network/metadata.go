package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// MetadataAddr is the address guests fetch their user-data and meta-data from (EC2's, which
// cloud-init's EC2 and OpenStack data sources ask).
var MetadataAddr = netip.MustParseAddr("169.254.169.254")

// metadataPort is the HTTP port of the metadata server.
const metadataPort = 80

// Metadata is what the metadata service tells the guest NIC of one address (ZStack's flat
// network userdata service): its VM's UUID as instance-id, hostname, user-data and SSH keys.
type Metadata struct {
	InstanceID string   `json:"instanceId"`
	Hostname   string   `json:"hostname,omitempty"`
	UserData   string   `json:"userData,omitempty"`
	SSHKeys    []string `json:"sshKeys,omitempty"`
}

// Files of the metadata server in the L3's DHCP state directory.
const (
	metadataFile = "metadata.json"
	metadataPID  = "metadata.pid"
	metadataLog  = "metadata.log"
)

// ensureMetadata converges the L3's metadata service in its DHCP namespace: with s.Metadata,
// MetadataAddr on the namespace's loopback (guests route to it through the DHCP server's address,
// DHCP option 121), the data file of the hosts that have metadata (rewritten atomically; the
// server re-reads it when it changed) and the server process, started when it is not running.
// Without, all of them are removed.
func (h *Host) ensureMetadata(ctx context.Context, ns netns.NsHandle, n dhcpNames, s DHCPSpec) error {
	if !s.Metadata {
		return h.removeMetadata(ctx, ns, n)
	}
	if err := setMetadataAddr(ns, true); err != nil {
		return err
	}
	data := map[string]Metadata{}
	for _, e := range s.Hosts {
		if e.Metadata != nil {
			data[e.IP.String()] = *e.Metadata
		}
	}
	b, err := json.Marshal(data) // map keys are sorted: the same data is the same file
	if err != nil {
		return fmt.Errorf("metadata of l3 %s: %w", s.L3UUID, err)
	}
	if _, err := writeFileIfChanged(filepath.Join(n.dir, metadataFile), b, 0o600); err != nil {
		return err
	}
	pid, err := pidFromFile(filepath.Join(n.dir, metadataPID), n.dir)
	if err != nil || pid != 0 {
		return err
	}
	return h.startMetadata(ctx, ns, n)
}

// removeMetadata stops the L3's metadata server and removes its address and files; removing
// what is gone succeeds.
func (h *Host) removeMetadata(ctx context.Context, ns netns.NsHandle, n dhcpNames) error {
	if err := stopByPIDFile(ctx, filepath.Join(n.dir, metadataPID), n.dir); err != nil {
		return err
	}
	if err := setMetadataAddr(ns, false); err != nil {
		return err
	}
	for _, f := range []string{metadataFile, metadataLog} {
		if err := os.Remove(filepath.Join(n.dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", f, err)
		}
	}
	return nil
}

// setMetadataAddr adds (or removes) MetadataAddr/32 on the namespace's loopback: the namespace
// then accepts guests' packets to it on its DHCP veth, and the DHCP veth keeps the server address
// as its only one.
func setMetadataAddr(ns netns.NsHandle, present bool) error {
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in namespace: %w", err)
	}
	defer nl.Close()
	lo, err := nl.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo in namespace: %w", err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(MetadataAddr.AsSlice()), Mask: net.CIDRMask(32, 32)}}
	have, err := nl.AddrList(lo, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses of lo: %w", err)
	}
	found := false
	for _, a := range have {
		found = found || a.IP.Equal(addr.IP)
	}
	switch {
	case present && !found:
		if err := nl.AddrAdd(lo, addr); err != nil {
			return fmt.Errorf("add %s to lo: %w", MetadataAddr, err)
		}
	case !present && found:
		if err := nl.AddrDel(lo, addr); err != nil {
			return fmt.Errorf("remove %s from lo: %w", MetadataAddr, err)
		}
	}
	return nil
}

// startMetadata runs the metadata server command in the namespace with --daemon: like dnsmasq,
// it returns once the server listens and wrote its PID file (its exit status reports a failure),
// leaving the server in its own session, so that it outlives the agent.
func (h *Host) startMetadata(ctx context.Context, ns netns.NsHandle, n dhcpNames) error {
	if len(h.metadataCmd) == 0 {
		return errors.New("no metadata server command")
	}
	args := slices.Concat(h.metadataCmd[1:], []string{"--dir", n.dir,
		"--listen", netip.AddrPortFrom(MetadataAddr, metadataPort).String(), "--daemon"})
	var out []byte
	err := inNetNS(ns, func() error {
		var err error
		out, err = exec.CommandContext(ctx, h.metadataCmd[0], args...).CombinedOutput()
		return err
	})
	if err != nil {
		return fmt.Errorf("start metadata server for %s: %w: %s", n.ns, err, strings.TrimSpace(string(out)))
	}
	pid, err := pidFromFile(filepath.Join(n.dir, metadataPID), n.dir)
	if err != nil {
		return err
	}
	if pid == 0 {
		return fmt.Errorf("metadata server for %s did not stay up", n.ns)
	}
	h.log.Info("started metadata server", "netns", n.ns, "pid", pid)
	return nil
}

// metadataRoute is the dnsmasq option handing guests the route to MetadataAddr through the DHCP
// server (option 121). A client that gets option 121 ignores the router option (RFC 3442), so
// the default route via the gateway goes with it.
func metadataRoute(s DHCPSpec) string {
	routes := []string{MetadataAddr.String() + "/32", s.ServerIP.Addr().String()}
	if s.Gateway.IsValid() {
		routes = append(routes, "0.0.0.0/0", s.Gateway.String())
	}
	return "dhcp-option=option:classless-static-route," + strings.Join(routes, ",")
}
