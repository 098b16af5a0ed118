package router

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestIPsecSiteToSite joins two routers on one public bridge with an IKEv1 main-mode PSK tunnel
// and proves guest traffic crosses it un-NATed. On a kernel without XFRM ESP (this one: no
// CONFIG_INET_ESP) the data plane is strongSwan's kernel-libipsec over a TUN device.
func TestIPsecSiteToSite(t *testing.T) {
	requireNet(t, "/usr/lib/ipsec/charon", "/usr/sbin/swanctl", "/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so")
	l := newLab(t)
	brPub, brA, brD := l.bridge(l.prefix+"pub"), l.bridge(l.prefix+"a"), l.bridge(l.prefix+"d")
	l.guest("out", brPub, pfx("203.0.113.254/24"), netip.Addr{}, "")
	gA := l.guest("ga", brA, pfx("10.1.0.10/24"), addr("10.1.0.1"), "")
	gD := l.guest("gd", brD, pfx("10.9.0.10/24"), addr("10.9.0.1"), "")

	m, err := New(Config{StateDir: t.TempDir(), HostNetNS: l.hostPath()})
	if err != nil {
		t.Fatal(err)
	}
	r1, r2, connUUID := randHex(t, 16), randHex(t, 16), randHex(t, 16)
	for _, r := range []string{r1, r2} {
		t.Cleanup(func() {
			if err := m.Delete(cleanupCtx(t), r); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
	}
	pubUUID := randHex(t, 16)
	conn := func(vip, peer string, local, remote string) IPsecConnection {
		return IPsecConnection{UUID: connUUID, VIP: addr(vip), PeerAddress: addr(peer), AuthKey: "s3cret-psk",
			LocalCIDRs: []netip.Prefix{pfx(local)}, PeerCIDRs: []netip.Prefix{pfx(remote)},
			IKEVersion: "ikev1", IKEEncryptionAlgorithm: "aes-128", IKEAuthAlgorithm: "sha1", IKEDHGroup: 14,
			PolicyEncryptionAlgorithm: "aes-128", PolicyAuthAlgorithm: "sha256", PFS: "dh-group14"}
	}
	spec1 := Spec{UUID: r1,
		Public:   PublicNetwork{NetworkUUID: pubUUID, Bridge: brPub, Address: pfx("203.0.113.2/24"), Gateway: addr("203.0.113.254")},
		Networks: []Network{{NetworkUUID: randHex(t, 16), Bridge: brA, Gateway: pfx("10.1.0.1/24"), SNAT: true}},
		IPsec:    []IPsecConnection{conn("203.0.113.2", "203.0.113.3", "10.1.0.0/24", "10.9.0.0/24")},
	}
	spec2 := Spec{UUID: r2,
		Public:   PublicNetwork{NetworkUUID: pubUUID, Bridge: brPub, Address: pfx("203.0.113.3/24"), Gateway: addr("203.0.113.254")},
		Networks: []Network{{NetworkUUID: randHex(t, 16), Bridge: brD, Gateway: pfx("10.9.0.1/24"), SNAT: true}},
		IPsec:    []IPsecConnection{conn("203.0.113.3", "203.0.113.2", "10.9.0.0/24", "10.1.0.0/24")},
	}
	t0 := time.Now()
	st1, err := m.Ensure(t.Context(), spec1)
	if err != nil {
		t.Fatalf("ensure r1: %v", err)
	}
	st2, err := m.Ensure(t.Context(), spec2)
	if err != nil {
		t.Fatalf("ensure r2: %v", err)
	}
	t.Logf("TIMING Ensure of two routers with IPsec: %v; data plane %q; charon pids %d, %d", time.Since(t0), st1.IPsecDataPlane, st1.CharonPID, st2.CharonPID)
	logs := func() string {
		var b strings.Builder
		for _, r := range []string{r1, r2} {
			out, _ := os.ReadFile(filepath.Join(m.ipsecPaths(r).dir, "charon.log"))
			b.WriteString("--- " + r + "\n" + string(out))
		}
		return b.String()
	}
	for _, r := range []string{r1, r2} {
		var sa IPsecSA
		ok, err := poll(t.Context(), 30*time.Second, func() (bool, error) {
			sa, err = m.IPsecStatus(t.Context(), r, connUUID)
			return err == nil && sa.IKEState == "ESTABLISHED" && sa.ChildState == "INSTALLED", err
		})
		if err != nil || !ok {
			t.Fatalf("router %s: IKE %q CHILD %q (err %v)\n%s\n%s", r, sa.IKEState, sa.ChildState, err, sa.Raw, logs())
		}
	}
	t.Logf("TIMING IKE+CHILD SA established on both sides %v after the first Ensure", time.Since(t0))
	if os.Getenv("ZCLOUD_SHOW_CHARON_LOG") == "1" {
		t.Log(logs())
	}
	if st1.IPsecDataPlane == IPsecUserspace {
		if out, err := exec.Command("ip", "-n", Namespace(r1), "link", "show", "ipsec0").CombinedOutput(); err != nil {
			t.Fatalf("userspace data plane without ipsec0 TUN: %v %s", err, out)
		}
	}

	// Watch the public bridge: guest TCP must cross it only inside ESP-in-UDP (port 4500).
	// The host namespace holds every bridge; count only frames entering from the routers'
	// public ports.
	pubPorts := "{ " + hostIfName(r1, pubUUID) + " , " + hostIfName(r2, pubUUID) + " }"
	for _, rule := range []string{
		"add table bridge zrtwire",
		"add chain bridge zrtwire watch { type filter hook forward priority 0 ; policy accept ; }",
		"add rule bridge zrtwire watch iifname " + pubPorts + " tcp dport 9100 counter",
		"add rule bridge zrtwire watch iifname " + pubPorts + " udp dport 4500 counter",
	} {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", l.prefix + "-host", "nft"}, strings.Fields(rule)...)...).CombinedOutput(); err != nil {
			t.Fatalf("bridge counters %q: %v %s", rule, err, out)
		}
	}
	peerServer(t, gD, "0.0.0.0:9100")
	peerServer(t, gA, "0.0.0.0:9101")
	eventually(t, 10*time.Second, "guest A reaches guest D through the tunnel un-NATed", func() error {
		got, err := seenPeer(t, gA, "10.9.0.10:9100")
		if err == nil && got != "10.1.0.10" {
			t.Fatalf("guest D saw %q, want 10.1.0.10 (traffic must not be SNATed)", got)
		}
		return err
	})
	if got, err := seenPeer(t, gD, "10.1.0.10:9101"); err != nil || got != "10.9.0.10" {
		t.Fatalf("reverse direction: %q, %v", got, err)
	}
	eventually(t, 5*time.Second, "ping across the tunnel", func() error { return pingFrom(gA, "10.9.0.10") })
	out, err := exec.Command("ip", "netns", "exec", l.prefix+"-host", "nft", "list", "table", "bridge", "zrtwire").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	plain := regexp.MustCompile(`tcp dport 9100 counter packets (\d+)`).FindStringSubmatch(string(out))
	esp := regexp.MustCompile(`udp dport 4500 counter packets (\d+)`).FindStringSubmatch(string(out))
	if plain == nil || esp == nil || plain[1] != "0" || esp[1] == "0" {
		var dbg strings.Builder
		for _, r := range []string{r1, r2} {
			for _, c := range [][]string{{"rule"}, {"route", "show", "table", "all"}} {
				o, _ := exec.Command("ip", append([]string{"-n", Namespace(r)}, c...)...).CombinedOutput()
				dbg.Write(o)
			}
		}
		t.Fatalf("public bridge saw plaintext or no ESP-in-UDP:\n%s\n%s", out, dbg.String())
	}
	t.Logf("public bridge: %s plaintext tcp/9100 packets, %s udp/4500 packets", plain[1], esp[1])

	// Removing the connection stops charon and takes the tunnel down.
	spec1.IPsec = nil
	if st, err := m.Ensure(t.Context(), spec1); err != nil || st.CharonPID != 0 {
		t.Fatalf("ensure without ipsec: pid %d, %v", st.CharonPID, err)
	}
	if !waitGone(t.Context(), st1.CharonPID, 5*time.Second) {
		t.Fatalf("charon %d still running", st1.CharonPID)
	}
	if _, err := seenPeer(t, gA, "10.9.0.10:9100"); err == nil {
		t.Fatal("guest D still reachable with the tunnel removed")
	}
	assertDeleted(t, m, l, r1, st1)
	assertDeleted(t, m, l, r2, st2)
}
