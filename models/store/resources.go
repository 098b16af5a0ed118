package store

import (
	"context"
	"reflect"
	"slices"
	"strings"

	"github.com/zcloud/zcloud/models"
)

// Resource names, as ZStack calls the inventories (without "Inventory").
const (
	ResZone             = "Zone"
	ResCluster          = "Cluster"
	ResHost             = "Host"
	ResPrimaryStorage   = "PrimaryStorage"
	ResBackupStorage    = "BackupStorage"
	ResImage            = "Image"
	ResInstanceOffering = "InstanceOffering"
	ResDiskOffering     = "DiskOffering"
	ResL2Network        = "L2Network"
	ResL3Network        = "L3Network"
	ResIPRange          = "IpRange"
	ResUsedIP           = "UsedIp"
	ResVMInstance       = "VmInstance"
	ResVMNic            = "VmNic"
	ResVolume           = "Volume"
	ResAccount          = "Account"
	ResSystemTag        = "SystemTag"
	ResUserTag          = "UserTag"
	ResGlobalConfig     = "GlobalConfig"
	ResPSClusterRef     = "PrimaryStorageClusterRef"
	ResBSZoneRef        = "BackupStorageZoneRef"
	ResL2ClusterRef     = "L2NetworkClusterRef"
	ResImageBSRef       = "ImageBackupStorageRef"
	ResVolumeSnapshot   = "VolumeSnapshot"
)

// entityDef ties a queryable resource to its entity type and table.
type entityDef struct {
	name   string
	table  string
	entity any
}

// domain is the resources of one area of the product. The core domain is
// declared here; other areas (networking, hybrid cloud) declare theirs in
// their own files and are listed in domains.
type domain struct {
	entities  []entityDef
	refTables []Resource
	relations map[string][]Relation
	taggable  []string
	// fill loads the nested lists of the domain's inventories; it reports
	// whether p is one of them.
	fill func(ctx context.Context, s *Store, p any) (bool, error)
}

// domains are every area whose resources the store knows.
var domains = []domain{core, network, hybrid, routerDomain, volumeShareDomain}

var core = domain{entities: coreEntities, refTables: coreRefTables, relations: coreRelations, taggable: []string{
	ResZone, ResCluster, ResHost, ResPrimaryStorage, ResBackupStorage,
	ResImage, ResInstanceOffering, ResDiskOffering, ResL2Network, ResL3Network,
	ResVMInstance, ResVolume, ResVMNic, ResVolumeSnapshot,
}}

// entities lists the queryable resources of every domain.
func entities() []entityDef {
	var out []entityDef
	for _, d := range domains {
		out = append(out, d.entities...)
	}
	return out
}

var coreEntities = []entityDef{
	{ResZone, "zones", models.Zone{}},
	{ResCluster, "clusters", models.Cluster{}},
	{ResHost, "hosts", models.Host{}},
	{ResPrimaryStorage, "primary_storages", models.PrimaryStorage{}},
	{ResBackupStorage, "backup_storages", models.BackupStorage{}},
	{ResImage, "images", models.Image{}},
	{ResInstanceOffering, "instance_offerings", models.InstanceOffering{}},
	{ResDiskOffering, "disk_offerings", models.DiskOffering{}},
	{ResL2Network, "l2_networks", models.L2Network{}},
	{ResL3Network, "l3_networks", models.L3Network{}},
	{ResIPRange, "ip_ranges", models.IPRange{}},
	{ResUsedIP, "used_ips", models.UsedIP{}},
	{ResVMInstance, "vm_instances", models.VMInstance{}},
	{ResVMNic, "vm_nics", models.VMNic{}},
	{ResVolume, "volumes", models.Volume{}},
	{ResAccount, "accounts", models.Account{}},
	{ResSystemTag, "system_tags", models.SystemTag{}},
	{ResUserTag, "user_tags", models.Tag{}},
	{ResGlobalConfig, "global_configs", models.GlobalConfig{}},
	{ResImageBSRef, "image_backup_storage_refs", models.ImageBackupStorageRef{}},
	{ResVolumeSnapshot, "volume_snapshots", models.VolumeSnapshot{}},
}

// coreRefTables are many-to-many tables reachable only through relations.
var coreRefTables = []Resource{
	{Name: ResPSClusterRef, Table: "primary_storage_cluster_refs", Fields: []Field{
		{Name: "primaryStorageUuid", Column: "primary_storage_uuid"}, {Name: "clusterUuid", Column: "cluster_uuid"}}},
	{Name: ResBSZoneRef, Table: "backup_storage_zone_refs", Fields: []Field{
		{Name: "backupStorageUuid", Column: "backup_storage_uuid"}, {Name: "zoneUuid", Column: "zone_uuid"}}},
	{Name: ResL2ClusterRef, Table: "l2_network_cluster_refs", Fields: []Field{
		{Name: "l2NetworkUuid", Column: "l2_network_uuid"}, {Name: "clusterUuid", Column: "cluster_uuid"}}},
}

// coreRelations are the joins a query may follow (q=vmNics.ip=...).
var coreRelations = map[string][]Relation{
	ResZone: {
		{Name: "cluster", Target: ResCluster, LocalColumn: "uuid", RemoteColumn: "zone_uuid"},
		{Name: "host", Target: ResHost, LocalColumn: "uuid", RemoteColumn: "zone_uuid"},
		{Name: "vmInstance", Target: ResVMInstance, LocalColumn: "uuid", RemoteColumn: "zone_uuid"},
		{Name: "backupStorage", Target: ResBSZoneRef, LocalColumn: "uuid", RemoteColumn: "zone_uuid"},
	},
	ResCluster: {
		{Name: "zone", Target: ResZone, LocalColumn: "zone_uuid", RemoteColumn: "uuid"},
		{Name: "host", Target: ResHost, LocalColumn: "uuid", RemoteColumn: "cluster_uuid"},
		{Name: "vmInstance", Target: ResVMInstance, LocalColumn: "uuid", RemoteColumn: "cluster_uuid"},
		{Name: "primaryStorage", Target: ResPSClusterRef, LocalColumn: "uuid", RemoteColumn: "cluster_uuid"},
		{Name: "l2Network", Target: ResL2ClusterRef, LocalColumn: "uuid", RemoteColumn: "cluster_uuid"},
	},
	ResHost: {
		{Name: "zone", Target: ResZone, LocalColumn: "zone_uuid", RemoteColumn: "uuid"},
		{Name: "cluster", Target: ResCluster, LocalColumn: "cluster_uuid", RemoteColumn: "uuid"},
		{Name: "vmInstance", Target: ResVMInstance, LocalColumn: "uuid", RemoteColumn: "host_uuid"},
	},
	ResPrimaryStorage: {
		{Name: "zone", Target: ResZone, LocalColumn: "zone_uuid", RemoteColumn: "uuid"},
		{Name: "attachedClusterUuids", Target: ResPSClusterRef, LocalColumn: "uuid", RemoteColumn: "primary_storage_uuid", ValueField: "clusterUuid"},
		{Name: "volume", Target: ResVolume, LocalColumn: "uuid", RemoteColumn: "primary_storage_uuid"},
	},
	ResBackupStorage: {
		{Name: "attachedZoneUuids", Target: ResBSZoneRef, LocalColumn: "uuid", RemoteColumn: "backup_storage_uuid", ValueField: "zoneUuid"},
		{Name: "image", Target: ResImageBSRef, LocalColumn: "uuid", RemoteColumn: "backup_storage_uuid"},
	},
	ResImage: {
		{Name: "backupStorageRefs", Target: ResImageBSRef, LocalColumn: "uuid", RemoteColumn: "image_uuid"},
		{Name: "vmInstance", Target: ResVMInstance, LocalColumn: "uuid", RemoteColumn: "image_uuid"},
	},
	ResL2Network: {
		{Name: "zone", Target: ResZone, LocalColumn: "zone_uuid", RemoteColumn: "uuid"},
		{Name: "attachedClusterUuids", Target: ResL2ClusterRef, LocalColumn: "uuid", RemoteColumn: "l2_network_uuid", ValueField: "clusterUuid"},
		{Name: "l3Network", Target: ResL3Network, LocalColumn: "uuid", RemoteColumn: "l2_network_uuid"},
	},
	ResL3Network: {
		{Name: "zone", Target: ResZone, LocalColumn: "zone_uuid", RemoteColumn: "uuid"},
		{Name: "l2Network", Target: ResL2Network, LocalColumn: "l2_network_uuid", RemoteColumn: "uuid"},
		{Name: "ipRanges", Target: ResIPRange, LocalColumn: "uuid", RemoteColumn: "l3_network_uuid"},
		{Name: "vmNic", Target: ResVMNic, LocalColumn: "uuid", RemoteColumn: "l3_network_uuid"},
	},
	ResIPRange: {
		{Name: "l3Network", Target: ResL3Network, LocalColumn: "l3_network_uuid", RemoteColumn: "uuid"},
	},
	ResVMInstance: {
		{Name: "vmNics", Target: ResVMNic, LocalColumn: "uuid", RemoteColumn: "vm_instance_uuid"},
		{Name: "allVolumes", Target: ResVolume, LocalColumn: "uuid", RemoteColumn: "vm_instance_uuid"},
		{Name: "host", Target: ResHost, LocalColumn: "host_uuid", RemoteColumn: "uuid"},
		{Name: "cluster", Target: ResCluster, LocalColumn: "cluster_uuid", RemoteColumn: "uuid"},
		{Name: "zone", Target: ResZone, LocalColumn: "zone_uuid", RemoteColumn: "uuid"},
		{Name: "image", Target: ResImage, LocalColumn: "image_uuid", RemoteColumn: "uuid"},
		{Name: "instanceOffering", Target: ResInstanceOffering, LocalColumn: "instance_offering_uuid", RemoteColumn: "uuid"},
	},
	ResVMNic: {
		{Name: "vmInstance", Target: ResVMInstance, LocalColumn: "vm_instance_uuid", RemoteColumn: "uuid"},
		{Name: "l3Network", Target: ResL3Network, LocalColumn: "l3_network_uuid", RemoteColumn: "uuid"},
		{Name: "usedIps", Target: ResUsedIP, LocalColumn: "uuid", RemoteColumn: "vm_nic_uuid"},
	},
	ResVolumeSnapshot: {
		{Name: "volume", Target: ResVolume, LocalColumn: "volume_uuid", RemoteColumn: "uuid"},
	},
	ResVolume: {
		{Name: "snapshot", Target: ResVolumeSnapshot, LocalColumn: "uuid", RemoteColumn: "volume_uuid"},
		{Name: "vmInstance", Target: ResVMInstance, LocalColumn: "vm_instance_uuid", RemoteColumn: "uuid"},
		{Name: "primaryStorage", Target: ResPrimaryStorage, LocalColumn: "primary_storage_uuid", RemoteColumn: "uuid"},
	},
}

// Resources builds the query whitelist. Fields come from the entity structs
// themselves (a field is queryable when it has both a db column and a JSON
// name), so the whitelist can't drift from the schema; relations are
// declared above.
func Resources() Registry {
	reg := Registry{}
	for _, d := range domains {
		for _, e := range d.entities {
			r := &Resource{Name: e.name, Table: e.table, Fields: fieldsOf(reflect.TypeOf(e.entity)),
				Relations: d.relations[e.name]}
			if slices.Contains(d.taggable, e.name) {
				r.TagResourceType = e.name
			}
			reg[e.name] = r
		}
		for i := range d.refTables {
			r := d.refTables[i]
			reg[r.Name] = &r
		}
	}
	return reg
}

func fieldsOf(t reflect.Type) []Field {
	var out []Field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = append(out, fieldsOf(f.Type)...)
			continue
		}
		col := f.Tag.Get("db")
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if col == "" || col == "-" || name == "" || name == "-" {
			continue
		}
		out = append(out, Field{Name: name, Column: col, Type: fieldType(f.Type)})
	}
	return out
}

func fieldType(t reflect.Type) FieldType {
	switch {
	case t == reflect.TypeOf(models.Time(0)):
		return Time
	case t.Kind() == reflect.Bool:
		return Bool
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return Int
	default:
		return String
	}
}

// Resource returns the whitelist entry of a resource.
func (s *Store) Resource(name string) (*Resource, bool) {
	r, ok := s.res[name]
	return r, ok
}
