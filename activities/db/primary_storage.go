package db

import (
	"context"
	"path/filepath"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// Primary storage types (ZStack's names).
const (
	PSLocal = store.PSLocalStorage
	PSSMP   = "SharedMountPoint"
	PSNFS   = "NFS"
	PSCeph  = "Ceph"
	PSSim   = "SimulatorPrimaryStorage"
)

// addDirPS records a primary storage that lives in a directory of its
// hosts (LocalStorage: each host's own disk; SharedMountPoint: a file
// system mounted at the same path on every host). Its capacity comes from
// the hosts once it is attached to a cluster.
func addDirPS(typ string) opFunc {
	return func(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
		var z models.Zone
		if err := mustExist(ctx, a, store.ResZone, str(args, "zoneUuid"), &z); err != nil {
			return activities.Result{}, err
		}
		url := str(args, "url")
		if !filepath.IsAbs(url) || filepath.Clean(url) != url || url == "/" {
			return activities.Result{}, models.Invalid("url %q must be a clean absolute directory other than /", url)
		}
		ps := models.PrimaryStorage{Base: base(args), ZoneUUID: z.UUID, URL: url, Type: typ, State: models.StateEnabled,
			Status: models.StatusConnected, MountPath: models.Ref(url)}
		return create(ctx, a, store.ResPrimaryStorage, ps.UUID, &ps, p)
	}
}

// psCombinationOK says whether a cluster may have these primary storage
// types together (FEATURES.md item 16): one or more LocalStorage; one or
// more NFS; one SharedMountPoint; LocalStorage + NFS; LocalStorage + SMP;
// Ceph alone. The simulator's stands alone too.
func psCombinationOK(types []string) bool {
	n := map[string]int{}
	for _, t := range types {
		n[t]++
	}
	switch {
	case len(n) == 1 && (n[PSLocal] > 0 || n[PSNFS] > 0 || n[PSSim] > 0):
		return true
	case len(n) == 1 && (n[PSSMP] == 1 || n[PSCeph] == 1):
		return true
	case len(n) == 2 && n[PSLocal] > 0 && n[PSNFS] > 0:
		return true
	case len(n) == 2 && n[PSLocal] > 0 && n[PSSMP] == 1:
		return true
	}
	return false
}

// attachPS attaches a primary storage to a cluster when the cluster's
// combination of types stays allowed.
func attachPS(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	psUUID, clusterUUID := str(args, "primaryStorageUuid"), str(args, "clusterUuid")
	if err := checkAttach(ctx, a, store.ResPSClusterRef, psUUID, clusterUUID); err != nil {
		return activities.Result{}, err
	}
	var types []string
	if err := a.Store.DB().SelectContext(ctx, &types, `SELECT ps.type FROM primary_storages ps JOIN primary_storage_cluster_refs r
		ON r.primary_storage_uuid = ps.uuid WHERE r.cluster_uuid = ? AND ps.uuid <> ?`, clusterUUID, psUUID); err != nil {
		return activities.Result{}, err
	}
	var ps models.PrimaryStorage
	if err := a.Store.Get(ctx, store.ResPrimaryStorage, psUUID, &ps); err != nil {
		return activities.Result{}, err
	}
	if !psCombinationOK(append(types, ps.Type)) {
		return activities.Result{}, models.Invalid("cluster[uuid:%s] has primary storage of types %v; adding a %s is not an allowed combination "+
			"(LocalStorage+, NFS+, one SharedMountPoint, LocalStorage+NFS, LocalStorage+SharedMountPoint, Ceph alone)", clusterUUID, types, ps.Type)
	}
	if err := a.Store.Attach(ctx, store.ResPSClusterRef, psUUID, clusterUUID); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResPrimaryStorage, psUUID)
}

// detachPS refuses while volumes of the cluster's VMs are on the storage.
func detachPS(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	psUUID, clusterUUID := str(args, "primaryStorageUuid"), str(args, "clusterUuid")
	n, err := a.Store.Count(ctx, "volumes", `primary_storage_uuid = ? AND vm_instance_uuid IN (SELECT uuid FROM vm_instances WHERE cluster_uuid = ?)`, psUUID, clusterUUID)
	if err != nil {
		return activities.Result{}, err
	}
	if n > 0 {
		return activities.Result{}, models.Conflict("primary storage[uuid:%s] holds %d volumes of vms in cluster[uuid:%s]; delete or migrate them first", psUUID, n, clusterUUID)
	}
	if _, err := a.Store.DB().ExecContext(ctx, `DELETE FROM local_storage_host_refs WHERE primary_storage_uuid = ?
		AND host_uuid IN (SELECT uuid FROM hosts WHERE cluster_uuid = ?)`, psUUID, clusterUUID); err != nil {
		return activities.Result{}, err
	}
	return detachOp(store.ResPSClusterRef, "primaryStorageUuid", "clusterUuid", store.ResPrimaryStorage)(ctx, a, args, p)
}

// HostStorages lists the directory primary storages a host serves: those
// attached to its cluster that live in a directory of the host.
func (a *Activities) HostStorages(ctx context.Context, p activities.HostRef) ([]activities.HostStorage, error) {
	out := []activities.HostStorage{}
	err := a.Store.DB().SelectContext(ctx, &out, `SELECT ps.uuid, ps.url, ps.type FROM primary_storages ps
		JOIN primary_storage_cluster_refs r ON r.primary_storage_uuid = ps.uuid JOIN hosts h ON h.cluster_uuid = r.cluster_uuid
		WHERE h.uuid = ? AND ps.type IN (?, ?) ORDER BY ps.uuid`, p.HostUUID, PSLocal, PSSMP)
	return out, wrap(err)
}

// ClusterHosts lists a cluster's Connected hosts.
func (a *Activities) ClusterHosts(ctx context.Context, p activities.ClusterRef) ([]string, error) {
	out := []string{}
	err := a.Store.DB().SelectContext(ctx, &out, `SELECT uuid FROM hosts WHERE cluster_uuid = ? AND status = ? ORDER BY uuid`, p.ClusterUUID, models.StatusConnected)
	return out, wrap(err)
}

// PSRecordCapacity records what a host reported of a primary storage.
func (a *Activities) PSRecordCapacity(ctx context.Context, p activities.PSCapacityParams) error {
	return wrap(a.Store.RecordStorageCapacity(ctx, p.PSUUID, p.HostUUID, p.Total, p.Available))
}
