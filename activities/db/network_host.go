package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// Desired state of flat networking (FEATURES.md items 49, 51, 52, 57),
// computed from the database for the workflows in workflows/network_flat.go.
// Only KVM hosts realise networks; simulated hosts have no host networking
// and plan nothing.

// registerNetworkHost registers the flat-network planning activities.
func (a *Activities) registerNetworkHost(w worker.Registry) {
	for name, fn := range map[string]any{
		netapi.NetClusterL2s: a.NetClusterL2s,
		netapi.NetL2Clusters: a.NetL2Clusters,
		netapi.NetHostPlan:   a.NetHostPlan,
		netapi.NetNICsPlan:   a.NetNICsPlan,
		netapi.NetSGPrepare:  a.NetSGPrepare,
		netapi.NetSGRestore:  a.NetSGRestore,
		netapi.NetEIPPlan:    a.NetEIPPlan,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// vmActiveOnHost is the SQL condition of a VM that is (or is being put) on
// its host: stopped and destroyed VMs have left it.
const vmActiveOnHost = `v.host_uuid = ? AND v.state NOT IN ('Stopped', 'Destroyed')`

// vxlanGuestMTU is the MTU guests on VXLAN networks get: a 1500-byte
// underlay minus the 50 bytes of VXLAN encapsulation.
const vxlanGuestMTU = 1450

// flatProvider is the UUID of the Flat network service provider.
var flatProvider = models.NameUUID("NetworkServiceProvider", models.ProviderFlat)

// dhcpServerOwner is the owner key of an L3's flat DHCP server address in
// used_ips: one address per L3, taken from its ranges like ZStack's.
func dhcpServerOwner(l3UUID string) string { return models.NameUUID("FlatDhcpServer", l3UUID) }

// networked reports whether a host realises networks.
func (a *Activities) networked(ctx context.Context, hostUUID string) (models.Host, bool, error) {
	var h models.Host
	if err := a.Store.Get(ctx, store.ResHost, hostUUID, &h); err != nil {
		if models.AsError(err).Kind == models.KindNotFound {
			return h, false, nil
		}
		return h, false, err
	}
	return h, h.HypervisorType == HypervisorKVM, nil
}

// l2Spec is the host's view of an L2 network.
func l2Spec(l2 models.L2Network) netapi.L2Spec {
	s := netapi.L2Spec{UUID: l2.UUID, Type: l2.Type, PhysicalInterface: l2.PhysicalInterface}
	switch l2.Type {
	case models.L2Vlan:
		s.VLAN = l2.VirtualNetworkID
	case models.L2Vxlan:
		s.Type, s.VNI, s.PhysicalInterface = netapi.L2VXLAN, l2.VirtualNetworkID, ""
	default:
		s.Type = netapi.L2NoVlan
	}
	return s
}

// BridgeOfL3 names the bridge of an L3 network's L2 on hosts ("" when the
// L3 is gone).
func (a *Activities) BridgeOfL3(ctx context.Context, l3UUID string) (string, error) {
	var l2 models.L2Network
	err := a.Store.DB().GetContext(ctx, &l2, `SELECT l2.* FROM l2_networks l2 JOIN l3_networks l3 ON l3.l2_network_uuid = l2.uuid WHERE l3.uuid = ?`, l3UUID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil // an L3 without L2 has no bridge
	}
	if err != nil {
		return "", err
	}
	return l2Spec(l2).BridgeName(), nil
}

// NetL2Clusters lists the clusters an L2 network is attached to.
func (a *Activities) NetL2Clusters(ctx context.Context, l2UUID string) ([]string, error) {
	out := []string{}
	err := a.Store.DB().SelectContext(ctx, &out, `SELECT cluster_uuid FROM l2_network_cluster_refs WHERE l2_network_uuid = ? ORDER BY cluster_uuid`, l2UUID)
	return out, wrap(err)
}

// NetClusterL2s lists the L2 networks to realise in a cluster (a pool
// stands for its VXLAN networks, which are what hosts realise) and the
// cluster's connected KVM hosts.
func (a *Activities) NetClusterL2s(ctx context.Context, p netapi.ClusterL2sParams) (netapi.ClusterL2sResult, error) {
	out := netapi.ClusterL2sResult{ClusterUUID: p.ClusterUUID, Hosts: []string{}, L2s: []netapi.ClusterL2{}}
	db := a.Store.DB()
	if p.HostUUID != "" {
		h, ok, err := a.networked(ctx, p.HostUUID)
		if err != nil || !ok {
			return out, wrap(err)
		}
		out.ClusterUUID = h.ClusterUUID
	}
	if err := db.SelectContext(ctx, &out.Hosts, `SELECT uuid FROM hosts WHERE cluster_uuid = ? AND status = ? AND hypervisor_type = ? ORDER BY uuid`,
		out.ClusterUUID, models.StatusConnected, HypervisorKVM); err != nil {
		return out, wrap(err)
	}
	lost, addrs, err := a.Store.LostHostAddresses(ctx, out.ClusterUUID, HypervisorKVM)
	if err != nil {
		return out, wrap(err)
	}
	for _, h := range lost {
		out.Lost = append(out.Lost, netapi.LostHost{UUID: h, Addresses: addrs[h]})
	}
	uuids := p.L2UUIDs
	if len(uuids) == 0 {
		if err := db.SelectContext(ctx, &uuids, `SELECT l2_network_uuid FROM l2_network_cluster_refs WHERE cluster_uuid = ?`, out.ClusterUUID); err != nil {
			return out, wrap(err)
		}
	}
	var l2s []models.L2Network
	for _, u := range uuids {
		var l2 models.L2Network
		if err := a.Store.Get(ctx, store.ResL2Network, u, &l2); err != nil {
			if models.AsError(err).Kind == models.KindNotFound {
				continue
			}
			return out, wrap(err)
		}
		if l2.Type != models.L2VxlanPool {
			l2s = append(l2s, l2)
			continue
		}
		var members []models.L2Network
		if err := db.SelectContext(ctx, &members, `SELECT * FROM l2_networks WHERE pool_uuid = ?`, l2.UUID); err != nil {
			return out, wrap(err)
		}
		l2s = append(l2s, members...)
	}
	slices.SortFunc(l2s, func(x, y models.L2Network) int { return strings.Compare(x.UUID, y.UUID) })
	l2s = slices.CompactFunc(l2s, func(x, y models.L2Network) bool { return x.UUID == y.UUID })
	for _, l2 := range l2s {
		if p.Attached {
			n, err := a.Store.Count(ctx, "l2_network_cluster_refs", "l2_network_uuid = ? AND cluster_uuid = ?", l2.UUID, out.ClusterUUID)
			if err != nil {
				return out, wrap(err)
			}
			if n == 0 {
				continue
			}
		}
		c := netapi.ClusterL2{Spec: l2Spec(l2)}
		if l2.Type == models.L2Vxlan {
			var cidrs []string
			if err := db.SelectContext(ctx, &cidrs, `SELECT cidr FROM vtep_cidrs WHERE pool_uuid = ? AND cluster_uuid = ?`, string(l2.PoolUUID), out.ClusterUUID); err != nil {
				return out, wrap(err)
			}
			if len(cidrs) > 0 {
				pfx, err := netip.ParsePrefix(cidrs[0])
				if err != nil {
					return out, wrap(models.Invalid("bad vtep cidr %q of pool[uuid:%s]", cidrs[0], l2.PoolUUID))
				}
				c.VTEPCIDR = pfx
			} else if p.Attached {
				return out, wrap(models.Invalid("pool[uuid:%s] has no vtep cidr in cluster[uuid:%s]", l2.PoolUUID, out.ClusterUUID))
			}
		}
		out.L2s = append(out.L2s, c)
	}
	return out, nil
}

// activeNICs are the NICs of an L3 on a host, with vm counted on the host
// (include) or off it; only NICs with an address count.
func (a *Activities) activeNICs(ctx context.Context, hostUUID, l3UUID, vmUUID string, include bool) ([]nicRow, error) {
	var rows []nicRow
	err := a.Store.DB().SelectContext(ctx, &rows, `SELECT n.uuid, n.mac, n.ip, v.uuid AS vm_uuid, v.name AS vm_name FROM vm_nics n
		JOIN vm_instances v ON v.uuid = n.vm_instance_uuid WHERE n.l3_network_uuid = ? AND n.ip IS NOT NULL AND v.uuid <> ? AND `+vmActiveOnHost+`
		ORDER BY n.uuid`, l3UUID, vmUUID, hostUUID)
	if err != nil || !include {
		return rows, err
	}
	var own []nicRow
	if err := a.Store.DB().SelectContext(ctx, &own, `SELECT n.uuid, n.mac, n.ip, v.uuid AS vm_uuid, v.name AS vm_name FROM vm_nics n
		JOIN vm_instances v ON v.uuid = n.vm_instance_uuid WHERE n.l3_network_uuid = ? AND n.ip IS NOT NULL AND v.uuid = ?`, l3UUID, vmUUID); err != nil {
		return nil, err
	}
	rows = append(rows, own...)
	slices.SortFunc(rows, func(x, y nicRow) int { return strings.Compare(x.UUID, y.UUID) })
	return rows, nil
}

type nicRow struct {
	UUID   string     `db:"uuid"`
	MAC    string     `db:"mac"`
	IP     models.Ref `db:"ip"`
	VMUUID string     `db:"vm_uuid"`
	VMName string     `db:"vm_name"`
}

// hostname makes a DHCP hostname of a VM name: letters, digits and '-'.
func hostname(name, vmUUID string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	h := strings.Trim(b.String(), "-")
	if h == "" {
		h = "vm-" + vmUUID[:min(8, len(vmUUID))]
	}
	return h[:min(63, len(h))]
}

// flatDHCP is the DHCP server of an L3 on a host serving nics. The L3's
// server address is allocated from its ranges the first time.
func (a *Activities) flatDHCP(ctx context.Context, l3UUID string, nics []nicRow) (netapi.FlatDHCP, error) {
	var l3 models.L3Network
	if err := a.Store.Get(ctx, store.ResL3Network, l3UUID, &l3); err != nil {
		return netapi.FlatDHCP{}, err
	}
	var l2 models.L2Network
	if err := a.Store.Get(ctx, store.ResL2Network, l3.L2NetworkUUID, &l2); err != nil {
		return netapi.FlatDHCP{}, err
	}
	spec := l2Spec(l2)
	ip, err := a.Store.AllocateIP(ctx, l3UUID, dhcpServerOwner(l3UUID), "")
	if err != nil {
		return netapi.FlatDHCP{}, fmt.Errorf("dhcp server address of l3 network[uuid:%s]: %w", l3UUID, err)
	}
	if _, err := a.Store.DB().ExecContext(ctx, `UPDATE used_ips SET used_for = 'DHCP' WHERE uuid = ?`, ip.UUID); err != nil {
		return netapi.FlatDHCP{}, err
	}
	addr, err := netip.ParseAddr(ip.IP)
	if err != nil {
		return netapi.FlatDHCP{}, err
	}
	bits, err := maskBits(ip.Netmask)
	if err != nil {
		return netapi.FlatDHCP{}, fmt.Errorf("l3 network[uuid:%s]: %w", l3UUID, err)
	}
	d := netapi.FlatDHCP{L3UUID: l3UUID, Bridge: spec.BridgeName(), Uplink: spec.UplinkName(), ServerIP: netip.PrefixFrom(addr, bits),
		Domain: string(l3.DNSDomain), Hosts: []netapi.FlatDHCPHost{}}
	if spec.Type == netapi.L2VXLAN {
		// Guests learn the VXLAN MTU by DHCP (ZStack's default for VXLAN
		// L3s): a 1500-byte frame does not fit a 1500-byte underlay.
		d.MTU = vxlanGuestMTU
	}
	if gw, err := netip.ParseAddr(ip.Gateway); err == nil {
		d.Gateway = gw
	}
	var dns []string
	if err := a.Store.DB().SelectContext(ctx, &dns, `SELECT dns FROM l3_network_dns WHERE l3_network_uuid = ? ORDER BY create_date, dns`, l3UUID); err != nil {
		return netapi.FlatDHCP{}, err
	}
	for _, s := range dns {
		if x, err := netip.ParseAddr(s); err == nil && x.Is4() {
			d.DNS = append(d.DNS, x)
		}
	}
	n, err := a.Store.Count(ctx, "network_service_l3_refs", "l3_network_uuid = ? AND service_type = ? AND provider_uuid = ?",
		l3UUID, models.ServiceDNS, flatProvider)
	if err != nil {
		return netapi.FlatDHCP{}, err
	}
	d.ServeDNS = n > 0
	if d.Metadata, err = a.flatMetadataOn(ctx, l3UUID); err != nil {
		return netapi.FlatDHCP{}, err
	}
	for _, n := range nics {
		x, err := netip.ParseAddr(string(n.IP))
		if err != nil {
			continue
		}
		h := netapi.FlatDHCPHost{MAC: n.MAC, IP: x, Hostname: hostname(n.VMName, n.VMUUID)}
		if d.Metadata {
			if h.Metadata, err = a.flatMetadata(ctx, n.VMUUID, h.Hostname); err != nil {
				return netapi.FlatDHCP{}, err
			}
		}
		d.Hosts = append(d.Hosts, h)
	}
	return d, nil
}

// NetHostPlan computes what a host runs for a VM's NICs: for each of their
// L3s with Flat DHCP, the server with the leases of every NIC of that L3 on
// the host (or its removal when none is left), and each NIC's firewall (or
// its removal when the VM is counted off the host).
func (a *Activities) NetHostPlan(ctx context.Context, p netapi.HostPlanParams) (netapi.HostPlan, error) {
	var plan netapi.HostPlan
	if err := a.Faults.check(netapi.NetHostPlan); err != nil {
		return plan, wrap(err)
	}
	_, ok, err := a.networked(ctx, p.HostUUID)
	if err != nil || !ok {
		return plan, wrap(err)
	}
	plan.Networked = true
	nics, err := a.Store.VMNics(ctx, p.VMUUID)
	if err != nil {
		return plan, wrap(err)
	}
	var l3s []string
	for _, n := range nics {
		if !slices.Contains(l3s, n.L3NetworkUUID) {
			l3s = append(l3s, n.L3NetworkUUID)
		}
	}
	slices.Sort(l3s)
	for _, l3 := range l3s {
		var n int
		if err := a.Store.DB().GetContext(ctx, &n, `SELECT COUNT(*) FROM network_service_l3_refs WHERE l3_network_uuid = ? AND service_type = ? AND provider_uuid = ?`,
			l3, models.ServiceDHCP, flatProvider); err != nil {
			return plan, wrap(err)
		}
		if n == 0 {
			continue
		}
		rows, err := a.activeNICs(ctx, p.HostUUID, l3, p.VMUUID, p.Include)
		if err != nil {
			return plan, wrap(err)
		}
		if len(rows) == 0 {
			plan.DeleteDHCP = append(plan.DeleteDHCP, l3)
			if err := a.releaseDHCPAddress(ctx, l3, p.VMUUID, p.Include); err != nil {
				return plan, wrap(err)
			}
			continue
		}
		d, err := a.flatDHCP(ctx, l3, rows)
		if err != nil {
			return plan, wrap(err)
		}
		plan.DHCP = append(plan.DHCP, d)
	}
	for _, n := range nics {
		if err := a.nicEIPs(ctx, p.HostUUID, n, p.Include, &plan); err != nil {
			return plan, wrap(err)
		}
		if !p.Include {
			plan.Remove = append(plan.Remove, netapi.RemoveNICParams{HostUUID: p.HostUUID, NICUUID: n.UUID, Device: netapi.TapName(n.UUID)})
			continue
		}
		fw, err := a.firewall(ctx, p.HostUUID, n, "")
		if err != nil {
			return plan, wrap(err)
		}
		plan.Firewalls = append(plan.Firewalls, fw)
	}
	return plan, nil
}

// releaseDHCPAddress frees an L3's DHCP server address once no host serves
// the L3 any more, so that its ranges can be deleted.
func (a *Activities) releaseDHCPAddress(ctx context.Context, l3UUID, vmUUID string, include bool) error {
	if include {
		return nil
	}
	n, err := a.Store.Count(ctx, "vm_nics", `l3_network_uuid = ? AND vm_instance_uuid <> ? AND vm_instance_uuid IN
		(SELECT v.uuid FROM vm_instances v JOIN hosts h ON h.uuid = v.host_uuid WHERE h.hypervisor_type = ? AND v.state NOT IN ('Stopped', 'Destroyed'))`,
		l3UUID, vmUUID, HypervisorKVM)
	if err != nil || n > 0 {
		return err
	}
	return a.Store.ReleaseIPsOfNIC(ctx, dhcpServerOwner(l3UUID))
}

// firewall is a NIC's security groups as its host applies them; groups
// other than Enabled, and excludeGroup, do not count.
func (a *Activities) firewall(ctx context.Context, hostUUID string, nic models.VMNic, excludeGroup string) (netapi.ApplySecurityGroupsParams, error) {
	fw := netapi.ApplySecurityGroupsParams{HostUUID: hostUUID, NICUUID: nic.UUID, Device: netapi.TapName(nic.UUID), Groups: []netapi.SecurityGroupSpec{}}
	db := a.Store.DB()
	var groups []string
	if err := db.SelectContext(ctx, &groups, `SELECT g.uuid FROM security_groups g JOIN vm_nic_security_group_refs r ON r.security_group_uuid = g.uuid
		WHERE r.vm_nic_uuid = ? AND g.state = ? AND g.uuid <> ? ORDER BY r.priority, g.uuid`, nic.UUID, models.StateEnabled, excludeGroup); err != nil {
		return fw, err
	}
	for _, g := range groups {
		var rules []models.SecurityGroupRule
		if err := db.SelectContext(ctx, &rules, `SELECT * FROM security_group_rules WHERE security_group_uuid = ? AND state = ?
			AND (? = '' OR COALESCE(remote_security_group_uuid, '') <> ?) ORDER BY priority, create_date, uuid`, g, models.StateEnabled, excludeGroup, excludeGroup); err != nil {
			return fw, err
		}
		sg := netapi.SecurityGroupSpec{UUID: g, Rules: []netapi.SecurityGroupRuleSpec{}}
		for _, r := range rules {
			if r.Action != models.ActionAccept {
				return fw, models.Invalid("security group rule[uuid:%s] has action %s; the host firewall enforces ACCEPT rules only", r.UUID, r.Action)
			}
			remote := string(r.RemoteSecurityGroupUUID)
			sg.Rules = append(sg.Rules, netapi.SecurityGroupRuleSpec{Type: r.Type, Protocol: r.Protocol, StartPort: r.StartPort, EndPort: r.EndPort,
				AllowedCIDR: r.AllowedCIDR, RemoteSecurityGroupUUID: remote})
			if remote == "" {
				continue
			}
			if fw.GroupMembers == nil {
				fw.GroupMembers = map[string][]netip.Addr{}
			}
			if _, done := fw.GroupMembers[remote]; done {
				continue
			}
			var ips []string
			if err := db.SelectContext(ctx, &ips, `SELECT n.ip FROM vm_nics n JOIN vm_nic_security_group_refs r ON r.vm_nic_uuid = n.uuid
				WHERE r.security_group_uuid = ? AND n.ip IS NOT NULL ORDER BY n.ip`, remote); err != nil {
				return fw, err
			}
			members := []netip.Addr{}
			for _, s := range ips {
				if x, err := netip.ParseAddr(s); err == nil {
					members = append(members, x)
				}
			}
			fw.GroupMembers[remote] = members
		}
		fw.Groups = append(fw.Groups, sg)
	}
	return fw, nil
}

// NetNICsPlan computes the firewalls of NICs whose VMs are on a KVM host.
func (a *Activities) NetNICsPlan(ctx context.Context, p netapi.NICsPlanParams) (netapi.HostPlan, error) {
	plan := netapi.HostPlan{Networked: true}
	for _, u := range p.NICUUIDs {
		var nic models.VMNic
		if err := a.Store.Get(ctx, store.ResVMNic, u, &nic); err != nil {
			if models.AsError(err).Kind == models.KindNotFound {
				continue
			}
			return plan, wrap(err)
		}
		var vm models.VMInstance
		if err := a.Store.Get(ctx, store.ResVMInstance, nic.VMInstanceUUID, &vm); err != nil {
			if models.AsError(err).Kind == models.KindNotFound {
				continue
			}
			return plan, wrap(err)
		}
		host := string(vm.HostUUID)
		if host == "" || vm.State == models.VMStopped || vm.State == models.VMDestroyed {
			continue
		}
		if _, ok, err := a.networked(ctx, host); err != nil || !ok {
			if err != nil {
				return plan, wrap(err)
			}
			continue
		}
		fw, err := a.firewall(ctx, host, nic, p.ExcludeGroup)
		if err != nil {
			return plan, wrap(err)
		}
		plan.Firewalls = append(plan.Firewalls, fw)
	}
	return plan, nil
}

// sgOpGroups names the groups a security group API changes.
func (a *Activities) sgOpGroups(ctx context.Context, op string, args map[string]any) ([]string, error) {
	switch op {
	case "DeleteSecurityGroup", "UpdateSecurityGroup", "ChangeSecurityGroupState":
		return []string{str(args, "uuid")}, nil
	case "DeleteSecurityGroupRule":
		var groups []string
		for _, r := range strs(args, "ruleUuids") {
			var g []string
			if err := a.Store.DB().SelectContext(ctx, &g, `SELECT security_group_uuid FROM security_group_rules WHERE uuid = ?`, r); err != nil {
				return nil, err
			}
			for _, x := range g {
				if !slices.Contains(groups, x) {
					groups = append(groups, x)
				}
			}
		}
		slices.Sort(groups)
		return groups, nil
	default:
		return []string{str(args, "securityGroupUuid")}, nil
	}
}

// NetSGPrepare names the groups a security group API touches, the NICs
// whose firewalls depend on them (their members, the members of groups
// whose rules name them as remote group, and the NICs the API names), and
// snapshots their rows.
func (a *Activities) NetSGPrepare(ctx context.Context, p activities.OpParams) (netapi.SGPrepareResult, error) {
	var out netapi.SGPrepareResult
	args, err := opArgs(p)
	if err != nil {
		return out, wrap(err)
	}
	if out.Groups, err = a.sgOpGroups(ctx, p.Op, args); err != nil {
		return out, wrap(err)
	}
	nics := strs(args, "vmNicUuids")
	for _, g := range out.Groups {
		var members []string
		if err := a.Store.DB().SelectContext(ctx, &members, `SELECT vm_nic_uuid FROM vm_nic_security_group_refs WHERE security_group_uuid = ?
			OR security_group_uuid IN (SELECT security_group_uuid FROM security_group_rules WHERE remote_security_group_uuid = ?)`, g, g); err != nil {
			return out, wrap(err)
		}
		nics = append(nics, members...)
	}
	slices.Sort(nics)
	out.NICs = slices.Compact(nics)
	rows, err := a.Store.SecurityGroupSnapshot(ctx, out.Groups)
	if err != nil {
		return out, wrap(err)
	}
	out.Snapshot = netapi.SGSnapshot{Groups: out.Groups, Rows: rows}
	return out, nil
}

// NetSGRestore undoes a security group API's database change.
func (a *Activities) NetSGRestore(ctx context.Context, s netapi.SGSnapshot) error {
	return wrap(a.Store.RestoreSecurityGroups(ctx, s.Groups, s.Rows))
}

// maskBits is the prefix length of a dotted netmask.
func maskBits(netmask string) (int, error) {
	mask, err := netip.ParseAddr(netmask)
	if err != nil || !mask.Is4() {
		return 0, models.Invalid("bad netmask %q", netmask)
	}
	bits := 0
	for _, b := range mask.AsSlice() {
		for ; b&0x80 != 0; b <<= 1 {
			bits++
		}
	}
	return bits, nil
}

// flatEIPOn reports whether an L3 has the Flat provider's Eip service: its
// VM NICs' EIPs are realised on their hosts, not by a router.
func (a *Activities) flatEIPOn(ctx context.Context, l3UUID string) (bool, error) {
	n, err := a.Store.Count(ctx, "network_service_l3_refs", "l3_network_uuid = ? AND service_type = ? AND provider_uuid = ?",
		l3UUID, models.ServiceEip, flatProvider)
	return n > 0, err
}

// flatEIPSpec is an EIP of a NIC as the NIC's host realises it.
func (a *Activities) flatEIPSpec(ctx context.Context, e models.Eip, nic models.VMNic) (netapi.FlatEIP, error) {
	var v models.Vip
	if err := a.Store.Get(ctx, store.ResVip, e.VipUUID, &v); err != nil {
		return netapi.FlatEIP{}, err
	}
	bad := func(what, val string) error {
		return models.Invalid("eip[uuid:%s]: bad %s [%s]", e.UUID, what, val)
	}
	vip, err := netip.ParseAddr(v.IP)
	if err != nil {
		return netapi.FlatEIP{}, bad("vip", v.IP)
	}
	bits := v.PrefixLen
	if bits == 0 {
		if bits, err = maskBits(v.Netmask); err != nil {
			return netapi.FlatEIP{}, err
		}
	}
	guest, err := netip.ParseAddr(string(nic.IP))
	if err != nil {
		return netapi.FlatEIP{}, bad("guest ip", string(nic.IP))
	}
	gw, err := netip.ParseAddr(string(nic.Gateway))
	if err != nil {
		return netapi.FlatEIP{}, bad("gateway of vm nic", string(nic.Gateway))
	}
	gwBits, err := maskBits(string(nic.Netmask))
	if err != nil {
		return netapi.FlatEIP{}, err
	}
	out := netapi.FlatEIP{UUID: e.UUID, VIP: netip.PrefixFrom(vip, bits), PrivateGateway: netip.PrefixFrom(gw, gwBits), GuestIP: guest,
		GuestMAC: nic.MAC, GuestDevice: netapi.TapName(nic.UUID)}
	if pgw, err := netip.ParseAddr(v.Gateway); err == nil && out.VIP.Masked().Contains(pgw) {
		out.PublicGateway = pgw
	}
	if out.PublicBridge, err = a.BridgeOfL3(ctx, v.L3NetworkUUID); err != nil {
		return out, err
	}
	if out.PrivateBridge, err = a.BridgeOfL3(ctx, nic.L3NetworkUUID); err != nil {
		return out, err
	}
	if out.PublicBridge == "" || out.PrivateBridge == "" {
		return out, models.Invalid("eip[uuid:%s]: the vip's or the vm nic's l3 network has no l2 network", e.UUID)
	}
	var tags []string
	if err := a.Store.DB().SelectContext(ctx, &tags, `SELECT tag FROM system_tags WHERE resource_uuid = ? AND tag LIKE 'vipQos::%' ORDER BY tag`, v.UUID); err != nil {
		return out, err
	}
	for _, t := range tags {
		if in, o, ok := store.ParseVipQosTag(t); ok {
			out.InboundBandwidth, out.OutboundBandwidth = in, o
		}
	}
	return out, nil
}

// vmHostOfNic is the networked host a NIC's VM runs on ("" when it is
// stopped, gone, or on a host without host networking).
func (a *Activities) vmHostOfNic(ctx context.Context, nicUUID string) (string, error) {
	var hosts []string
	if err := a.Store.DB().SelectContext(ctx, &hosts, `SELECT v.host_uuid FROM vm_instances v JOIN vm_nics n ON n.vm_instance_uuid = v.uuid
		JOIN hosts h ON h.uuid = v.host_uuid WHERE n.uuid = ? AND h.hypervisor_type = ? AND v.state NOT IN ('Stopped', 'Destroyed')`,
		nicUUID, HypervisorKVM); err != nil || len(hosts) == 0 {
		return "", err
	}
	return hosts[0], nil
}

// nicEIPs are a host's flat EIP actions for a NIC: its EIP ensured when the
// NIC's VM is counted on the host and the EIP is enabled on a flat L3,
// removed otherwise.
func (a *Activities) nicEIPs(ctx context.Context, hostUUID string, nic models.VMNic, include bool, plan *netapi.HostPlan) error {
	var eips []models.Eip
	if err := a.Store.DB().SelectContext(ctx, &eips, `SELECT * FROM eips WHERE vm_nic_uuid = ? ORDER BY uuid`, nic.UUID); err != nil || len(eips) == 0 {
		return err
	}
	flat, err := a.flatEIPOn(ctx, nic.L3NetworkUUID)
	if err != nil || !flat {
		return err
	}
	for _, e := range eips {
		if !include || e.State != models.StateEnabled {
			plan.DeleteEIPs = append(plan.DeleteEIPs, netapi.DeleteEIPParams{HostUUID: hostUUID, EIPUUID: e.UUID})
			continue
		}
		spec, err := a.flatEIPSpec(ctx, e, nic)
		if err != nil {
			return err
		}
		plan.EIPs = append(plan.EIPs, netapi.EnsureEIPParams{HostUUID: hostUUID, EIP: spec})
	}
	return nil
}

// NetEIPPlan places the flat EIPs a router change touched (read from its
// journal: the EIP rows it changed and the NICs they were attached to) and
// those named: each is ensured on the host of its running VM when it is
// enabled and attached to a NIC of a flat L3 with the Eip service, and
// deleted from every other host where one of the NICs' VMs runs.
func (a *Activities) NetEIPPlan(ctx context.Context, p netapi.EIPPlanParams) (netapi.EIPPlan, error) {
	plan := netapi.EIPPlan{EIPs: slices.Clone(p.EIPs), NICs: slices.Clone(p.NICs)}
	if err := a.Faults.check(netapi.NetEIPPlan); err != nil {
		return plan, wrap(err)
	}
	if p.Key != "" {
		var raw []string
		if err := a.Store.DB().SelectContext(ctx, &raw, `SELECT images FROM router_change_journal WHERE uuid = ?`,
			models.NameUUID("RouterChange", p.Key)); err != nil {
			return plan, wrap(err)
		}
		for _, r := range raw {
			var images []store.RowImage
			if err := json.Unmarshal([]byte(r), &images); err != nil {
				return plan, wrap(fmt.Errorf("router change journal: %w", err))
			}
			for _, im := range images {
				if im.Table == "vips" {
					// A VIP's QoS changed: its EIPs converge.
					var eips []string
					if err := a.Store.DB().SelectContext(ctx, &eips, `SELECT uuid FROM eips WHERE vip_uuid = ?`, im.UUID); err != nil {
						return plan, wrap(err)
					}
					plan.EIPs = append(plan.EIPs, eips...)
					continue
				}
				if im.Table != "eips" {
					continue
				}
				plan.EIPs = append(plan.EIPs, im.UUID)
				if nic, ok := im.Row["vm_nic_uuid"].(string); ok && nic != "" {
					plan.NICs = append(plan.NICs, nic)
				}
			}
		}
	}
	desired := map[string]string{} // eip → host
	for _, u := range plan.EIPs {
		var e models.Eip
		if err := a.Store.Get(ctx, store.ResEip, u, &e); err != nil {
			if models.AsError(err).Kind == models.KindNotFound {
				continue
			}
			return plan, wrap(err)
		}
		if e.VMNicUUID == "" {
			continue
		}
		plan.NICs = append(plan.NICs, string(e.VMNicUUID))
		var nic models.VMNic
		if err := a.Store.Get(ctx, store.ResVMNic, string(e.VMNicUUID), &nic); err != nil {
			if models.AsError(err).Kind == models.KindNotFound {
				continue
			}
			return plan, wrap(err)
		}
		flat, err := a.flatEIPOn(ctx, nic.L3NetworkUUID)
		if err != nil {
			return plan, wrap(err)
		}
		host, err := a.vmHostOfNic(ctx, nic.UUID)
		if err != nil {
			return plan, wrap(err)
		}
		if !flat || host == "" || e.State != models.StateEnabled {
			continue
		}
		spec, err := a.flatEIPSpec(ctx, e, nic)
		if err != nil {
			return plan, wrap(err)
		}
		desired[u] = host
		plan.Ensure = append(plan.Ensure, netapi.EnsureEIPParams{HostUUID: host, EIP: spec})
	}
	slices.Sort(plan.EIPs)
	plan.EIPs = slices.Compact(plan.EIPs)
	slices.Sort(plan.NICs)
	plan.NICs = slices.Compact(plan.NICs)
	var hosts []string
	for _, n := range plan.NICs {
		h, err := a.vmHostOfNic(ctx, n)
		if err != nil {
			return plan, wrap(err)
		}
		if h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	slices.Sort(hosts)
	for _, u := range plan.EIPs {
		for _, h := range hosts {
			if desired[u] != h {
				plan.Delete = append(plan.Delete, netapi.DeleteEIPParams{HostUUID: h, EIPUUID: u})
			}
		}
	}
	return plan, nil
}
