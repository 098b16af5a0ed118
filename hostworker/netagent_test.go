package hostworker

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	osexec "os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/hostworker/router"
	"github.com/zcloud/zcloud/hostworker/sim"
	"github.com/zcloud/zcloud/models/secret"
)

var (
	mustAddr   = netip.MustParseAddr
	mustPrefix = netip.MustParsePrefix
)

// fullSpec sets every field of the wire spec, so that the conversion test
// notices a field that RouterSpec forgets.
func fullSpec() netapi.Spec {
	return netapi.Spec{
		UUID:       "0123456789abcdef0123456789abcdef",
		Generation: 7,
		Public: netapi.PublicNetwork{NetworkUUID: "11111111111111111111111111111111", Bridge: "br_pub", MTU: 1500, MAC: "fa:00:00:00:00:01",
			Address: mustPrefix("198.51.100.2/24"), Gateway: mustAddr("198.51.100.1"), VIPs: []netip.Addr{mustAddr("198.51.100.9")}},
		Networks: []netapi.Network{{NetworkUUID: "22222222222222222222222222222222", Bridge: "br_a", MTU: 1450, MAC: "fa:00:00:00:00:02",
			Gateway: mustPrefix("172.31.1.1/24"), SNAT: true, DHCP: true,
			Hosts: []netapi.DHCPHost{{MAC: "52:54:00:00:00:01", IP: mustAddr("172.31.1.5"), Hostname: "vm"}}}},
		Routes:      []netapi.Route{{Destination: mustPrefix("10.9.0.0/16"), NextHop: mustAddr("198.51.100.1"), Distance: 5}},
		UpstreamDNS: []netip.Addr{mustAddr("198.51.100.1")},
		EIPs:        []netapi.EIP{{VIP: mustAddr("198.51.100.10"), GuestIP: mustAddr("172.31.1.5")}},
		PortForwards: []netapi.PortForward{{VIP: mustAddr("198.51.100.11"), Protocol: "tcp", VIPPortStart: 22, VIPPortEnd: 23,
			GuestIP: mustAddr("172.31.1.5"), GuestPortStart: 2222, GuestPortEnd: 2223, AllowedCIDR: mustPrefix("0.0.0.0/0")}},
		LoadBalancers: []netapi.LoadBalancer{{UUID: "33333333333333333333333333333333", VIP: mustAddr("198.51.100.11"), Listeners: []netapi.Listener{{
			UUID: "44444444444444444444444444444444", Protocol: "http", LoadBalancerPort: 80, InstancePort: 8080, Algorithm: "roundrobin",
			HealthCheck: netapi.HealthCheck{Interval: time.Second, Timeout: time.Second, HealthyThreshold: 2, UnhealthyThreshold: 3, HTTPPath: "/"},
			Backends:    []netip.Addr{mustAddr("172.31.1.5")}}}}},
		IPsec: []netapi.IPsecConnection{{UUID: "55555555555555555555555555555555", VIP: mustAddr("198.51.100.11"), PeerAddress: mustAddr("192.0.2.1"),
			SealedAuthKey: "sealed-psk", LocalCIDRs: []netip.Prefix{mustPrefix("172.31.1.0/24")}, PeerCIDRs: []netip.Prefix{mustPrefix("10.0.0.0/24")},
			IKEVersion: "ikev2", IKEEncryptionAlgorithm: "aes-256", IKEAuthAlgorithm: "sha256", IKEDHGroup: 14, PolicyEncryptionAlgorithm: "aes-128",
			PolicyAuthAlgorithm: "sha1", PFS: "dh-group14", IKELifeTime: time.Hour, LifeTime: time.Minute}},
	}
}

// nonZero fails when any field reachable from v is its zero value.
func nonZero(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(netip.Addr{}) || v.Type() == reflect.TypeOf(netip.Prefix{}) {
			require.False(t, v.IsZero(), "%s is zero", path)
			return
		}
		for i := 0; i < v.NumField(); i++ {
			nonZero(t, path+"."+v.Type().Field(i).Name, v.Field(i))
		}
	case reflect.Slice:
		require.NotZero(t, v.Len(), "%s is empty", path)
		for i := 0; i < v.Len(); i++ {
			nonZero(t, path, v.Index(i))
		}
	default:
		require.False(t, v.IsZero(), "%s is zero", path)
	}
}

func TestRouterSpecConversion(t *testing.T) {
	in := fullSpec()
	nonZero(t, "netapi.Spec", reflect.ValueOf(in))
	// The spec crosses Temporal as JSON: it must come back the same.
	b, err := json.Marshal(in)
	require.NoError(t, err)
	var back netapi.Spec
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, in, back)
	keys, err := loadSealingKeys(t.TempDir())
	require.NoError(t, err)
	back.IPsec[0].SealedAuthKey, err = secret.Seal(keys.PublicKey(), secret.HostSealInfo, "the-psk")
	require.NoError(t, err)
	got, err := RouterSpec(back, keys.Open)
	require.NoError(t, err)
	nonZero(t, "router.Spec", reflect.ValueOf(got))
	require.Equal(t, "the-psk", got.IPsec[0].AuthKey, "the agent opens the pre-shared key")
	other, err := loadSealingKeys("")
	require.NoError(t, err)
	_, err = RouterSpec(back, other.Open)
	require.ErrorContains(t, err, "cannot open its pre-shared key", "a key sealed to another host does not open")
	require.Equal(t, in.Public.Address, got.Public.Address)
	require.Equal(t, in.LoadBalancers[0].Listeners[0].HealthCheck.UnhealthyThreshold, got.LoadBalancers[0].Listeners[0].HealthCheck.UnhealthyThreshold)
	require.Equal(t, in.IPsec[0].PFS, got.IPsec[0].PFS)
}

// TestNetAgentUnsupported: an agent whose driver carries no NetAgent (the
// in-process simulated fleet) answers router activities "not supported",
// not retried.
func TestNetAgentUnsupported(t *testing.T) {
	d, err := sim.New(sim.Config{})
	require.NoError(t, err)
	var env testsuite.WorkflowTestSuite
	ae := env.NewTestActivityEnvironment()
	New("host-a", d, nil).Register(ae)
	_, err = ae.ExecuteActivity(netapi.EnsureRouter, netapi.EnsureRouterParams{HostUUID: "host-a", Spec: fullSpec()})
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	require.Equal(t, hostapi.ErrTypeUnsupported, app.Type())
	require.True(t, app.NonRetryable())
}

// TestNetAgentEnsureDelete converges a real router namespace through the
// registered activities and deletes it twice (root, ip, dnsmasq).
func TestNetAgentEnsureDelete(t *testing.T) {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, b := range []string{"/usr/sbin/ip", "/usr/sbin/dnsmasq"} {
		if _, err := os.Stat(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		if os.Getenv("ZCLOUD_REQUIRE_NET") == "1" {
			t.Fatalf("needs %v (ZCLOUD_REQUIRE_NET=1)", missing)
		}
		t.Skipf("needs %v; set ZCLOUD_REQUIRE_NET=1 to fail instead", missing)
	}
	// The host namespace is a fresh named namespace holding the bridges.
	hostNS := "zt-na-" + randomSuffix(t)
	run := func(args ...string) {
		t.Helper()
		out, err := osexec.Command("ip", args...).CombinedOutput()
		require.NoError(t, err, "ip %v: %s", args, out)
	}
	run("netns", "add", hostNS)
	t.Cleanup(func() { _ = osexec.Command("ip", "netns", "del", hostNS).Run() })
	for _, br := range []string{"br_pub", "br_a"} {
		run("-n", hostNS, "link", "add", br, "type", "bridge")
		run("-n", hostNS, "link", "set", br, "up")
	}
	d, err := sim.New(sim.Config{})
	require.NoError(t, err)
	n := NewNetAgent("host-a", router.Config{StateDir: t.TempDir(), HostNetNS: "/run/netns/" + hostNS}, nil)
	var env testsuite.WorkflowTestSuite
	ae := env.NewTestActivityEnvironment()
	New("host-a", WithRouters(d, n), nil).Register(ae)

	spec := fullSpec()
	spec.UUID = randomSuffix(t) + randomSuffix(t)
	spec.Public.VIPs = nil
	spec.LoadBalancers, spec.IPsec, spec.Routes = nil, nil, nil
	t.Cleanup(func() { _ = n.m.Delete(t.Context(), spec.UUID) })

	_, err = ae.ExecuteActivity(netapi.EnsureRouter, netapi.EnsureRouterParams{HostUUID: "other", Spec: spec})
	require.ErrorContains(t, err, "was asked about host other")

	spec.Generation = 5
	v, err := ae.ExecuteActivity(netapi.EnsureRouter, netapi.EnsureRouterParams{HostUUID: "host-a", Spec: spec})
	require.NoError(t, err)
	var res netapi.EnsureRouterResult
	require.NoError(t, v.Get(&res))
	require.False(t, res.Stale)

	// An older spec that arrives late (a slower concurrent change) is
	// ignored, and so is an older delete.
	older := spec
	older.Generation = 3
	older.EIPs = nil
	v, err = ae.ExecuteActivity(netapi.EnsureRouter, netapi.EnsureRouterParams{HostUUID: "host-a", Spec: older})
	require.NoError(t, err)
	var stale netapi.EnsureRouterResult
	require.NoError(t, v.Get(&stale))
	require.True(t, stale.Stale)
	_, err = ae.ExecuteActivity(netapi.DeleteRouter, netapi.DeleteRouterParams{HostUUID: "host-a", RouterUUID: spec.UUID, Generation: 4})
	require.NoError(t, err)
	require.Equal(t, router.Namespace(spec.UUID), res.Namespace)
	require.Len(t, res.Interfaces, 2)
	require.NotZero(t, res.DnsmasqPID)
	out, err := osexec.Command("ip", "-n", res.Namespace, "addr").CombinedOutput()
	require.NoError(t, err)
	require.Contains(t, string(out), "172.31.1.1/24")
	require.Contains(t, string(out), "198.51.100.10/32", "the EIP's VIP is on the public NIC")

	v, err = ae.ExecuteActivity(netapi.RouterStatus, netapi.RouterStatusParams{HostUUID: "host-a", RouterUUID: spec.UUID})
	require.NoError(t, err)
	var st netapi.RouterStatusResult
	require.NoError(t, v.Get(&st))
	require.True(t, st.Exists)

	for range 2 {
		_, err = ae.ExecuteActivity(netapi.DeleteRouter, netapi.DeleteRouterParams{HostUUID: "host-a", RouterUUID: spec.UUID, Generation: 6})
		require.NoError(t, err, "delete (twice)")
	}
	v, err = ae.ExecuteActivity(netapi.RouterStatus, netapi.RouterStatusParams{HostUUID: "host-a", RouterUUID: spec.UUID})
	require.NoError(t, err)
	require.NoError(t, v.Get(&st))
	require.False(t, st.Exists)
	require.Error(t, osexec.Command("kill", "-0", itoa(res.DnsmasqPID)).Run(), "dnsmasq %d still runs", res.DnsmasqPID)
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	f, err := os.Open("/dev/urandom")
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Read(b)
	require.NoError(t, err)
	const hex = "0123456789abcdef"
	out := make([]byte, 8)
	for i, c := range b {
		out[2*i], out[2*i+1] = hex[c>>4], hex[c&15]
	}
	return string(out)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestNetAgentIPsecStateDirTooLong: charon's control socket would not fit
// in a unix socket path, so a spec with IPsec is refused up front instead
// of leaving connections silently unloaded.
func TestNetAgentIPsecStateDirTooLong(t *testing.T) {
	dir := t.TempDir() + "/a-state-directory-whose-name-is-far-too-long-for-a-unix-socket-path"
	d, err := sim.New(sim.Config{})
	require.NoError(t, err)
	var env testsuite.WorkflowTestSuite
	ae := env.NewTestActivityEnvironment()
	New("host-a", WithRouters(d, NewNetAgent("host-a", router.Config{StateDir: dir}, nil)), nil).Register(ae)
	_, err = ae.ExecuteActivity(netapi.EnsureRouter, netapi.EnsureRouterParams{HostUUID: "host-a", Spec: fullSpec()})
	require.ErrorContains(t, err, "too long for ipsec")
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app))
	require.Equal(t, hostapi.ErrTypeInvalid, app.Type())
}

// TestAgentSealingKey: an agent serving routers reports its sealing key on
// connect; the key survives a restart (its seed is in the state dir, 0600);
// an agent serving no routers reports none.
func TestAgentSealingKey(t *testing.T) {
	dir := t.TempDir()
	d, err := sim.New(sim.Config{})
	require.NoError(t, err)
	n := NewNetAgent("host-a", router.Config{StateDir: dir}, nil)
	require.NotEmpty(t, n.SealingKey())
	facts, err := New("host-a", WithRouters(d, n), nil).Connect(t.Context(), hostapi.ConnectParams{HostUUID: "host-a"})
	require.NoError(t, err)
	require.Equal(t, n.SealingKey(), facts.SealingKey)
	st, err := os.Stat(filepath.Join(dir, sealingKeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	again := NewNetAgent("host-a", router.Config{StateDir: dir}, nil)
	require.Equal(t, n.SealingKey(), again.SealingKey(), "a restarted agent keeps its key")
	sealed, err := secret.Seal(n.SealingKey(), secret.HostSealInfo, "k")
	require.NoError(t, err)
	got, err := again.open(sealed)
	require.NoError(t, err)
	require.Equal(t, "k", got)

	facts, err = New("host-a", d, nil).Connect(t.Context(), hostapi.ConnectParams{HostUUID: "host-a"})
	require.NoError(t, err)
	require.Empty(t, facts.SealingKey, "an agent without routers receives no secret")
}
