package db

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// networkOps are the database operations of networking APIs.
var networkOps = map[string]opFunc{
	"CreateL2VlanNetwork":               createL2Vlan,
	"CreateL2VxlanNetworkPool":          createVxlanPool,
	"CreateL2VxlanNetwork":              createVxlan,
	"CreateVniRange":                    createVniRange,
	"UpdateVniRange":                    updateOp(store.ResVniRange, "name", "description"),
	"DeleteVniRange":                    deleteVniRange,
	"AttachNetworkServiceToL3Network":   attachL3Services,
	"DetachNetworkServiceFromL3Network": detachL3Services,
	"CreateSecurityGroup":               createSecurityGroup,
	"UpdateSecurityGroup":               updateOp(store.ResSecurityGroup, "name", "description"),
	"ChangeSecurityGroupState":          changeState(store.ResSecurityGroup),
	"DeleteSecurityGroup":               deleteSecurityGroup,
	"AddSecurityGroupRule":              addSecurityGroupRules,
	"DeleteSecurityGroupRule":           deleteSecurityGroupRules,
	"AttachSecurityGroupToL3Network":    attachSecurityGroupToL3,
	"DetachSecurityGroupFromL3Network":  detachOp(store.ResSecurityGroupL3, "securityGroupUuid", "l3NetworkUuid", store.ResSecurityGroup),
	"AddVmNicToSecurityGroup":           addNICsToSecurityGroup,
	"DeleteL3Network":                   deleteL3,
	"DeleteVmNicFromSecurityGroup":      removeNICsFromSecurityGroup,
}

var networkCreated = map[string]string{
	"CreateL2VlanNetwork": store.ResL2Network, "CreateL2VxlanNetworkPool": store.ResL2Network,
	"CreateL2VxlanNetwork": store.ResL2Network, "CreateVniRange": store.ResVniRange,
	"CreateSecurityGroup": store.ResSecurityGroup,
}

func newL2(ctx context.Context, a *Activities, args map[string]any, typ string) (models.L2Network, error) {
	var z models.Zone
	if err := mustExist(ctx, a, store.ResZone, str(args, "zoneUuid"), &z); err != nil {
		return models.L2Network{}, err
	}
	return models.L2Network{Base: base(args), ZoneUUID: z.UUID, PhysicalInterface: str(args, "physicalInterface"),
		Type: typ, VSwitchType: orDefault(str(args, "vSwitchType"), "LinuxBridge"), Isolated: boolean(args, "isolated")}, nil
}

func createL2Vlan(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	l2, err := newL2(ctx, a, args, models.L2Vlan)
	if err != nil {
		return activities.Result{}, err
	}
	l2.VirtualNetworkID = int(num(args, "vlan"))
	return create(ctx, a, store.ResL2Network, l2.UUID, &l2, p)
}

func createVxlanPool(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	l2, err := newL2(ctx, a, args, models.L2VxlanPool)
	if err != nil {
		return activities.Result{}, err
	}
	return create(ctx, a, store.ResL2Network, l2.UUID, &l2, p)
}

func vxlanPool(ctx context.Context, a *Activities, uuid string) (models.L2Network, error) {
	var pool models.L2Network
	if err := mustExist(ctx, a, store.ResL2Network, uuid, &pool); err != nil {
		return pool, err
	}
	if pool.Type != models.L2VxlanPool {
		return pool, models.Invalid("l2 network[uuid:%s] is a %s, not a %s", uuid, pool.Type, models.L2VxlanPool)
	}
	return pool, nil
}

// createVxlan makes a VXLAN network in a pool; it is attached to every
// cluster the pool is attached to, as in ZStack.
func createVxlan(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	pool, err := vxlanPool(ctx, a, str(args, "poolUuid"))
	if err != nil {
		return activities.Result{}, err
	}
	if z := str(args, "zoneUuid"); z != "" && z != pool.ZoneUUID {
		return activities.Result{}, models.Invalid("zone[uuid:%s] is not the zone of pool[uuid:%s]", z, pool.UUID)
	}
	l2 := models.L2Network{Base: base(args), ZoneUUID: pool.ZoneUUID, PhysicalInterface: pool.PhysicalInterface,
		Type: models.L2Vxlan, VSwitchType: pool.VSwitchType, PoolUUID: models.Ref(pool.UUID), VirtualNetworkID: int(num(args, "vni"))}
	if _, err := a.Store.CreateVxlanNetwork(ctx, l2, p.AccountUUID); err != nil {
		return activities.Result{}, err
	}
	clusters, err := a.Store.Refs(ctx, store.ResL2ClusterRef, pool.UUID)
	if err != nil {
		return activities.Result{}, err
	}
	for _, c := range clusters {
		if err := a.Store.Attach(ctx, store.ResL2ClusterRef, l2.UUID, c); err != nil {
			return activities.Result{}, err
		}
	}
	return render(ctx, a, store.ResL2Network, l2.UUID)
}

func createVniRange(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	pool, err := vxlanPool(ctx, a, str(args, "l2NetworkUuid"))
	if err != nil {
		return activities.Result{}, err
	}
	now := models.Now()
	r := models.VniRange{Base: models.Base{UUID: str(args, "uuid"), Name: str(args, "name"), Description: models.Ref(str(args, "description")),
		CreateDate: now, LastOpDate: now}, L2NetworkUUID: pool.UUID, StartVni: int(num(args, "startVni")), EndVni: int(num(args, "endVni"))}
	if r.StartVni > r.EndVni {
		return activities.Result{}, models.Invalid("startVni %d is greater than endVni %d", r.StartVni, r.EndVni)
	}
	if err := a.Store.CreateVniRange(ctx, r, p.AccountUUID); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResVniRange, r.UUID)
}

// deleteVniRange refuses while a VXLAN network uses a VNI of the range.
func deleteVniRange(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	var r models.VniRange
	if err := a.Store.Get(ctx, store.ResVniRange, str(args, "uuid"), &r); err != nil {
		if models.AsError(err).Kind == models.KindNotFound {
			return activities.Result{}, nil
		}
		return activities.Result{}, err
	}
	n, err := a.Store.Count(ctx, "l2_networks", "pool_uuid = ? AND virtual_network_id BETWEEN ? AND ?", r.L2NetworkUUID, r.StartVni, r.EndVni)
	if err != nil {
		return activities.Result{}, err
	}
	if n > 0 {
		return activities.Result{}, models.Conflict("vni range[uuid:%s] is used by %d vxlan networks; delete them first", r.UUID, n)
	}
	return activities.Result{}, a.Store.Delete(ctx, store.ResVniRange, r.UUID)
}

// deleteL2 removes an L2 network without L3 networks; a pool also needs to
// be without VXLAN networks, and its VNI ranges and VTEP CIDRs go with it.
func deleteL2(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	uuid := str(args, "uuid")
	n, err := a.Store.Count(ctx, "l2_networks", "pool_uuid = ?", uuid)
	if err != nil {
		return activities.Result{}, err
	}
	if n > 0 {
		return activities.Result{}, models.Conflict("cannot delete pool[uuid:%s]: it has %d vxlan networks; delete them first", uuid, n)
	}
	if _, err := deleteOp(store.ResL2Network, "l3_networks", "l2_network_uuid")(ctx, a, args, p); err != nil {
		return activities.Result{}, err
	}
	for _, q := range []string{`DELETE FROM vni_ranges WHERE l2_network_uuid = ?`, `DELETE FROM vtep_cidrs WHERE pool_uuid = ?`,
		`DELETE FROM l2_network_cluster_refs WHERE l2_network_uuid = ?`} {
		if _, err := a.Store.DB().ExecContext(ctx, q, uuid); err != nil {
			return activities.Result{}, err
		}
	}
	return activities.Result{}, nil
}

// attachL2 attaches an L2 network to a cluster. A VXLAN pool needs the
// CIDR of its VTEPs in that cluster (ZStack's system tag
// l2NetworkUuid::{pool}::clusterUuid::{cluster}::cidr::{cidr}); its VXLAN
// networks follow it into the cluster.
func attachL2(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	l2UUID, clusterUUID := str(args, "l2NetworkUuid"), str(args, "clusterUuid")
	if err := checkAttach(ctx, a, store.ResL2ClusterRef, l2UUID, clusterUUID); err != nil {
		return activities.Result{}, err
	}
	var l2 models.L2Network
	if err := a.Store.Get(ctx, store.ResL2Network, l2UUID, &l2); err != nil {
		return activities.Result{}, err
	}
	switch l2.Type {
	case models.L2Vxlan:
		return activities.Result{}, models.Invalid("vxlan network[uuid:%s] follows its pool[uuid:%s]: attach the pool to the cluster", l2.UUID, l2.PoolUUID)
	case models.L2VxlanPool:
		cidr := vtepCIDR(p.SystemTags)
		if cidr == "" {
			return activities.Result{}, models.Invalid("attaching vxlan pool[uuid:%s] needs the system tag l2NetworkUuid::%s::clusterUuid::%s::cidr::{CIDR of the VTEPs}", l2.UUID, l2.UUID, clusterUUID)
		}
		if _, err := netip.ParsePrefix(cidr); err != nil {
			return activities.Result{}, models.Invalid("bad vtep cidr %q: %v", cidr, err)
		}
		if err := a.Store.SetVtepCIDR(ctx, l2.UUID, clusterUUID, cidr); err != nil {
			return activities.Result{}, err
		}
		var members []string
		if err := a.Store.DB().SelectContext(ctx, &members, `SELECT uuid FROM l2_networks WHERE pool_uuid = ?`, l2.UUID); err != nil {
			return activities.Result{}, err
		}
		for _, m := range members {
			if err := a.Store.Attach(ctx, store.ResL2ClusterRef, m, clusterUUID); err != nil {
				return activities.Result{}, err
			}
		}
	}
	if err := a.Store.Attach(ctx, store.ResL2ClusterRef, l2UUID, clusterUUID); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResL2Network, l2UUID)
}

func vtepCIDR(tags []string) string {
	for _, t := range tags {
		if i := strings.Index(t, "::cidr::"); i >= 0 {
			return strings.Trim(t[i+len("::cidr::"):], "{}")
		}
	}
	return ""
}

// detachL2 detaches an L2 network (and a pool's VXLAN networks) from a
// cluster.
func detachL2(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	l2UUID, clusterUUID := str(args, "l2NetworkUuid"), str(args, "clusterUuid")
	var members []string
	if err := a.Store.DB().SelectContext(ctx, &members, `SELECT uuid FROM l2_networks WHERE pool_uuid = ?`, l2UUID); err != nil {
		return activities.Result{}, err
	}
	for _, m := range append(members, l2UUID) {
		if err := a.Store.Detach(ctx, store.ResL2ClusterRef, m, clusterUUID); err != nil {
			return activities.Result{}, err
		}
	}
	if _, err := a.Store.DB().ExecContext(ctx, `DELETE FROM vtep_cidrs WHERE pool_uuid = ? AND cluster_uuid = ?`, l2UUID, clusterUUID); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResL2Network, l2UUID)
}

// serviceRefs reads AttachNetworkServiceToL3Network's networkServices map:
// provider UUID → service types.
func serviceRefs(ctx context.Context, a *Activities, l3UUID string, m map[string]any) ([]models.NetworkServiceL3NetworkRef, error) {
	var refs []models.NetworkServiceL3NetworkRef
	for provider, v := range m {
		list, ok := v.([]any)
		if !ok {
			return nil, models.Invalid("networkServices[%s] must be a list of service types", provider)
		}
		if ok, err := a.Store.Exists(ctx, store.ResNetworkProvider, provider); err != nil || !ok {
			if err != nil {
				return nil, err
			}
			return nil, models.NotFound("cannot find network service provider[uuid:%s]", provider)
		}
		for _, t := range list {
			typ, _ := t.(string)
			offers, err := a.Store.ProviderOffers(ctx, provider, typ)
			if err != nil {
				return nil, err
			}
			if !offers {
				return nil, models.Invalid("network service provider[uuid:%s] does not offer %q", provider, typ)
			}
			refs = append(refs, models.NetworkServiceL3NetworkRef{L3NetworkUUID: l3UUID, NetworkServiceProviderUUID: provider, NetworkServiceType: typ})
		}
	}
	return refs, nil
}

func attachL3Services(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	var l3 models.L3Network
	if err := mustExist(ctx, a, store.ResL3Network, str(args, "l3NetworkUuid"), &l3); err != nil {
		return activities.Result{}, err
	}
	m, _ := args["networkServices"].(map[string]any)
	refs, err := serviceRefs(ctx, a, l3.UUID, m)
	if err != nil {
		return activities.Result{}, err
	}
	if err := a.Store.AttachL3Services(ctx, l3.UUID, refs); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResL3Network, l3.UUID)
}

func detachL3Services(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	l3UUID := str(args, "l3NetworkUuid")
	m, _ := args["networkServices"].(map[string]any)
	for provider, v := range m {
		var types []string
		list, _ := v.([]any)
		for _, t := range list {
			if s, ok := t.(string); ok {
				types = append(types, s)
			}
		}
		if err := a.Store.DetachL3Services(ctx, l3UUID, provider, types); err != nil {
			return activities.Result{}, err
		}
	}
	if svc := str(args, "service"); svc != "" {
		if _, err := a.Store.DB().ExecContext(ctx, `DELETE FROM network_service_l3_refs WHERE l3_network_uuid = ? AND service_type = ?`, l3UUID, svc); err != nil {
			return activities.Result{}, err
		}
	}
	return render(ctx, a, store.ResL3Network, l3UUID)
}

// createSecurityGroup makes a group with ZStack's default rule: ingress of
// everything from the group's own members.
func createSecurityGroup(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	ipv := int(num(args, "ipVersion"))
	if ipv == 0 {
		ipv = 4
	}
	if ipv != 4 {
		return activities.Result{}, models.Invalid("security groups of IPv%d are not supported", ipv)
	}
	sg := models.SecurityGroup{Base: base(args), State: models.StateEnabled, IPVersion: ipv}
	if _, err := create(ctx, a, store.ResSecurityGroup, sg.UUID, &sg, p); err != nil {
		return activities.Result{}, err
	}
	now := models.Now()
	def := models.SecurityGroupRule{UUID: models.NameUUID("SecurityGroupRule", sg.UUID, "default-ingress"), SecurityGroupUUID: sg.UUID,
		Type: models.RuleIngress, IPVersion: ipv, Protocol: models.ProtoAll, State: models.StateEnabled, Priority: 0,
		AllowedCIDR: "0.0.0.0/0", StartPort: -1, EndPort: -1, Action: models.ActionAccept,
		RemoteSecurityGroupUUID: models.Ref(sg.UUID), CreateDate: now, LastOpDate: now}
	if err := a.Store.AddSecurityGroupRules(ctx, []models.SecurityGroupRule{def}); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResSecurityGroup, sg.UUID)
}

func deleteSecurityGroup(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	return activities.Result{}, a.Store.DeleteSecurityGroup(ctx, str(args, "uuid"))
}

// ruleOf validates one rule of AddSecurityGroupRule (ZStack's
// SecurityGroupRuleAO).
func ruleOf(sgUUID string, i int, opUUID string, m map[string]any) (models.SecurityGroupRule, error) {
	now := models.Now()
	r := models.SecurityGroupRule{UUID: models.NameUUID("SecurityGroupRule", opUUID, fmt.Sprint(i)), SecurityGroupUUID: sgUUID,
		Type: str(m, "type"), IPVersion: 4, Protocol: strings.ToUpper(orDefault(str(m, "protocol"), models.ProtoAll)),
		State: models.StateEnabled, Priority: int(num(m, "priority")), Description: models.Ref(str(m, "description")),
		AllowedCIDR: orDefault(str(m, "allowedCidr"), str(m, "srcIpRange")), Action: strings.ToUpper(orDefault(str(m, "action"), models.ActionAccept)),
		RemoteSecurityGroupUUID: models.Ref(str(m, "remoteSecurityGroupUuid")), CreateDate: now, LastOpDate: now}
	if v := int(num(m, "ipVersion")); v != 0 && v != 4 {
		return r, models.Invalid("rule %d: IPv%d rules are not supported", i, v)
	}
	if r.Type != models.RuleIngress && r.Type != models.RuleEgress {
		return r, models.Invalid("rule %d: type must be Ingress or Egress, not %q", i, r.Type)
	}
	if r.Action != models.ActionAccept && r.Action != models.ActionDrop {
		return r, models.Invalid("rule %d: action must be ACCEPT or DROP, not %q", i, r.Action)
	}
	start, end := int(num(m, "startPort")), int(num(m, "endPort"))
	if pr := str(m, "dstPortRange"); pr != "" {
		if _, err := fmt.Sscanf(strings.Replace(pr, "-", " ", 1), "%d %d", &start, &end); err != nil {
			if _, err := fmt.Sscanf(pr, "%d", &start); err != nil {
				return r, models.Invalid("rule %d: bad dstPortRange %q", i, pr)
			}
			end = start
		}
	}
	switch r.Protocol {
	case models.ProtoTCP, models.ProtoUDP:
		if _, given := m["endPort"]; !given && str(m, "dstPortRange") == "" {
			end = start
		}
		if start < 0 || end > 65535 || start > end {
			return r, models.Invalid("rule %d: port range %d-%d is not within 0-65535", i, start, end)
		}
	case models.ProtoAll, models.ProtoICMP:
		start, end = -1, -1
	default:
		return r, models.Invalid("rule %d: protocol must be ALL, TCP, UDP or ICMP, not %q", i, r.Protocol)
	}
	r.StartPort, r.EndPort = start, end
	if r.AllowedCIDR == "" {
		r.AllowedCIDR = "0.0.0.0/0"
	}
	pfx, err := netip.ParsePrefix(r.AllowedCIDR)
	if err != nil {
		addr, aerr := netip.ParseAddr(r.AllowedCIDR)
		if aerr != nil {
			return r, models.Invalid("rule %d: bad allowedCidr %q", i, r.AllowedCIDR)
		}
		pfx = netip.PrefixFrom(addr, addr.BitLen())
	}
	if !pfx.Addr().Is4() {
		return r, models.Invalid("rule %d: IPv6 cidr %q in an IPv4 rule", i, r.AllowedCIDR)
	}
	r.AllowedCIDR = pfx.Masked().String()
	return r, nil
}

func addSecurityGroupRules(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	var sg models.SecurityGroup
	if err := mustExist(ctx, a, store.ResSecurityGroup, str(args, "securityGroupUuid"), &sg); err != nil {
		return activities.Result{}, err
	}
	list, _ := args["rules"].([]any)
	remotes := strs(args, "remoteSecurityGroupUuids")
	var rules []models.SecurityGroupRule
	for i, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			return activities.Result{}, models.Invalid("rule %d is not an object", i)
		}
		r, err := ruleOf(sg.UUID, i, str(args, "uuid"), m)
		if err != nil {
			return activities.Result{}, err
		}
		if len(remotes) == 0 {
			rules = append(rules, r)
		}
		// remoteSecurityGroupUuids makes one rule per source group.
		for j, g := range remotes {
			c := r
			c.UUID = models.NameUUID(r.UUID, fmt.Sprint(j))
			c.RemoteSecurityGroupUUID = models.Ref(g)
			rules = append(rules, c)
		}
	}
	for _, r := range rules {
		if g := string(r.RemoteSecurityGroupUUID); g != "" {
			if ok, err := a.Store.Exists(ctx, store.ResSecurityGroup, g); err != nil || !ok {
				if err != nil {
					return activities.Result{}, err
				}
				return activities.Result{}, models.NotFound("cannot find remote security group[uuid:%s]", g)
			}
		}
	}
	if err := a.Store.AddSecurityGroupRules(ctx, rules); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResSecurityGroup, sg.UUID)
}

func deleteSecurityGroupRules(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	_, err := a.Store.DeleteSecurityGroupRules(ctx, strs(args, "ruleUuids"))
	return activities.Result{}, err
}

// attachSecurityGroupToL3 needs the L3 to have the SecurityGroup service.
func attachSecurityGroupToL3(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	sgUUID, l3UUID := str(args, "securityGroupUuid"), str(args, "l3NetworkUuid")
	var sg models.SecurityGroup
	var l3 models.L3Network
	if err := mustExist(ctx, a, store.ResSecurityGroup, sgUUID, &sg); err != nil {
		return activities.Result{}, err
	}
	if err := mustExist(ctx, a, store.ResL3Network, l3UUID, &l3); err != nil {
		return activities.Result{}, err
	}
	ok, err := a.Store.L3HasService(ctx, l3UUID, models.ServiceSecurityGroup)
	if err != nil {
		return activities.Result{}, err
	}
	if !ok {
		return activities.Result{}, models.Invalid("l3 network[uuid:%s] has no SecurityGroup network service; attach it first", l3UUID)
	}
	if err := a.Store.Attach(ctx, store.ResSecurityGroupL3, sgUUID, l3UUID); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResSecurityGroup, sgUUID)
}

func addNICsToSecurityGroup(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	var sg models.SecurityGroup
	if err := mustExist(ctx, a, store.ResSecurityGroup, str(args, "securityGroupUuid"), &sg); err != nil {
		return activities.Result{}, err
	}
	if err := a.Store.AddNICsToSecurityGroup(ctx, sg.UUID, strs(args, "vmNicUuids")); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResSecurityGroup, sg.UUID)
}

func removeNICsFromSecurityGroup(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	sgUUID := str(args, "securityGroupUuid")
	if err := a.Store.RemoveNICsFromSecurityGroup(ctx, sgUUID, strs(args, "vmNicUuids")); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResSecurityGroup, sgUUID)
}

// deleteL3 deletes an L3 network. Like ZStack it refuses while a VPC
// router has a NIC on it or VIPs are allocated from it (besides VM NICs,
// as every delete refuses dependents); the flat DHCP server's address,
// which a host that never answered may have kept, is freed with it.
func deleteL3(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	uuid := str(args, "uuid")
	if ok, err := a.Store.Exists(ctx, store.ResL3Network, uuid); err != nil || !ok {
		return activities.Result{}, err
	}
	var routers []string
	if err := a.Store.DB().SelectContext(ctx, &routers, `SELECT vm_instance_uuid FROM virtual_router_nics WHERE l3_network_uuid = ? ORDER BY vm_instance_uuid`, uuid); err != nil {
		return activities.Result{}, err
	}
	if len(routers) > 0 {
		return activities.Result{}, models.Conflict("unable to delete l3 network[uuid:%s], because it's attached to vpc router[uuid:%s]; detach it from the router or delete the router first",
			uuid, routers[0])
	}
	for _, dep := range []struct{ table, what string }{{"vm_nics", "vm nics"}, {"vips", "vips"}} {
		n, err := a.Store.Count(ctx, dep.table, "l3_network_uuid = ?", uuid)
		if err != nil {
			return activities.Result{}, err
		}
		if n > 0 {
			return activities.Result{}, models.Conflict("unable to delete l3 network[uuid:%s], because %d %s are on it; delete them first", uuid, n, dep.what)
		}
	}
	if err := a.Store.ReleaseIPsOfNIC(ctx, dhcpServerOwner(uuid)); err != nil {
		return activities.Result{}, err
	}
	return deleteOp(store.ResL3Network, "", "")(ctx, a, args, p)
}
