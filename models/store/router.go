package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/secret"
)

// Router appliance resources.
const (
	ResVirtualRouterOffering = "VirtualRouterOffering"
	ResVpcRouter             = "VirtualRouterVm"
	ResRouterNic             = "VirtualRouterNic"
	ResVip                   = "Vip"
	ResEip                   = "Eip"
	ResPortForwarding        = "PortForwardingRule"
	ResLoadBalancer          = "LoadBalancer"
	ResLBListener            = "LoadBalancerListener"
	ResLBNicRef              = "LoadBalancerListenerVmNicRef"
	ResIPsec                 = "IPsecConnection"
	ResIPsecPeerCIDR         = "IPsecPeerCidr"
	ResRouteTable            = "VRouterRouteTable"
	ResVRouterRouteEntry     = "VRouterRouteEntry"
	ResRouteTableRef         = "VirtualRouterVRouterRouteTableRef"
)

// RouteTableRef (VirtualRouterVRouterRouteTableRefInventory).
type RouteTableRef struct {
	UUID                string      `db:"uuid" json:"-"`
	VirtualRouterVMUUID string      `db:"virtual_router_vm_uuid" json:"virtualRouterVmUuid"`
	RouteTableUUID      string      `db:"route_table_uuid" json:"routeTableUuid"`
	CreateDate          models.Time `db:"create_date" json:"createDate"`
}

var routerDomain = domain{
	entities: []entityDef{
		{ResVirtualRouterOffering, "virtual_router_offerings", models.VirtualRouterOffering{}},
		{ResVpcRouter, "virtual_routers", models.VirtualRouter{}},
		{ResRouterNic, "virtual_router_nics", models.RouterNic{}},
		{ResVip, "vips", models.Vip{}},
		{ResEip, "eips", models.Eip{}},
		{ResPortForwarding, "port_forwarding_rules", models.PortForwardingRule{}},
		{ResLoadBalancer, "load_balancers", models.LoadBalancer{}},
		{ResLBListener, "load_balancer_listeners", models.LoadBalancerListener{}},
		{ResLBNicRef, "load_balancer_listener_nic_refs", models.LoadBalancerListenerNicRef{}},
		{ResIPsec, "ipsec_connections", models.IPsecConnection{}},
		{ResIPsecPeerCIDR, "ipsec_peer_cidrs", models.IPsecPeerCIDR{}},
		{ResRouteTable, "vrouter_route_tables", models.VRouterRouteTable{}},
		{ResVRouterRouteEntry, "vrouter_route_entries", models.VRouterRouteEntry{}},
		{ResRouteTableRef, "vrouter_route_table_refs", RouteTableRef{}},
	},
	relations: map[string][]Relation{
		ResVpcRouter: {
			{Name: "vmNics", Target: ResRouterNic, LocalColumn: "uuid", RemoteColumn: "vm_instance_uuid"},
			{Name: "host", Target: ResHost, LocalColumn: "host_uuid", RemoteColumn: "uuid"},
			{Name: "zone", Target: ResZone, LocalColumn: "zone_uuid", RemoteColumn: "uuid"},
		},
		ResRouterNic:      {{Name: "vmInstance", Target: ResVpcRouter, LocalColumn: "vm_instance_uuid", RemoteColumn: "uuid"}},
		ResEip:            {{Name: "vip", Target: ResVip, LocalColumn: "vip_uuid", RemoteColumn: "uuid"}},
		ResPortForwarding: {{Name: "vip", Target: ResVip, LocalColumn: "vip_uuid", RemoteColumn: "uuid"}},
		ResLoadBalancer: {
			{Name: "vip", Target: ResVip, LocalColumn: "vip_uuid", RemoteColumn: "uuid"},
			{Name: "listeners", Target: ResLBListener, LocalColumn: "uuid", RemoteColumn: "load_balancer_uuid"},
		},
		ResLBListener: {
			{Name: "loadBalancer", Target: ResLoadBalancer, LocalColumn: "load_balancer_uuid", RemoteColumn: "uuid"},
			{Name: "vmNicRefs", Target: ResLBNicRef, LocalColumn: "uuid", RemoteColumn: "listener_uuid"},
		},
		ResIPsec:      {{Name: "peerCidrs", Target: ResIPsecPeerCIDR, LocalColumn: "uuid", RemoteColumn: "connection_uuid"}},
		ResRouteTable: {{Name: "routeEntries", Target: ResVRouterRouteEntry, LocalColumn: "uuid", RemoteColumn: "route_table_uuid"}},
	},
	taggable: []string{ResVirtualRouterOffering, ResVpcRouter, ResVip, ResEip, ResPortForwarding, ResLoadBalancer, ResIPsec, ResRouteTable},
	fill:     fillRouter,
}

func fillRouter(ctx context.Context, s *Store, p any) (bool, error) {
	var err error
	switch v := p.(type) {
	case *models.VirtualRouter:
		v.VirtualRouterOfferingUUID = v.InstanceOfferingUUID
		v.VMNics, v.AllVolumes, v.VirtualRouterVips, v.DNS, v.HARef = []models.RouterNic{}, []any{}, []string{}, []string{}, []any{}
		if err = s.db.SelectContext(ctx, &v.VMNics, `SELECT * FROM virtual_router_nics WHERE vm_instance_uuid = ? ORDER BY device_id`, v.UUID); err != nil {
			break
		}
		for i := range v.VMNics {
			v.VMNics[i].MetaData = nicMeta(v.VMNics[i], v.PublicNetworkUUID)
		}
		err = s.db.SelectContext(ctx, &v.DNS, `SELECT dns FROM l3_network_dns WHERE l3_network_uuid = ? ORDER BY create_date, uuid`, v.PublicNetworkUUID)
	case *models.RouterNic:
		var pub string
		if err = s.db.GetContext(ctx, &pub, `SELECT public_network_uuid FROM virtual_routers WHERE uuid = ?`, v.VMInstanceUUID); err == nil {
			v.MetaData = nicMeta(*v, pub)
		} else if errors.Is(err, sql.ErrNoRows) {
			err = nil
		}
	case *models.Vip:
		v.PeerL3NetworkUUIDs, v.ServicesRefs = []string{}, []any{}
		var uses []string
		for _, q := range []struct{ table, use string }{{"eips", models.VipUseEip}, {"port_forwarding_rules", models.VipUsePF},
			{"load_balancers", models.VipUseLB}, {"ipsec_connections", models.VipUseIPsec}} {
			var refs []string
			if err = s.db.SelectContext(ctx, &refs, `SELECT uuid FROM `+q.table+` WHERE vip_uuid = ?`, v.UUID); err != nil {
				return true, err
			}
			for _, r := range refs {
				v.ServicesRefs = append(v.ServicesRefs, map[string]string{"serviceType": q.use, "uuid": r, "vipUuid": v.UUID})
			}
			if len(refs) > 0 {
				uses = append(uses, q.use)
			}
		}
		if len(uses) > 0 {
			v.UseFor = models.Ref(strings.Join(uses, ","))
		}
		v.PeerL3NetworkUUIDs, err = s.vipPeerL3s(ctx, v.UUID)
	case *models.LoadBalancer:
		v.Listeners = []models.LoadBalancerListener{}
		if err = s.db.SelectContext(ctx, &v.Listeners, `SELECT * FROM load_balancer_listeners WHERE load_balancer_uuid = ? ORDER BY create_date, uuid`, v.UUID); err != nil {
			break
		}
		for i := range v.Listeners {
			if err = s.fillListener(ctx, &v.Listeners[i]); err != nil {
				break
			}
		}
	case *models.LoadBalancerListener:
		err = s.fillListener(ctx, v)
	case *models.IPsecConnection:
		v.PeerCIDRs = []models.IPsecPeerCIDR{}
		v.L3NetworkRefs = []map[string]string{{"connectionUuid": v.UUID, "l3NetworkUuid": v.L3NetworkUUID}}
		err = s.db.SelectContext(ctx, &v.PeerCIDRs, `SELECT * FROM ipsec_peer_cidrs WHERE connection_uuid = ? ORDER BY create_date, uuid`, v.UUID)
	case *models.VRouterRouteTable:
		v.RouteEntries, v.AttachedRouterRefs = []models.VRouterRouteEntry{}, []map[string]string{}
		if err = s.db.SelectContext(ctx, &v.RouteEntries, `SELECT * FROM vrouter_route_entries WHERE route_table_uuid = ? ORDER BY destination, distance`, v.UUID); err != nil {
			break
		}
		var routers []string
		if err = s.db.SelectContext(ctx, &routers, `SELECT virtual_router_vm_uuid FROM vrouter_route_table_refs WHERE route_table_uuid = ? ORDER BY create_date, uuid`, v.UUID); err == nil {
			for _, r := range routers {
				v.AttachedRouterRefs = append(v.AttachedRouterRefs, map[string]string{"routeTableUuid": v.UUID, "virtualRouterVmUuid": r})
			}
		}
	default:
		return false, nil
	}
	return true, err
}

func (s *Store) fillListener(ctx context.Context, l *models.LoadBalancerListener) error {
	l.VMNicRefs, l.ACLRefs, l.CertificateRefs, l.ServerGroupRefs = []models.LoadBalancerListenerNicRef{}, []any{}, []any{}, []any{}
	return s.db.SelectContext(ctx, &l.VMNicRefs, `SELECT * FROM load_balancer_listener_nic_refs WHERE listener_uuid = ? ORDER BY create_date, uuid`, l.UUID)
}

// vipPeerL3s lists the guest L3s whose NICs use a VIP's services.
func (s *Store) vipPeerL3s(ctx context.Context, vipUUID string) ([]string, error) {
	out := []string{}
	err := s.db.SelectContext(ctx, &out, `SELECT DISTINCT n.l3_network_uuid FROM vm_nics n WHERE n.uuid IN (
		SELECT vm_nic_uuid FROM eips WHERE vip_uuid = ? UNION
		SELECT vm_nic_uuid FROM port_forwarding_rules WHERE vip_uuid = ? UNION
		SELECT r.vm_nic_uuid FROM load_balancer_listener_nic_refs r JOIN load_balancer_listeners l ON r.listener_uuid = l.uuid
			JOIN load_balancers b ON l.load_balancer_uuid = b.uuid WHERE b.vip_uuid = ?) ORDER BY n.l3_network_uuid`, vipUUID, vipUUID, vipUUID)
	return out, err
}

func nicMeta(n models.RouterNic, publicL3 string) string {
	if n.L3NetworkUUID == publicL3 {
		return models.NicMetaPublic
	}
	return models.NicMetaVPC
}

// RouterNicMAC derives a router NIC's MAC from its UUID: stable across
// re-creations of the namespace (neighbours keep their ARP entries), locally
// administered, unicast.
func RouterNicMAC(nicUUID string) string {
	h := sha256.Sum256([]byte(nicUUID))
	return net.HardwareAddr{0xfa, h[0], h[1], h[2], h[3], h[4]}.String()
}

// Journal records the before-image of every row a router change touches,
// in the change's transaction, so that UndoRouterChange puts them back.
type Journal struct {
	ctx    context.Context
	s      *Store
	tx     *sqlx.Tx
	images []RowImage
	seen   map[string]bool
}

// RowImage is one row as it was before a change; a nil Row means the row
// did not exist.
type RowImage struct {
	Table string         `json:"table"`
	UUID  string         `json:"uuid"`
	Row   map[string]any `json:"row,omitempty"`
}

// ChangeResult is what a router change did: the resource to render and the
// routers whose desired state changed.
type ChangeResult struct {
	Resource string   `json:"resource"`
	UUID     string   `json:"uuid"`
	Key      string   `json:"key"`
	Routers  []string `json:"routers"`
}

// journaled are the tables router changes may touch; images name only these.
var journaled = []string{"virtual_router_offerings", "virtual_routers", "virtual_router_nics", "vips", "eips", "port_forwarding_rules",
	"load_balancers", "load_balancer_listeners", "load_balancer_listener_nic_refs", "ipsec_connections", "ipsec_peer_cidrs",
	"vrouter_route_tables", "vrouter_route_entries", "vrouter_route_table_refs", "used_ips", "system_tags", "user_tags", "account_resource_refs"}

// keyOf names a journaled table's primary key column.
func keyOf(table string) string {
	if table == "account_resource_refs" {
		return "resource_uuid"
	}
	return "uuid"
}

func (j *Journal) touch(table, uuid string) error {
	if !slices.Contains(journaled, table) {
		return fmt.Errorf("journal: table %s is not journaled", table)
	}
	k := table + "/" + uuid
	if j.seen[k] {
		return nil
	}
	row := map[string]any{}
	err := j.tx.QueryRowxContext(j.ctx, "SELECT * FROM "+table+" WHERE "+keyOf(table)+" = ?", uuid).MapScan(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		row = nil
	case err != nil:
		return fmt.Errorf("journal %s %s: %w", table, uuid, err)
	}
	for k, v := range row {
		if b, ok := v.([]byte); ok {
			row[k] = string(b)
		}
	}
	j.seen[k] = true
	j.images = append(j.images, RowImage{Table: table, UUID: uuid, Row: row})
	return nil
}

// created records a row made outside the journal's transaction by this
// change (an IP allocation), so that undo removes it.
func (j *Journal) created(table, uuid string) {
	k := table + "/" + uuid
	if !j.seen[k] {
		j.seen[k] = true
		j.images = append(j.images, RowImage{Table: table, UUID: uuid})
	}
}

func (j *Journal) insert(table, uuid string, v any) error {
	if err := j.touch(table, uuid); err != nil {
		return err
	}
	return j.s.insert(j.ctx, j.tx, table, v)
}

func (j *Journal) update(table, uuid string, sets map[string]any) error {
	if err := j.touch(table, uuid); err != nil {
		return err
	}
	cols := make([]string, 0, len(sets))
	for c := range sets {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	args := make([]any, 0, len(cols)+2)
	parts := make([]string, 0, len(cols)+1)
	for _, c := range cols {
		parts = append(parts, c+" = ?")
		args = append(args, sets[c])
	}
	parts = append(parts, "last_op_date = ?")
	args = append(args, models.Now(), uuid)
	_, err := j.tx.ExecContext(j.ctx, "UPDATE "+table+" SET "+strings.Join(parts, ", ")+" WHERE uuid = ?", args...)
	if err != nil {
		return fmt.Errorf("update %s %s: %w", table, uuid, err)
	}
	return nil
}

// deleteWhere deletes the rows of table matching where, journaling each.
func (j *Journal) deleteWhere(table, where string, args ...any) error {
	var uuids []string
	if err := j.tx.SelectContext(j.ctx, &uuids, "SELECT "+keyOf(table)+" FROM "+table+" WHERE "+where, args...); err != nil {
		return fmt.Errorf("select %s: %w", table, err)
	}
	for _, u := range uuids {
		if err := j.touch(table, u); err != nil {
			return err
		}
		if _, err := j.tx.ExecContext(j.ctx, "DELETE FROM "+table+" WHERE "+keyOf(table)+" = ?", u); err != nil {
			return fmt.Errorf("delete %s %s: %w", table, u, err)
		}
	}
	return nil
}

// deleteResource deletes a resource row with its tags and owner record.
func (j *Journal) deleteResource(table, uuid string) error {
	if err := j.deleteWhere(table, "uuid = ?", uuid); err != nil {
		return err
	}
	for _, t := range []string{"system_tags", "user_tags", "account_resource_refs"} {
		if err := j.deleteWhere(t, "resource_uuid = ?", uuid); err != nil {
			return err
		}
	}
	return nil
}

// createResource inserts a resource row and records its owner.
func (j *Journal) createResource(table, resName, uuid, owner string, v any) error {
	if err := j.insert(table, uuid, v); err != nil {
		return err
	}
	if owner == "" {
		return nil
	}
	if err := j.touch("account_resource_refs", uuid); err != nil {
		return err
	}
	return j.s.setOwner(j.ctx, j.tx, uuid, resName, owner)
}

// ChangeFunc is one router change inside its journal's transaction.
type ChangeFunc func(j *Journal) (ChangeResult, error)

// RouterChange runs fn in one transaction that journals every row it
// touches under key (the change's workflow). Running it again with the same
// key returns the first run's result without changing anything: a retried
// step finds its own journal.
func (s *Store) RouterChange(ctx context.Context, key string, fn ChangeFunc, pre ...RowImage) (ChangeResult, error) {
	var res ChangeResult
	jid := models.NameUUID("RouterChange", key)
	err := s.Tx(ctx, func(tx *sqlx.Tx) error {
		var done []string
		if err := tx.SelectContext(ctx, &done, `SELECT result FROM router_change_journal WHERE uuid = ?`, jid); err != nil {
			return err
		}
		if len(done) > 0 {
			return json.Unmarshal([]byte(done[0]), &res)
		}
		j := &Journal{ctx: ctx, s: s, tx: tx, seen: map[string]bool{}}
		for _, p := range pre {
			j.created(p.Table, p.UUID)
		}
		r, err := fn(j)
		if err != nil {
			return err
		}
		slices.Sort(r.Routers)
		r.Routers = slices.Compact(r.Routers)
		res = r
		images, _ := json.Marshal(j.images)
		out, _ := json.Marshal(r)
		_, err = tx.ExecContext(ctx, `INSERT INTO router_change_journal (uuid, images, result, create_date) VALUES (?, ?, ?, ?)`,
			jid, string(images), string(out), models.Now())
		return err
	})
	return res, err
}

// UndoRouterChange puts back every row the change keyed key touched and
// forgets the journal; undoing twice, or a change that never committed, is
// a no-op.
func (s *Store) UndoRouterChange(ctx context.Context, key string) error {
	jid := models.NameUUID("RouterChange", key)
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		var raw []string
		if err := tx.SelectContext(ctx, &raw, `SELECT images FROM router_change_journal WHERE uuid = ?`, jid); err != nil || len(raw) == 0 {
			return err
		}
		dec := json.NewDecoder(strings.NewReader(raw[0]))
		dec.UseNumber()
		var images []RowImage
		if err := dec.Decode(&images); err != nil {
			return fmt.Errorf("undo router change: %w", err)
		}
		for i := len(images) - 1; i >= 0; i-- {
			im := images[i]
			if !slices.Contains(journaled, im.Table) {
				return fmt.Errorf("undo router change: table %s is not journaled", im.Table)
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+im.Table+" WHERE "+keyOf(im.Table)+" = ?", im.UUID); err != nil {
				return fmt.Errorf("undo %s %s: %w", im.Table, im.UUID, err)
			}
			if im.Row == nil {
				continue
			}
			cols := make([]string, 0, len(im.Row))
			for c := range im.Row {
				if !isIdent(c) {
					return fmt.Errorf("undo router change: bad column %q", c)
				}
				cols = append(cols, c)
			}
			sort.Strings(cols)
			args := make([]any, len(cols))
			for k, c := range cols {
				args[k] = im.Row[c]
				if n, ok := args[k].(json.Number); ok {
					if i, err := n.Int64(); err == nil {
						args[k] = i
					} else if f, err := n.Float64(); err == nil {
						args[k] = f
					}
				}
			}
			q := "INSERT INTO " + im.Table + " (" + strings.Join(cols, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(cols)-1) + ")"
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("undo %s %s: %w", im.Table, im.UUID, err)
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM router_change_journal WHERE uuid = ?`, jid)
		return err
	})
}

// ForgetRouterChange drops a change's journal once its workflow finished.
func (s *Store) ForgetRouterChange(ctx context.Context, key string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM router_change_journal WHERE uuid = ?`, models.NameUUID("RouterChange", key))
	return err
}

// ---- reads inside a change ----

func (j *Journal) get(dst any, table, what, uuid string) error {
	if uuid == "" {
		return models.Invalid("%s uuid is required", what)
	}
	if err := get(j.ctx, j.tx, dst, table, uuid); err != nil {
		if models.AsError(err).Kind == models.KindNotFound {
			return models.NotFound("cannot find %s[uuid:%s]", what, uuid)
		}
		return err
	}
	return nil
}

func (j *Journal) count(table, where string, args ...any) (int, error) {
	var n int
	err := j.tx.GetContext(j.ctx, &n, "SELECT COUNT(*) FROM "+table+" WHERE "+where, args...)
	return n, err
}

// routerOfL3 returns the router whose guest NIC serves an L3 ("" for none).
func (j *Journal) routerOfL3(l3UUID string) (string, error) {
	var out []string
	err := j.tx.SelectContext(j.ctx, &out, routerOfL3SQL, l3UUID)
	if err != nil || len(out) == 0 {
		return "", err
	}
	return out[0], nil
}

// guestNic resolves a VM NIC for a service: its IP and the router that
// serves its L3, which must have the VIP's L3 as its public network.
func (j *Journal) guestNic(nicUUID string, vip models.Vip) (ip, router string, err error) {
	var nic models.VMNic
	if err := j.get(&nic, "vm_nics", "VmNic", nicUUID); err != nil {
		return "", "", err
	}
	if nic.IP == "" {
		return "", "", models.Invalid("vm nic[uuid:%s] has no ip", nicUUID)
	}
	if router, err = j.routerOfL3(nic.L3NetworkUUID); err != nil {
		return "", "", err
	}
	if router == "" {
		return "", "", models.Invalid("vm nic[uuid:%s] is on l3 network[uuid:%s], which no vpc router serves", nicUUID, nic.L3NetworkUUID)
	}
	var r models.VirtualRouter
	if err := j.get(&r, "virtual_routers", "VirtualRouterVm", router); err != nil {
		return "", "", err
	}
	if r.PublicNetworkUUID != vip.L3NetworkUUID {
		return "", "", models.Invalid("vip[uuid:%s] is on l3 network[uuid:%s], but vpc router[uuid:%s] of vm nic[uuid:%s] has public network[uuid:%s]",
			vip.UUID, vip.L3NetworkUUID, router, nicUUID, r.PublicNetworkUUID)
	}
	return string(nic.IP), router, nil
}

// vipRouters lists the routers a VIP's services run on.
func (j *Journal) vipRouters(vipUUID string) ([]string, error) {
	var out []string
	err := j.tx.SelectContext(j.ctx, &out, `SELECT DISTINCT rn.vm_instance_uuid FROM virtual_router_nics rn JOIN virtual_routers r ON r.uuid = rn.vm_instance_uuid
		WHERE rn.l3_network_uuid <> r.public_network_uuid AND rn.l3_network_uuid IN (
			SELECT n.l3_network_uuid FROM vm_nics n WHERE n.uuid IN (
				SELECT vm_nic_uuid FROM eips WHERE vip_uuid = ? UNION
				SELECT vm_nic_uuid FROM port_forwarding_rules WHERE vip_uuid = ? UNION
				SELECT lr.vm_nic_uuid FROM load_balancer_listener_nic_refs lr JOIN load_balancer_listeners l ON lr.listener_uuid = l.uuid
					JOIN load_balancers b ON l.load_balancer_uuid = b.uuid WHERE b.vip_uuid = ?)
			UNION SELECT l3_network_uuid FROM ipsec_connections WHERE vip_uuid = ?)`, vipUUID, vipUUID, vipUUID, vipUUID)
	return out, err
}

// sameRouter enforces that every service of a VIP runs on one router.
func (j *Journal) sameRouter(vipUUID, router string) error {
	rs, err := j.vipRouters(vipUUID)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r != router {
			return models.Conflict("vip[uuid:%s] is already used on vpc router[uuid:%s]; its services cannot also use vpc router[uuid:%s]", vipUUID, r, router)
		}
	}
	return nil
}

// ---- router records ----

// RouterPlacement is where a new router goes and what it holds.
type RouterPlacement struct {
	HostUUID, ClusterUUID string
}

// PickRouterHost chooses a Connected, Enabled host for a router: the given
// host, or one of the zone (or cluster) whose cluster has the public L2
// attached, the one with the fewest routers first.
func (s *Store) PickRouterHost(ctx context.Context, zoneUUID, clusterUUID, hostUUID, publicL3 string) (RouterPlacement, error) {
	var l2 string
	if err := s.db.GetContext(ctx, &l2, `SELECT l2_network_uuid FROM l3_networks WHERE uuid = ?`, publicL3); err != nil {
		return RouterPlacement{}, models.NotFound("cannot find L3Network[uuid:%s]", publicL3)
	}
	q := `SELECT h.uuid, h.cluster_uuid FROM hosts h WHERE h.zone_uuid = ? AND h.status = ? AND h.state = ?
		AND h.cluster_uuid IN (SELECT cluster_uuid FROM l2_network_cluster_refs WHERE l2_network_uuid = ?)`
	args := []any{zoneUUID, models.StatusConnected, models.StateEnabled, l2}
	if clusterUUID != "" {
		q += ` AND h.cluster_uuid = ?`
		args = append(args, clusterUUID)
	}
	if hostUUID != "" {
		q += ` AND h.uuid = ?`
		args = append(args, hostUUID)
	}
	q += ` ORDER BY (SELECT COUNT(*) FROM virtual_routers r WHERE r.host_uuid = h.uuid), h.uuid`
	var rows []struct {
		UUID    string `db:"uuid"`
		Cluster string `db:"cluster_uuid"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return RouterPlacement{}, err
	}
	if len(rows) == 0 {
		return RouterPlacement{}, models.Unavailable("no Connected, Enabled host in zone[uuid:%s] (cluster %q, host %q) can reach public l3 network[uuid:%s]",
			zoneUUID, clusterUUID, hostUUID, publicL3).WithCode(models.CodeAllocation)
	}
	return RouterPlacement{HostUUID: rows[0].UUID, ClusterUUID: rows[0].Cluster}, nil
}

// CreateRouterRecord records a router with its public NIC holding ip
// (allocated by the caller); a router that exists is returned as is.
func (s *Store) CreateRouterRecord(ctx context.Context, r models.VirtualRouter, pub models.RouterNic, owner string) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM virtual_routers WHERE uuid = ?`, r.UUID); err != nil || n > 0 {
			return err
		}
		if err := s.insert(ctx, tx, "virtual_routers", &r); err != nil {
			return err
		}
		if err := s.insert(ctx, tx, "virtual_router_nics", &pub); err != nil {
			return err
		}
		return s.setOwner(ctx, tx, r.UUID, ResVpcRouter, owner)
	})
}

// DeleteRouterRecord removes a router, its NICs with their IPs and its
// route table attachment; deleting a missing router succeeds.
func (s *Store) DeleteRouterRecord(ctx context.Context, uuid string) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		for _, q := range []string{
			`DELETE FROM used_ips WHERE vm_nic_uuid IN (SELECT uuid FROM virtual_router_nics WHERE vm_instance_uuid = ?)`,
			`DELETE FROM virtual_router_nics WHERE vm_instance_uuid = ?`,
			`DELETE FROM vrouter_route_table_refs WHERE virtual_router_vm_uuid = ?`,
			`DELETE FROM virtual_routers WHERE uuid = ?`,
			`DELETE FROM system_tags WHERE resource_uuid = ?`,
			`DELETE FROM user_tags WHERE resource_uuid = ?`,
			`DELETE FROM account_resource_refs WHERE resource_uuid = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, uuid); err != nil {
				return fmt.Errorf("delete router %s: %w", uuid, err)
			}
		}
		return nil
	})
}

// routerTransitions are the states each lifecycle action starts from and
// the state it holds the router in while it runs.
var routerTransitions = map[string]struct {
	from []string
	via  string
}{
	models.RouterActStart:     {[]string{models.VMStopped}, models.VMStarting},
	models.RouterActStop:      {[]string{models.VMRunning, models.VMUnknown}, models.VMStopping},
	models.RouterActReboot:    {[]string{models.VMRunning}, models.VMRebooting},
	models.RouterActReconnect: {[]string{models.VMRunning, models.VMUnknown}, models.VMRunning},
	models.RouterActDestroy:   {[]string{models.VMRunning, models.VMStopped, models.VMUnknown, models.VMStarting}, models.VMDestroying},
	models.RouterActMigrate:   {[]string{models.VMRunning, models.VMUnknown}, models.VMMigrating},
}

// TransitionRouter moves a router into the intermediate state of an action
// with one conditional update, so two operations on one router never
// interleave; it returns the state the router had.
func (s *Store) TransitionRouter(ctx context.Context, uuid, action string) (string, error) {
	t, ok := routerTransitions[action]
	if !ok {
		return "", models.Invalid("unknown router action %s", action)
	}
	var r models.VirtualRouter
	if err := s.Get(ctx, ResVpcRouter, uuid, &r); err != nil {
		return "", err
	}
	if r.State == t.via && action != models.RouterActReconnect {
		return r.State, nil // a retried step
	}
	if !slices.Contains(t.from, r.State) {
		return "", models.Invalid("vpc router[uuid:%s] is %s; %s needs it to be one of %v", uuid, r.State, action, t.from).WithCode(models.CodeVMState)
	}
	q := `UPDATE virtual_routers SET state = ?, last_op_date = ? WHERE uuid = ? AND state IN (?` + strings.Repeat(", ?", len(t.from)-1) + `)`
	args := []any{t.via, models.Now(), uuid}
	for _, f := range t.from {
		args = append(args, f)
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", models.Invalid("vpc router[uuid:%s] changed state concurrently", uuid).WithCode(models.CodeVMState)
	}
	return r.State, nil
}

// NextRouterGeneration takes a router's next spec generation (0 when the
// router is gone). A spec read after taking it includes every change
// committed before, so the newest generation is the truest spec.
func (s *Store) NextRouterGeneration(ctx context.Context, uuid string) (int64, error) {
	var gen int64
	err := s.Tx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE virtual_routers SET generation = generation + 1 WHERE uuid = ?`, uuid); err != nil {
			return err
		}
		var g []int64
		if err := tx.SelectContext(ctx, &g, `SELECT generation FROM virtual_routers WHERE uuid = ?`, uuid); err != nil {
			return err
		}
		gen = 0
		if len(g) > 0 {
			gen = g[0]
		}
		return nil
	})
	return gen, err
}

// SetRouterState records a router's state and status ("" keeps it).
func (s *Store) SetRouterState(ctx context.Context, uuid, state, status string) error {
	ch := map[string]any{"state": state}
	if status != "" {
		ch["status"] = status
	}
	return s.Update(ctx, ResVpcRouter, uuid, ch)
}

// RouterIsRouter reports whether uuid names a router.
func (s *Store) RouterIsRouter(ctx context.Context, uuid string) bool {
	ok, err := s.Exists(ctx, ResVpcRouter, uuid)
	return err == nil && ok
}

// RouterOfNic returns the router owning a router NIC ("" when it is none).
func (s *Store) RouterOfNic(ctx context.Context, nicUUID string) string {
	var out []string
	_ = s.db.SelectContext(ctx, &out, `SELECT vm_instance_uuid FROM virtual_router_nics WHERE uuid = ?`, nicUUID)
	if len(out) == 0 {
		return ""
	}
	return out[0]
}

// ---- desired state ----

// bridgeOf names the host bridge of an L2 network the way ZStack's KVM
// agent does: br_<if> for NoVlan, br_<if>_<vlan> for VLAN, br_vx_<vni> for
// VXLAN.
func bridgeOf(l2 models.L2Network) string {
	phys := strings.ReplaceAll(l2.PhysicalInterface, ".", "_")
	switch l2.Type {
	case models.L2Vlan:
		return fmt.Sprintf("br_%s_%d", phys, l2.VirtualNetworkID)
	case models.L2Vxlan:
		return fmt.Sprintf("br_vx_%d", l2.VirtualNetworkID)
	default:
		return "br_" + phys
	}
}

// RouterDesired reads everything that decides what a router does.
func (s *Store) RouterDesired(ctx context.Context, uuid string) (models.RouterDesired, error) {
	var d models.RouterDesired
	if err := s.Get(ctx, ResVpcRouter, uuid, &d.Router); err != nil {
		return d, err
	}
	var nics []models.RouterNic
	if err := s.db.SelectContext(ctx, &nics, `SELECT * FROM virtual_router_nics WHERE vm_instance_uuid = ? ORDER BY device_id`, uuid); err != nil {
		return d, err
	}
	var private []string
	for _, n := range nics {
		var l3 models.L3Network
		var l2 models.L2Network
		if err := s.Get(ctx, ResL3Network, n.L3NetworkUUID, &l3); err != nil {
			return d, err
		}
		if err := s.Get(ctx, ResL2Network, l3.L2NetworkUUID, &l2); err != nil {
			return d, err
		}
		ranges, err := s.IPRanges(ctx, l3.UUID)
		if err != nil {
			return d, err
		}
		if len(ranges) == 0 {
			return d, models.Invalid("l3 network[uuid:%s] has no ip range", l3.UUID)
		}
		rn := models.RouterNetwork{Nic: n, Public: n.L3NetworkUUID == d.Router.PublicNetworkUUID, CIDR: ranges[0].NetworkCIDR,
			Gateway: ranges[0].Gateway, Bridge: bridgeOf(l2)}
		if !rn.Public {
			private = append(private, l3.UUID)
			var hosts []struct {
				MAC  string `db:"mac"`
				IP   string `db:"ip"`
				Name string `db:"name"`
			}
			if err := s.db.SelectContext(ctx, &hosts, `SELECT n.mac, n.ip, v.name FROM vm_nics n JOIN vm_instances v ON v.uuid = n.vm_instance_uuid
				WHERE n.l3_network_uuid = ? AND n.ip IS NOT NULL ORDER BY n.ip`, l3.UUID); err != nil {
				return d, err
			}
			for _, h := range hosts {
				rn.DHCPHosts = append(rn.DHCPHosts, models.RouterDHCPHost{MAC: h.MAC, IP: h.IP, Hostname: hostname(h.Name)})
			}
		}
		d.Networks = append(d.Networks, rn)
	}
	if err := s.db.SelectContext(ctx, &d.DNS, `SELECT dns FROM l3_network_dns WHERE l3_network_uuid = ? ORDER BY create_date, uuid`, d.Router.PublicNetworkUUID); err != nil {
		return d, err
	}
	if len(private) == 0 {
		return d, s.routerRoutes(ctx, &d)
	}
	in, args := inList(private)
	pub := d.Router.PublicNetworkUUID
	nicOnRouter := `vm_nic_uuid IN (SELECT uuid FROM vm_nics WHERE l3_network_uuid IN ` + in + `)`
	vipOnPublic := `vip_uuid IN (SELECT uuid FROM vips WHERE l3_network_uuid = ?)`
	if err := s.db.SelectContext(ctx, &d.EIPs, `SELECT * FROM eips WHERE state = ? AND `+nicOnRouter+` AND `+vipOnPublic+` ORDER BY vip_ip`,
		append(append([]any{models.StateEnabled}, args...), pub)...); err != nil {
		return d, err
	}
	if err := s.db.SelectContext(ctx, &d.PortForwards, `SELECT * FROM port_forwarding_rules WHERE state = ? AND `+nicOnRouter+` AND `+vipOnPublic+` ORDER BY vip_ip, vip_port_start`,
		append(append([]any{models.StateEnabled}, args...), pub)...); err != nil {
		return d, err
	}
	var lbs []models.LoadBalancer
	if err := s.db.SelectContext(ctx, &lbs, `SELECT * FROM load_balancers WHERE `+vipOnPublic+` ORDER BY create_date, uuid`, pub); err != nil {
		return d, err
	}
	for _, lb := range lbs {
		rl := models.RouterLB{LB: lb}
		if err := s.db.GetContext(ctx, &rl.VipIP, `SELECT ip FROM vips WHERE uuid = ?`, lb.VipUUID); err != nil {
			return d, err
		}
		var ls []models.LoadBalancerListener
		if err := s.db.SelectContext(ctx, &ls, `SELECT * FROM load_balancer_listeners WHERE load_balancer_uuid = ? ORDER BY load_balancer_port`, lb.UUID); err != nil {
			return d, err
		}
		onRouter := false
		for _, l := range ls {
			var ips []string
			if err := s.db.SelectContext(ctx, &ips, `SELECT n.ip FROM load_balancer_listener_nic_refs r JOIN vm_nics n ON n.uuid = r.vm_nic_uuid
				WHERE r.listener_uuid = ? AND n.ip IS NOT NULL AND n.l3_network_uuid IN `+in+` ORDER BY n.ip`, append([]any{l.UUID}, args...)...); err != nil {
				return d, err
			}
			onRouter = onRouter || len(ips) > 0
			rl.Listeners = append(rl.Listeners, models.RouterListener{Listener: l, Backends: ips})
		}
		if onRouter {
			d.LoadBalancers = append(d.LoadBalancers, rl)
		}
	}
	var conns []models.IPsecConnection
	if err := s.db.SelectContext(ctx, &conns, `SELECT * FROM ipsec_connections WHERE state = ? AND l3_network_uuid IN `+in+` AND `+vipOnPublic+` ORDER BY create_date, uuid`,
		append(append([]any{models.StateEnabled}, args...), pub)...); err != nil {
		return d, err
	}
	for _, c := range conns {
		ri := models.RouterIPsec{Conn: c}
		if err := s.db.GetContext(ctx, &ri.VipIP, `SELECT ip FROM vips WHERE uuid = ?`, c.VipUUID); err != nil {
			return d, err
		}
		for _, n := range d.Networks {
			if n.Nic.L3NetworkUUID == c.L3NetworkUUID {
				ri.LocalCIDRs = append(ri.LocalCIDRs, n.CIDR)
			}
		}
		if err := s.db.SelectContext(ctx, &ri.PeerCIDRs, `SELECT cidr FROM ipsec_peer_cidrs WHERE connection_uuid = ? ORDER BY cidr`, c.UUID); err != nil {
			return d, err
		}
		d.IPsec = append(d.IPsec, ri)
	}
	return d, s.routerRoutes(ctx, &d)
}

func (s *Store) routerRoutes(ctx context.Context, d *models.RouterDesired) error {
	return s.db.SelectContext(ctx, &d.Routes, `SELECT e.* FROM vrouter_route_entries e JOIN vrouter_route_table_refs r ON r.route_table_uuid = e.route_table_uuid
		WHERE r.virtual_router_vm_uuid = ? ORDER BY e.destination, e.distance`, d.Router.UUID)
}

func inList(vals []string) (string, []any) {
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return "(?" + strings.Repeat(", ?", len(vals)-1) + ")", args
}

// hostname makes a VM name usable as a DHCP host name.
func hostname(name string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			b.WriteRune(c)
		default:
			b.WriteRune('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// prefixOfRange returns an IP range's network.
func prefixOfRange(r models.IPRange) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(r.NetworkCIDR)
	if err != nil {
		return netip.Prefix{}, models.Invalid("ip range[uuid:%s] has a bad cidr %q", r.UUID, r.NetworkCIDR)
	}
	return p.Masked(), nil
}

// ---- router changes: one function per API, run inside RouterChange ----

// ChangeArgs are an API's validated params (JSON values).
type ChangeArgs map[string]any

// Str returns a string param ("" when absent).
func (a ChangeArgs) Str(k string) string { v, _ := a[k].(string); return v }

// Int returns a numeric param (0 when absent).
func (a ChangeArgs) Int(k string) int {
	switch v := a[k].(type) {
	case float64:
		return int(v)
	case int64:
		return int(v)
	case int:
		return v
	case json.Number:
		n, _ := v.Int64()
		return int(n)
	}
	return 0
}

// Strs returns a list-of-strings param.
func (a ChangeArgs) Strs(k string) []string {
	var out []string
	switch l := a[k].(type) {
	case []any:
		for _, v := range l {
			if s, ok := v.(string); ok && s != "" {
				out = append(out, s)
			}
		}
	case []string:
		out = append(out, l...)
	}
	return out
}

func (a ChangeArgs) base() models.Base {
	now := models.Now()
	return models.Base{UUID: a.Str("uuid"), Name: a.Str("name"), Description: models.Ref(a.Str("description")), CreateDate: now, LastOpDate: now}
}

// Change is a router change function with its params and owner.
type Change func(j *Journal, a ChangeArgs, owner string) (ChangeResult, error)

func orStr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// CreateVirtualRouterOffering records an offering; its public network must
// be a Public or System L3 of the zone.
func CreateVirtualRouterOffering(j *Journal, a ChangeArgs, owner string) (ChangeResult, error) {
	var z models.Zone
	if err := j.get(&z, "zones", "Zone", a.Str("zoneUuid")); err != nil {
		return ChangeResult{}, err
	}
	var mgmt, pub models.L3Network
	if err := j.get(&mgmt, "l3_networks", "L3Network", a.Str("managementNetworkUuid")); err != nil {
		return ChangeResult{}, err
	}
	pubUUID := orStr(a.Str("publicNetworkUuid"), mgmt.UUID)
	if err := j.get(&pub, "l3_networks", "L3Network", pubUUID); err != nil {
		return ChangeResult{}, err
	}
	for _, l3 := range []models.L3Network{mgmt, pub} {
		if l3.ZoneUUID != z.UUID {
			return ChangeResult{}, models.Invalid("l3 network[uuid:%s] is not in zone[uuid:%s]", l3.UUID, z.UUID)
		}
	}
	if pub.Category != "Public" && pub.Category != "System" {
		return ChangeResult{}, models.Invalid("public network[uuid:%s] has category %s; want Public or System", pub.UUID, pub.Category)
	}
	var img models.Image
	if err := j.get(&img, "images", "Image", a.Str("imageUuid")); err != nil {
		return ChangeResult{}, err
	}
	o := models.VirtualRouterOffering{Base: a.base(), CPUNum: a.Int("cpuNum"), MemorySize: int64(a.Int("memorySize")),
		ReservedMemorySize: int64(a.Int("reservedMemorySize")), Type: models.VirtualRouterOffType, State: models.StateEnabled,
		AllocatorStrategy: models.Ref(a.Str("allocatorStrategy")), SortKey: a.Int("sortKey"), ZoneUUID: z.UUID,
		ManagementNetworkUUID: mgmt.UUID, PublicNetworkUUID: pub.UUID, ImageUUID: img.UUID, IsDefault: a["isDefault"] == true}
	if err := j.createResource("virtual_router_offerings", ResVirtualRouterOffering, o.UUID, owner, &o); err != nil {
		return ChangeResult{}, err
	}
	return ChangeResult{Resource: ResVirtualRouterOffering, UUID: o.UUID, Key: "inventory"}, nil
}

// DeleteVirtualRouterOffering deletes an offering; routers made from it
// keep running.
func DeleteVirtualRouterOffering(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	return ChangeResult{}, j.deleteResource("virtual_router_offerings", a.Str("uuid"))
}

// AttachL3ToRouter gives a VPC router a NIC on a private L3 holding the
// L3's gateway. A VPC L3 is on exactly one router, and the router's
// networks never overlap.
func AttachL3ToRouter(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var r models.VirtualRouter
	if err := j.get(&r, "virtual_routers", "VirtualRouterVm", a.Str("vmInstanceUuid")); err != nil {
		return ChangeResult{}, err
	}
	if r.State == models.VMDestroying {
		return ChangeResult{}, models.Invalid("vpc router[uuid:%s] is %s", r.UUID, r.State).WithCode(models.CodeVMState)
	}
	var l3 models.L3Network
	if err := j.get(&l3, "l3_networks", "L3Network", a.Str("l3NetworkUuid")); err != nil {
		return ChangeResult{}, err
	}
	res := ChangeResult{Resource: ResVpcRouter, UUID: r.UUID, Key: "inventory", Routers: []string{r.UUID}}
	var nics []models.RouterNic
	if err := j.tx.SelectContext(j.ctx, &nics, `SELECT * FROM virtual_router_nics WHERE vm_instance_uuid = ? ORDER BY device_id`, r.UUID); err != nil {
		return res, err
	}
	for _, n := range nics {
		if n.L3NetworkUUID == l3.UUID {
			if l3.UUID == r.PublicNetworkUUID {
				return res, models.Invalid("l3 network[uuid:%s] is the public network of vpc router[uuid:%s]", l3.UUID, r.UUID)
			}
			return res, nil // attached already
		}
	}
	if l3.ZoneUUID != r.ZoneUUID {
		return res, models.Invalid("l3 network[uuid:%s] is not in the zone of vpc router[uuid:%s]", l3.UUID, r.UUID)
	}
	if l3.Category != "Private" {
		return res, models.Invalid("l3 network[uuid:%s] has category %s; a vpc router serves Private networks", l3.UUID, l3.Category)
	}
	if other, err := j.routerOfL3(l3.UUID); err != nil || other != "" {
		if err == nil {
			err = models.Conflict("l3 network[uuid:%s] is already attached to vpc router[uuid:%s]", l3.UUID, other)
		}
		return res, err
	}
	var ranges []models.IPRange
	if err := j.tx.SelectContext(j.ctx, &ranges, `SELECT * FROM ip_ranges WHERE l3_network_uuid = ? ORDER BY create_date, uuid`, l3.UUID); err != nil {
		return res, err
	}
	if len(ranges) == 0 {
		return res, models.Invalid("l3 network[uuid:%s] has no ip range, so no gateway for the vpc router", l3.UUID)
	}
	want, err := prefixOfRange(ranges[0])
	if err != nil {
		return res, err
	}
	n, err := j.count("l2_network_cluster_refs", "l2_network_uuid = ? AND cluster_uuid = ?", l3.L2NetworkUUID, r.ClusterUUID)
	if err != nil {
		return res, err
	}
	if n == 0 {
		return res, models.Invalid("l2 network[uuid:%s] of l3 network[uuid:%s] is not attached to cluster[uuid:%s] of vpc router[uuid:%s]",
			l3.L2NetworkUUID, l3.UUID, r.ClusterUUID, r.UUID)
	}
	dev := 0
	for _, nic := range nics {
		var rr []models.IPRange
		if err := j.tx.SelectContext(j.ctx, &rr, `SELECT * FROM ip_ranges WHERE l3_network_uuid = ?`, nic.L3NetworkUUID); err != nil {
			return res, err
		}
		for _, x := range rr {
			if p, err := prefixOfRange(x); err == nil && p.Overlaps(want) {
				return res, models.Invalid("l3 network[uuid:%s] (%s) overlaps l3 network[uuid:%s] (%s) of vpc router[uuid:%s]", l3.UUID, want, nic.L3NetworkUUID, p, r.UUID)
			}
		}
		dev = max(dev, nic.DeviceID+1)
	}
	now := models.Now()
	nicUUID := models.NameUUID("RouterNic", r.UUID, l3.UUID)
	nic := models.RouterNic{UUID: nicUUID, VMInstanceUUID: r.UUID, L3NetworkUUID: l3.UUID, IP: ranges[0].Gateway, MAC: RouterNicMAC(nicUUID),
		Netmask: ranges[0].Netmask, Gateway: ranges[0].Gateway, IPVersion: 4, DeviceID: dev, Type: "VNIC", State: models.StateEnabled,
		HypervisorType: r.HypervisorType, DriverType: "virtio", InternalName: fmt.Sprintf("vnic%d", dev), CreateDate: now, LastOpDate: now}
	return res, j.insert("virtual_router_nics", nic.UUID, &nic)
}

// DetachNicFromRouter removes a router's NIC on a VPC L3; services of VM
// NICs on that L3 must go first.
func DetachNicFromRouter(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var nic models.RouterNic
	if err := j.get(&nic, "virtual_router_nics", "VmNic", a.Str("vmNicUuid")); err != nil {
		return ChangeResult{}, err
	}
	var r models.VirtualRouter
	if err := j.get(&r, "virtual_routers", "VirtualRouterVm", nic.VMInstanceUUID); err != nil {
		return ChangeResult{}, err
	}
	if nic.L3NetworkUUID == r.PublicNetworkUUID {
		return ChangeResult{}, models.Invalid("vm nic[uuid:%s] is the public nic of vpc router[uuid:%s]; destroy the router instead", nic.UUID, r.UUID)
	}
	onL3 := `vm_nic_uuid IN (SELECT uuid FROM vm_nics WHERE l3_network_uuid = ?)`
	for _, t := range []string{"eips", "port_forwarding_rules", "load_balancer_listener_nic_refs"} {
		n, err := j.count(t, onL3, nic.L3NetworkUUID)
		if err != nil {
			return ChangeResult{}, err
		}
		if n > 0 {
			return ChangeResult{}, models.Conflict("cannot detach l3 network[uuid:%s] from vpc router[uuid:%s]: %d %s of vm nics on it use the router; remove them first",
				nic.L3NetworkUUID, r.UUID, n, t)
		}
	}
	n, err := j.count("ipsec_connections", "l3_network_uuid = ?", nic.L3NetworkUUID)
	if err != nil {
		return ChangeResult{}, err
	}
	if n > 0 {
		return ChangeResult{}, models.Conflict("cannot detach l3 network[uuid:%s] from vpc router[uuid:%s]: %d ipsec connections use it", nic.L3NetworkUUID, r.UUID, n)
	}
	return ChangeResult{Resource: ResVpcRouter, UUID: r.UUID, Key: "inventory", Routers: []string{r.UUID}},
		j.deleteWhere("virtual_router_nics", "uuid = ?", nic.UUID)
}

// CreateVip records a VIP; its address was allocated by the caller (held
// by used-IP row usedIP) and the row is relabelled as a VIP's.
func CreateVip(usedIP models.UsedIP) Change {
	return func(j *Journal, a ChangeArgs, owner string) (ChangeResult, error) {
		var r models.IPRange
		if err := j.get(&r, "ip_ranges", "IpRange", usedIP.IPRangeUUID); err != nil {
			return ChangeResult{}, err
		}
		if _, err := j.tx.ExecContext(j.ctx, `UPDATE used_ips SET used_for = 'Vip' WHERE uuid = ?`, usedIP.UUID); err != nil {
			return ChangeResult{}, err
		}
		v := models.Vip{Base: a.base(), L3NetworkUUID: usedIP.L3NetworkUUID, IP: usedIP.IP, Gateway: r.Gateway, Netmask: r.Netmask,
			PrefixLen: r.PrefixLen, State: models.StateEnabled, ServiceProvider: models.Ref(models.ProviderVrouter), UsedIPUUID: usedIP.UUID}
		if err := j.createResource("vips", ResVip, v.UUID, owner, &v); err != nil {
			return ChangeResult{}, err
		}
		return ChangeResult{Resource: ResVip, UUID: v.UUID, Key: "inventory"}, nil
	}
}

// DeleteVip deletes a VIP with every service on it and frees its address.
func DeleteVip(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var v models.Vip
	if err := j.get(&v, "vips", "Vip", a.Str("uuid")); err != nil {
		if models.AsError(err).Kind == models.KindNotFound {
			return ChangeResult{}, nil
		}
		return ChangeResult{}, err
	}
	routers, err := j.vipRouters(v.UUID)
	if err != nil {
		return ChangeResult{}, err
	}
	var lbs, conns []string
	if err := j.tx.SelectContext(j.ctx, &lbs, `SELECT uuid FROM load_balancers WHERE vip_uuid = ?`, v.UUID); err != nil {
		return ChangeResult{}, err
	}
	for _, lb := range lbs {
		if err := j.deleteLB(lb); err != nil {
			return ChangeResult{}, err
		}
	}
	if err := j.tx.SelectContext(j.ctx, &conns, `SELECT uuid FROM ipsec_connections WHERE vip_uuid = ?`, v.UUID); err != nil {
		return ChangeResult{}, err
	}
	for _, c := range conns {
		if err := j.deleteIPsec(c); err != nil {
			return ChangeResult{}, err
		}
	}
	for _, t := range []string{"eips", "port_forwarding_rules"} {
		var ids []string
		if err := j.tx.SelectContext(j.ctx, &ids, `SELECT uuid FROM `+t+` WHERE vip_uuid = ?`, v.UUID); err != nil {
			return ChangeResult{}, err
		}
		for _, id := range ids {
			if err := j.deleteResource(t, id); err != nil {
				return ChangeResult{}, err
			}
		}
	}
	if err := j.deleteWhere("used_ips", "uuid = ?", v.UsedIPUUID); err != nil {
		return ChangeResult{}, err
	}
	return ChangeResult{Routers: routers}, j.deleteResource("vips", v.UUID)
}

// vipServices counts a VIP's services by kind.
func (j *Journal) vipServices(vipUUID string) (eips, others int, err error) {
	if eips, err = j.count("eips", "vip_uuid = ?", vipUUID); err != nil {
		return
	}
	for _, t := range []string{"port_forwarding_rules", "load_balancers", "ipsec_connections"} {
		n, err := j.count(t, "vip_uuid = ?", vipUUID)
		if err != nil {
			return 0, 0, err
		}
		others += n
	}
	return
}

func (j *Journal) vip(uuid string, forEIP bool) (models.Vip, error) {
	var v models.Vip
	if err := j.get(&v, "vips", "Vip", uuid); err != nil {
		return v, err
	}
	if v.State != models.StateEnabled {
		return v, models.Invalid("vip[uuid:%s] is %s", v.UUID, v.State)
	}
	eips, others, err := j.vipServices(v.UUID)
	if err != nil {
		return v, err
	}
	switch {
	case eips > 0:
		return v, models.Conflict("vip[uuid:%s] is used by an eip; an eip's vip serves nothing else", v.UUID)
	case forEIP && others > 0:
		return v, models.Conflict("vip[uuid:%s] is used by %d port forwarding, load balancer or ipsec services; an eip needs a vip of its own", v.UUID, others)
	}
	return v, nil
}

// CreateEip records an EIP on a VIP of its own, attached to a VM NIC when
// one is given.
func CreateEip(j *Journal, a ChangeArgs, owner string) (ChangeResult, error) {
	v, err := j.vip(a.Str("vipUuid"), true)
	if err != nil {
		return ChangeResult{}, err
	}
	e := models.Eip{Base: a.base(), VipUUID: v.UUID, VipIP: v.IP, State: models.StateEnabled}
	res := ChangeResult{Resource: ResEip, UUID: e.UUID, Key: "inventory"}
	if nic := a.Str("vmNicUuid"); nic != "" {
		ip, router, err := j.eipNic(nic, v, e.UUID)
		if err != nil {
			return res, err
		}
		e.VMNicUUID, e.GuestIP = models.Ref(nic), models.Ref(ip)
		res.Routers = routerList(router)
	}
	return res, j.createResource("eips", ResEip, e.UUID, owner, &e)
}

func (j *Journal) eipNic(nicUUID string, v models.Vip, eipUUID string) (ip, router string, err error) {
	flat, err := j.flatEipNic(nicUUID, v)
	switch {
	case err != nil:
		return "", "", err
	case flat != "":
		ip = flat
	default:
		if ip, router, err = j.guestNic(nicUUID, v); err != nil {
			return
		}
	}
	n, err := j.count("eips", "vm_nic_uuid = ? AND uuid <> ?", nicUUID, eipUUID)
	if err != nil {
		return
	}
	if n > 0 {
		return "", "", models.Conflict("vm nic[uuid:%s] already has an eip", nicUUID)
	}
	return ip, router, nil
}

// flatEipNic resolves a VM NIC whose EIP its host realises: a NIC on an
// L3 with the Flat provider's Eip service that no router serves. It
// returns the NIC's IP, or "" for NICs that are not such. The VIP must be
// on a public L3 other than the NIC's.
func (j *Journal) flatEipNic(nicUUID string, v models.Vip) (string, error) {
	var nic models.VMNic
	if err := j.get(&nic, "vm_nics", "VmNic", nicUUID); err != nil {
		return "", err
	}
	n, err := j.count("network_service_l3_refs", "l3_network_uuid = ? AND service_type = ? AND provider_uuid = ?",
		nic.L3NetworkUUID, models.ServiceEip, models.NameUUID("NetworkServiceProvider", models.ProviderFlat))
	if err != nil || n == 0 {
		return "", err
	}
	if r, err := j.routerOfL3(nic.L3NetworkUUID); err != nil || r != "" {
		return "", err
	}
	if nic.IP == "" {
		return "", models.Invalid("vm nic[uuid:%s] has no ip", nicUUID)
	}
	var l3 models.L3Network
	if err := j.get(&l3, "l3_networks", "L3Network", v.L3NetworkUUID); err != nil {
		return "", err
	}
	if v.L3NetworkUUID == nic.L3NetworkUUID || l3.Category != "Public" {
		return "", models.Invalid("vip[uuid:%s] is on l3 network[uuid:%s]; the eip of vm nic[uuid:%s] on flat l3 network[uuid:%s] needs a vip of another, public l3 network",
			v.UUID, v.L3NetworkUUID, nicUUID, nic.L3NetworkUUID)
	}
	return string(nic.IP), nil
}

// routerList is router as a list ("" for none: a flat EIP).
func routerList(router string) []string {
	if router == "" {
		return nil
	}
	return []string{router}
}

// AttachEip binds an EIP to a VM NIC on a VPC L3 of a router whose public
// network is the VIP's, or on a flat L3 with the Flat Eip service (its
// host realises it).
func AttachEip(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var e models.Eip
	if err := j.get(&e, "eips", "Eip", a.Str("eipUuid")); err != nil {
		return ChangeResult{}, err
	}
	res := ChangeResult{Resource: ResEip, UUID: e.UUID, Key: "inventory"}
	nic := a.Str("vmNicUuid")
	if string(e.VMNicUUID) == nic {
		return res, nil
	}
	if e.VMNicUUID != "" {
		return res, models.Conflict("eip[uuid:%s] is attached to vm nic[uuid:%s]; detach it first", e.UUID, e.VMNicUUID)
	}
	var v models.Vip
	if err := j.get(&v, "vips", "Vip", e.VipUUID); err != nil {
		return res, err
	}
	ip, router, err := j.eipNic(nic, v, e.UUID)
	if err != nil {
		return res, err
	}
	res.Routers = routerList(router)
	return res, j.update("eips", e.UUID, map[string]any{"vm_nic_uuid": nic, "guest_ip": ip})
}

// routersOfNic returns the router serving a VM NIC's L3, if any.
func (j *Journal) routersOfNic(nicUUID string) ([]string, error) {
	if nicUUID == "" {
		return nil, nil
	}
	var l3 []string
	if err := j.tx.SelectContext(j.ctx, &l3, `SELECT l3_network_uuid FROM vm_nics WHERE uuid = ?`, nicUUID); err != nil || len(l3) == 0 {
		return nil, err
	}
	r, err := j.routerOfL3(l3[0])
	if err != nil || r == "" {
		return nil, err
	}
	return []string{r}, nil
}

// DetachEip unbinds an EIP from its VM NIC.
func DetachEip(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var e models.Eip
	if err := j.get(&e, "eips", "Eip", a.Str("uuid")); err != nil {
		return ChangeResult{}, err
	}
	res := ChangeResult{Resource: ResEip, UUID: e.UUID, Key: "inventory"}
	if e.VMNicUUID == "" {
		return res, nil
	}
	rs, err := j.routersOfNic(string(e.VMNicUUID))
	if err != nil {
		return res, err
	}
	res.Routers = rs
	return res, j.update("eips", e.UUID, map[string]any{"vm_nic_uuid": nil, "guest_ip": nil})
}

// DeleteEip deletes an EIP (its VIP stays).
func DeleteEip(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var e models.Eip
	if err := j.get(&e, "eips", "Eip", a.Str("uuid")); err != nil {
		if models.AsError(err).Kind == models.KindNotFound {
			return ChangeResult{}, nil
		}
		return ChangeResult{}, err
	}
	rs, err := j.routersOfNic(string(e.VMNicUUID))
	if err != nil {
		return ChangeResult{}, err
	}
	return ChangeResult{Routers: rs}, j.deleteResource("eips", e.UUID)
}

type portRange struct{ lo, hi int }

func (p portRange) overlaps(q portRange) bool { return p.lo <= q.hi && q.lo <= p.hi }

// portsInUse lists a VIP's port ranges taken for protocol (TCP or UDP),
// except those of the service named except.
func (j *Journal) portsInUse(vipUUID, protocol, except string) ([]portRange, error) {
	var pfs []models.PortForwardingRule
	if err := j.tx.SelectContext(j.ctx, &pfs, `SELECT * FROM port_forwarding_rules WHERE vip_uuid = ? AND protocol_type = ? AND uuid <> ?`, vipUUID, protocol, except); err != nil {
		return nil, err
	}
	var out []portRange
	for _, p := range pfs {
		out = append(out, portRange{p.VipPortStart, p.VipPortEnd})
	}
	if protocol == "TCP" {
		var ports []int
		if err := j.tx.SelectContext(j.ctx, &ports, `SELECT l.load_balancer_port FROM load_balancer_listeners l JOIN load_balancers b ON b.uuid = l.load_balancer_uuid
			WHERE b.vip_uuid = ? AND l.uuid <> ?`, vipUUID, except); err != nil {
			return nil, err
		}
		for _, p := range ports {
			out = append(out, portRange{p, p})
		}
	}
	return out, nil
}

func (j *Journal) checkPorts(vipUUID, protocol, except string, want portRange) error {
	used, err := j.portsInUse(vipUUID, protocol, except)
	if err != nil {
		return err
	}
	for _, u := range used {
		if u.overlaps(want) {
			return models.Conflict("%s ports %d-%d of vip[uuid:%s] overlap ports %d-%d used by another service", protocol, want.lo, want.hi, vipUUID, u.lo, u.hi)
		}
	}
	return nil
}

// CreatePortForwardingRule records a port forwarding rule on a non-EIP VIP
// whose ports for the protocol are free, attached when a VM NIC is given.
func CreatePortForwardingRule(j *Journal, a ChangeArgs, owner string) (ChangeResult, error) {
	v, err := j.vip(a.Str("vipUuid"), false)
	if err != nil {
		return ChangeResult{}, err
	}
	proto := a.Str("protocolType")
	if proto != "TCP" && proto != "UDP" {
		return ChangeResult{}, models.Invalid("protocolType %q: want TCP or UDP", proto)
	}
	vs := a.Int("vipPortStart")
	ve := max(a.Int("vipPortEnd"), vs)
	if a.Int("vipPortEnd") != 0 && a.Int("vipPortEnd") < vs {
		return ChangeResult{}, models.Invalid("vipPortEnd %d is less than vipPortStart %d", a.Int("vipPortEnd"), vs)
	}
	ps := a.Int("privatePortStart")
	if ps == 0 {
		ps = vs
	}
	pe := a.Int("privatePortEnd")
	if pe == 0 {
		pe = ps + (ve - vs)
	}
	if pe < ps || (pe-ps != ve-vs && pe != ps) {
		return ChangeResult{}, models.Invalid("private ports %d-%d must be as many as vip ports %d-%d, or one port", ps, pe, vs, ve)
	}
	if pe > 65535 || vs < 1 || ve > 65535 {
		return ChangeResult{}, models.Invalid("ports must lie in 1-65535")
	}
	var cidr models.Ref
	if c := a.Str("allowedCidr"); c != "" {
		p, err := netip.ParsePrefix(c)
		if err != nil || !p.Addr().Is4() {
			return ChangeResult{}, models.Invalid("invalid allowedCidr [%s]", c)
		}
		cidr = models.Ref(p.Masked().String())
	}
	if err := j.checkPorts(v.UUID, proto, "", portRange{vs, ve}); err != nil {
		return ChangeResult{}, err
	}
	pf := models.PortForwardingRule{Base: a.base(), VipUUID: v.UUID, VipIP: v.IP, VipPortStart: vs, VipPortEnd: ve, PrivatePortStart: ps,
		PrivatePortEnd: pe, ProtocolType: proto, AllowedCIDR: cidr, State: models.StateEnabled}
	res := ChangeResult{Resource: ResPortForwarding, UUID: pf.UUID, Key: "inventory"}
	if nic := a.Str("vmNicUuid"); nic != "" {
		ip, router, err := j.guestNic(nic, v)
		if err != nil {
			return res, err
		}
		if err := j.sameRouter(v.UUID, router); err != nil {
			return res, err
		}
		pf.VMNicUUID, pf.GuestIP = models.Ref(nic), models.Ref(ip)
		res.Routers = []string{router}
	}
	return res, j.createResource("port_forwarding_rules", ResPortForwarding, pf.UUID, owner, &pf)
}

// AttachPortForwardingRule binds a rule to a VM NIC.
func AttachPortForwardingRule(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var pf models.PortForwardingRule
	if err := j.get(&pf, "port_forwarding_rules", "PortForwardingRule", a.Str("ruleUuid")); err != nil {
		return ChangeResult{}, err
	}
	res := ChangeResult{Resource: ResPortForwarding, UUID: pf.UUID, Key: "inventory"}
	nic := a.Str("vmNicUuid")
	if string(pf.VMNicUUID) == nic {
		return res, nil
	}
	if pf.VMNicUUID != "" {
		return res, models.Conflict("port forwarding rule[uuid:%s] is attached to vm nic[uuid:%s]; detach it first", pf.UUID, pf.VMNicUUID)
	}
	var v models.Vip
	if err := j.get(&v, "vips", "Vip", pf.VipUUID); err != nil {
		return res, err
	}
	ip, router, err := j.guestNic(nic, v)
	if err != nil {
		return res, err
	}
	if err := j.sameRouter(v.UUID, router); err != nil {
		return res, err
	}
	res.Routers = []string{router}
	return res, j.update("port_forwarding_rules", pf.UUID, map[string]any{"vm_nic_uuid": nic, "guest_ip": ip})
}

// DetachPortForwardingRule unbinds a rule from its VM NIC.
func DetachPortForwardingRule(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var pf models.PortForwardingRule
	if err := j.get(&pf, "port_forwarding_rules", "PortForwardingRule", a.Str("uuid")); err != nil {
		return ChangeResult{}, err
	}
	res := ChangeResult{Resource: ResPortForwarding, UUID: pf.UUID, Key: "inventory"}
	if pf.VMNicUUID == "" {
		return res, nil
	}
	rs, err := j.routersOfNic(string(pf.VMNicUUID))
	if err != nil {
		return res, err
	}
	res.Routers = rs
	return res, j.update("port_forwarding_rules", pf.UUID, map[string]any{"vm_nic_uuid": nil, "guest_ip": nil})
}

// DeletePortForwardingRule deletes a rule.
func DeletePortForwardingRule(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var pf models.PortForwardingRule
	if err := j.get(&pf, "port_forwarding_rules", "PortForwardingRule", a.Str("uuid")); err != nil {
		if models.AsError(err).Kind == models.KindNotFound {
			return ChangeResult{}, nil
		}
		return ChangeResult{}, err
	}
	rs, err := j.routersOfNic(string(pf.VMNicUUID))
	if err != nil {
		return ChangeResult{}, err
	}
	return ChangeResult{Routers: rs}, j.deleteResource("port_forwarding_rules", pf.UUID)
}

// CreateLoadBalancer records a load balancer on a non-EIP VIP.
func CreateLoadBalancer(j *Journal, a ChangeArgs, owner string) (ChangeResult, error) {
	if a.Str("vipUuid") == "" {
		return ChangeResult{}, models.Invalid("vipUuid is required: a load balancer of a vpc router listens on a vip")
	}
	v, err := j.vip(a.Str("vipUuid"), false)
	if err != nil {
		return ChangeResult{}, err
	}
	lb := models.LoadBalancer{Base: a.base(), VipUUID: v.UUID, State: models.StateEnabled, Type: orStr(a.Str("type"), "Shared")}
	return ChangeResult{Resource: ResLoadBalancer, UUID: lb.UUID, Key: "inventory"}, j.createResource("load_balancers", ResLoadBalancer, lb.UUID, owner, &lb)
}

func (j *Journal) lbRouters(lbUUID string) ([]string, error) {
	var vip []string
	if err := j.tx.SelectContext(j.ctx, &vip, `SELECT vip_uuid FROM load_balancers WHERE uuid = ?`, lbUUID); err != nil || len(vip) == 0 {
		return nil, err
	}
	return j.vipRouters(vip[0])
}

// CreateLoadBalancerListener adds a TCP or HTTP listener on a free port of
// the load balancer's VIP.
func CreateLoadBalancerListener(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var lb models.LoadBalancer
	if err := j.get(&lb, "load_balancers", "LoadBalancer", a.Str("loadBalancerUuid")); err != nil {
		return ChangeResult{}, err
	}
	proto := orStr(a.Str("protocol"), "tcp")
	if proto != "tcp" && proto != "http" {
		return ChangeResult{}, models.Invalid("not supported: listener protocol %s (tcp and http are)", proto).WithCode(models.CodeOperation)
	}
	lport := a.Int("loadBalancerPort")
	iport := a.Int("instancePort")
	if iport == 0 {
		iport = lport
	}
	if err := j.checkPorts(lb.VipUUID, "TCP", "", portRange{lport, lport}); err != nil {
		return ChangeResult{}, err
	}
	hc := orStr(a.Str("healthCheckProtocol"), "tcp")
	if hc != "tcp" && hc != "http" {
		return ChangeResult{}, models.Invalid("not supported: health check protocol %s", hc)
	}
	l := models.LoadBalancerListener{Base: a.base(), LoadBalancerUUID: lb.UUID, InstancePort: iport, LoadBalancerPort: lport, Protocol: proto,
		HealthCheckProtocol: hc, HealthCheckURI: models.Ref(a.Str("healthCheckURI"))}
	rs, err := j.lbRouters(lb.UUID)
	if err != nil {
		return ChangeResult{}, err
	}
	return ChangeResult{Resource: ResLBListener, UUID: l.UUID, Key: "inventory", Routers: rs}, j.insert("load_balancer_listeners", l.UUID, &l)
}

// DeleteLoadBalancerListener deletes a listener with its backends.
func DeleteLoadBalancerListener(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var l models.LoadBalancerListener
	if err := j.get(&l, "load_balancer_listeners", "LoadBalancerListener", a.Str("uuid")); err != nil {
		if models.AsError(err).Kind == models.KindNotFound {
			return ChangeResult{}, nil
		}
		return ChangeResult{}, err
	}
	rs, err := j.lbRouters(l.LoadBalancerUUID)
	if err != nil {
		return ChangeResult{}, err
	}
	if err := j.deleteWhere("load_balancer_listener_nic_refs", "listener_uuid = ?", l.UUID); err != nil {
		return ChangeResult{}, err
	}
	return ChangeResult{Routers: rs}, j.deleteWhere("load_balancer_listeners", "uuid = ?", l.UUID)
}

// AddVMNicToLoadBalancer adds backends to a listener; every backend's L3 is
// on the one router that serves the VIP.
func AddVMNicToLoadBalancer(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var l models.LoadBalancerListener
	if err := j.get(&l, "load_balancer_listeners", "LoadBalancerListener", a.Str("listenerUuid")); err != nil {
		return ChangeResult{}, err
	}
	var lb models.LoadBalancer
	if err := j.get(&lb, "load_balancers", "LoadBalancer", l.LoadBalancerUUID); err != nil {
		return ChangeResult{}, err
	}
	var v models.Vip
	if err := j.get(&v, "vips", "Vip", lb.VipUUID); err != nil {
		return ChangeResult{}, err
	}
	nics := a.Strs("vmNicUuids")
	if len(nics) == 0 {
		return ChangeResult{}, models.Invalid("vmNicUuids must name at least one vm nic")
	}
	res := ChangeResult{Resource: ResLBListener, UUID: l.UUID, Key: "inventory"}
	for _, nic := range nics {
		_, router, err := j.guestNic(nic, v)
		if err != nil {
			return res, err
		}
		if err := j.sameRouter(v.UUID, router); err != nil {
			return res, err
		}
		res.Routers = append(res.Routers, router)
		id := models.NameUUID("LBNic", l.UUID, nic)
		n, err := j.count("load_balancer_listener_nic_refs", "uuid = ?", id)
		if err != nil {
			return res, err
		}
		if n > 0 {
			continue
		}
		now := models.Now()
		ref := models.LoadBalancerListenerNicRef{UUID: id, ListenerUUID: l.UUID, VMNicUUID: nic, Status: "Active", CreateDate: now, LastOpDate: now}
		if err := j.insert("load_balancer_listener_nic_refs", id, &ref); err != nil {
			return res, err
		}
	}
	return res, nil
}

// RemoveVMNicFromLoadBalancer removes backends from a listener.
func RemoveVMNicFromLoadBalancer(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var l models.LoadBalancerListener
	if err := j.get(&l, "load_balancer_listeners", "LoadBalancerListener", a.Str("listenerUuid")); err != nil {
		return ChangeResult{}, err
	}
	rs, err := j.lbRouters(l.LoadBalancerUUID)
	if err != nil {
		return ChangeResult{}, err
	}
	for _, nic := range a.Strs("vmNicUuids") {
		if err := j.deleteWhere("load_balancer_listener_nic_refs", "listener_uuid = ? AND vm_nic_uuid = ?", l.UUID, nic); err != nil {
			return ChangeResult{}, err
		}
	}
	return ChangeResult{Resource: ResLBListener, UUID: l.UUID, Key: "inventory", Routers: rs}, nil
}

func (j *Journal) deleteLB(uuid string) error {
	var ls []string
	if err := j.tx.SelectContext(j.ctx, &ls, `SELECT uuid FROM load_balancer_listeners WHERE load_balancer_uuid = ?`, uuid); err != nil {
		return err
	}
	for _, l := range ls {
		if err := j.deleteWhere("load_balancer_listener_nic_refs", "listener_uuid = ?", l); err != nil {
			return err
		}
		if err := j.deleteWhere("load_balancer_listeners", "uuid = ?", l); err != nil {
			return err
		}
	}
	return j.deleteResource("load_balancers", uuid)
}

// DeleteLoadBalancer deletes a load balancer with its listeners.
func DeleteLoadBalancer(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	rs, err := j.lbRouters(a.Str("uuid"))
	if err != nil {
		return ChangeResult{}, err
	}
	return ChangeResult{Routers: rs}, j.deleteLB(a.Str("uuid"))
}

// IPsec algorithms the router's strongSwan accepts.
var (
	ipsecEncryption = []string{"aes-128", "aes-192", "aes-256"}
	ipsecAuth       = []string{"sha1", "sha256", "sha384", "sha512"}
	ipsecDHGroups   = []int{2, 5, 14, 15, 16, 17, 18}
)

// CreateIPsecConnection records a site-to-site connection from a non-EIP
// VIP, for the CIDR of a VPC L3 of the router with that public network.
func CreateIPsecConnection(j *Journal, a ChangeArgs, owner string) (ChangeResult, error) {
	v, err := j.vip(a.Str("vipUuid"), false)
	if err != nil {
		return ChangeResult{}, err
	}
	unsupported := func(what string) error {
		return (&models.Error{Kind: models.KindInvalid, Code: models.CodeOperation, Message: "not supported: " + what})
	}
	switch {
	case orStr(a.Str("authMode"), "psk") != "psk":
		return ChangeResult{}, unsupported("ipsec authMode " + a.Str("authMode"))
	case orStr(a.Str("policyMode"), "tunnel") != "tunnel":
		return ChangeResult{}, unsupported("ipsec policyMode " + a.Str("policyMode"))
	case orStr(a.Str("transformProtocol"), "esp") != "esp":
		return ChangeResult{}, unsupported("ipsec transformProtocol " + a.Str("transformProtocol"))
	}
	peer, err := netip.ParseAddr(a.Str("peerAddress"))
	if err != nil || !peer.Is4() {
		return ChangeResult{}, models.Invalid("peerAddress [%s] is not an IPv4 address", a.Str("peerAddress"))
	}
	if a.Str("authKey") == "" {
		return ChangeResult{}, models.Invalid("authKey is required")
	}
	if !secret.IsEncrypted(a.Str("authKey")) { // the caller encrypts it with the control plane's key
		return ChangeResult{}, errors.New("ipsec connection: authKey must be encrypted at rest")
	}
	l3 := a.Str("l3NetworkUuid")
	if l3 == "" {
		return ChangeResult{}, models.Invalid("l3NetworkUuid is required: it names the local network of the connection")
	}
	router, err := j.routerOfL3(l3)
	if err != nil {
		return ChangeResult{}, err
	}
	if router == "" {
		return ChangeResult{}, models.Invalid("l3 network[uuid:%s] is attached to no vpc router", l3)
	}
	var r models.VirtualRouter
	if err := j.get(&r, "virtual_routers", "VirtualRouterVm", router); err != nil {
		return ChangeResult{}, err
	}
	if r.PublicNetworkUUID != v.L3NetworkUUID {
		return ChangeResult{}, models.Invalid("vip[uuid:%s] is not on the public network of vpc router[uuid:%s]", v.UUID, router)
	}
	if err := j.sameRouter(v.UUID, router); err != nil {
		return ChangeResult{}, err
	}
	ikeVer := orStr(a.Str("ikeVersion"), "ikev1")
	if ikeVer == "ike" {
		ikeVer = "ikev1"
	}
	c := models.IPsecConnection{Base: a.base(), PeerAddress: peer.String(), AuthMode: "psk", AuthKey: a.Str("authKey"), VipUUID: v.UUID,
		L3NetworkUUID: l3, IKEAuthAlgorithm: orStr(a.Str("ikeAuthAlgorithm"), "sha256"), IKEEncryptionAlgorithm: orStr(a.Str("ikeEncryptionAlgorithm"), "aes-128"),
		IKEDHGroup: a.Int("ikeDhGroup"), PolicyAuthAlgorithm: orStr(a.Str("policyAuthAlgorithm"), "sha256"),
		PolicyEncryptionAlgorithm: orStr(a.Str("policyEncryptionAlgorithm"), "aes-128"), PFS: orStr(a.Str("pfs"), "none"), PolicyMode: "tunnel",
		TransformProtocol: "esp", IKEVersion: ikeVer, IDType: orStr(a.Str("idType"), "ip"), LocalID: models.Ref(a.Str("localId")),
		RemoteID: models.Ref(a.Str("remoteId")), State: models.StateEnabled, Status: "Connecting",
		IKELifeTime: orInt(a.Int("ikeLifeTime"), 86400), LifeTime: orInt(a.Int("lifeTime"), 3600)}
	if c.IKEDHGroup == 0 {
		c.IKEDHGroup = 14
	}
	for _, alg := range []string{c.IKEEncryptionAlgorithm, c.PolicyEncryptionAlgorithm} {
		if !slices.Contains(ipsecEncryption, alg) {
			return ChangeResult{}, unsupported("ipsec encryption " + alg)
		}
	}
	for _, alg := range []string{c.IKEAuthAlgorithm, c.PolicyAuthAlgorithm} {
		if !slices.Contains(ipsecAuth, alg) {
			return ChangeResult{}, unsupported("ipsec authentication " + alg)
		}
	}
	if !slices.Contains(ipsecDHGroups, c.IKEDHGroup) {
		return ChangeResult{}, unsupported(fmt.Sprintf("ipsec dh group %d", c.IKEDHGroup))
	}
	if c.PFS != "none" {
		g := strings.TrimPrefix(c.PFS, "dh-group")
		if !slices.ContainsFunc(ipsecDHGroups, func(x int) bool { return fmt.Sprint(x) == g }) {
			return ChangeResult{}, unsupported("ipsec pfs " + c.PFS)
		}
	}
	cidrs := a.Strs("peerCidrs")
	if len(cidrs) == 0 {
		return ChangeResult{}, models.Invalid("peerCidrs must name at least one cidr")
	}
	if err := j.createResource("ipsec_connections", ResIPsec, c.UUID, owner, &c); err != nil {
		return ChangeResult{}, err
	}
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return ChangeResult{}, models.Invalid("invalid peer cidr [%s]", s)
		}
		now := models.Now()
		pc := models.IPsecPeerCIDR{UUID: models.NameUUID("IPsecPeer", c.UUID, p.Masked().String()), CIDR: p.Masked().String(), ConnectionUUID: c.UUID,
			CreateDate: now, LastOpDate: now}
		if err := j.insert("ipsec_peer_cidrs", pc.UUID, &pc); err != nil {
			return ChangeResult{}, err
		}
	}
	return ChangeResult{Resource: ResIPsec, UUID: c.UUID, Key: "inventory", Routers: []string{router}}, nil
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (j *Journal) deleteIPsec(uuid string) error {
	if err := j.deleteWhere("ipsec_peer_cidrs", "connection_uuid = ?", uuid); err != nil {
		return err
	}
	return j.deleteResource("ipsec_connections", uuid)
}

// DeleteIPsecConnection deletes a connection.
func DeleteIPsecConnection(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var c models.IPsecConnection
	if err := j.get(&c, "ipsec_connections", "IPsecConnection", a.Str("uuid")); err != nil {
		if models.AsError(err).Kind == models.KindNotFound {
			return ChangeResult{}, nil
		}
		return ChangeResult{}, err
	}
	r, err := j.routerOfL3(c.L3NetworkUUID)
	if err != nil {
		return ChangeResult{}, err
	}
	res := ChangeResult{}
	if r != "" {
		res.Routers = []string{r}
	}
	return res, j.deleteIPsec(c.UUID)
}

// CreateVRouterRouteTable records an empty route table.
func CreateVRouterRouteTable(j *Journal, a ChangeArgs, owner string) (ChangeResult, error) {
	t := models.VRouterRouteTable{Base: a.base()}
	return ChangeResult{Resource: ResRouteTable, UUID: t.UUID, Key: "inventory"}, j.createResource("vrouter_route_tables", ResRouteTable, t.UUID, owner, &t)
}

func (j *Journal) tableRouters(tableUUID string) ([]string, error) {
	var out []string
	err := j.tx.SelectContext(j.ctx, &out, `SELECT virtual_router_vm_uuid FROM vrouter_route_table_refs WHERE route_table_uuid = ?`, tableUUID)
	return out, err
}

// AddVRouterRouteEntry adds a static route (a next hop) or a blackhole.
func AddVRouterRouteEntry(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var t models.VRouterRouteTable
	if err := j.get(&t, "vrouter_route_tables", "VRouterRouteTable", a.Str("routeTableUuid")); err != nil {
		return ChangeResult{}, err
	}
	dst, err := netip.ParsePrefix(a.Str("destination"))
	if err != nil || !dst.Addr().Is4() {
		return ChangeResult{}, models.Invalid("destination [%s] is not an IPv4 cidr", a.Str("destination"))
	}
	typ := a.Str("type")
	target := a.Str("target")
	if typ == "" {
		typ = models.RouteUserBlackHole
		if target != "" {
			typ = models.RouteUserStatic
		}
	}
	switch typ {
	case models.RouteUserStatic:
		if ip, err := netip.ParseAddr(target); err != nil || !ip.Is4() {
			return ChangeResult{}, models.Invalid("target [%s] of a UserStatic route is not an IPv4 address", target)
		}
	case models.RouteUserBlackHole:
		target = ""
	default:
		return ChangeResult{}, models.Invalid("route entry type %q: want %s or %s", typ, models.RouteUserStatic, models.RouteUserBlackHole)
	}
	dist := orInt(a.Int("distance"), 1)
	n, err := j.count("vrouter_route_entries", "route_table_uuid = ? AND destination = ? AND distance = ?", t.UUID, dst.Masked().String(), dist)
	if err != nil {
		return ChangeResult{}, err
	}
	if n > 0 {
		return ChangeResult{}, models.Conflict("route table[uuid:%s] has a route to %s with distance %d already", t.UUID, dst.Masked(), dist)
	}
	now := models.Now()
	e := models.VRouterRouteEntry{UUID: a.Str("uuid"), Description: models.Ref(a.Str("description")), Type: typ, RouteTableUUID: t.UUID,
		Destination: dst.Masked().String(), Target: models.Ref(target), Distance: dist, CreateDate: now, LastOpDate: now}
	rs, err := j.tableRouters(t.UUID)
	if err != nil {
		return ChangeResult{}, err
	}
	return ChangeResult{Resource: ResVRouterRouteEntry, UUID: e.UUID, Key: "inventory", Routers: rs}, j.insert("vrouter_route_entries", e.UUID, &e)
}

// DeleteVRouterRouteEntry deletes a route entry.
func DeleteVRouterRouteEntry(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	rs, err := j.tableRouters(a.Str("routeTableUuid"))
	if err != nil {
		return ChangeResult{}, err
	}
	return ChangeResult{Routers: rs}, j.deleteWhere("vrouter_route_entries", "uuid = ? AND route_table_uuid = ?", a.Str("uuid"), a.Str("routeTableUuid"))
}

// DeleteVRouterRouteTable deletes a route table with its entries and
// attachments.
func DeleteVRouterRouteTable(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	uuid := a.Str("uuid")
	rs, err := j.tableRouters(uuid)
	if err != nil {
		return ChangeResult{}, err
	}
	for _, t := range []string{"vrouter_route_entries", "vrouter_route_table_refs"} {
		if err := j.deleteWhere(t, "route_table_uuid = ?", uuid); err != nil {
			return ChangeResult{}, err
		}
	}
	return ChangeResult{Routers: rs}, j.deleteResource("vrouter_route_tables", uuid)
}

// AttachVRouterRouteTableToVRouter gives a router its (one) route table.
func AttachVRouterRouteTableToVRouter(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var t models.VRouterRouteTable
	if err := j.get(&t, "vrouter_route_tables", "VRouterRouteTable", a.Str("routeTableUuid")); err != nil {
		return ChangeResult{}, err
	}
	var r models.VirtualRouter
	if err := j.get(&r, "virtual_routers", "VirtualRouterVm", a.Str("virtualRouterVmUuid")); err != nil {
		return ChangeResult{}, err
	}
	res := ChangeResult{Resource: ResRouteTable, UUID: t.UUID, Key: "inventory", Routers: []string{r.UUID}}
	var cur []string
	if err := j.tx.SelectContext(j.ctx, &cur, `SELECT route_table_uuid FROM vrouter_route_table_refs WHERE virtual_router_vm_uuid = ?`, r.UUID); err != nil {
		return res, err
	}
	if len(cur) > 0 {
		if cur[0] == t.UUID {
			return res, nil
		}
		return res, models.Conflict("vpc router[uuid:%s] has route table[uuid:%s] attached already", r.UUID, cur[0])
	}
	ref := RouteTableRef{UUID: models.NameUUID(ResRouteTableRef, r.UUID, t.UUID), VirtualRouterVMUUID: r.UUID, RouteTableUUID: t.UUID, CreateDate: models.Now()}
	return res, j.insert("vrouter_route_table_refs", ref.UUID, &ref)
}

// DetachVRouterRouteTableFromVRouter removes a router's route table.
func DetachVRouterRouteTableFromVRouter(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	res := ChangeResult{Resource: ResRouteTable, UUID: a.Str("routeTableUuid"), Key: "inventory", Routers: []string{a.Str("virtualRouterVmUuid")}}
	return res, j.deleteWhere("vrouter_route_table_refs", "virtual_router_vm_uuid = ? AND route_table_uuid = ?", a.Str("virtualRouterVmUuid"), a.Str("routeTableUuid"))
}

// serviceRouters lists the routers that realize a service row: the router
// of its VM NIC (EIP, port forwarding), of its local L3 (IPsec) or of its
// VIP's services (VIP, load balancer).
func (j *Journal) serviceRouters(table, uuid string) ([]string, error) {
	switch table {
	case "eips", "port_forwarding_rules":
		var nic []models.Ref
		if err := j.tx.SelectContext(j.ctx, &nic, `SELECT vm_nic_uuid FROM `+table+` WHERE uuid = ?`, uuid); err != nil || len(nic) == 0 {
			return nil, err
		}
		return j.routersOfNic(string(nic[0]))
	case "ipsec_connections":
		var l3 []string
		if err := j.tx.SelectContext(j.ctx, &l3, `SELECT l3_network_uuid FROM ipsec_connections WHERE uuid = ?`, uuid); err != nil || len(l3) == 0 {
			return nil, err
		}
		r, err := j.routerOfL3(l3[0])
		if err != nil || r == "" {
			return nil, err
		}
		return []string{r}, nil
	case "vips":
		return j.vipRouters(uuid)
	case "load_balancers":
		return j.lbRouters(uuid)
	}
	return nil, nil
}

// UpdateNames is the change of an Update* API of a router resource: its
// name and description (and what extra names of columns it may set).
func UpdateNames(table, res, what string, extra ...string) Change {
	return func(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
		uuid := a.Str("uuid")
		n, err := j.count(table, "uuid = ?", uuid)
		if err != nil {
			return ChangeResult{}, err
		}
		if n == 0 {
			return ChangeResult{}, models.NotFound("cannot find %s[uuid:%s]", what, uuid)
		}
		if img := a.Str("imageUuid"); img != "" && slices.Contains(extra, "imageUuid") {
			var image models.Image
			if err := j.get(&image, "images", "Image", img); err != nil {
				return ChangeResult{}, err
			}
		}
		sets := map[string]any{}
		for _, f := range append([]string{"name", "description"}, extra...) {
			if v, ok := a[f]; ok && v != "" && v != nil {
				sets[strings.ToLower(strings.Join(splitCamel(f), "_"))] = v
			}
		}
		res := ChangeResult{Resource: res, UUID: uuid, Key: "inventory"}
		if len(sets) == 0 {
			return res, nil
		}
		return res, j.update(table, uuid, sets)
	}
}

func splitCamel(s string) []string {
	var out []string
	start := 0
	for i, c := range s {
		if i > 0 && c >= 'A' && c <= 'Z' {
			out = append(out, s[start:i])
			start = i
		}
	}
	return append(out, s[start:])
}

// ChangeState is the change of a Change*State API (stateEvent enable or
// disable); a disabled EIP, port forward or IPsec connection leaves its
// router, a disabled VIP takes no new services.
func ChangeState(table, res, what string) Change {
	return func(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
		uuid := a.Str("uuid")
		state := models.StateEnabled
		switch ev := a.Str("stateEvent"); ev {
		case "enable":
		case "disable":
			state = models.StateDisabled
		default:
			return ChangeResult{}, models.Invalid("invalid stateEvent [%s]", ev)
		}
		n, err := j.count(table, "uuid = ?", uuid)
		if err != nil {
			return ChangeResult{}, err
		}
		if n == 0 {
			return ChangeResult{}, models.NotFound("cannot find %s[uuid:%s]", what, uuid)
		}
		rs, err := j.serviceRouters(table, uuid)
		if err != nil {
			return ChangeResult{}, err
		}
		return ChangeResult{Resource: res, UUID: uuid, Key: "inventory", Routers: rs}, j.update(table, uuid, map[string]any{"state": state})
	}
}

// ReleaseVMNicServices detaches every service reference of a VM's NICs
// (vmInstanceUuid): EIPs and port forwarding rules are detached, load
// balancer backends removed, as ZStack does when a VM is destroyed. The
// routers serving them converge without them.
func ReleaseVMNicServices(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var nics []string
	if err := j.tx.SelectContext(j.ctx, &nics, `SELECT uuid FROM vm_nics WHERE vm_instance_uuid = ? ORDER BY uuid`, a.Str("vmInstanceUuid")); err != nil {
		return ChangeResult{}, err
	}
	var res ChangeResult
	for _, nic := range nics {
		rs, err := j.routersOfNic(nic)
		if err != nil {
			return res, err
		}
		for _, t := range []string{"eips", "port_forwarding_rules"} {
			var ids []string
			if err := j.tx.SelectContext(j.ctx, &ids, `SELECT uuid FROM `+t+` WHERE vm_nic_uuid = ? ORDER BY uuid`, nic); err != nil {
				return res, err
			}
			for _, id := range ids {
				res.Routers = append(res.Routers, rs...)
				if err := j.update(t, id, map[string]any{"vm_nic_uuid": nil, "guest_ip": nil}); err != nil {
					return res, err
				}
			}
		}
		var lbs []string
		if err := j.tx.SelectContext(j.ctx, &lbs, `SELECT DISTINCT l.load_balancer_uuid FROM load_balancer_listener_nic_refs r
			JOIN load_balancer_listeners l ON l.uuid = r.listener_uuid WHERE r.vm_nic_uuid = ? ORDER BY l.load_balancer_uuid`, nic); err != nil {
			return res, err
		}
		for _, lb := range lbs {
			lrs, err := j.lbRouters(lb)
			if err != nil {
				return res, err
			}
			res.Routers = append(res.Routers, lrs...)
		}
		if err := j.deleteWhere("load_balancer_listener_nic_refs", "vm_nic_uuid = ?", nic); err != nil {
			return res, err
		}
	}
	return res, nil
}

// vipQosTag prefixes the system tag holding a VIP's QoS
// (vipQos::inboundBandwidth::<bit/s>::outboundBandwidth::<bit/s>).
const vipQosTag = "vipQos::"

// VipQosTag renders a VIP's QoS tag.
func VipQosTag(inbound, outbound int64) string {
	return fmt.Sprintf("%sinboundBandwidth::%d::outboundBandwidth::%d", vipQosTag, inbound, outbound)
}

// ParseVipQosTag reads a VIP's QoS tag (bits per second; 0: unlimited).
func ParseVipQosTag(tag string) (inbound, outbound uint64, ok bool) {
	_, err := fmt.Sscanf(tag, vipQosTag+"inboundBandwidth::%d::outboundBandwidth::%d", &inbound, &outbound)
	return inbound, outbound, err == nil
}

// SetVipQos records a VIP's bandwidth limits (bit/s, either may be 0 for
// none), which the hosts of its flat EIPs apply with tc. Per-port QoS and
// QoS on a VIP served by a VPC router are not supported.
func SetVipQos(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var v models.Vip
	if err := j.get(&v, "vips", "Vip", a.Str("uuid")); err != nil {
		return ChangeResult{}, err
	}
	if a.Int("port") != 0 {
		return ChangeResult{}, models.Invalid("not supported: vip qos per port (vip[uuid:%s] port %d); set it for the whole vip", v.UUID, a.Int("port"))
	}
	rs, err := j.vipRouters(v.UUID)
	if err != nil {
		return ChangeResult{}, err
	}
	if len(rs) > 0 {
		return ChangeResult{}, models.Invalid("not supported: vip qos on vip[uuid:%s] served by vpc router[uuid:%s]", v.UUID, rs[0])
	}
	in, out := int64(a.Int("inboundBandwidth")), int64(a.Int("outboundBandwidth"))
	if in == 0 && out == 0 {
		return ChangeResult{}, models.Invalid("vip qos needs inboundBandwidth or outboundBandwidth")
	}
	if err := j.deleteWhere("system_tags", "resource_uuid = ? AND tag LIKE ?", v.UUID, vipQosTag+"%"); err != nil {
		return ChangeResult{}, err
	}
	id := models.NameUUID("VipQos", v.UUID)
	j.created("system_tags", id)
	now := models.Now()
	if _, err := j.tx.ExecContext(j.ctx, `INSERT INTO system_tags (uuid, resource_uuid, resource_type, tag, type, inherent, create_date, last_op_date)
		VALUES (?, ?, ?, ?, 'System', TRUE, ?, ?)`, id, v.UUID, "VipVO", VipQosTag(in, out), now, now); err != nil {
		return ChangeResult{}, err
	}
	return ChangeResult{Resource: ResVip, UUID: v.UUID, Key: "inventory"}, j.update("vips", v.UUID, map[string]any{})
}

// DeleteVipQos removes a VIP's bandwidth limits.
func DeleteVipQos(j *Journal, a ChangeArgs, _ string) (ChangeResult, error) {
	var v models.Vip
	if err := j.get(&v, "vips", "Vip", a.Str("uuid")); err != nil {
		return ChangeResult{}, err
	}
	if err := j.deleteWhere("system_tags", "resource_uuid = ? AND tag LIKE ?", v.UUID, vipQosTag+"%"); err != nil {
		return ChangeResult{}, err
	}
	return ChangeResult{}, j.update("vips", v.UUID, map[string]any{})
}

// SetHostSealingKey records the public key a host's agent reported on
// connect; an empty key (an agent that has none) forgets the host's key.
func (s *Store) SetHostSealingKey(ctx context.Context, hostUUID, publicKey string) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM host_sealing_keys WHERE host_uuid = ?", hostUUID); err != nil {
			return fmt.Errorf("record sealing key of host %s: %w", hostUUID, err)
		}
		if publicKey == "" {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO host_sealing_keys (host_uuid, public_key, last_op_date) VALUES (?, ?, ?)",
			hostUUID, publicKey, models.Now()); err != nil {
			return fmt.Errorf("record sealing key of host %s: %w", hostUUID, err)
		}
		return nil
	})
}

// HostSealingKey returns the public key a host's agent reported, or an
// Unavailable error when it reported none (an agent older than the key).
func (s *Store) HostSealingKey(ctx context.Context, hostUUID string) (string, error) {
	var k string
	err := s.db.GetContext(ctx, &k, "SELECT public_key FROM host_sealing_keys WHERE host_uuid = ?", hostUUID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", models.Unavailable("the agent of host[uuid:%s] reported no sealing key (an older agent?): no secret can be sent to it; upgrade and reconnect the host", hostUUID)
	}
	if err != nil {
		return "", fmt.Errorf("sealing key of host %s: %w", hostUUID, err)
	}
	return k, nil
}
