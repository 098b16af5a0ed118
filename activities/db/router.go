package db

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/secret"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// registerRouter registers the router appliance's database steps.
func (a *Activities) registerRouter(w worker.Registry) {
	for name, fn := range map[string]any{
		workflows.ActRouterApply:         a.RouterApply,
		workflows.ActRouterUndo:          a.RouterUndo,
		workflows.ActRouterForget:        a.RouterForget,
		workflows.ActRouterSpec:          a.RouterSpec,
		workflows.ActRouterCreateRecord:  a.RouterCreateRecord,
		workflows.ActRouterDeleteRecord:  a.RouterDeleteRecord,
		workflows.ActRouterTransition:    a.RouterTransition,
		workflows.ActRouterSetState:      a.RouterSetState,
		workflows.ActRouterGeneration:    a.RouterGeneration,
		workflows.ActRouterMigrateBegin:  a.RouterMigrateBegin,
		workflows.ActRouterMoveHost:      a.RouterMoveHost,
		workflows.ActRoutersOfHost:       a.RoutersOfHost,
		workflows.ActRouterMarkConnected: a.RouterMarkConnected,
		workflows.ActRouterStrays:        a.RouterStrays,
		workflows.ActRouterLeftoversDone: a.RouterLeftoversDone,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// RouterApply runs the database side of a router change in one journaled
// transaction and renders the job's reply.
func (a *Activities) RouterApply(ctx context.Context, p workflows.RouterApplyParams) (workflows.RouterApplyResult, error) {
	if err := a.Faults.check(workflows.ActRouterApply + ":" + p.Op); err != nil {
		return workflows.RouterApplyResult{}, wrap(err)
	}
	m, err := opArgs(activities.OpParams{Op: p.Op, Args: p.Args})
	if err != nil {
		return workflows.RouterApplyResult{}, wrap(err)
	}
	args := store.ChangeArgs(m)
	if p.Op == "CreateIPsecConnection" {
		if err := a.encryptAuthKey(args); err != nil {
			return workflows.RouterApplyResult{}, wrap(err)
		}
	}
	change, ok := routerChanges[p.Op]
	var pre []store.RowImage
	if p.Op == "CreateVip" {
		// The address comes from the IPAM first (race-free on its own);
		// the journal then owns the used-IP row, and a failed change frees it.
		used, err := a.Store.AllocateIP(ctx, args.Str("l3NetworkUuid"), args.Str("uuid"), args.Str("requiredIp"))
		if err != nil {
			return workflows.RouterApplyResult{}, wrap(err)
		}
		change, ok = store.CreateVip(used), true
		pre = []store.RowImage{{Table: "used_ips", UUID: used.UUID}}
	}
	if !ok {
		return workflows.RouterApplyResult{}, wrap(models.Invalid("operation %s is not supported", p.Op))
	}
	res, err := a.Store.RouterChange(ctx, p.Key, func(j *store.Journal) (store.ChangeResult, error) {
		return change(j, args, p.AccountUUID)
	}, pre...)
	if err != nil {
		if p.Op == "CreateVip" {
			if rerr := a.Store.ReleaseIPsOfNIC(ctx, args.Str("uuid")); rerr != nil {
				a.Logger.Warn("cannot release the ip of a failed vip", "vip_uuid", args.Str("uuid"), "error", rerr)
			}
		}
		return workflows.RouterApplyResult{}, wrap(err)
	}
	out := workflows.RouterApplyResult{Routers: res.Routers}
	if res.Resource != "" {
		if out.Result, err = render(ctx, a, res.Resource, res.UUID); err != nil {
			return out, wrap(err)
		}
	}
	return out, nil
}

// RouterUndo puts back every row a router change touched.
func (a *Activities) RouterUndo(ctx context.Context, p workflows.RouterKey) error {
	return wrap(a.Store.UndoRouterChange(ctx, p.Key))
}

// RouterForget drops the journal of a finished change.
func (a *Activities) RouterForget(ctx context.Context, p workflows.RouterKey) error {
	return wrap(a.Store.ForgetRouterChange(ctx, p.Key))
}

// RouterSpec computes a router's desired state from the database; a
// router that does not exist gives an empty result.
func (a *Activities) RouterSpec(ctx context.Context, p workflows.RouterRef) (workflows.RouterSpecResult, error) {
	if err := a.Faults.check(workflows.ActRouterSpec); err != nil {
		return workflows.RouterSpecResult{}, wrap(err)
	}
	gen, err := a.Store.NextRouterGeneration(ctx, p.RouterUUID)
	if err != nil || gen == 0 {
		return workflows.RouterSpecResult{}, wrap(err) // gen 0: the router is gone
	}
	d, err := a.Store.RouterDesired(ctx, p.RouterUUID)
	if err != nil {
		return workflows.RouterSpecResult{}, wrap(err)
	}
	host := string(d.Router.HostUUID)
	if p.HostUUID != "" {
		host = p.HostUUID // a spec for a host the router moves to
	}
	spec, err := RouterHostSpec(d, a.hostSealer(ctx, host))
	if err != nil {
		return workflows.RouterSpecResult{}, wrap(err)
	}
	spec.Generation = gen
	return workflows.RouterSpecResult{HostUUID: host, State: d.Router.State, Spec: spec}, nil
}

// errNoSecretKey says why a control plane without a secret key keeps no
// pre-shared key.
func errNoSecretKey() error {
	return models.Unavailable("this control plane has no secret key (hybrid key file): it cannot keep ipsec pre-shared keys")
}

// hostSealer returns what turns a stored pre-shared key into the form the
// router's host opens: decrypted with the control plane's key, sealed to
// the key the host's agent reported. A host whose agent reported none
// gets an error, never a key in clear.
func (a *Activities) hostSealer(ctx context.Context, hostUUID string) func(stored string) (string, error) {
	var pub string
	return func(stored string) (string, error) {
		if a.Secrets == nil {
			return "", errNoSecretKey()
		}
		plain, err := a.Secrets.Decrypt(stored)
		if err != nil {
			return "", err
		}
		if pub == "" {
			if pub, err = a.Store.HostSealingKey(ctx, hostUUID); err != nil {
				return "", err
			}
		}
		return secret.Seal(pub, secret.HostSealInfo, plain)
	}
}

// encryptAuthKey replaces a change's authKey, sealed by the API to the
// control plane's key, by its at-rest form.
func (a *Activities) encryptAuthKey(args store.ChangeArgs) error {
	sealed := args.Str("authKey")
	if sealed == "" {
		return nil // the change says it is required
	}
	if a.Secrets == nil {
		return errNoSecretKey()
	}
	plain, err := a.Secrets.Open(sealed)
	if err != nil {
		return models.Invalid("cannot open authKey: %v", err)
	}
	enc, err := a.Secrets.Encrypt(plain)
	if err != nil {
		return err
	}
	args["authKey"] = enc
	return nil
}

// RouterHostSpec turns what the database says about a router into the
// host's spec: public NIC (router IP, upstream gateway), one network per
// VPC L3 with its gateway, SNAT and DHCP leases of its VMs, the services
// and the routes. seal turns a stored (encrypted) pre-shared key into the
// form the host opens.
func RouterHostSpec(d models.RouterDesired, seal func(stored string) (string, error)) (netapi.Spec, error) {
	s := netapi.Spec{UUID: d.Router.UUID}
	bad := func(what, v string) error {
		return models.Invalid("router[uuid:%s]: bad %s [%s]", d.Router.UUID, what, v)
	}
	for _, n := range d.Networks {
		cidr, err := netip.ParsePrefix(n.CIDR)
		if err != nil {
			return s, bad("cidr", n.CIDR)
		}
		ip, err := netip.ParseAddr(n.Nic.IP)
		if err != nil {
			return s, bad("ip", n.Nic.IP)
		}
		addr := netip.PrefixFrom(ip, cidr.Bits())
		if n.Public {
			gw, _ := netip.ParseAddr(n.Gateway)
			s.Public = netapi.PublicNetwork{NetworkUUID: n.Nic.L3NetworkUUID, Bridge: n.Bridge, MAC: n.Nic.MAC, Address: addr, Gateway: gw}
			continue
		}
		nw := netapi.Network{NetworkUUID: n.Nic.L3NetworkUUID, Bridge: n.Bridge, MAC: n.Nic.MAC, Gateway: addr, SNAT: true, DHCP: true}
		for _, h := range n.DHCPHosts {
			hip, err := netip.ParseAddr(h.IP)
			if err != nil {
				return s, bad("guest ip", h.IP)
			}
			nw.Hosts = append(nw.Hosts, netapi.DHCPHost{MAC: h.MAC, IP: hip, Hostname: h.Hostname})
		}
		s.Networks = append(s.Networks, nw)
	}
	for _, dns := range d.DNS {
		if a, err := netip.ParseAddr(dns); err == nil {
			s.UpstreamDNS = append(s.UpstreamDNS, a)
		}
	}
	for _, r := range d.Routes {
		dst, err := netip.ParsePrefix(r.Destination)
		if err != nil {
			return s, bad("route destination", r.Destination)
		}
		rt := netapi.Route{Destination: dst, Distance: r.Distance}
		if r.Type == models.RouteUserStatic {
			if rt.NextHop, err = netip.ParseAddr(string(r.Target)); err != nil {
				return s, bad("route target", string(r.Target))
			}
		}
		s.Routes = append(s.Routes, rt)
	}
	for _, e := range d.EIPs {
		vip, err1 := netip.ParseAddr(e.VipIP)
		guest, err2 := netip.ParseAddr(string(e.GuestIP))
		if err1 != nil || err2 != nil {
			return s, bad("eip", e.UUID)
		}
		s.EIPs = append(s.EIPs, netapi.EIP{VIP: vip, GuestIP: guest})
	}
	for _, p := range d.PortForwards {
		vip, err1 := netip.ParseAddr(p.VipIP)
		guest, err2 := netip.ParseAddr(string(p.GuestIP))
		if err1 != nil || err2 != nil {
			return s, bad("port forwarding rule", p.UUID)
		}
		pf := netapi.PortForward{VIP: vip, Protocol: strings.ToLower(p.ProtocolType), VIPPortStart: uint16(p.VipPortStart), VIPPortEnd: uint16(p.VipPortEnd),
			GuestIP: guest, GuestPortStart: uint16(p.PrivatePortStart), GuestPortEnd: uint16(p.PrivatePortEnd)}
		if p.AllowedCIDR != "" {
			if pf.AllowedCIDR, err1 = netip.ParsePrefix(string(p.AllowedCIDR)); err1 != nil {
				return s, bad("allowed cidr", string(p.AllowedCIDR))
			}
		}
		s.PortForwards = append(s.PortForwards, pf)
	}
	for _, lb := range d.LoadBalancers {
		vip, err := netip.ParseAddr(lb.VipIP)
		if err != nil {
			return s, bad("vip", lb.VipIP)
		}
		out := netapi.LoadBalancer{UUID: lb.LB.UUID, VIP: vip}
		for _, l := range lb.Listeners {
			nl := netapi.Listener{UUID: l.Listener.UUID, Protocol: l.Listener.Protocol, LoadBalancerPort: uint16(l.Listener.LoadBalancerPort),
				InstancePort: uint16(l.Listener.InstancePort), Algorithm: "roundrobin", Backends: []netip.Addr{}}
			if l.Listener.HealthCheckProtocol == "http" {
				nl.HealthCheck.HTTPPath = string(l.Listener.HealthCheckURI)
				if nl.HealthCheck.HTTPPath == "" {
					nl.HealthCheck.HTTPPath = "/"
				}
			}
			for _, b := range l.Backends {
				ip, err := netip.ParseAddr(b)
				if err != nil {
					return s, bad("backend", b)
				}
				nl.Backends = append(nl.Backends, ip)
			}
			out.Listeners = append(out.Listeners, nl)
		}
		s.LoadBalancers = append(s.LoadBalancers, out)
	}
	for _, c := range d.IPsec {
		vip, err1 := netip.ParseAddr(c.VipIP)
		peer, err2 := netip.ParseAddr(c.Conn.PeerAddress)
		if err1 != nil || err2 != nil {
			return s, bad("ipsec connection", c.Conn.UUID)
		}
		key, err := seal(c.Conn.AuthKey)
		if err != nil {
			return s, fmt.Errorf("ipsec connection[uuid:%s]: %w", c.Conn.UUID, err)
		}
		ic := netapi.IPsecConnection{UUID: c.Conn.UUID, VIP: vip, PeerAddress: peer, SealedAuthKey: key, IKEVersion: c.Conn.IKEVersion,
			IKEEncryptionAlgorithm: c.Conn.IKEEncryptionAlgorithm, IKEAuthAlgorithm: c.Conn.IKEAuthAlgorithm, IKEDHGroup: c.Conn.IKEDHGroup,
			PolicyEncryptionAlgorithm: c.Conn.PolicyEncryptionAlgorithm, PolicyAuthAlgorithm: c.Conn.PolicyAuthAlgorithm,
			IKELifeTime: time.Duration(c.Conn.IKELifeTime) * time.Second, LifeTime: time.Duration(c.Conn.LifeTime) * time.Second}
		if c.Conn.PFS != "none" {
			ic.PFS = c.Conn.PFS
		}
		for _, x := range c.LocalCIDRs {
			if p, err := netip.ParsePrefix(x); err == nil {
				ic.LocalCIDRs = append(ic.LocalCIDRs, p)
			}
		}
		for _, x := range c.PeerCIDRs {
			if p, err := netip.ParsePrefix(x); err == nil {
				ic.PeerCIDRs = append(ic.PeerCIDRs, p)
			}
		}
		s.IPsec = append(s.IPsec, ic)
	}
	if s.Public.NetworkUUID == "" {
		return s, models.Invalid("router[uuid:%s] has no public nic", d.Router.UUID)
	}
	return s, nil
}

// RouterCreateRecord places a new router on a host, allocates its public
// IP and records it (state Starting). A retried step finds its router.
func (a *Activities) RouterCreateRecord(ctx context.Context, p workflows.CreateRouterParams) (workflows.RouterRecord, error) {
	var r models.VirtualRouter
	if err := a.Store.Get(ctx, store.ResVpcRouter, p.RouterUUID, &r); err == nil {
		return workflows.RouterRecord{RouterUUID: r.UUID, HostUUID: string(r.HostUUID)}, nil
	}
	var o models.VirtualRouterOffering
	if err := a.Store.Get(ctx, store.ResVirtualRouterOffering, p.OfferingUUID, &o); err != nil {
		return workflows.RouterRecord{}, wrap(err)
	}
	if o.State != models.StateEnabled {
		return workflows.RouterRecord{}, wrap(models.Invalid("virtual router offering[uuid:%s] is %s", o.UUID, o.State))
	}
	if p.ZoneUUID != "" && p.ZoneUUID != o.ZoneUUID {
		return workflows.RouterRecord{}, wrap(models.Invalid("zone[uuid:%s] is not the zone of virtual router offering[uuid:%s]", p.ZoneUUID, o.UUID))
	}
	place, err := a.Store.PickRouterHost(ctx, o.ZoneUUID, p.ClusterUUID, p.HostUUID, o.PublicNetworkUUID)
	if err != nil {
		return workflows.RouterRecord{}, wrap(err)
	}
	var h models.Host
	if err := a.Store.Get(ctx, store.ResHost, place.HostUUID, &h); err != nil {
		return workflows.RouterRecord{}, wrap(err)
	}
	nicUUID := models.NameUUID("RouterNic", p.RouterUUID, o.PublicNetworkUUID)
	used, err := a.Store.AllocateIP(ctx, o.PublicNetworkUUID, nicUUID, "")
	if err != nil {
		return workflows.RouterRecord{}, wrap(err)
	}
	appliance := p.ApplianceVMType
	if appliance == "" {
		appliance = models.ApplianceVpcRouter
	}
	now := models.Now()
	r = models.VirtualRouter{Base: models.Base{UUID: p.RouterUUID, Name: p.Name, Description: models.Ref(p.Description), CreateDate: now, LastOpDate: now},
		ZoneUUID: o.ZoneUUID, ClusterUUID: place.ClusterUUID, HostUUID: models.Ref(place.HostUUID), LastHostUUID: models.Ref(place.HostUUID),
		ImageUUID: o.ImageUUID, InstanceOfferingUUID: o.UUID, ApplianceVMType: appliance,
		ManagementNetworkUUID: o.ManagementNetworkUUID, PublicNetworkUUID: o.PublicNetworkUUID, DefaultRouteL3NetworkUUID: o.PublicNetworkUUID,
		Type: models.ApplianceVMType, HypervisorType: h.HypervisorType, State: models.VMStarting, Status: models.StatusConnecting,
		CPUNum: o.CPUNum, MemorySize: o.MemorySize, Platform: "Linux", Architecture: "x86_64"}
	nic := models.RouterNic{UUID: nicUUID, VMInstanceUUID: r.UUID, L3NetworkUUID: o.PublicNetworkUUID, IP: used.IP, MAC: store.RouterNicMAC(nicUUID),
		Netmask: used.Netmask, Gateway: used.Gateway, IPVersion: 4, DeviceID: 0, Type: "VNIC", State: models.StateEnabled,
		HypervisorType: h.HypervisorType, DriverType: "virtio", InternalName: "vnic0", CreateDate: now, LastOpDate: now}
	if err := a.Store.CreateRouterRecord(ctx, r, nic, p.AccountUUID); err != nil {
		if rerr := a.Store.ReleaseIPsOfNIC(ctx, nicUUID); rerr != nil {
			err = fmt.Errorf("%w (and releasing its ip: %v)", err, rerr)
		}
		return workflows.RouterRecord{}, wrap(err)
	}
	return workflows.RouterRecord{RouterUUID: r.UUID, HostUUID: place.HostUUID}, nil
}

// RouterGeneration takes a router's next spec generation, for a delete on
// its host (0 when the router is gone).
func (a *Activities) RouterGeneration(ctx context.Context, p workflows.RouterRef) (int64, error) {
	gen, err := a.Store.NextRouterGeneration(ctx, p.RouterUUID)
	return gen, wrap(err)
}

// RouterDeleteRecord removes a router's records and frees its IPs.
func (a *Activities) RouterDeleteRecord(ctx context.Context, p workflows.RouterRef) error {
	return wrap(a.Store.DeleteRouterRecord(ctx, p.RouterUUID))
}

// RouterTransition moves a router into an action's intermediate state.
func (a *Activities) RouterTransition(ctx context.Context, p workflows.RouterOpParams) (workflows.RouterTransitionResult, error) {
	prev, err := a.Store.TransitionRouter(ctx, p.RouterUUID, p.Action)
	if err != nil {
		return workflows.RouterTransitionResult{}, wrap(err)
	}
	var r models.VirtualRouter
	if err := a.Store.Get(ctx, store.ResVpcRouter, p.RouterUUID, &r); err != nil {
		return workflows.RouterTransitionResult{}, wrap(err)
	}
	return workflows.RouterTransitionResult{Prev: prev, HostUUID: string(r.HostUUID)}, nil
}

// RouterSetState records a router's state (and status).
func (a *Activities) RouterSetState(ctx context.Context, p workflows.RouterStateParams) error {
	err := a.Store.SetRouterState(ctx, p.RouterUUID, p.State, p.Status)
	if err != nil && models.AsError(err).Kind == models.KindNotFound {
		return nil // a compensation after the router was deleted
	}
	return wrap(err)
}
