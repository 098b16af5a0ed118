package network

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// These tests need neither root nor a kernel: names, validation and the pure renderers.

func TestL2Names(t *testing.T) {
	for _, tc := range []struct {
		l2             L2
		bridge, uplink string
		err            string
	}{
		{L2{Type: L2NoVlan, PhysicalInterface: "eth0"}, "br_eth0", "eth0", ""},
		{L2{Type: L2Vlan, PhysicalInterface: "eth0", VLAN: 100}, "br_eth0_100", "eth0.100", ""},
		{L2{Type: L2VXLAN, VNI: 5000, VTEPIP: netip.MustParseAddr("10.0.0.1")}, "br_vx_5000", "vxlan5000", ""},
		{L2{Type: L2VXLAN, VNI: 16777215, VTEPIP: netip.MustParseAddr("10.0.0.1")}, "br_vx_16777215", "vxlan16777215", ""},
		{L2{Type: L2Vlan, PhysicalInterface: "eth0", VLAN: 4095}, "", "", "vlan id 4095 out of range"},
		{L2{Type: L2VXLAN, VNI: 1 << 24, VTEPIP: netip.MustParseAddr("10.0.0.1")}, "", "", "out of range"},
		{L2{Type: L2VXLAN, VNI: 7}, "", "", "needs a local vtep ip"},
		{L2{Type: L2Vlan, PhysicalInterface: "enp0s31f6abc", VLAN: 4000}, "", "", "must have 1 to 15 characters"},
		{L2{Type: "L2Bogus"}, "", "", "unknown l2 type"},
	} {
		t.Run(tc.bridge+tc.err, func(t *testing.T) {
			err := tc.l2.validate()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("validate() = %v, want error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.l2.BridgeName(); got != tc.bridge {
				t.Errorf("BridgeName() = %q, want %q", got, tc.bridge)
			}
			if got := tc.l2.UplinkName(); got != tc.uplink {
				t.Errorf("UplinkName() = %q, want %q", got, tc.uplink)
			}
		})
	}
}

func TestDnsmasqConf(t *testing.T) {
	h := &Host{runDir: "/run/z"}
	n := h.dhcpNames("8f5c1a2e-0000-4000-8000-000000000001")
	if n.ns != "zd-8f5c1a2e" || n.outer != "zdo8f5c1a2e" || n.inner != "zdi8f5c1a2e" {
		t.Fatalf("names = %+v", n)
	}
	conf := string(dnsmasqConf(n, DHCPSpec{L3UUID: "x", ServerIP: netip.MustParsePrefix("10.1.2.3/22"),
		Gateway: netip.MustParseAddr("10.1.0.1"), DNS: []netip.Addr{netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("8.8.8.8")},
		Domain: "z.test", MTU: 1450, LeaseTime: time.Hour}))
	for _, want := range []string{
		"interface=zdi8f5c1a2e\n", "port=0\n", "dhcp-range=10.1.0.0,static,255.255.252.0,3600s\n",
		"dhcp-option=option:router,10.1.0.1\n", "dhcp-option=option:dns-server,1.1.1.1,8.8.8.8\n",
		"domain=z.test\n", "dhcp-option=option:mtu,1450\n", "dhcp-hostsfile=/run/z/dhcp-8f5c1a2e-0000-4000-8000-000000000001/hosts\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	m1, _ := net.ParseMAC("FA:16:3E:00:00:02")
	m2, _ := net.ParseMAC("fa:16:3e:00:00:01")
	got := string(hostsFile([]DHCPHost{{MAC: m1, IP: netip.MustParseAddr("10.1.0.12")},
		{MAC: m2, IP: netip.MustParseAddr("10.1.0.11"), Hostname: "vm-1"}}))
	if want := "fa:16:3e:00:00:01,10.1.0.11,vm-1\nfa:16:3e:00:00:02,10.1.0.12\n"; got != want {
		t.Fatalf("hosts file = %q, want %q", got, want)
	}
	bad := DHCPSpec{L3UUID: "8f5c1a2e-1", Bridge: "br", ServerIP: netip.MustParsePrefix("10.1.0.2/24"),
		Hosts: []DHCPHost{{MAC: m1, IP: netip.MustParseAddr("10.9.0.1")}}}
	if err := bad.validate(); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("host outside the L3: validate() = %v", err)
	}
	bad.Hosts = []DHCPHost{{MAC: m1, IP: netip.MustParseAddr("10.1.0.9"), Hostname: "a,b"}}
	if err := bad.validate(); err == nil || !strings.Contains(err.Error(), "bad hostname") {
		t.Fatalf("hostname with a comma: validate() = %v", err)
	}
}

func TestCompileRule(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rule  SecurityGroupRule
		v6    bool
		set   string
		exprs int
		err   string
	}{
		{"all any", SecurityGroupRule{Type: RuleIngress, Protocol: ProtocolAll}, false, "", 2, ""},
		{"tcp range cidr", SecurityGroupRule{Type: RuleIngress, Protocol: ProtocolTCP, StartPort: 80, EndPort: 90, AllowedCIDR: "10.0.0.0/8"}, false, "", 2 + 2 + 2 + 3, ""},
		{"tcp single port", SecurityGroupRule{Type: RuleEgress, Protocol: ProtocolTCP, StartPort: 22, EndPort: 22}, false, "", 2 + 2 + 2, ""},
		{"tcp every port", SecurityGroupRule{Type: RuleIngress, Protocol: ProtocolTCP, StartPort: 0, EndPort: 65535}, false, "", 4, ""},
		{"udp -1", SecurityGroupRule{Type: RuleIngress, Protocol: ProtocolUDP, StartPort: -1, EndPort: -1}, false, "", 4, ""},
		{"icmp v6 from cidr", SecurityGroupRule{Type: RuleIngress, Protocol: ProtocolICMP, AllowedCIDR: "fd00::/64"}, true, "", 2 + 2 + 3, ""},
		{"host address", SecurityGroupRule{Type: RuleIngress, Protocol: ProtocolAll, AllowedCIDR: "10.0.0.1"}, false, "", 2 + 2, ""},
		{"remote group", SecurityGroupRule{Type: RuleIngress, Protocol: ProtocolAll, RemoteSecurityGroupUUID: "g1"}, false, "g4-g1", 4, ""},
		{"remote group v6", SecurityGroupRule{Type: RuleEgress, Protocol: ProtocolAll, RemoteSecurityGroupUUID: "g1", IPVersion: 6}, true, "g6-g1", 4, ""},
		{"bad protocol", SecurityGroupRule{Type: RuleIngress, Protocol: "SCTP"}, false, "", 0, "protocol"},
		{"bad type", SecurityGroupRule{Type: "In", Protocol: ProtocolAll}, false, "", 0, "neither"},
		{"bad port", SecurityGroupRule{Type: RuleIngress, Protocol: ProtocolTCP, StartPort: 1, EndPort: 70000}, false, "", 0, "out of"},
		{"bad cidr", SecurityGroupRule{Type: RuleIngress, Protocol: ProtocolAll, AllowedCIDR: "10.0.0/8"}, false, "", 0, "allowed cidr"},
		{"family clash", SecurityGroupRule{Type: RuleIngress, Protocol: ProtocolAll, AllowedCIDR: "fd00::/8", IPVersion: 4}, false, "", 0, "does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cr, err := compileRule(tc.rule)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cr.v6 != tc.v6 || cr.setRef != tc.set || len(cr.exprs) != tc.exprs {
				t.Fatalf("got v6=%v set=%q %d exprs, want v6=%v set=%q %d exprs", cr.v6, cr.setRef, len(cr.exprs), tc.v6, tc.set, tc.exprs)
			}
		})
	}
}

func TestCompileNICDefaults(t *testing.T) {
	in := SecurityGroup{UUID: "a", Rules: []SecurityGroupRule{{Type: RuleIngress, Protocol: ProtocolICMP}}}
	eg, ing, err := compileNIC(NICPolicy{Device: "vnic1.0", Groups: []SecurityGroup{in}})
	if err != nil {
		t.Fatal(err)
	}
	// Egress: DHCP, ND, no final drop (no egress rule). Ingress: DHCP, ND, the rule, final drop.
	if len(eg) != 2 || len(ing) != 4 {
		t.Fatalf("no egress rules: %d egress, %d ingress rules; want 2 and 4", len(eg), len(ing))
	}
	out := SecurityGroup{UUID: "b", Rules: []SecurityGroupRule{{Type: RuleEgress, Protocol: ProtocolTCP, StartPort: 80, EndPort: 80}}}
	eg, _, err = compileNIC(NICPolicy{Device: "vnic1.0", Groups: []SecurityGroup{in, out}})
	if err != nil {
		t.Fatal(err)
	}
	if len(eg) != 4 {
		t.Fatalf("with an egress rule: %d egress rules, want 4 (DHCP, ND, rule, drop)", len(eg))
	}
}

func TestEIPSpecValidate(t *testing.T) {
	mac, _ := net.ParseMAC("fa:16:3e:00:00:01")
	ok := EIPSpec{UUID: "e1b2c3d4-0", VIP: netip.MustParsePrefix("172.31.0.10/24"), PublicBridge: "br_pub",
		PrivateBridge: "br_vx_1", PrivateGateway: netip.MustParsePrefix("10.0.0.1/24"),
		GuestIP: netip.MustParseAddr("10.0.0.5"), GuestMAC: mac, GuestDevice: "vnic1.0"}
	if err := ok.validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*EIPSpec){
		"guest outside": func(s *EIPSpec) { s.GuestIP = netip.MustParseAddr("10.9.0.5") },
		"gateway off":   func(s *EIPSpec) { s.PublicGateway = netip.MustParseAddr("192.0.2.1") },
		"no mac":        func(s *EIPSpec) { s.GuestMAC = nil },
		"no device":     func(s *EIPSpec) { s.GuestDevice = "" },
		"v6 vip":        func(s *EIPSpec) { s.VIP = netip.MustParsePrefix("fd00::1/64") },
		"no bridge":     func(s *EIPSpec) { s.PublicBridge = "" },
		"short uuid":    func(s *EIPSpec) { s.UUID = "e1" },
		"no private gw": func(s *EIPSpec) { s.PrivateGateway = netip.Prefix{} },
	} {
		s := ok
		mut(&s)
		if err := s.validate(); err == nil {
			t.Errorf("%s: validate() = nil, want an error", name)
		}
	}
}
