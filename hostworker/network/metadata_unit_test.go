package network

import (
	"net/netip"
	"testing"
)

// TestMetadataPaths answers the EC2 paths from one entry (no root needed).
func TestMetadataPaths(t *testing.T) {
	md := Metadata{InstanceID: "vm-1", Hostname: "web", UserData: "#cloud-config\n", SSHKeys: []string{"ssh-ed25519 AAAA k1 ", "ssh-rsa BBBB k2"}}
	ip := netip.MustParseAddr("10.0.0.5")
	for _, tc := range []struct {
		path, body string
		found      bool
	}{
		{"/", "latest\n", true},
		{"/latest/", "meta-data/\nuser-data\n", true},
		{"/latest/user-data", "#cloud-config\n", true},
		{"/2009-04-04/user-data", "#cloud-config\n", true},
		{"/1.0/user-data", "", false},
		{"/latest/meta-data", "hostname\ninstance-id\nlocal-hostname\nlocal-ipv4\npublic-keys/\n", true},
		{"/latest/meta-data/local-hostname", "web", true},
		{"/latest/meta-data/local-ipv4", "10.0.0.5", true},
		{"/latest/meta-data/public-keys", "0=key-0\n1=key-1\n", true},
		{"/latest/meta-data/public-keys/1/", "openssh-key\n", true},
		{"/latest/meta-data/public-keys/0/openssh-key", "ssh-ed25519 AAAA k1\n", true},
		{"/latest/meta-data/public-keys/2/openssh-key", "", false},
		{"/latest/meta-data/public-keys/0/openssh-key/x", "", false},
		{"/latest/meta-data/nosuch", "", false},
		{"/latest/nosuch", "", false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			body, found := metadataPath(md, ip, tc.path)
			if body != tc.body || found != tc.found {
				t.Errorf("metadataPath(%q) = %q, %v; want %q, %v", tc.path, body, found, tc.body, tc.found)
			}
		})
	}
	if body, found := metadataPath(Metadata{InstanceID: "vm-2"}, ip, "/latest/user-data"); found {
		t.Errorf("user-data of a VM without any = %q, want not found", body)
	}
	if body, _ := metadataPath(Metadata{InstanceID: "vm-2"}, ip, "/latest/meta-data/"); body != "instance-id\nlocal-ipv4\n" {
		t.Errorf("meta-data of a VM without hostname or keys = %q", body)
	}
}

// TestMetadataRoute renders option 121: the metadata route via the DHCP server, and the default
// route when the L3 has a gateway (a client with option 121 ignores option 3).
func TestMetadataRoute(t *testing.T) {
	s := DHCPSpec{ServerIP: netip.MustParsePrefix("10.1.2.3/24"), Gateway: netip.MustParseAddr("10.1.2.1")}
	if got, want := metadataRoute(s), "dhcp-option=option:classless-static-route,169.254.169.254/32,10.1.2.3,0.0.0.0/0,10.1.2.1"; got != want {
		t.Errorf("with gateway: %q, want %q", got, want)
	}
	s.Gateway = netip.Addr{}
	if got, want := metadataRoute(s), "dhcp-option=option:classless-static-route,169.254.169.254/32,10.1.2.3"; got != want {
		t.Errorf("without gateway: %q, want %q", got, want)
	}
}
