package hostworker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/hostworker/driver"
	"github.com/zcloud/zcloud/hostworker/router"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/secret"
)

// NetAgent serves the router appliance's activities (package netapi) of one
// host with a router.Manager: each router is a network namespace on the
// host. It shares the host's queue with the Agent.
type NetAgent struct {
	hostUUID string
	stateDir string
	m        *router.Manager
	err      error // why this host serves no routers
	none     bool  // the agent has no router manager at all
	logger   *slog.Logger
	// keys open the secrets the control plane seals to this host (IPsec
	// pre-shared keys); nil when they could not be made (keyErr).
	keys   *secret.KeyPair
	keyErr error

	mu    sync.Mutex
	gens  map[string]int64       // newest spec generation applied, per router
	locks map[string]*sync.Mutex // serialize the operations on one router
}

// order serializes operations on a router and reports whether gen is not
// older than the newest generation applied to it; done records gen once
// the operation succeeded and releases the router.
func (n *NetAgent) order(routerUUID string, gen int64) (current bool, done func(ok bool)) {
	n.mu.Lock()
	if n.locks == nil {
		n.locks, n.gens = map[string]*sync.Mutex{}, map[string]int64{}
	}
	l, ok := n.locks[routerUUID]
	if !ok {
		l = &sync.Mutex{}
		n.locks[routerUUID] = l
	}
	n.mu.Unlock()
	l.Lock()
	n.mu.Lock()
	current = gen == 0 || gen >= n.gens[routerUUID]
	n.mu.Unlock()
	return current, func(ok bool) {
		if ok && gen > 0 {
			n.mu.Lock()
			n.gens[routerUUID] = max(n.gens[routerUUID], gen)
			n.mu.Unlock()
		}
		l.Unlock()
	}
}

// NewNetAgent returns the router side of hostUUID's agent, keeping router
// state under cfg.StateDir. A manager that cannot start (no state dir) is
// not fatal to the agent: every router activity then answers its error.
func NewNetAgent(hostUUID string, cfg router.Config, logger *slog.Logger) *NetAgent {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = logger
	n := &NetAgent{hostUUID: hostUUID, stateDir: cfg.StateDir, logger: logger.With(slog.String("host_uuid", hostUUID))}
	n.m, n.err = router.New(cfg)
	n.keys, n.keyErr = loadSealingKeys(cfg.StateDir)
	if n.keyErr != nil {
		n.logger.Error("no sealing key: this host can receive no ipsec pre-shared key", slog.Any("error", n.keyErr))
	}
	return n
}

// sealingKeyFile is the seed of the agent's sealing key pair, in the
// router state dir (0600): a restarted agent still opens the specs sealed
// to the key it reported before.
const sealingKeyFile = "sealing.key"

// loadSealingKeys returns the agent's sealing key pair: from its seed in
// stateDir (created when missing), or a fresh in-memory one without a
// state dir.
func loadSealingKeys(stateDir string) (*secret.KeyPair, error) {
	seed := make([]byte, secret.KeySize)
	if stateDir == "" {
		if _, err := rand.Read(seed); err != nil {
			return nil, fmt.Errorf("sealing key: %w", err)
		}
	} else {
		var err error
		if seed, err = secret.LoadOrCreateKeyFile(filepath.Join(stateDir, sealingKeyFile)); err != nil {
			return nil, fmt.Errorf("sealing key: %w", err)
		}
	}
	return secret.NewKeyPair(seed, secret.HostSealInfo)
}

// SealingKey is the public key (base64) the control plane seals this
// host's secrets to; empty when the agent has none.
func (n *NetAgent) SealingKey() string {
	if n == nil || n.keys == nil {
		return ""
	}
	return n.keys.PublicKey()
}

// open opens a secret the control plane sealed to this host.
func (n *NetAgent) open(sealed string) (string, error) {
	if n.keys == nil {
		return "", fmt.Errorf("this agent has no sealing key: %w", n.keyErr)
	}
	return n.keys.Open(sealed)
}

// Register registers one activity per netapi name.
func (n *NetAgent) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(n.EnsureRouter, activity.RegisterOptions{Name: netapi.EnsureRouter})
	r.RegisterActivityWithOptions(n.DeleteRouter, activity.RegisterOptions{Name: netapi.DeleteRouter})
	r.RegisterActivityWithOptions(n.RouterStatus, activity.RegisterOptions{Name: netapi.RouterStatus})
	r.RegisterActivityWithOptions(n.ListRouters, activity.RegisterOptions{Name: netapi.ListRouters})
}

// maxSocketPath is the longest path a unix socket may have on Linux.
const maxSocketPath = 107

// routedDriver is a driver whose agent also serves routers.
type routedDriver struct {
	driver.Driver
	net *NetAgent
}

// Unwrap is the hypervisor driver under the router manager.
func (d routedDriver) Unwrap() driver.Driver { return d.Driver }

// WithRouters makes the agent built on d also serve the router activities
// with n. An agent whose driver was not wrapped (the in-process simulated
// fleet) answers them "not supported".
func WithRouters(d driver.Driver, n *NetAgent) driver.Driver {
	// The driver opens the image keys sealed to this agent (Sftp backup
	// storage) with the same key pair.
	if o, ok := d.(interface {
		SetSecretOpener(func(string) (string, error))
	}); ok && n != nil {
		o.SetSecretOpener(n.open)
	}
	return routedDriver{Driver: d, net: n}
}

// registerNet registers the router activities of the agent's host.
func (a *Agent) registerNet(r worker.ActivityRegistry) {
	n := &NetAgent{hostUUID: a.hostUUID, logger: a.logger, none: true,
		err: fmt.Errorf("not supported: this agent serves no router appliances: %w", errors.ErrUnsupported)}
	if rd, ok := a.driver.(routedDriver); ok && rd.net != nil {
		n = rd.net
	}
	n.Register(r)
}

// EnsureRouter is netapi.EnsureRouter.
func (n *NetAgent) EnsureRouter(ctx context.Context, p netapi.EnsureRouterParams) (netapi.EnsureRouterResult, error) {
	if err := n.check(netapi.EnsureRouter, p.HostUUID, p.Spec.UUID); err != nil {
		return netapi.EnsureRouterResult{}, err
	}
	// charon's control socket lives in the router's state directory; a
	// unix socket path has at most 107 bytes.
	if vici := filepath.Join(n.stateDir, strings.Repeat("0", 32), "ipsec", "charon.vici"); len(p.Spec.IPsec) > 0 && len(vici) > maxSocketPath {
		return netapi.EnsureRouterResult{}, n.fail(netapi.EnsureRouter, models.Invalid(
			"router state dir %s is too long for ipsec: the control socket path would have %d bytes (at most %d)", n.stateDir, len(vici), maxSocketPath))
	}
	current, done := n.order(p.Spec.UUID, p.Spec.Generation)
	if !current {
		done(false)
		n.logger.Info("stale router spec ignored", slog.String("router_uuid", p.Spec.UUID), slog.Int64("generation", p.Spec.Generation))
		return netapi.EnsureRouterResult{Namespace: router.Namespace(p.Spec.UUID), Interfaces: []netapi.Interface{}, Stale: true}, nil
	}
	spec, err := RouterSpec(p.Spec, n.open)
	if err != nil {
		done(false)
		return netapi.EnsureRouterResult{}, n.fail(netapi.EnsureRouter, err)
	}
	stop := heartbeat(ctx)
	st, err := n.m.Ensure(ctx, spec)
	stop()
	done(err == nil)
	if err != nil {
		return netapi.EnsureRouterResult{}, n.fail(netapi.EnsureRouter, err)
	}
	out := netapi.EnsureRouterResult{Namespace: st.Namespace, DnsmasqPID: st.DnsmasqPID, HAProxyPID: st.HAProxyPID,
		CharonPID: st.CharonPID, IPsecDataPlane: st.IPsecDataPlane, Interfaces: []netapi.Interface{}}
	for _, i := range st.Interfaces {
		out.Interfaces = append(out.Interfaces, netapi.Interface{NetworkUUID: i.NetworkUUID, HostName: i.HostName, RouterName: i.RouterName, MAC: i.MAC})
	}
	n.logger.Info("router ensured", slog.String("router_uuid", p.Spec.UUID), slog.String("namespace", st.Namespace))
	return out, nil
}

// DeleteRouter is netapi.DeleteRouter.
// An agent that serves no routers has none to delete.
func (n *NetAgent) DeleteRouter(ctx context.Context, p netapi.DeleteRouterParams) error {
	if n.none {
		return nil
	}
	if err := n.check(netapi.DeleteRouter, p.HostUUID, p.RouterUUID); err != nil {
		return err
	}
	current, done := n.order(p.RouterUUID, p.Generation)
	if !current {
		done(false)
		return nil
	}
	stop := heartbeat(ctx)
	err := n.m.Delete(ctx, p.RouterUUID)
	stop()
	done(err == nil)
	if err != nil {
		return n.fail(netapi.DeleteRouter, err)
	}
	return nil
}

// ListRouters is netapi.ListRouters. An agent that serves no routers has
// none.
func (n *NetAgent) ListRouters(_ context.Context, p netapi.ListRoutersParams) (netapi.ListRoutersResult, error) {
	if n.none {
		return netapi.ListRoutersResult{Routers: []string{}}, nil
	}
	if err := n.checkHost(netapi.ListRouters, p.HostUUID); err != nil {
		return netapi.ListRoutersResult{}, err
	}
	routers, err := n.m.List()
	if err != nil {
		return netapi.ListRoutersResult{}, n.fail(netapi.ListRouters, err)
	}
	return netapi.ListRoutersResult{Routers: routers}, nil
}

// RouterStatus is netapi.RouterStatus.
func (n *NetAgent) RouterStatus(ctx context.Context, p netapi.RouterStatusParams) (netapi.RouterStatusResult, error) {
	if err := n.check(netapi.RouterStatus, p.HostUUID, p.RouterUUID); err != nil {
		return netapi.RouterStatusResult{}, err
	}
	out := netapi.RouterStatusResult{Namespace: router.Namespace(p.RouterUUID)}
	_, err := os.Stat(filepath.Join("/run/netns", out.Namespace))
	out.Exists = err == nil
	if p.IPsecConnectionUUID != "" && out.Exists {
		sa, err := n.m.IPsecStatus(ctx, p.RouterUUID, p.IPsecConnectionUUID)
		if err != nil {
			return out, n.fail(netapi.RouterStatus, err)
		}
		out.IKEState, out.ChildState = sa.IKEState, sa.ChildState
	}
	return out, nil
}

func (n *NetAgent) check(op, hostUUID, routerUUID string) error {
	if err := n.checkHost(op, hostUUID); err != nil {
		return err
	}
	if routerUUID == "" {
		return n.fail(op, models.Invalid("router uuid is empty"))
	}
	return nil
}

// checkHost refuses a request meant for another host's agent, or any when
// the router manager could not start.
func (n *NetAgent) checkHost(op, hostUUID string) error {
	switch {
	case n.err != nil:
		return n.fail(op, n.err)
	case hostUUID != "" && hostUUID != n.hostUUID:
		return n.fail(op, models.Invalid("agent of host %s was asked about host %s", n.hostUUID, hostUUID))
	}
	return nil
}

// fail types an error for the control plane as Agent.fail does.
func (n *NetAgent) fail(op string, err error) error { return typedError(n.hostUUID, op, err) }

// heartbeat records heartbeats every second until stop, outside an
// activity it does nothing.
func heartbeat(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(heartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// RouterSpec converts the wire spec into the router package's; open opens
// the sealed pre-shared keys.
func RouterSpec(s netapi.Spec, open func(sealed string) (string, error)) (router.Spec, error) {
	out := router.Spec{UUID: s.UUID, UpstreamDNS: s.UpstreamDNS,
		Public: router.PublicNetwork{NetworkUUID: s.Public.NetworkUUID, Bridge: s.Public.Bridge, MTU: s.Public.MTU, MAC: s.Public.MAC,
			Address: s.Public.Address, Gateway: s.Public.Gateway, VIPs: s.Public.VIPs}}
	for _, n := range s.Networks {
		rn := router.Network{NetworkUUID: n.NetworkUUID, Bridge: n.Bridge, MTU: n.MTU, MAC: n.MAC, Gateway: n.Gateway, SNAT: n.SNAT, DHCP: n.DHCP}
		for _, h := range n.Hosts {
			rn.Hosts = append(rn.Hosts, router.DHCPHost{MAC: h.MAC, IP: h.IP, Hostname: h.Hostname})
		}
		out.Networks = append(out.Networks, rn)
	}
	for _, r := range s.Routes {
		out.Routes = append(out.Routes, router.Route{Destination: r.Destination, NextHop: r.NextHop, Distance: r.Distance})
	}
	for _, e := range s.EIPs {
		out.EIPs = append(out.EIPs, router.EIP{VIP: e.VIP, GuestIP: e.GuestIP})
	}
	for _, p := range s.PortForwards {
		out.PortForwards = append(out.PortForwards, router.PortForward{VIP: p.VIP, Protocol: p.Protocol, VIPPortStart: p.VIPPortStart,
			VIPPortEnd: p.VIPPortEnd, GuestIP: p.GuestIP, GuestPortStart: p.GuestPortStart, GuestPortEnd: p.GuestPortEnd, AllowedCIDR: p.AllowedCIDR})
	}
	for _, lb := range s.LoadBalancers {
		rl := router.LoadBalancer{UUID: lb.UUID, VIP: lb.VIP}
		for _, l := range lb.Listeners {
			rl.Listeners = append(rl.Listeners, router.Listener{UUID: l.UUID, Protocol: l.Protocol, LoadBalancerPort: l.LoadBalancerPort,
				InstancePort: l.InstancePort, Algorithm: l.Algorithm, Backends: l.Backends,
				HealthCheck: router.HealthCheck{Interval: l.HealthCheck.Interval, Timeout: l.HealthCheck.Timeout,
					HealthyThreshold: l.HealthCheck.HealthyThreshold, UnhealthyThreshold: l.HealthCheck.UnhealthyThreshold, HTTPPath: l.HealthCheck.HTTPPath}})
		}
		out.LoadBalancers = append(out.LoadBalancers, rl)
	}
	for _, c := range s.IPsec {
		key, err := open(c.SealedAuthKey)
		if err != nil {
			return router.Spec{}, models.Invalid("ipsec connection[uuid:%s]: cannot open its pre-shared key: %v", c.UUID, err)
		}
		out.IPsec = append(out.IPsec, router.IPsecConnection{UUID: c.UUID, VIP: c.VIP, PeerAddress: c.PeerAddress, AuthKey: key,
			LocalCIDRs: c.LocalCIDRs, PeerCIDRs: c.PeerCIDRs, IKEVersion: c.IKEVersion, IKEEncryptionAlgorithm: c.IKEEncryptionAlgorithm,
			IKEAuthAlgorithm: c.IKEAuthAlgorithm, IKEDHGroup: c.IKEDHGroup, PolicyEncryptionAlgorithm: c.PolicyEncryptionAlgorithm,
			PolicyAuthAlgorithm: c.PolicyAuthAlgorithm, PFS: c.PFS, IKELifeTime: c.IKELifeTime, LifeTime: c.LifeTime})
	}
	return out, nil
}
