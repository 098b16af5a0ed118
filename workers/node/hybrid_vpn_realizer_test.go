package node_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zcloud/zcloud/activities/aliyun/aliyunsim"
	"github.com/zcloud/zcloud/hostworker/router"
)

// aliyunGateway realizes aliyunsim's VPN connections as a real strongSwan
// endpoint: one hostworker/router namespace per VPN gateway stands for the
// Alibaba gateway (its public IP on the lab's public bridge, next to the
// address that plays the internet's gateway) and serves the VSwitch CIDR
// on its own bridge, where a guest namespace stands for an ECS instance.
type aliyunGateway struct {
	m        *router.Manager
	stateDir string // the Manager's, for logs
	// The public bridge and the namespace's address on it.
	publicBridge string
	public       netip.Prefix
	// vswBridge carries the VSwitch's network; vswGateway is its gateway.
	vswBridge  string
	vswGateway netip.Prefix

	mu    sync.Mutex
	specs map[string]*router.Spec // by VPN gateway id
	owner map[string]string       // connection id → VPN gateway id
}

var _ aliyunsim.VPNRealizer = (*aliyunGateway)(nil)

func hexID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// Ensure converges the gateway's namespace with the connection in it.
func (g *aliyunGateway) Ensure(ctx context.Context, c aliyunsim.VpnConnection, gw aliyunsim.VpnGateway, cg aliyunsim.CustomerGateway) error {
	conn, err := ipsecOf(c, gw, cg)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	spec, ok := g.specs[gw.VpnGatewayID]
	if !ok {
		spec = &router.Spec{UUID: hexID(gw.VpnGatewayID),
			Public: router.PublicNetwork{NetworkUUID: hexID("public"), Bridge: g.publicBridge, Address: g.public,
				// A fixed MAC: a gateway made again (after a rollback) is
				// reached through the peers' cached ARP entries.
				MAC: fixedMAC(gw.VpnGatewayID)},
			Networks: []router.Network{{NetworkUUID: hexID(gw.VSwitchID), Bridge: g.vswBridge, Gateway: g.vswGateway}}}
	}
	next := *spec
	next.IPsec = append([]router.IPsecConnection{conn}, withoutConn(spec.IPsec, conn.UUID)...)
	if _, err := g.m.Ensure(ctx, next); err != nil {
		return fmt.Errorf("realize vpn gateway %s: %w", gw.VpnGatewayID, err)
	}
	g.specs[gw.VpnGatewayID], g.owner[c.VpnConnectionID] = &next, gw.VpnGatewayID
	return nil
}

// Delete removes a connection; the namespace goes with the last one.
func (g *aliyunGateway) Delete(ctx context.Context, id string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	gwID, ok := g.owner[id]
	if !ok {
		return nil
	}
	spec := *g.specs[gwID]
	spec.IPsec = withoutConn(spec.IPsec, hexID(id))
	if len(spec.IPsec) == 0 {
		if err := g.m.Delete(ctx, spec.UUID); err != nil {
			return err
		}
		delete(g.specs, gwID)
	} else {
		if _, err := g.m.Ensure(ctx, spec); err != nil {
			return err
		}
		g.specs[gwID] = &spec
	}
	delete(g.owner, id)
	return nil
}

// deleteAll removes every namespace the gateway made (test cleanup).
func (g *aliyunGateway) deleteAll(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var errs []error
	for id, spec := range g.specs {
		errs = append(errs, g.m.Delete(ctx, spec.UUID))
		delete(g.specs, id)
	}
	return errors.Join(errs...)
}

func withoutConn(l []router.IPsecConnection, uuid string) []router.IPsecConnection {
	var out []router.IPsecConnection
	for _, c := range l {
		if c.UUID != uuid {
			out = append(out, c)
		}
	}
	return out
}

// ipsecOf translates an Alibaba VPN connection into the router's terms.
func ipsecOf(c aliyunsim.VpnConnection, gw aliyunsim.VpnGateway, cg aliyunsim.CustomerGateway) (router.IPsecConnection, error) {
	vip, err := netip.ParseAddr(gw.InternetIP)
	if err != nil {
		return router.IPsecConnection{}, fmt.Errorf("gateway ip: %w", err)
	}
	peer, err := netip.ParseAddr(cg.IPAddress)
	if err != nil {
		return router.IPsecConnection{}, fmt.Errorf("customer gateway ip: %w", err)
	}
	prefixes := func(s string) ([]netip.Prefix, error) {
		var out []netip.Prefix
		for _, p := range strings.Split(s, ",") {
			pp, err := netip.ParsePrefix(strings.TrimSpace(p))
			if err != nil {
				return nil, err
			}
			out = append(out, pp)
		}
		return out, nil
	}
	local, err := prefixes(c.LocalSubnet)
	if err != nil {
		return router.IPsecConnection{}, err
	}
	remote, err := prefixes(c.RemoteSubnet)
	if err != nil {
		return router.IPsecConnection{}, err
	}
	enc := map[string]string{"aes": "aes-128", "aes192": "aes-192", "aes256": "aes-256"}
	group := func(g string) (int, error) {
		n, err := strconv.Atoi(strings.TrimPrefix(g, "group"))
		if err != nil {
			return 0, fmt.Errorf("dh %q: %w", g, errors.ErrUnsupported)
		}
		return n, nil
	}
	ike, ipsec := c.IkeConfig, c.IpsecConfig
	ikeEnc, ok1 := enc[ike.IkeEncAlg]
	espEnc, ok2 := enc[ipsec.IpsecEncAlg]
	if !ok1 || !ok2 {
		return router.IPsecConnection{}, fmt.Errorf("encryption %s/%s: %w", ike.IkeEncAlg, ipsec.IpsecEncAlg, errors.ErrUnsupported)
	}
	dh, err := group(ike.IkePfs)
	if err != nil {
		return router.IPsecConnection{}, err
	}
	pfs := ""
	if ipsec.IpsecPfs != "" && ipsec.IpsecPfs != "disabled" {
		n, err := group(ipsec.IpsecPfs)
		if err != nil {
			return router.IPsecConnection{}, err
		}
		pfs = "dh-group" + strconv.Itoa(n)
	}
	return router.IPsecConnection{UUID: hexID(c.VpnConnectionID), VIP: vip, PeerAddress: peer, AuthKey: ike.Psk,
		LocalCIDRs: local, PeerCIDRs: remote, IKEVersion: ike.IkeVersion,
		IKEEncryptionAlgorithm: ikeEnc, IKEAuthAlgorithm: ike.IkeAuthAlg, IKEDHGroup: dh,
		PolicyEncryptionAlgorithm: espEnc, PolicyAuthAlgorithm: ipsec.IpsecAuthAlg, PFS: pfs,
		IKELifeTime: secondsOf(ike.IkeLifetime), LifeTime: secondsOf(ipsec.IpsecLifetime)}, nil
}

func secondsOf(n int64) time.Duration { return time.Duration(n) * time.Second }

// routerNamespace is the namespace of a router (a package-level name, so
// tests with a variable called router can reach it).
func routerNamespace(routerUUID string) string { return router.Namespace(routerUUID) }

// fixedMAC is a locally administered MAC derived from an id.
func fixedMAC(id string) string {
	sum := sha256.Sum256([]byte(id))
	return fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", sum[0], sum[1], sum[2], sum[3], sum[4])
}
