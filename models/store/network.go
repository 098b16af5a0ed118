package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"

	"github.com/zcloud/zcloud/models"
)

// Networking resources.
const (
	ResVniRange         = "VniRange"
	ResVtepCIDR         = "VtepCidr"
	ResNetworkProvider  = "NetworkServiceProvider"
	ResNetworkL3Ref     = "NetworkServiceL3NetworkRef"
	ResSecurityGroup    = "SecurityGroup"
	ResSecurityRule     = "SecurityGroupRule"
	ResSecurityGroupL3  = "SecurityGroupL3NetworkRef"
	ResVMNicSecurityRef = "VmNicSecurityGroupRef"
)

var network = domain{
	entities: []entityDef{
		{ResVniRange, "vni_ranges", models.VniRange{}},
		{ResVtepCIDR, "vtep_cidrs", models.VtepCIDR{}},
		{ResNetworkProvider, "network_service_providers", models.NetworkServiceProvider{}},
		{ResNetworkL3Ref, "network_service_l3_refs", models.NetworkServiceL3NetworkRef{}},
		{ResSecurityGroup, "security_groups", models.SecurityGroup{}},
		{ResSecurityRule, "security_group_rules", models.SecurityGroupRule{}},
		{ResVMNicSecurityRef, "vm_nic_security_group_refs", models.VMNicSecurityGroupRef{}},
	},
	refTables: []Resource{
		{Name: ResSecurityGroupL3, Table: "security_group_l3_refs", Fields: []Field{
			{Name: "securityGroupUuid", Column: "security_group_uuid"}, {Name: "l3NetworkUuid", Column: "l3_network_uuid"}}},
	},
	relations: map[string][]Relation{
		ResVniRange: {{Name: "l2Network", Target: ResL2Network, LocalColumn: "l2_network_uuid", RemoteColumn: "uuid"}},
		ResSecurityGroup: {
			{Name: "rules", Target: ResSecurityRule, LocalColumn: "uuid", RemoteColumn: "security_group_uuid"},
			{Name: "attachedL3NetworkUuids", Target: ResSecurityGroupL3, LocalColumn: "uuid", RemoteColumn: "security_group_uuid", ValueField: "l3NetworkUuid"},
			{Name: "vmNic", Target: ResVMNicSecurityRef, LocalColumn: "uuid", RemoteColumn: "security_group_uuid"},
		},
		ResSecurityRule: {{Name: "securityGroup", Target: ResSecurityGroup, LocalColumn: "security_group_uuid", RemoteColumn: "uuid"}},
		ResVMNicSecurityRef: {
			{Name: "securityGroup", Target: ResSecurityGroup, LocalColumn: "security_group_uuid", RemoteColumn: "uuid"},
			{Name: "vmNic", Target: ResVMNic, LocalColumn: "vm_nic_uuid", RemoteColumn: "uuid"},
		},
	},
	taggable: []string{ResSecurityGroup},
	fill:     fillNetwork,
}

func fillNetwork(ctx context.Context, s *Store, p any) (bool, error) {
	var err error
	switch v := p.(type) {
	case *models.SecurityGroup:
		v.Rules = []models.SecurityGroupRule{}
		if err = s.db.SelectContext(ctx, &v.Rules, `SELECT * FROM security_group_rules WHERE security_group_uuid = ? ORDER BY create_date, uuid`, v.UUID); err == nil {
			v.AttachedL3NetworkUUIDs, err = s.Refs(ctx, ResSecurityGroupL3, v.UUID)
		}
	case *models.NetworkServiceProvider:
		v.NetworkServiceTypes, v.AttachedL2NetworkUUIDs = []string{}, []string{}
		err = s.db.SelectContext(ctx, &v.NetworkServiceTypes, `SELECT service_type FROM network_service_types WHERE provider_uuid = ? ORDER BY service_type`, v.UUID)
	default:
		return false, nil
	}
	return true, err
}

// fillL2 names a VLAN's or VXLAN's network id as its inventory does, and
// lists a VXLAN pool's VNI ranges and VTEP CIDRs.
func (s *Store) fillL2(ctx context.Context, v *models.L2Network) error {
	switch v.Type {
	case models.L2Vlan:
		v.Vlan = v.VirtualNetworkID
	case models.L2Vxlan:
		v.Vni = v.VirtualNetworkID
	case models.L2VxlanPool:
		v.AttachedVniRanges = []models.VniRange{}
		if err := s.db.SelectContext(ctx, &v.AttachedVniRanges, `SELECT * FROM vni_ranges WHERE l2_network_uuid = ? ORDER BY start_vni`, v.UUID); err != nil {
			return err
		}
		var cidrs []models.VtepCIDR
		if err := s.db.SelectContext(ctx, &cidrs, `SELECT * FROM vtep_cidrs WHERE pool_uuid = ?`, v.UUID); err != nil {
			return err
		}
		v.AttachedCIDRs = map[string]string{}
		for _, c := range cidrs {
			v.AttachedCIDRs[c.ClusterUUID] = c.CIDR
		}
	}
	return nil
}

// fillL3Services lists the network services an L3 network gets.
func (s *Store) fillL3Services(ctx context.Context, v *models.L3Network) error {
	var refs []models.NetworkServiceL3NetworkRef
	if err := s.db.SelectContext(ctx, &refs, `SELECT * FROM network_service_l3_refs WHERE l3_network_uuid = ? ORDER BY service_type`, v.UUID); err != nil {
		return err
	}
	for _, r := range refs {
		v.NetworkServices = append(v.NetworkServices, r)
	}
	return nil
}

// Providers are the network service providers ZCloud offers, with the
// services each one gives (ZStack's provider types and service names).
var Providers = []struct {
	Type     string
	Services []string
}{
	{models.ProviderFlat, []string{models.ServiceDHCP, models.ServiceDNS, models.ServiceUserdata, models.ServiceEip,
		models.ServiceHostRoute, models.ServiceVipQos}},
	{models.ProviderVrouter, []string{models.ServiceDHCP, models.ServiceDNS, models.ServiceSNAT, models.ServiceEip,
		models.ServicePortForward, models.ServiceLoadBalancer, models.ServiceIPsec, models.ServiceVipQos, models.ServiceCentralizedDNS}},
	{models.ProviderVirtualRouter, []string{models.ServiceDHCP, models.ServiceDNS, models.ServiceSNAT, models.ServiceEip,
		models.ServicePortForward, models.ServiceLoadBalancer, models.ServiceVipQos}},
	{models.ProviderSecurityGroup, []string{models.ServiceSecurityGroup}},
}

// EnsureNetworkProviders records the providers and their services; their
// UUIDs derive from their types, so every control plane agrees on them.
func (s *Store) EnsureNetworkProviders(ctx context.Context) error {
	now := models.Now()
	for _, p := range Providers {
		uuid := models.NameUUID("NetworkServiceProvider", p.Type)
		if _, err := s.db.ExecContext(ctx, `INSERT INTO network_service_providers (uuid, name, description, type, create_date, last_op_date)
			SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM network_service_providers WHERE uuid = ?)`,
			uuid, p.Type, p.Type+" network service provider", p.Type, now, now, uuid); err != nil {
			return fmt.Errorf("ensure provider %s: %w", p.Type, err)
		}
		for _, t := range p.Services {
			if _, err := s.db.ExecContext(ctx, `INSERT INTO network_service_types (uuid, provider_uuid, service_type, create_date)
				SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM network_service_types WHERE provider_uuid = ? AND service_type = ?)`,
				models.NameUUID(uuid, t), uuid, t, now, uuid, t); err != nil {
				return fmt.Errorf("ensure service %s of %s: %w", t, p.Type, err)
			}
		}
	}
	return nil
}

// ProviderOffers reports whether a provider gives a service type.
func (s *Store) ProviderOffers(ctx context.Context, providerUUID, serviceType string) (bool, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM network_service_types WHERE provider_uuid = ? AND service_type = ?`, providerUUID, serviceType)
	return n > 0, err
}

// AttachL3Services gives an L3 network services from providers; a service
// type has at most one provider per L3. Attaching what is attached is a
// no-op; another provider for an attached type is a conflict.
func (s *Store) AttachL3Services(ctx context.Context, l3UUID string, refs []models.NetworkServiceL3NetworkRef) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		for _, r := range refs {
			var cur []string
			if err := tx.SelectContext(ctx, &cur, `SELECT provider_uuid FROM network_service_l3_refs WHERE l3_network_uuid = ? AND service_type = ?`, l3UUID, r.NetworkServiceType); err != nil {
				return err
			}
			if len(cur) > 0 {
				if cur[0] != r.NetworkServiceProviderUUID {
					return models.Conflict("l3 network[uuid:%s] already gets %s from provider[uuid:%s]", l3UUID, r.NetworkServiceType, cur[0])
				}
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO network_service_l3_refs (uuid, l3_network_uuid, provider_uuid, service_type, create_date) VALUES (?, ?, ?, ?, ?)`,
				models.NameUUID("NetworkServiceL3", l3UUID, r.NetworkServiceType), l3UUID, r.NetworkServiceProviderUUID, r.NetworkServiceType, models.Now()); err != nil {
				return err
			}
		}
		return nil
	})
}

// DetachL3Services removes services from an L3 network; types is empty to
// remove every service of the given providers.
func (s *Store) DetachL3Services(ctx context.Context, l3UUID string, providerUUID string, types []string) error {
	if len(types) == 0 {
		_, err := s.db.ExecContext(ctx, `DELETE FROM network_service_l3_refs WHERE l3_network_uuid = ? AND provider_uuid = ?`, l3UUID, providerUUID)
		return err
	}
	for _, t := range types {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM network_service_l3_refs WHERE l3_network_uuid = ? AND provider_uuid = ? AND service_type = ?`, l3UUID, providerUUID, t); err != nil {
			return err
		}
	}
	return nil
}

// L3HasService reports whether an L3 network gets a service type.
func (s *Store) L3HasService(ctx context.Context, l3UUID, serviceType string) (bool, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM network_service_l3_refs WHERE l3_network_uuid = ? AND service_type = ?`, l3UUID, serviceType)
	return n > 0, err
}

// CreateVniRange adds a VNI range to a pool; ranges of one pool never
// overlap.
func (s *Store) CreateVniRange(ctx context.Context, r models.VniRange, ownerUUID string) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM vni_ranges WHERE uuid = ?`, r.UUID); err != nil || n > 0 {
			return err // created by an earlier attempt
		}
		if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM vni_ranges WHERE l2_network_uuid = ? AND start_vni <= ? AND end_vni >= ?`,
			r.L2NetworkUUID, r.EndVni, r.StartVni); err != nil {
			return err
		}
		if n > 0 {
			return models.Invalid("vni range [%d, %d] overlaps another range of pool[uuid:%s]", r.StartVni, r.EndVni, r.L2NetworkUUID)
		}
		if err := s.insert(ctx, tx, "vni_ranges", &r); err != nil {
			return err
		}
		return s.setOwner(ctx, tx, r.UUID, ResVniRange, ownerUUID)
	})
}

// CreateVxlanNetwork records a VXLAN network of a pool with the VNI asked
// for (0: the lowest free one in the pool's ranges). Two creates racing for
// a VNI meet on the (pool, vni) unique index; the loser takes the next.
func (s *Store) CreateVxlanNetwork(ctx context.Context, l2 models.L2Network, ownerUUID string) (models.L2Network, error) {
	var existing models.L2Network
	if err := s.Get(ctx, ResL2Network, l2.UUID, &existing); err == nil {
		return existing, nil
	}
	var ranges []models.VniRange
	if err := s.db.SelectContext(ctx, &ranges, `SELECT * FROM vni_ranges WHERE l2_network_uuid = ? ORDER BY start_vni`, string(l2.PoolUUID)); err != nil {
		return l2, err
	}
	inRange := func(v int) bool {
		for _, r := range ranges {
			if v >= r.StartVni && v <= r.EndVni {
				return true
			}
		}
		return false
	}
	if l2.VirtualNetworkID != 0 && !inRange(l2.VirtualNetworkID) {
		return l2, models.Invalid("vni %d is in no vni range of pool[uuid:%s]", l2.VirtualNetworkID, l2.PoolUUID)
	}
	for attempt := 0; attempt < 64; attempt++ {
		want := l2.VirtualNetworkID
		if want == 0 {
			var used []int
			if err := s.db.SelectContext(ctx, &used, `SELECT virtual_network_id FROM l2_networks WHERE pool_uuid = ?`, string(l2.PoolUUID)); err != nil {
				return l2, err
			}
			taken := map[int]bool{}
			for _, u := range used {
				taken[u] = true
			}
		search:
			for _, r := range ranges {
				for v := r.StartVni; v <= r.EndVni; v++ {
					if !taken[v] {
						want = v
						break search
					}
				}
			}
			if want == 0 {
				return l2, models.Invalid("pool[uuid:%s] has no free vni", l2.PoolUUID)
			}
		}
		c := l2
		c.VirtualNetworkID = want
		err := s.Create(ctx, ResL2Network, &c, c.UUID, ownerUUID)
		if err == nil {
			return c, nil
		}
		if models.AsError(err).Kind != models.KindConflict {
			return l2, err
		}
		if l2.VirtualNetworkID != 0 {
			return l2, models.Conflict("vni %d of pool[uuid:%s] is in use", want, l2.PoolUUID)
		}
	}
	return l2, models.Busy("could not allocate a vni in pool[uuid:%s]", l2.PoolUUID)
}

// SetVtepCIDR records the CIDR in which hosts of a cluster have their VTEP
// address for a VXLAN pool.
func (s *Store) SetVtepCIDR(ctx context.Context, poolUUID, clusterUUID, cidr string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM vtep_cidrs WHERE pool_uuid = ? AND cluster_uuid = ?`, poolUUID, clusterUUID)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO vtep_cidrs (uuid, pool_uuid, cluster_uuid, cidr, create_date) VALUES (?, ?, ?, ?, ?)`,
		models.NameUUID("VtepCidr", poolUUID, clusterUUID), poolUUID, clusterUUID, cidr, models.Now())
	return err
}

// AddSecurityGroupRules adds rules to a group in one transaction; a rule
// equal to one the group has is refused, as in ZStack. Rules whose UUID
// exists (an earlier attempt) are skipped.
func (s *Store) AddSecurityGroupRules(ctx context.Context, rules []models.SecurityGroupRule) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		for _, r := range rules {
			var n int
			if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM security_group_rules WHERE uuid = ?`, r.UUID); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM security_group_rules WHERE security_group_uuid = ? AND type = ? AND protocol = ?
				AND allowed_cidr = ? AND start_port = ? AND end_port = ? AND COALESCE(remote_security_group_uuid, '') = ?`,
				r.SecurityGroupUUID, r.Type, r.Protocol, r.AllowedCIDR, r.StartPort, r.EndPort, string(r.RemoteSecurityGroupUUID)); err != nil {
				return err
			}
			if n > 0 {
				return models.Invalid("security group[uuid:%s] has a rule %s %s %s %d-%d already", r.SecurityGroupUUID, r.Type, r.Protocol, r.AllowedCIDR, r.StartPort, r.EndPort)
			}
			if err := s.insert(ctx, tx, "security_group_rules", &r); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteSecurityGroupRules removes rules by UUID; missing ones are fine.
// It returns the groups that lost rules.
func (s *Store) DeleteSecurityGroupRules(ctx context.Context, ruleUUIDs []string) ([]string, error) {
	var groups []string
	err := s.Tx(ctx, func(tx *sqlx.Tx) error {
		groups = nil
		for _, u := range ruleUUIDs {
			var g []string
			if err := tx.SelectContext(ctx, &g, `SELECT security_group_uuid FROM security_group_rules WHERE uuid = ?`, u); err != nil {
				return err
			}
			if len(g) == 0 {
				continue
			}
			if !slices.Contains(groups, g[0]) {
				groups = append(groups, g[0])
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM security_group_rules WHERE uuid = ?`, u); err != nil {
				return err
			}
		}
		return nil
	})
	return groups, err
}

// DeleteSecurityGroup removes a group with its rules, L3 attachments, NIC
// memberships and the rules of other groups that name it as their source.
func (s *Store) DeleteSecurityGroup(ctx context.Context, uuid string) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		for _, q := range []string{
			`DELETE FROM security_group_rules WHERE security_group_uuid = ? OR remote_security_group_uuid = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, uuid, uuid); err != nil {
				return err
			}
		}
		for _, q := range []string{
			`DELETE FROM security_group_l3_refs WHERE security_group_uuid = ?`,
			`DELETE FROM vm_nic_security_group_refs WHERE security_group_uuid = ?`,
			`DELETE FROM security_groups WHERE uuid = ?`,
			`DELETE FROM system_tags WHERE resource_uuid = ?`,
			`DELETE FROM user_tags WHERE resource_uuid = ?`,
			`DELETE FROM account_resource_refs WHERE resource_uuid = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, uuid); err != nil {
				return err
			}
		}
		return nil
	})
}

// AddNICsToSecurityGroup makes NICs members of a group; a NIC must be on an
// L3 network the group is attached to.
func (s *Store) AddNICsToSecurityGroup(ctx context.Context, sgUUID string, nicUUIDs []string) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		for _, nicUUID := range nicUUIDs {
			var nic models.VMNic
			if err := get(ctx, tx, &nic, "vm_nics", nicUUID); err != nil {
				if models.AsError(err).Kind == models.KindNotFound {
					return models.NotFound("cannot find vm nic[uuid:%s]", nicUUID)
				}
				return err
			}
			var n int
			if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM security_group_l3_refs WHERE security_group_uuid = ? AND l3_network_uuid = ?`, sgUUID, nic.L3NetworkUUID); err != nil {
				return err
			}
			if n == 0 {
				return models.Invalid("vm nic[uuid:%s] is on l3 network[uuid:%s], which security group[uuid:%s] is not attached to", nicUUID, nic.L3NetworkUUID, sgUUID)
			}
			now := models.Now()
			_, err := tx.ExecContext(ctx, `INSERT INTO vm_nic_security_group_refs (uuid, vm_nic_uuid, security_group_uuid, vm_instance_uuid, priority, create_date, last_op_date)
				SELECT ?, ?, ?, ?, 1, ?, ? WHERE NOT EXISTS (SELECT 1 FROM vm_nic_security_group_refs WHERE vm_nic_uuid = ? AND security_group_uuid = ?)`,
				models.NameUUID("VmNicSecurityGroup", nicUUID, sgUUID), nicUUID, sgUUID, nic.VMInstanceUUID, now, now, nicUUID, sgUUID)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// RemoveNICsFromSecurityGroup ends NIC memberships; missing ones are fine.
func (s *Store) RemoveNICsFromSecurityGroup(ctx context.Context, sgUUID string, nicUUIDs []string) error {
	for _, nicUUID := range nicUUIDs {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM vm_nic_security_group_refs WHERE vm_nic_uuid = ? AND security_group_uuid = ?`, nicUUID, sgUUID); err != nil {
			return err
		}
	}
	return nil
}

// sgL3Ref is a row of security_group_l3_refs.
type sgL3Ref struct {
	UUID              string      `db:"uuid" json:"uuid"`
	SecurityGroupUUID string      `db:"security_group_uuid" json:"securityGroupUuid"`
	L3NetworkUUID     string      `db:"l3_network_uuid" json:"l3NetworkUuid"`
	CreateDate        models.Time `db:"create_date" json:"createDate"`
}

// sgRows are the rows that make up security groups, for undoing a change.
type sgRows struct {
	Groups []models.SecurityGroup         `json:"groups"`
	Rules  []models.SecurityGroupRule     `json:"rules"`
	L3Refs []sgL3Ref                      `json:"l3Refs"`
	NICs   []models.VMNicSecurityGroupRef `json:"nics"`
}

// SecurityGroupSnapshot records the rows of groups (the group, its rules,
// L3 attachments and NIC memberships) as JSON for RestoreSecurityGroups.
func (s *Store) SecurityGroupSnapshot(ctx context.Context, groups []string) ([]byte, error) {
	var r sgRows
	for _, g := range groups {
		var sg []models.SecurityGroup
		if err := s.db.SelectContext(ctx, &sg, `SELECT * FROM security_groups WHERE uuid = ?`, g); err != nil {
			return nil, err
		}
		r.Groups = append(r.Groups, sg...)
		var rules []models.SecurityGroupRule
		if err := s.db.SelectContext(ctx, &rules, `SELECT * FROM security_group_rules WHERE security_group_uuid = ?`, g); err != nil {
			return nil, err
		}
		r.Rules = append(r.Rules, rules...)
		var l3 []sgL3Ref
		if err := s.db.SelectContext(ctx, &l3, `SELECT * FROM security_group_l3_refs WHERE security_group_uuid = ?`, g); err != nil {
			return nil, err
		}
		r.L3Refs = append(r.L3Refs, l3...)
		var nics []models.VMNicSecurityGroupRef
		if err := s.db.SelectContext(ctx, &nics, `SELECT * FROM vm_nic_security_group_refs WHERE security_group_uuid = ?`, g); err != nil {
			return nil, err
		}
		r.NICs = append(r.NICs, nics...)
	}
	return json.Marshal(r)
}

// RestoreSecurityGroups puts back the rules, L3 attachments, memberships
// and name/state of the groups a snapshot holds, in one transaction.
// Restoring twice is the same as once.
func (s *Store) RestoreSecurityGroups(ctx context.Context, groups []string, snapshot []byte) error {
	var r sgRows
	if err := json.Unmarshal(snapshot, &r); err != nil {
		return fmt.Errorf("security group snapshot: %w", err)
	}
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		for _, g := range groups {
			for _, q := range []string{`DELETE FROM security_group_rules WHERE security_group_uuid = ?`,
				`DELETE FROM security_group_l3_refs WHERE security_group_uuid = ?`,
				`DELETE FROM vm_nic_security_group_refs WHERE security_group_uuid = ?`} {
				if _, err := tx.ExecContext(ctx, q, g); err != nil {
					return err
				}
			}
		}
		for _, g := range r.Groups {
			if _, err := tx.ExecContext(ctx, `UPDATE security_groups SET name = ?, description = ?, state = ? WHERE uuid = ?`,
				g.Name, g.Description, g.State, g.UUID); err != nil {
				return err
			}
		}
		for i := range r.Rules {
			if err := s.insert(ctx, tx, "security_group_rules", &r.Rules[i]); err != nil {
				return err
			}
		}
		for i := range r.L3Refs {
			if err := s.insert(ctx, tx, "security_group_l3_refs", &r.L3Refs[i]); err != nil {
				return err
			}
		}
		for i := range r.NICs {
			if err := s.insert(ctx, tx, "vm_nic_security_group_refs", &r.NICs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}
