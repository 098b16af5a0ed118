package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/zcloud/zcloud/models"
)

// Hybrid cloud resource names (the inventories without "Inventory").
const (
	ResHybridAccount        = "HybridAccount"
	ResDataCenter           = "DataCenter"
	ResIdentityZone         = "IdentityZone"
	ResEcsVpc               = "EcsVpc"
	ResEcsVSwitch           = "EcsVSwitch"
	ResEcsSecurityGroup     = "EcsSecurityGroup"
	ResEcsSecurityGroupRule = "EcsSecurityGroupRule"
	ResEcsImage             = "EcsImage"
	ResEcsInstance          = "EcsInstance"
	ResHybridEip            = "HybridEipAddress"
	ResOssBucket            = "OssBucket"
	ResVpnGateway           = "VpcVpnGateway"
	ResUserVpnGateway       = "VpcUserVpnGateway"
	ResVpnIkeConfig         = "VpcVpnIkeConfig"
	ResVpnIPSecConfig       = "VpcVpnIpSecConfig"
	ResVpnConnection        = "VpcVpnConnection"
	ResAliyunVRouter        = "VpcVirtualRouter"
	ResAliyunRouteEntry     = "VpcVirtualRouteEntry"
	ResVirtualBorderRouter  = "VirtualBorderRouter"
	ResAliyunRouterIface    = "AliyunRouterInterface"
	ResHybridConnection     = "ConnectionRelationShip"
)

// hybrid is the hybrid cloud's domain: Alibaba resources share the query,
// tag and ownership mechanisms of local ones.
var hybrid = domain{
	entities: []entityDef{
		{ResHybridAccount, "hybrid_accounts", models.HybridAccount{}},
		{ResDataCenter, "data_centers", models.DataCenter{}},
		{ResIdentityZone, "identity_zones", models.IdentityZone{}},
		{ResEcsVpc, "ecs_vpcs", models.EcsVpc{}},
		{ResEcsVSwitch, "ecs_vswitches", models.EcsVSwitch{}},
		{ResEcsSecurityGroup, "ecs_security_groups", models.EcsSecurityGroup{}},
		{ResEcsSecurityGroupRule, "ecs_security_group_rules", models.EcsSecurityGroupRule{}},
		{ResEcsImage, "ecs_images", models.EcsImage{}},
		{ResEcsInstance, "ecs_instances", models.EcsInstance{}},
		{ResHybridEip, "hybrid_eips", models.HybridEip{}},
		{ResOssBucket, "oss_buckets", models.OssBucket{}},
		{ResVpnGateway, "vpc_vpn_gateways", models.VpcVpnGateway{}},
		{ResUserVpnGateway, "vpc_user_vpn_gateways", models.VpcUserVpnGateway{}},
		{ResVpnIkeConfig, "vpc_vpn_ike_configs", models.VpcVpnIkeConfig{}},
		{ResVpnIPSecConfig, "vpc_vpn_ipsec_configs", models.VpcVpnIPSecConfig{}},
		{ResVpnConnection, "vpc_vpn_connections", models.VpcVpnConnection{}},
		{ResAliyunVRouter, "vpc_virtual_routers", models.VpcVirtualRouter{}},
		{ResAliyunRouteEntry, "vpc_virtual_route_entries", models.VpcVirtualRouteEntry{}},
		{ResVirtualBorderRouter, "virtual_border_routers", models.VirtualBorderRouter{}},
		{ResAliyunRouterIface, "aliyun_router_interfaces", models.AliyunRouterInterface{}},
		{ResHybridConnection, "hybrid_connections", models.HybridConnection{}},
	},
	relations: map[string][]Relation{
		ResDataCenter: {
			{Name: "identityZone", Target: ResIdentityZone, LocalColumn: "uuid", RemoteColumn: "data_center_uuid"},
			{Name: "ecsVpc", Target: ResEcsVpc, LocalColumn: "uuid", RemoteColumn: "data_center_uuid"},
		},
		ResIdentityZone: {
			{Name: "dataCenter", Target: ResDataCenter, LocalColumn: "data_center_uuid", RemoteColumn: "uuid"},
		},
		ResEcsVpc: {
			{Name: "dataCenter", Target: ResDataCenter, LocalColumn: "data_center_uuid", RemoteColumn: "uuid"},
			{Name: "ecsVSwitch", Target: ResEcsVSwitch, LocalColumn: "uuid", RemoteColumn: "ecs_vpc_uuid"},
		},
		ResEcsVSwitch: {
			{Name: "ecsVpc", Target: ResEcsVpc, LocalColumn: "ecs_vpc_uuid", RemoteColumn: "uuid"},
			{Name: "identityZone", Target: ResIdentityZone, LocalColumn: "identity_zone_uuid", RemoteColumn: "uuid"},
		},
		ResEcsSecurityGroup: {
			{Name: "ecsVpc", Target: ResEcsVpc, LocalColumn: "ecs_vpc_uuid", RemoteColumn: "uuid"},
			{Name: "rules", Target: ResEcsSecurityGroupRule, LocalColumn: "uuid", RemoteColumn: "ecs_security_group_uuid"},
		},
		ResEcsInstance: {
			{Name: "ecsVSwitch", Target: ResEcsVSwitch, LocalColumn: "ecs_vswitch_uuid", RemoteColumn: "uuid"},
			{Name: "identityZone", Target: ResIdentityZone, LocalColumn: "identity_zone_uuid", RemoteColumn: "uuid"},
			{Name: "ecsImage", Target: ResEcsImage, LocalColumn: "ecs_image_uuid", RemoteColumn: "uuid"},
		},
	},
	taggable: []string{ResDataCenter, ResIdentityZone, ResEcsVpc, ResEcsVSwitch, ResEcsSecurityGroup,
		ResEcsImage, ResEcsInstance, ResHybridEip, ResHybridAccount, ResOssBucket, ResVpnGateway, ResUserVpnGateway, ResVpnConnection},
}

// UpsertRemote records a remote resource found by a sync or made by a
// create: the row whose idColumn equals id within scope (scopeColumn =
// scope) is updated with entity's columns (keeping its uuid and
// createDate), or entity is inserted under uuid and owned by owner. It
// returns the row's UUID. Re-running it changes nothing more.
func (s *Store) UpsertRemote(ctx context.Context, resName, scopeColumn, scope, idColumn, id, uuid string, entity any, owner string) (string, error) {
	r, ok := s.res[resName]
	if !ok {
		return "", fmt.Errorf("upsert: unknown resource %s", resName)
	}
	var out string
	err := s.Tx(ctx, func(tx *sqlx.Tx) error {
		var found string
		err := tx.GetContext(ctx, &found, "SELECT uuid FROM "+r.Table+" WHERE "+scopeColumn+" = ? AND "+idColumn+" = ?", scope, id)
		if errors.Is(err, sql.ErrNoRows) {
			setUUID(entity, uuid)
			if err := s.insert(ctx, tx, r.Table, entity); err != nil {
				return err
			}
			out = uuid
			return s.setOwner(ctx, tx, uuid, resName, owner)
		}
		if err != nil {
			return fmt.Errorf("upsert %s: %w", resName, err)
		}
		out = found
		t := reflect.TypeOf(entity).Elem()
		var sets []string
		for _, c := range s.columns(t) {
			if c != "uuid" && c != "create_date" {
				sets = append(sets, c+" = :"+c)
			}
		}
		setUUID(entity, found)
		_, err = sqlx.NamedExecContext(ctx, tx, "UPDATE "+r.Table+" SET "+strings.Join(sets, ", ")+" WHERE uuid = :uuid", entity)
		if err != nil {
			return fmt.Errorf("upsert %s: %w", resName, err)
		}
		return nil
	})
	return out, err
}

// setUUID sets the UUID field of an entity pointer.
func setUUID(entity any, uuid string) {
	reflect.ValueOf(entity).Elem().FieldByName("UUID").SetString(uuid)
}

// DeleteStale removes the rows matching where (an SQL predicate written by
// ZCloud) whose remote id (idColumn) is not in keep: resources gone from
// Alibaba. Their tags and owner records go too. It returns how many went.
func (s *Store) DeleteStale(ctx context.Context, resName, idColumn string, keep []string, where string, args ...any) (int, error) {
	r, ok := s.res[resName]
	if !ok {
		return 0, fmt.Errorf("delete stale: unknown resource %s", resName)
	}
	var rows []struct {
		UUID string `db:"uuid"`
		ID   string `db:"rid"`
	}
	if err := s.db.SelectContext(ctx, &rows, "SELECT uuid, "+idColumn+" AS rid FROM "+r.Table+" WHERE "+where, args...); err != nil {
		return 0, fmt.Errorf("delete stale %s: %w", resName, err)
	}
	kept := map[string]bool{}
	for _, k := range keep {
		kept[k] = true
	}
	n := 0
	for _, row := range rows {
		if kept[row.ID] {
			continue
		}
		if err := s.Delete(ctx, resName, row.UUID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// TransitionEcs moves an ECS instance's status to to when it is one of
// from (any status when from is empty) and returns the status it had.
func (s *Store) TransitionEcs(ctx context.Context, uuid string, from []string, to string) (string, error) {
	var prev string
	err := s.Tx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &prev, "SELECT ecs_status FROM ecs_instances WHERE uuid = ?", uuid); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return models.NotFound("cannot find EcsInstance[uuid:%s]", uuid)
			}
			return fmt.Errorf("transition ecs %s: %w", uuid, err)
		}
		if len(from) > 0 && !slices.Contains(from, prev) {
			return (&models.Error{Kind: models.KindConflict, Code: models.CodeVMState,
				Message: fmt.Sprintf("ecs instance[uuid:%s] is %s", uuid, prev),
				Details: fmt.Sprintf("the operation needs one of %v", from)})
		}
		_, err := tx.ExecContext(ctx, "UPDATE ecs_instances SET ecs_status = ?, last_op_date = ? WHERE uuid = ?", to, models.Now(), uuid)
		return err
	})
	return prev, err
}

// FindRemote returns the UUID of the row with that remote id in scope, or
// "" when there is none.
func (s *Store) FindRemote(ctx context.Context, resName, scopeColumn, scope, idColumn, id string) (string, error) {
	r, ok := s.res[resName]
	if !ok {
		return "", fmt.Errorf("find: unknown resource %s", resName)
	}
	var uuid string
	err := s.db.GetContext(ctx, &uuid, "SELECT uuid FROM "+r.Table+" WHERE "+scopeColumn+" = ? AND "+idColumn+" = ?", scope, id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find %s: %w", resName, err)
	}
	return uuid, nil
}

// CurrentHybridAccount returns the AccessKey an account has made current
// (AttachHybridKey), or, when it has made none current, its only key.
func (s *Store) CurrentHybridAccount(ctx context.Context, accountUUID string) (models.HybridAccount, error) {
	var keys []models.HybridAccount
	if err := s.db.SelectContext(ctx, &keys, "SELECT * FROM hybrid_accounts WHERE account_uuid = ? ORDER BY create_date, uuid", accountUUID); err != nil {
		return models.HybridAccount{}, fmt.Errorf("current hybrid key: %w", err)
	}
	for _, k := range keys {
		if k.Current == "true" {
			return k, nil
		}
	}
	if len(keys) == 1 {
		return keys[0], nil
	}
	if len(keys) == 0 {
		return models.HybridAccount{}, models.NotFound("account[uuid:%s] has no Alibaba AccessKey; add one with AddAliyunKeySecret", accountUUID)
	}
	return models.HybridAccount{}, models.Invalid("account[uuid:%s] has %d AccessKeys and none is current; choose one with AttachHybridKey", accountUUID, len(keys))
}

// SetCurrentHybridAccount makes one key the current key of its account
// (current=true), every other key of that account not current; with
// current=false it only clears that key.
func (s *Store) SetCurrentHybridAccount(ctx context.Context, uuid string, current bool) error {
	var k models.HybridAccount
	if err := s.Get(ctx, ResHybridAccount, uuid, &k); err != nil {
		return err
	}
	now := models.Now()
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		if current {
			if _, err := tx.ExecContext(ctx, "UPDATE hybrid_accounts SET is_current = 'false', last_op_date = ? WHERE account_uuid = ? AND uuid <> ?", now, k.AccountUUID, uuid); err != nil {
				return fmt.Errorf("set current key: %w", err)
			}
		}
		_, err := tx.ExecContext(ctx, "UPDATE hybrid_accounts SET is_current = ?, last_op_date = ? WHERE uuid = ?", fmt.Sprint(current), now, uuid)
		if err != nil {
			return fmt.Errorf("set current key: %w", err)
		}
		return nil
	})
}

// sealingKeyUUID is the one row of hybrid_sealing_keys.
const sealingKeyUUID = "00000000000000000000000000000001"

// PublishSealingKey records the public key API servers seal secrets with.
func (s *Store) PublishSealingKey(ctx context.Context, publicKey string) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM hybrid_sealing_keys WHERE uuid = ?", sealingKeyUUID); err != nil {
			return fmt.Errorf("publish sealing key: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO hybrid_sealing_keys (uuid, public_key, create_date) VALUES (?, ?, ?)", sealingKeyUUID, publicKey, models.Now()); err != nil {
			return fmt.Errorf("publish sealing key: %w", err)
		}
		return nil
	})
}

// SealingKey returns the published public key.
func (s *Store) SealingKey(ctx context.Context) (string, error) {
	var k string
	err := s.db.GetContext(ctx, &k, "SELECT public_key FROM hybrid_sealing_keys WHERE uuid = ?", sealingKeyUUID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", models.Unavailable("no control-plane worker with a hybrid secret key has started; AccessKeys cannot be added")
	}
	if err != nil {
		return "", fmt.Errorf("sealing key: %w", err)
	}
	return k, nil
}

// SetCurrentOssBucket makes a bucket the one its data center uploads
// through (current=true, every other bucket of that data center not), or
// clears it.
func (s *Store) SetCurrentOssBucket(ctx context.Context, uuid string, current bool) error {
	var b models.OssBucket
	if err := s.Get(ctx, ResOssBucket, uuid, &b); err != nil {
		return err
	}
	now := models.Now()
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		if current {
			if _, err := tx.ExecContext(ctx, "UPDATE oss_buckets SET is_current = 'false', last_op_date = ? WHERE data_center_uuid = ? AND uuid <> ?", now, b.DataCenterUUID, uuid); err != nil {
				return fmt.Errorf("set current bucket: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE oss_buckets SET is_current = ?, last_op_date = ? WHERE uuid = ?", fmt.Sprint(current), now, uuid); err != nil {
			return fmt.Errorf("set current bucket: %w", err)
		}
		return nil
	})
}
