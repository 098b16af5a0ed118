package db

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// opFunc is one database operation of the generic job. args are the API's
// validated, normalized params plus "uuid" (the resource's UUID, chosen by
// the API for creates so that a retried step finds its own row).
type opFunc func(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error)

// ops are the operations RunOp knows, by ZStack API name.
var ops = map[string]opFunc{
	"CreateZone":                         createZone,
	"UpdateZone":                         updateOp(store.ResZone, "name", "description", "isDefault"),
	"ChangeZoneState":                    changeState(store.ResZone),
	"DeleteZone":                         deleteOp(store.ResZone, "clusters", "zone_uuid"),
	"CreateCluster":                      createCluster,
	"UpdateCluster":                      updateOp(store.ResCluster, "name", "description"),
	"ChangeClusterState":                 changeState(store.ResCluster),
	"DeleteCluster":                      deleteOp(store.ResCluster, "hosts", "cluster_uuid"),
	"AddSimulatorHost":                   addSimulatorHost,
	"DeleteHostRecord":                   deleteHostRecord,
	"AddKVMHost":                         addKVMHost,
	"ForgetSSHPassword":                  forgetSSHPassword,
	"AddImageStoreBackupStorage":         addImageStoreBS,
	"DeleteBackupStorageRecord":          deleteBSRecord,
	"CheckBackupStorageDeletable":        checkBSDeletable,
	"CheckHostDeletable":                 checkHostDeletable,
	"CreateDataVolume":                   createDataVolume,
	"CreateDataVolumeFromVolumeSnapshot": createVolumeFromSnapshotRecord,
	"UpdateVolume":                       updateOp(store.ResVolume, "name", "description"),
	"UpdateVolumeSnapshot":               updateOp(store.ResVolumeSnapshot, "name", "description"),
	"UpdateHost":                         updateOp(store.ResHost, "name", "description"),
	"ChangeHostState":                    changeHostState,
	"AddSimulatorPrimaryStorage":         addSimulatorPS,
	"DeletePrimaryStorage":               deleteOp(store.ResPrimaryStorage, "volumes", "primary_storage_uuid"),
	"AddSimulatorBackupStorage":          addSimulatorBS,
	"DeleteBackupStorage":                deleteOp(store.ResBackupStorage, "image_backup_storage_refs", "backup_storage_uuid"),
	"AttachPrimaryStorageToCluster":      attachPS,
	"DetachPrimaryStorageFromCluster":    detachPS,
	"AddLocalPrimaryStorage":             addDirPS(PSLocal),
	"AddSharedMountPointPrimaryStorage":  addDirPS(PSSMP),
	"AttachBackupStorageToZone":          attachOp(store.ResBSZoneRef, "backupStorageUuid", "zoneUuid", store.ResBackupStorage),
	"DetachBackupStorageFromZone":        detachOp(store.ResBSZoneRef, "backupStorageUuid", "zoneUuid", store.ResBackupStorage),
	"AttachL2NetworkToCluster":           attachL2,
	"DetachL2NetworkFromCluster":         detachL2,
	"AddImage":                           addImage,
	"UpdateImage":                        updateOp(store.ResImage, "name", "description", "guestOsType", "platform"),
	"CreateInstanceOffering":             createInstanceOffering,
	"UpdateInstanceOffering":             updateOp(store.ResInstanceOffering, "name", "description"),
	"ChangeInstanceOfferingState":        changeState(store.ResInstanceOffering),
	"DeleteInstanceOffering":             deleteOp(store.ResInstanceOffering, "", ""),
	"CreateDiskOffering":                 createDiskOffering,
	"UpdateDiskOffering":                 updateOp(store.ResDiskOffering, "name", "description"),
	"ChangeDiskOfferingState":            changeState(store.ResDiskOffering),
	"DeleteDiskOffering":                 deleteOp(store.ResDiskOffering, "", ""),
	"CreateL2NoVlanNetwork":              createL2NoVlan,
	"UpdateL2Network":                    updateOp(store.ResL2Network, "name", "description"),
	"DeleteL2Network":                    deleteL2,
	"CreateL3Network":                    createL3,
	"UpdateL3Network":                    updateOp(store.ResL3Network, "name", "description", "dnsDomain"),
	"AddIpRange":                         addIPRange,
	"AddIpRangeByNetworkCidr":            addIPRange,
	"DeleteIpRange":                      deleteOp(store.ResIPRange, "used_ips", "ip_range_uuid"),
	"AddDnsToL3Network":                  addDNS,
	"UpdateGlobalConfig":                 updateGlobalConfig,
}

// opTables are the operation tables of every area of the product: ops
// above, other areas (networking, hybrid cloud) in their own files.
var opTables = []map[string]opFunc{ops, networkOps, hybridOps, imageOps, sftpOps, storageLifecycleOps}

// createdResources names the resource each create operation makes, so that
// the tags given with the API land on it. Other areas add their own maps.
var createdResources = []map[string]string{{
	"CreateZone": store.ResZone, "CreateCluster": store.ResCluster, "AddSimulatorHost": store.ResHost, "AddKVMHost": store.ResHost, "AddImageStoreBackupStorage": store.ResBackupStorage, "CreateDataVolume": store.ResVolume, "CreateDataVolumeFromVolumeSnapshot": store.ResVolume, "AddLocalPrimaryStorage": store.ResPrimaryStorage, "AddSharedMountPointPrimaryStorage": store.ResPrimaryStorage,
	"AddImage": store.ResImage, "CreateL3Network": store.ResL3Network, "CreateL2NoVlanNetwork": store.ResL2Network,
	"CreateInstanceOffering": store.ResInstanceOffering, "CreateDiskOffering": store.ResDiskOffering,
}, networkCreated, imageCreated, sftpCreated}

func lookupOp(name string) (opFunc, bool) {
	for _, t := range opTables {
		if f, ok := t[name]; ok {
			return f, true
		}
	}
	return nil, false
}

// RunOp runs one named database operation and renders its result.
func (a *Activities) RunOp(ctx context.Context, p activities.OpParams) (activities.Result, error) {
	f, ok := lookupOp(p.Op)
	if !ok {
		return activities.Result{}, wrap(models.Invalid("operation %s is not supported", p.Op))
	}
	if err := a.Faults.check(activities.RunOp + ":" + p.Op); err != nil {
		return activities.Result{}, wrap(err)
	}
	args, err := opArgs(p)
	if err != nil {
		return activities.Result{}, wrap(err)
	}
	r, err := f(ctx, a, args, p)
	if err != nil {
		return r, wrap(err)
	}
	if uuid := str(args, "uuid"); uuid != "" && (len(p.SystemTags) > 0 || len(p.UserTags) > 0) {
		if res := resourceOf(p.Op); res != "" {
			if err := a.Store.AddTags(ctx, uuid, res, p.SystemTags, p.UserTags); err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

// opArgs decodes an operation's arguments.
func opArgs(p activities.OpParams) (map[string]any, error) {
	args := map[string]any{}
	if len(p.Args) > 0 {
		if err := json.Unmarshal(p.Args, &args); err != nil {
			return nil, models.Invalid("bad arguments of %s: %v", p.Op, err)
		}
	}
	return args, nil
}

func resourceOf(op string) string {
	for _, m := range createdResources {
		if r, ok := m[op]; ok {
			return r
		}
	}
	return ""
}

// Argument helpers: params arrive as JSON values.
func str(m map[string]any, k string) string {
	if v, ok := m[k].(string); ok {
		return v
	}
	return ""
}

func num(m map[string]any, k string) int64 {
	switch v := m[k].(type) {
	case float64:
		return int64(v)
	case json.Number:
		n, _ := v.Int64()
		return n
	}
	return 0
}

func boolean(m map[string]any, k string) bool {
	v, _ := m[k].(bool)
	return v
}

func strs(m map[string]any, k string) []string {
	l, _ := m[k].([]any)
	out := make([]string, 0, len(l))
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// create inserts a new resource and renders it; an existing row with the
// same UUID (a retried step) is rendered as is.
func create(ctx context.Context, a *Activities, res, uuid string, entity any, p activities.OpParams) (activities.Result, error) {
	if err := a.Store.Create(ctx, res, entity, uuid, p.AccountUUID); err != nil && models.AsError(err).Kind != models.KindConflict {
		return activities.Result{}, err
	}
	return render(ctx, a, res, uuid)
}

func render(ctx context.Context, a *Activities, res, uuid string) (activities.Result, error) {
	inv, err := a.Store.Inventory(ctx, res, uuid)
	if err != nil {
		return activities.Result{}, err
	}
	return result("inventory", inv)
}

func base(args map[string]any) models.Base {
	now := models.Now()
	return models.Base{UUID: str(args, "uuid"), Name: str(args, "name"), Description: models.Ref(str(args, "description")), CreateDate: now, LastOpDate: now}
}

// mustExist checks a referenced resource.
func mustExist(ctx context.Context, a *Activities, res, uuid string, dst any) error {
	if uuid == "" {
		return models.Invalid("missing uuid of %s", res)
	}
	return a.Store.Get(ctx, res, uuid, dst)
}

func createZone(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	z := models.Zone{Base: base(args), State: models.StateEnabled, Type: "zstack", IsDefault: boolean(args, "isDefault")}
	return create(ctx, a, store.ResZone, z.UUID, &z, p)
}

func createCluster(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	var z models.Zone
	if err := mustExist(ctx, a, store.ResZone, str(args, "zoneUuid"), &z); err != nil {
		return activities.Result{}, err
	}
	c := models.Cluster{Base: base(args), ZoneUUID: z.UUID, State: models.StateEnabled, HypervisorType: str(args, "hypervisorType"),
		Type: orDefault(str(args, "type"), "zstack"), Architecture: models.Ref(orDefault(str(args, "architecture"), "x86_64"))}
	return create(ctx, a, store.ResCluster, c.UUID, &c, p)
}

func addSimulatorHost(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	var c models.Cluster
	if err := mustExist(ctx, a, store.ResCluster, str(args, "clusterUuid"), &c); err != nil {
		return activities.Result{}, err
	}
	if c.HypervisorType != "Simulator" {
		return activities.Result{}, models.Invalid("cluster[uuid:%s] has hypervisorType %s; simulator hosts need a Simulator cluster", c.UUID, c.HypervisorType)
	}
	n, err := a.Store.Count(ctx, "hosts", "management_ip = ? AND uuid <> ?", str(args, "managementIp"), str(args, "uuid"))
	if err != nil {
		return activities.Result{}, err
	}
	if n > 0 {
		return activities.Result{}, models.Conflict("a host with management ip %s exists already", str(args, "managementIp")).WithCode("HOST.1000")
	}
	h := models.Host{Base: base(args), ZoneUUID: c.ZoneUUID, ClusterUUID: c.UUID, ManagementIP: str(args, "managementIp"),
		HypervisorType: "Simulator", State: models.StateEnabled, Status: models.StatusConnecting,
		MemoryCapacity: num(args, "memoryCapacity"), CPUCapacity: num(args, "cpuCapacity"), Driver: "sim"}
	return create(ctx, a, store.ResHost, h.UUID, &h, p)
}

func changeState(res string) opFunc {
	return func(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
		state := models.StateEnabled
		switch ev := str(args, "stateEvent"); ev {
		case "enable":
		case "disable":
			state = models.StateDisabled
		default:
			return activities.Result{}, models.Invalid("invalid stateEvent [%s]", ev)
		}
		if err := a.Store.Update(ctx, res, str(args, "uuid"), map[string]any{"state": state}); err != nil {
			return activities.Result{}, err
		}
		return render(ctx, a, res, str(args, "uuid"))
	}
}

// Internal state events of the maintenance workflow.
const (
	hostEventPreMaintain = "preMaintain"
	hostEventRestore     = "restore"
)

// HostVMs lists the VMs on a host with their states.
func (a *Activities) HostVMs(ctx context.Context, p activities.HostRef) ([]activities.HostVM, error) {
	vms := []activities.HostVM{}
	err := a.Store.DB().SelectContext(ctx, &vms, `SELECT uuid, state FROM vm_instances WHERE host_uuid = ? ORDER BY uuid`, p.HostUUID)
	return vms, wrap(err)
}

func changeHostState(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	uuid := str(args, "uuid")
	var h models.Host
	if err := a.Store.Get(ctx, store.ResHost, uuid, &h); err != nil {
		return activities.Result{}, err
	}
	var state string
	switch ev := str(args, "stateEvent"); ev {
	case models.HostEventEnable:
		state = models.StateEnabled
	case models.HostEventDisable:
		state = models.StateDisabled
	case models.HostEventMaintain:
		// The maintenance workflow moved or stopped the host's VMs first.
		n, err := a.Store.Count(ctx, "vm_instances", "host_uuid = ?", uuid)
		if err != nil {
			return activities.Result{}, err
		}
		if n > 0 {
			return activities.Result{}, (&models.Error{Kind: models.KindConflict, Code: models.CodeHostState,
				Message: fmt.Sprintf("host[uuid:%s] still has %d VMs", uuid, n)})
		}
		state = models.HostMaintenance
	case hostEventPreMaintain:
		state = models.HostPreMaintenance
	case hostEventRestore:
		state = str(args, "previousState")
	default:
		return activities.Result{}, models.Invalid("invalid stateEvent [%s]", ev)
	}
	if err := a.Store.Update(ctx, store.ResHost, uuid, map[string]any{"state": state}); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResHost, uuid)
}

func updateOp(res string, fields ...string) opFunc {
	return func(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
		changes := map[string]any{}
		for _, f := range fields {
			if v, ok := args[f]; ok {
				changes[f] = v
			}
		}
		if err := a.Store.Update(ctx, res, str(args, "uuid"), changes); err != nil {
			return activities.Result{}, err
		}
		return render(ctx, a, res, str(args, "uuid"))
	}
}

// deleteOp deletes a resource, refusing while dependents exist (listed by
// their table and the column that points at it).
func deleteOp(res, depTable, depColumn string) opFunc {
	return func(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
		uuid := str(args, "uuid")
		if ok, err := a.Store.Exists(ctx, res, uuid); err != nil || !ok {
			return activities.Result{}, err // deleting a missing resource succeeds, as in ZStack
		}
		if depTable != "" {
			n, err := a.Store.Count(ctx, depTable, depColumn+" = ?", uuid)
			if err != nil {
				return activities.Result{}, err
			}
			if n > 0 {
				return activities.Result{}, models.Conflict("cannot delete %s[uuid:%s]: %d dependent rows in %s; delete them first", res, uuid, n, depTable)
			}
		}
		return activities.Result{}, a.Store.Delete(ctx, res, uuid)
	}
}

func attachOp(ref, aKey, bKey, res string) opFunc {
	return func(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
		if err := checkAttach(ctx, a, ref, str(args, aKey), str(args, bKey)); err != nil {
			return activities.Result{}, err
		}
		if err := a.Store.Attach(ctx, ref, str(args, aKey), str(args, bKey)); err != nil {
			return activities.Result{}, err
		}
		return render(ctx, a, res, str(args, aKey))
	}
}

func detachOp(ref, aKey, bKey, res string) opFunc {
	return func(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
		if err := a.Store.Detach(ctx, ref, str(args, aKey), str(args, bKey)); err != nil {
			return activities.Result{}, err
		}
		return render(ctx, a, res, str(args, aKey))
	}
}

// checkAttach enforces that both sides exist and live in the same zone.
func checkAttach(ctx context.Context, a *Activities, ref, aUUID, bUUID string) error {
	switch ref {
	case store.ResPSClusterRef:
		var ps models.PrimaryStorage
		var c models.Cluster
		if err := mustExist(ctx, a, store.ResPrimaryStorage, aUUID, &ps); err != nil {
			return err
		}
		if err := mustExist(ctx, a, store.ResCluster, bUUID, &c); err != nil {
			return err
		}
		if ps.ZoneUUID != c.ZoneUUID {
			return models.Invalid("primary storage[uuid:%s] and cluster[uuid:%s] are in different zones", aUUID, bUUID)
		}
	case store.ResBSZoneRef:
		var bs models.BackupStorage
		var z models.Zone
		if err := mustExist(ctx, a, store.ResBackupStorage, aUUID, &bs); err != nil {
			return err
		}
		return mustExist(ctx, a, store.ResZone, bUUID, &z)
	case store.ResL2ClusterRef:
		var l2 models.L2Network
		var c models.Cluster
		if err := mustExist(ctx, a, store.ResL2Network, aUUID, &l2); err != nil {
			return err
		}
		if err := mustExist(ctx, a, store.ResCluster, bUUID, &c); err != nil {
			return err
		}
		if l2.ZoneUUID != c.ZoneUUID {
			return models.Invalid("l2 network[uuid:%s] and cluster[uuid:%s] are in different zones", aUUID, bUUID)
		}
	}
	return nil
}

func addSimulatorPS(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	var z models.Zone
	if err := mustExist(ctx, a, store.ResZone, str(args, "zoneUuid"), &z); err != nil {
		return activities.Result{}, err
	}
	total, avail := num(args, "totalCapacity"), num(args, "availableCapacity")
	if avail == 0 {
		avail = total
	}
	ptotal, pavail := num(args, "totalPhysicalCapacity"), num(args, "availablePhysicalCapacity")
	if ptotal == 0 {
		ptotal, pavail = total, avail
	}
	ps := models.PrimaryStorage{Base: base(args), ZoneUUID: z.UUID, URL: str(args, "url"), Type: "SimulatorPrimaryStorage",
		State: models.StateEnabled, Status: models.StatusConnected, TotalCapacity: total, AvailableCapacity: avail,
		TotalPhysicalCapacity: ptotal, AvailablePhysicalCapacity: pavail}
	return create(ctx, a, store.ResPrimaryStorage, ps.UUID, &ps, p)
}

func addSimulatorBS(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	total, avail := num(args, "totalCapacity"), num(args, "availableCapacity")
	if avail == 0 {
		avail = total
	}
	bs := models.BackupStorage{Base: base(args), URL: str(args, "url"), Type: "SimulatorBackupStorage",
		State: models.StateEnabled, Status: models.StatusConnected, TotalCapacity: total, AvailableCapacity: avail}
	return create(ctx, a, store.ResBackupStorage, bs.UUID, &bs, p)
}

// SimImageSize is the size the simulator backup storage gives every image
// it "downloads": a simulator fetches nothing, and its model says so.
const SimImageSize = 1 << 30

func addImage(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	bsUUIDs := strs(args, "backupStorageUuids")
	if len(bsUUIDs) == 0 {
		return activities.Result{}, models.Invalid("backupStorageUuids must name at least one backup storage")
	}
	for _, b := range bsUUIDs {
		var bs models.BackupStorage
		if err := mustExist(ctx, a, store.ResBackupStorage, b, &bs); err != nil {
			return activities.Result{}, err
		}
		if bs.Type != "SimulatorBackupStorage" {
			return activities.Result{}, (&models.Error{Kind: models.KindInvalid, Code: models.CodeOperation,
				Message: "not supported: adding images to backup storage of type " + bs.Type,
				Details: "only simulator backup storage is implemented so far"})
		}
	}
	img := models.Image{Base: base(args), State: models.StateEnabled, Status: models.ImageReady, Size: SimImageSize, ActualSize: SimImageSize,
		URL: str(args, "url"), MediaType: orDefault(str(args, "mediaType"), "RootVolumeTemplate"),
		GuestOSType: models.Ref(str(args, "guestOsType")), Type: orDefault(str(args, "type"), "zstack"),
		Platform: orDefault(str(args, "platform"), "Linux"), Architecture: orDefault(str(args, "architecture"), "x86_64"),
		Format: orDefault(str(args, "format"), "qcow2"), System: boolean(args, "system"), Virtio: boolean(args, "virtio")}
	if err := a.Store.Create(ctx, store.ResImage, &img, img.UUID, p.AccountUUID); err != nil && models.AsError(err).Kind != models.KindConflict {
		return activities.Result{}, err
	}
	for _, b := range bsUUIDs {
		now := models.Now()
		ref := models.ImageBackupStorageRef{UUID: models.NameUUID(img.UUID, b), ImageUUID: img.UUID, BackupStorageUUID: b,
			InstallPath: "sim://" + b + "/" + img.UUID, Status: models.ImageReady, CreateDate: now, LastOpDate: now}
		if err := a.Store.Insert(ctx, store.ResImageBSRef, &ref); err != nil && models.AsError(err).Kind != models.KindConflict {
			return activities.Result{}, err
		}
	}
	return render(ctx, a, store.ResImage, img.UUID)
}

func createInstanceOffering(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	o := models.InstanceOffering{Base: base(args), CPUNum: int(num(args, "cpuNum")), MemorySize: num(args, "memorySize"),
		ReservedMemorySize: num(args, "reservedMemorySize"), Type: orDefault(str(args, "type"), "UserVm"),
		AllocatorStrategy: models.Ref(str(args, "allocatorStrategy")), SortKey: int(num(args, "sortKey")), State: models.StateEnabled}
	return create(ctx, a, store.ResInstanceOffering, o.UUID, &o, p)
}

func createDiskOffering(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	o := models.DiskOffering{Base: base(args), DiskSize: num(args, "diskSize"), SortKey: int(num(args, "sortKey")),
		State: models.StateEnabled, Type: orDefault(str(args, "type"), "zstack"), AllocatorStrategy: models.Ref(str(args, "allocationStrategy"))}
	return create(ctx, a, store.ResDiskOffering, o.UUID, &o, p)
}

func createL2NoVlan(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	var z models.Zone
	if err := mustExist(ctx, a, store.ResZone, str(args, "zoneUuid"), &z); err != nil {
		return activities.Result{}, err
	}
	l2 := models.L2Network{Base: base(args), ZoneUUID: z.UUID, PhysicalInterface: str(args, "physicalInterface"),
		Type: "L2NoVlanNetwork", VSwitchType: orDefault(str(args, "vSwitchType"), "LinuxBridge"), Isolated: boolean(args, "isolated")}
	return create(ctx, a, store.ResL2Network, l2.UUID, &l2, p)
}

func createL3(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	var l2 models.L2Network
	if err := mustExist(ctx, a, store.ResL2Network, str(args, "l2NetworkUuid"), &l2); err != nil {
		return activities.Result{}, err
	}
	l3 := models.L3Network{Base: base(args), Type: orDefault(str(args, "type"), "L3BasicNetwork"), ZoneUUID: l2.ZoneUUID,
		L2NetworkUUID: l2.UUID, State: models.StateEnabled, DNSDomain: models.Ref(str(args, "dnsDomain")), System: boolean(args, "system"),
		Category: orDefault(str(args, "category"), "Private"), IPVersion: 4, EnableIPAM: true}
	return create(ctx, a, store.ResL3Network, l3.UUID, &l3, p)
}

// addIPRange adds a range by start/end/netmask or by CIDR; it must lie in
// one subnet with its gateway and overlap no other range of the L3.
func addIPRange(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	var l3 models.L3Network
	if err := mustExist(ctx, a, store.ResL3Network, str(args, "l3NetworkUuid"), &l3); err != nil {
		return activities.Result{}, err
	}
	var start, end, gw netip.Addr
	var prefix netip.Prefix
	var err error
	if cidr := str(args, "networkCidr"); cidr != "" {
		if prefix, err = netip.ParsePrefix(cidr); err != nil || !prefix.Addr().Is4() || prefix.Bits() > 30 {
			return activities.Result{}, models.Invalid("invalid networkCidr [%s]", cidr)
		}
		prefix = prefix.Masked()
		first := prefix.Addr().Next()
		last := store.LongToIPv4(store.IPv4ToLong(prefix.Addr()) + (1 << (32 - prefix.Bits())) - 2)
		gw = first
		if g := str(args, "gateway"); g != "" {
			if gw, err = netip.ParseAddr(g); err != nil || !prefix.Contains(gw) {
				return activities.Result{}, models.Invalid("gateway [%s] is not in %s", g, prefix)
			}
		}
		start, end = first, last
		switch gw {
		case first:
			start = first.Next()
		case last:
			end = store.LongToIPv4(store.IPv4ToLong(last) - 1)
		}
	} else {
		start, err = netip.ParseAddr(str(args, "startIp"))
		if err != nil || !start.Is4() {
			return activities.Result{}, models.Invalid("invalid startIp [%s]", str(args, "startIp"))
		}
		if end, err = netip.ParseAddr(str(args, "endIp")); err != nil || !end.Is4() {
			return activities.Result{}, models.Invalid("invalid endIp [%s]", str(args, "endIp"))
		}
		mask, err := netip.ParseAddr(str(args, "netmask"))
		if err != nil || !mask.Is4() {
			return activities.Result{}, models.Invalid("invalid netmask [%s]", str(args, "netmask"))
		}
		bits := 0
		for m := store.IPv4ToLong(mask); m&0x80000000 != 0; m <<= 1 {
			bits++
		}
		prefix = netip.PrefixFrom(start, bits).Masked()
		if gw, err = netip.ParseAddr(str(args, "gateway")); err != nil {
			return activities.Result{}, models.Invalid("invalid gateway [%s]", str(args, "gateway"))
		}
		if store.IPv4ToLong(start) > store.IPv4ToLong(end) || !prefix.Contains(end) || !prefix.Contains(gw) {
			return activities.Result{}, models.Invalid("ip range %s-%s and gateway %s must lie in one subnet %s, start before end", start, end, gw, prefix)
		}
	}
	ranges, err := a.Store.IPRanges(ctx, l3.UUID)
	if err != nil {
		return activities.Result{}, err
	}
	for _, r := range ranges {
		if r.UUID == str(args, "uuid") {
			return render(ctx, a, store.ResIPRange, r.UUID)
		}
		lo, hi := store.IPv4ToLong(netip.MustParseAddr(r.StartIP)), store.IPv4ToLong(netip.MustParseAddr(r.EndIP))
		if store.IPv4ToLong(start) <= hi && store.IPv4ToLong(end) >= lo {
			return activities.Result{}, models.Invalid("ip range %s-%s overlaps range[uuid:%s] %s-%s", start, end, r.UUID, r.StartIP, r.EndIP)
		}
	}
	mask := store.LongToIPv4(int64(uint32(0xffffffff) << (32 - prefix.Bits())))
	r := models.IPRange{Base: base(args), L3NetworkUUID: l3.UUID, StartIP: start.String(), EndIP: end.String(), Netmask: mask.String(),
		Gateway: gw.String(), NetworkCIDR: prefix.String(), IPVersion: 4, PrefixLen: prefix.Bits(), IPRangeType: orDefault(str(args, "ipRangeType"), "Normal")}
	return create(ctx, a, store.ResIPRange, r.UUID, &r, p)
}

func addDNS(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	l3 := str(args, "l3NetworkUuid")
	dns, err := netip.ParseAddr(str(args, "dns"))
	if err != nil {
		return activities.Result{}, models.Invalid("invalid dns [%s]", str(args, "dns"))
	}
	if err := a.Store.AddL3DNS(ctx, l3, dns.String()); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResL3Network, l3)
}

func updateGlobalConfig(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	cat, name, value := str(args, "category"), str(args, "name"), str(args, "value")
	if err := ValidateGlobalConfig(cat, name, value); err != nil {
		return activities.Result{}, err
	}
	if err := a.Store.SetGlobalConfig(ctx, cat, name, value); err != nil {
		return activities.Result{}, err
	}
	a.wakeGC(ctx, cat, name)
	return result("inventory", models.GlobalConfig{Category: cat, Name: name, Value: value})
}
