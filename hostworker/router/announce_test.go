package router

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
)

// TestAnnounceMovesBridgeEntries puts the router's MAC on a stale bridge port (as a bridge keeps
// it on the VXLAN port towards a router's old host) and checks that converging the router moves
// the entry to the router's own port at once, without waiting for the bridge's ageing time.
func TestAnnounceMovesBridgeEntries(t *testing.T) {
	requireNet(t, "/usr/sbin/bridge")
	l := newLab(t)
	br := l.bridge(l.prefix + "pub")
	l.guest("old", br, pfx("203.0.113.9/24"), netip.Addr{}, "")
	m, err := New(Config{StateDir: t.TempDir(), HostNetNS: l.hostPath()})
	if err != nil {
		t.Fatal(err)
	}
	uuid := randHex(t, 16)
	t.Cleanup(func() {
		if err := m.Delete(cleanupCtx(t), uuid); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	const mac = "52:54:00:7a:00:01"
	spec := Spec{UUID: uuid, Public: PublicNetwork{NetworkUUID: randHex(t, 16), Bridge: br, MAC: mac, Address: pfx("203.0.113.2/24")}}
	st, err := m.Ensure(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	fdb := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(t.Context(), "ip", append([]string{"netns", "exec", l.prefix + "-host", "bridge", "fdb"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("bridge fdb %v: %v: %s", args, err, out)
		}
		return string(out)
	}
	port := func() string {
		for _, line := range strings.Split(fdb("show", "br", br), "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[0] == mac && f[1] == "dev" {
				return f[2]
			}
		}
		return ""
	}
	stale := l.prefix + "vold"
	fdb("replace", mac, "dev", stale, "master", "dynamic")
	if got := port(); got != stale {
		t.Fatalf("before: router mac on port %q, want the stale %q", got, stale)
	}
	if _, err := m.Ensure(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if got, want := port(), st.Interfaces[0].HostName; got != want {
		t.Fatalf("after converging: router mac on port %q, want the router's %q", got, want)
	}
}
