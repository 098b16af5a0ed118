package store

import (
	"context"
	"fmt"
	"reflect"

	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/query"
)

// Query runs a ZStack query against a resource and returns its inventories
// (entity structs with their nested lists filled) and, when asked, the total
// count of matching rows.
func (s *Store) Query(ctx context.Context, resName string, q query.Query) (items []any, total int, err error) {
	r, ok := s.res[resName]
	if !ok {
		return nil, 0, fmt.Errorf("query: unknown resource %s", resName)
	}
	if q.Count || q.ReplyWithCount {
		sqlText, args, err := BuildCount(s.res, r, q, s.dialect)
		if err != nil {
			return nil, 0, err
		}
		if err := s.db.GetContext(ctx, &total, sqlText, args...); err != nil {
			return nil, 0, fmt.Errorf("query %s: %w", resName, err)
		}
		if q.Count {
			return nil, total, nil
		}
	}
	sqlText, args, err := BuildSelect(s.res, r, q, s.dialect)
	if err != nil {
		return nil, 0, err
	}
	var typ reflect.Type
	for _, e := range entities() {
		if e.name == resName {
			typ = reflect.TypeOf(e.entity)
		}
	}
	if typ == nil {
		return nil, 0, fmt.Errorf("query: %s is not an inventory", resName)
	}
	slice := reflect.New(reflect.SliceOf(typ))
	if err := s.db.SelectContext(ctx, slice.Interface(), sqlText, args...); err != nil {
		return nil, 0, fmt.Errorf("query %s: %w", resName, err)
	}
	items = make([]any, slice.Elem().Len())
	for i := range items {
		p := slice.Elem().Index(i).Addr().Interface()
		if err := s.fill(ctx, p); err != nil {
			return nil, 0, err
		}
		items[i] = p
	}
	return items, total, nil
}

// Inventory reads one resource by UUID with its nested lists filled.
func (s *Store) Inventory(ctx context.Context, resName, uuid string) (any, error) {
	items, _, err := s.Query(ctx, resName, query.Query{Conditions: []query.Condition{{Path: []string{"uuid"}, Op: query.OpEq, Value: uuid}}, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, models.NotFound("cannot find %s[uuid:%s]", resName, uuid)
	}
	return items[0], nil
}

// fill loads the nested lists of an inventory.
func (s *Store) fill(ctx context.Context, p any) error {
	var err error
	switch v := p.(type) {
	case *models.PrimaryStorage:
		v.AttachedClusterUUIDs, err = s.Refs(ctx, ResPSClusterRef, v.UUID)
	case *models.BackupStorage:
		v.AttachedZoneUUIDs, err = s.Refs(ctx, ResBSZoneRef, v.UUID)
	case *models.L2Network:
		if v.AttachedClusterUUIDs, err = s.Refs(ctx, ResL2ClusterRef, v.UUID); err == nil {
			err = s.fillL2(ctx, v)
		}
	case *models.Image:
		v.BackupStorageRefs = []models.ImageBackupStorageRef{}
		err = s.db.SelectContext(ctx, &v.BackupStorageRefs, `SELECT * FROM image_backup_storage_refs WHERE image_uuid = ? ORDER BY create_date, uuid`, v.UUID)
	case *models.L3Network:
		v.DNS, v.IPRanges, v.NetworkServices, v.HostRoute = []string{}, []models.IPRange{}, []any{}, []any{}
		if err = s.db.SelectContext(ctx, &v.DNS, `SELECT dns FROM l3_network_dns WHERE l3_network_uuid = ? ORDER BY create_date, uuid`, v.UUID); err == nil {
			err = s.db.SelectContext(ctx, &v.IPRanges, `SELECT * FROM ip_ranges WHERE l3_network_uuid = ? ORDER BY create_date, uuid`, v.UUID)
		}
		if err == nil {
			err = s.fillL3Services(ctx, v)
		}
	case *models.VMNic:
		v.UsedIPs = []models.UsedIP{}
		err = s.db.SelectContext(ctx, &v.UsedIPs, `SELECT * FROM used_ips WHERE vm_nic_uuid = ? ORDER BY ip_in_long`, v.UUID)
	case *models.VMInstance:
		v.VMNics, v.AllVolumes, v.VMCdRoms = []models.VMNic{}, []models.Volume{}, []any{}
		if err = s.db.SelectContext(ctx, &v.VMNics, `SELECT * FROM vm_nics WHERE vm_instance_uuid = ? ORDER BY device_id`, v.UUID); err != nil {
			break
		}
		for i := range v.VMNics {
			if err = s.fill(ctx, &v.VMNics[i]); err != nil {
				return err
			}
		}
		err = s.db.SelectContext(ctx, &v.AllVolumes, `SELECT * FROM volumes WHERE vm_instance_uuid = ? ORDER BY device_id`, v.UUID)
	default:
		for _, d := range domains {
			if d.fill == nil {
				continue
			}
			var done bool
			if done, err = d.fill(ctx, s, p); done || err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("fill inventory: %w", err)
	}
	return nil
}
