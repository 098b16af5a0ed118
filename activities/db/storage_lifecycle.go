package db

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// Primary storage state events (ZStack PrimaryStorageStateEvent), and the
// maintenance workflow's own event that puts the former state back.
const (
	psEventEnable   = "enable"
	psEventDisable  = "disable"
	psEventMaintain = "maintain"
	psEventDeleting = "deleting"
	psEventRestore  = "restore"
)

// PSMaintenance is ZStack's PrimaryStorageState Maintenance: the VMs with
// volumes on the storage are stopped and none starts or is made on it.
const PSMaintenance = "Maintenance"

// storageLifecycleOps are the primary and backup storage state and update
// operations.
var storageLifecycleOps = map[string]opFunc{
	"ChangePrimaryStorageState": changePSState,
	"UpdatePrimaryStorage":      updatePS,
	"ChangeBackupStorageState":  changeState(store.ResBackupStorage),
	"UpdateBackupStorage":       updateOp(store.ResBackupStorage, "name", "description"),
}

func (a *Activities) registerStorageLifecycle(w worker.Registry) {
	for name, fn := range map[string]any{
		activities.PSInfo:          a.PSInfo,
		activities.PSVMs:           a.PSVMs,
		activities.PSRecordConnect: a.PSRecordConnect,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// changePSState moves a primary storage to the state of its event. The
// maintain event only sets the state: the workflow stops the VMs on the
// storage after it (the allocator no longer picks the storage meanwhile)
// and puts the former state back (restore) if it can't.
func changePSState(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	uuid := str(args, "uuid")
	var ps models.PrimaryStorage
	if err := mustExist(ctx, a, store.ResPrimaryStorage, uuid, &ps); err != nil {
		return activities.Result{}, err
	}
	var state string
	switch ev := str(args, "stateEvent"); ev {
	case psEventEnable:
		state = models.StateEnabled
	case psEventDisable:
		state = models.StateDisabled
	case psEventMaintain:
		state = PSMaintenance
	case psEventRestore:
		state = str(args, "previousState")
		if state != models.StateEnabled && state != models.StateDisabled && state != PSMaintenance {
			return activities.Result{}, models.Invalid("cannot restore primary storage[uuid:%s] to state [%s]", uuid, state)
		}
	case psEventDeleting:
		return activities.Result{}, models.Invalid("stateEvent [deleting] is ZStack's internal event of DeletePrimaryStorage; " +
			"delete the primary storage instead")
	default:
		return activities.Result{}, models.Invalid("invalid stateEvent [%s]; valid events are enable, disable and maintain", ev)
	}
	if err := a.Store.Update(ctx, store.ResPrimaryStorage, uuid, map[string]any{"state": state}); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResPrimaryStorage, uuid)
}

// updatePS changes a primary storage's name, description and URL. The URL
// of a directory storage (Local, SharedMountPoint) is where its volumes
// are: it may change only while the storage holds none.
func updatePS(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	uuid := str(args, "uuid")
	var ps models.PrimaryStorage
	if err := mustExist(ctx, a, store.ResPrimaryStorage, uuid, &ps); err != nil {
		return activities.Result{}, err
	}
	changes := map[string]any{}
	for _, f := range []string{"name", "description"} {
		if v, ok := args[f]; ok {
			changes[f] = v
		}
	}
	if url := str(args, "url"); url != "" && url != ps.URL {
		switch ps.Type {
		case PSLocal, PSSMP:
			if !filepath.IsAbs(url) || filepath.Clean(url) != url || url == "/" {
				return activities.Result{}, models.Invalid("url %q must be a clean absolute directory other than /", url)
			}
			n, err := a.Store.Count(ctx, "volumes", "primary_storage_uuid = ?", uuid)
			if err != nil {
				return activities.Result{}, err
			}
			if n > 0 {
				return activities.Result{}, models.Conflict("primary storage[uuid:%s] holds %d volumes under %s; "+
					"its url can change only while it holds none", uuid, n, ps.URL).WithCode(models.CodeOperation)
			}
			changes["url"], changes["mountPath"] = url, url
		case PSSim:
			changes["url"] = url
		default:
			return activities.Result{}, &models.Error{Kind: models.KindInvalid, Code: models.CodeOperation,
				Message: "not supported: changing the url of a " + ps.Type + " primary storage"}
		}
	}
	if err := a.Store.Update(ctx, store.ResPrimaryStorage, uuid, changes); err != nil {
		return activities.Result{}, err
	}
	return render(ctx, a, store.ResPrimaryStorage, uuid)
}

// PSInfo describes a primary storage and the Connected hosts of the
// clusters it is attached to.
func (a *Activities) PSInfo(ctx context.Context, p activities.PSRef) (activities.PSInfoResult, error) {
	var ps models.PrimaryStorage
	if err := mustExist(ctx, a, store.ResPrimaryStorage, p.PSUUID, &ps); err != nil {
		return activities.PSInfoResult{}, wrap(err)
	}
	out := activities.PSInfoResult{UUID: ps.UUID, Type: ps.Type, State: ps.State, Status: ps.Status, Hosts: []string{},
		Storage:   activities.HostStorage{PSUUID: ps.UUID, URL: ps.URL, Type: ps.Type},
		Directory: ps.Type == PSLocal || ps.Type == PSSMP}
	err := a.Store.DB().SelectContext(ctx, &out.Hosts, `SELECT h.uuid FROM hosts h JOIN primary_storage_cluster_refs r
		ON r.cluster_uuid = h.cluster_uuid WHERE r.primary_storage_uuid = ? AND h.status = ? ORDER BY h.uuid`, p.PSUUID, models.StatusConnected)
	return out, wrap(err)
}

// PSVMs lists the VMs with a volume on a primary storage.
func (a *Activities) PSVMs(ctx context.Context, p activities.PSRef) ([]activities.PSVM, error) {
	out := []activities.PSVM{}
	err := a.Store.DB().SelectContext(ctx, &out, `SELECT v.uuid, v.state, COALESCE(v.host_uuid, '') AS host_uuid FROM vm_instances v
		WHERE v.uuid IN (SELECT vol.vm_instance_uuid FROM volumes vol WHERE vol.primary_storage_uuid = ?)
		   OR v.uuid IN (SELECT r.vm_instance_uuid FROM shareable_volume_vm_instance_refs r JOIN volumes vol ON vol.uuid = r.volume_uuid
		      WHERE vol.primary_storage_uuid = ?)
		ORDER BY v.uuid`, p.PSUUID, p.PSUUID)
	return out, wrap(err)
}

// PSRecordConnect records the outcome of a reconnect or capacity sync: the
// storage is Connected when a host reported it (or no host was there to
// ask), Disconnected when every host asked failed, which also fails the
// job. Sync recomputes the available capacity from the volumes. The result
// is the storage's inventory with the hosts that failed.
func (a *Activities) PSRecordConnect(ctx context.Context, p activities.PSConnectParams) (activities.Result, error) {
	status := models.StatusConnected
	if p.Asked > 0 && len(p.Failures) == p.Asked {
		status = models.StatusDisconnected
	}
	if err := a.Store.Update(ctx, store.ResPrimaryStorage, p.PSUUID, map[string]any{"status": status}); err != nil {
		return activities.Result{}, wrap(err)
	}
	if p.Sync {
		if _, err := a.Store.RecomputeStorageAvailable(ctx, p.PSUUID); err != nil {
			return activities.Result{}, wrap(err)
		}
	}
	if status == models.StatusDisconnected {
		msgs := make([]string, len(p.Failures))
		for i, f := range p.Failures {
			msgs[i] = fmt.Sprintf("host[uuid:%s]: %s", f.HostUUID, f.Error)
		}
		return activities.Result{}, wrap((&models.Error{Kind: models.KindUnavailable, Code: models.CodeOperation,
			Message: fmt.Sprintf("primary storage[uuid:%s] is Disconnected: none of its %d hosts could reach it", p.PSUUID, p.Asked),
			Details: strings.Join(msgs, "; ")}))
	}
	inv, err := a.Store.Inventory(ctx, store.ResPrimaryStorage, p.PSUUID)
	if err != nil {
		return activities.Result{}, wrap(err)
	}
	ps, ok := inv.(*models.PrimaryStorage)
	if !ok {
		return activities.Result{}, fmt.Errorf("inventory of primary storage %s is a %T", p.PSUUID, inv)
	}
	return result("inventory", struct {
		*models.PrimaryStorage
		FailedHosts []activities.HostFailure `json:"failedHosts,omitempty"`
	}{ps, p.Failures})
}

// psRefusal is why a primary storage takes no volume, or nil: Maintenance
// takes none, Disabled no new ones (existing says the volumes are there
// already, as for a start), and a Disconnected one none either. An empty
// UUID refuses nothing.
func (a *Activities) psRefusal(ctx context.Context, psUUID string, existing bool) error {
	if psUUID == "" {
		return nil
	}
	var ps models.PrimaryStorage
	if err := a.Store.Get(ctx, store.ResPrimaryStorage, psUUID, &ps); err != nil {
		return err
	}
	switch {
	case ps.State == PSMaintenance:
		return models.Unavailable("primary storage[uuid:%s] is in Maintenance: no vm starts or is made on it, and it takes no volume", psUUID).
			WithCode(models.CodeAllocation)
	case ps.State == models.StateDisabled && !existing:
		return models.Unavailable("primary storage[uuid:%s] is Disabled: it takes no new volumes", psUUID).WithCode(models.CodeAllocation)
	case ps.Status != models.StatusConnected:
		return models.Unavailable("primary storage[uuid:%s] is %s, not Connected", psUUID, ps.Status).WithCode(models.CodeAllocation)
	}
	return nil
}

// psScopeRefusal explains an allocation that found no host when the
// storage is the reason: the named storage refuses (psRefusal), or every
// storage attached to the clusters in the request's scope does.
func (a *Activities) psScopeRefusal(ctx context.Context, req store.AllocationRequest) error {
	if req.PSUUID != "" {
		return a.psRefusal(ctx, req.PSUUID, req.ExistingVolumes)
	}
	q := `SELECT DISTINCT r.primary_storage_uuid FROM primary_storage_cluster_refs r JOIN clusters c ON c.uuid = r.cluster_uuid WHERE 1 = 1`
	var args []any
	for _, f := range []struct{ col, v string }{{"c.zone_uuid", req.ZoneUUID}, {"c.uuid", req.ClusterUUID},
		{"c.uuid", hostCluster(ctx, a, req.HostUUID)}} {
		if f.v != "" {
			q += ` AND ` + f.col + ` = ?`
			args = append(args, f.v)
		}
	}
	var uuids []string
	if err := a.Store.DB().SelectContext(ctx, &uuids, q+` ORDER BY r.primary_storage_uuid`, args...); err != nil {
		return err
	}
	var first error
	for _, u := range uuids {
		err := a.psRefusal(ctx, u, req.ExistingVolumes)
		if err == nil {
			return nil // a usable storage: something else stood in the way
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// hostCluster is the cluster of a host, or "" (no host, or not found).
func hostCluster(ctx context.Context, a *Activities, hostUUID string) string {
	if hostUUID == "" {
		return ""
	}
	var h models.Host
	if err := a.Store.Get(ctx, store.ResHost, hostUUID, &h); err != nil {
		return ""
	}
	return h.ClusterUUID
}
