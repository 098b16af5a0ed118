package router

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestHAProxyConfig(t *testing.T) {
	spec := Spec{UUID: "r1", LoadBalancers: []LoadBalancer{{UUID: "lb1", VIP: addr("203.0.113.12"), Listeners: []Listener{{
		UUID: "aaaabbbbcccc1111", Protocol: "http", LoadBalancerPort: 80, InstancePort: 8080, Algorithm: "leastconn",
		HealthCheck: HealthCheck{Interval: 3 * time.Second, Timeout: time.Second, HealthyThreshold: 3, UnhealthyThreshold: 4, HTTPPath: "/healthz"},
		Backends:    []netip.Addr{addr("10.1.0.11"), addr("10.1.0.10"), addr("10.1.0.11")},
	}}}}}
	got, ports, err := haproxyConfig(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"bind 203.0.113.12:80", "mode http", "balance leastconn", "option httpchk GET /healthz", "timeout check 1000ms",
		"default-server inter 3000ms rise 3 fall 4", "server s-10-1-0-10 10.1.0.10:8080 check\n    server s-10-1-0-11 10.1.0.11:8080 check\n",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(string(got), "server s-10-1-0-11") != 1 {
		t.Errorf("duplicate backend not collapsed:\n%s", got)
	}
	if len(ports) != 1 || ports[0] != 80 {
		t.Errorf("ports = %v, want [80]", ports)
	}

	tests := []struct {
		name        string
		mutate      func(*Listener)
		unsupported bool
	}{
		{"udp listener", func(l *Listener) { l.Protocol = "udp" }, true},
		{"unknown algorithm", func(l *Listener) { l.Algorithm = "weighted" }, true},
		{"no port", func(l *Listener) { l.InstancePort = 0 }, false},
		{"ipv6 backend", func(l *Listener) { l.Backends = []netip.Addr{addr("fd00::1")} }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := spec
			l := spec.LoadBalancers[0].Listeners[0]
			tc.mutate(&l)
			s.LoadBalancers = []LoadBalancer{{UUID: "lb1", VIP: addr("203.0.113.12"), Listeners: []Listener{l}}}
			_, _, err := haproxyConfig(s)
			if err == nil {
				t.Fatal("got nil error")
			}
			if got := errors.Is(err, errors.ErrUnsupported); got != tc.unsupported {
				t.Errorf("errors.Is(ErrUnsupported) = %v, want %v (%v)", got, tc.unsupported, err)
			}
		})
	}
}

func TestSwanctlConfig(t *testing.T) {
	c := IPsecConnection{UUID: "0123456789abcdef", VIP: addr("203.0.113.2"), PeerAddress: addr("198.51.100.7"), AuthKey: "k",
		LocalCIDRs: []netip.Prefix{pfx("10.1.0.0/24"), pfx("10.2.0.5/24")}, PeerCIDRs: []netip.Prefix{pfx("172.16.0.0/16")},
		IKEDHGroup: 2, IKEAuthAlgorithm: "sha1", PolicyEncryptionAlgorithm: "aes-256", PFS: "dh-group5"}
	got, err := swanctlConfig([]IPsecConnection{c}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"version = 1", "aggressive = no", "local_addrs = 203.0.113.2", "remote_addrs = 198.51.100.7",
		"proposals = aes128-sha1-modp1024", "esp_proposals = aes256-sha256-modp1536", "encap = yes",
		"local_ts = 10.1.0.0/24,10.2.0.0/24", "remote_ts = 172.16.0.0/16", `secret = "k"`, "rekey_time = 86400s",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("swanctl.conf lacks %q:\n%s", want, got)
		}
	}
	if got, _ := swanctlConfig([]IPsecConnection{c}, false); strings.Contains(string(got), "encap") {
		t.Error("kernel data plane must not force UDP encapsulation")
	}
	for name, mutate := range map[string]func(*IPsecConnection){
		"des":      func(c *IPsecConnection) { c.IKEEncryptionAlgorithm = "3des" },
		"md5":      func(c *IPsecConnection) { c.PolicyAuthAlgorithm = "md5" },
		"dh group": func(c *IPsecConnection) { c.IKEDHGroup = 1 },
		"pfs":      func(c *IPsecConnection) { c.PFS = "dh-group1" },
		"ike v3":   func(c *IPsecConnection) { c.IKEVersion = "ikev3" },
	} {
		t.Run(name, func(t *testing.T) {
			x := c
			mutate(&x)
			if _, err := swanctlConfig([]IPsecConnection{x}, true); !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("err = %v, want ErrUnsupported", err)
			}
		})
	}
	x := c
	x.AuthKey = `a"b`
	if _, err := swanctlConfig([]IPsecConnection{x}, true); err == nil {
		t.Error("quote in PSK accepted")
	}
}

func TestDnsmasqConfig(t *testing.T) {
	m, err := New(Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{UUID: "r1r1r1r1r1", UpstreamDNS: []netip.Addr{addr("192.0.2.53")}, Networks: []Network{
		{NetworkUUID: "aaaaaaaaaaaaaaaa", Gateway: pfx("10.1.0.1/24"), MTU: 1450, DHCP: true,
			Hosts: []DHCPHost{{MAC: "52:54:00:AA:00:01", IP: addr("10.1.0.20"), Hostname: "vm1"}}},
		{NetworkUUID: "bbbbbbbbbbbbbbbb", Gateway: pfx("10.2.0.1/24")},
	}}
	conf, hosts, err := m.dnsmasqConfig(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server=192.0.2.53", "interface=n-aaaaaaaaaaaa", "interface=n-bbbbbbbbbbbb",
		"dhcp-range=set:n-aaaaaaaaaaaa,10.1.0.0,static,255.255.255.0,24h", "dhcp-option=tag:n-aaaaaaaaaaaa,option:router,10.1.0.1",
		"option:mtu,1450", "no-resolv"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("dnsmasq.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(string(conf), "dhcp-range=set:n-bbbb") {
		t.Errorf("DHCP served on a network without DHCP:\n%s", conf)
	}
	if want := "52:54:00:aa:00:01,set:n-aaaaaaaaaaaa,10.1.0.20,vm1\n"; string(hosts) != want {
		t.Errorf("hosts = %q, want %q", hosts, want)
	}
	spec.Networks[0].Hosts[0].IP = addr("10.9.0.20")
	if _, _, err := m.dnsmasqConfig(spec); err == nil {
		t.Error("lease outside the network accepted")
	}
}

func TestSpecValidateAndNames(t *testing.T) {
	ok := Spec{UUID: "0123456789abcdef0123456789abcdef", Public: PublicNetwork{NetworkUUID: "cccccccccccccccc", Bridge: "br0", Address: pfx("203.0.113.2/24")}}
	if err := ok.validate(); err != nil {
		t.Fatal(err)
	}
	dup := ok
	n1 := "dddddddddddddddd"
	dup.Networks = []Network{{NetworkUUID: n1, Bridge: "b", Gateway: pfx("10.0.0.1/24")}, {NetworkUUID: n1, Bridge: "b", Gateway: pfx("10.0.1.1/24")}}
	if err := dup.validate(); err == nil {
		t.Error("duplicate network accepted")
	}
	bad := ok
	bad.UUID = "../../etc/passwd0000"
	if err := bad.validate(); err == nil {
		t.Error("non-hex router uuid accepted")
	}
	if got := Namespace(ok.UUID); got != "zr-01234567" {
		t.Errorf("Namespace = %q", got)
	}
	if got := hostIfName(ok.UUID, "fedcba9876543210"); len(got) != 15 || got != "zr012345fedcba9" {
		t.Errorf("hostIfName = %q", got)
	}
	vs := Spec{Public: PublicNetwork{Address: pfx("203.0.113.2/24"), VIPs: []netip.Addr{addr("203.0.113.9")}},
		EIPs: []EIP{{VIP: addr("203.0.113.10")}}, PortForwards: []PortForward{{VIP: addr("203.0.113.9")}},
		IPsec: []IPsecConnection{{VIP: addr("203.0.113.2")}}}
	vips := vs.vips()
	if len(vips) != 3 || vips[0] != addr("203.0.113.2") || vips[2] != addr("203.0.113.10") {
		t.Errorf("vips = %v", vips)
	}
}
