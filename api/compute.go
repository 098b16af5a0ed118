package api

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/zcloud/zcloud/activities"

	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// computeRoutes are the VM, volume and snapshot APIs beyond the core
// lifecycle, with the VM device APIs of vm_devices.go.
var computeRoutes = routeSet{
	queries: map[string]string{"QueryVolumeSnapshot": store.ResVolumeSnapshot},
	ops:     []string{"CreateDataVolume", "UpdateVolume", "UpdateVolumeSnapshot", "AddLocalPrimaryStorage", "AddSharedMountPointPrimaryStorage"},
	special: map[string]handlerFunc{
		"PauseVmInstance":                    vmOp(workflows.PauseVM),
		"ResumeVmInstance":                   vmOp(workflows.ResumeVM),
		"MigrateVm":                          (*Server).migrateVM,
		"AttachDataVolumeToVm":               volumeOp(workflows.AttachVolume),
		"DetachDataVolumeFromVm":             volumeOp(workflows.DetachVolume),
		"DeleteDataVolume":                   volumeOp(workflows.DeleteVolume),
		"RecoverDataVolume":                  volumeOp(workflows.RecoverVolume),
		"ExpungeDataVolume":                  volumeOp(workflows.ExpungeVolume),
		"ResizeDataVolume":                   volumeOp(workflows.ResizeVolume),
		"ResizeRootVolume":                   (*Server).resizeRootVolume,
		"CreateVolumeSnapshot":               (*Server).createSnapshot,
		"RevertVolumeFromSnapshot":           snapshotOp(workflows.RevertSnapshot),
		"DeleteVolumeSnapshot":               snapshotOp(workflows.DeleteSnapshot),
		"AttachPrimaryStorageToCluster":      (*Server).attachPS,
		"ChangeHostState":                    (*Server).changeHostState,
		"CreateDataVolumeFromVolumeSnapshot": (*Server).volumeFromSnapshot,
		"AddKVMHostFromConfigFile":           (*Server).addHostsFromCSV,
		"CheckKVMHostConfigFile":             (*Server).checkHostCSV,
		"GetLocalStorageHostDiskCapacity":    (*Server).localStorageCapacity,
		"SetVmConsolePassword":               (*Server).setVMConsolePassword,
		"DeleteVmConsolePassword":            (*Server).deleteVMConsolePassword,
		"GetVmConsolePassword":               (*Server).getVMConsolePassword,
		"GetVmConsoleAddress":                (*Server).getVMConsoleAddress,
		"AttachIsoToVmInstance":              (*Server).attachISO,
		"DetachIsoFromVmInstance":            (*Server).detachISO,
		"SetVmBootOrder":                     (*Server).setVMBootOrder,
		"GetVmBootOrder":                     (*Server).getVMBootOrder,
		"UpdateVmInstance":                   (*Server).updateVM,
		"ChangeInstanceOffering":             (*Server).changeInstanceOffering,
		"AddNfsPrimaryStorage":               notSupported("NFS primary storage: this kernel can run neither an NFS server nor load the nfs client module, so it could not be tested here"),
	},
}

func (r *request) str(k string) string { v, _ := r.params[k].(string); return v }

func (r *request) int64(k string) int64 {
	switch v := r.params[k].(type) {
	case float64:
		return int64(v)
	case int64:
		return v
	}
	return 0
}

func (s *Server) migrateVM(r *request) {
	s.startJob(r, workflows.MigrateVM, workflows.VMOpParams{VMUUID: r.str("vmInstanceUuid"), HostUUID: r.str("hostUuid")})
}

// volumeOp starts a volume workflow on the volume named by uuid (or
// volumeUuid) and the VM named by vmInstanceUuid (or vmUuid).
func volumeOp(wf string) handlerFunc {
	return func(s *Server, r *request) {
		vol := r.str("volumeUuid")
		if vol == "" {
			vol = r.str("uuid")
		}
		vm := r.str("vmInstanceUuid")
		if vm == "" {
			vm = r.str("vmUuid")
		}
		s.startJob(r, wf, workflows.VolumeOpParams{VolumeUUID: vol, VMUUID: vm, Size: r.int64("size"), AccountUUID: r.session.AccountUUID})
	}
}

// resizeRootVolume takes the root volume by its UUID or its VM's.
func (s *Server) resizeRootVolume(r *request) {
	vol := r.str("uuid")
	if vol == "" && r.str("vmInstanceUuid") != "" {
		var vm models.VMInstance
		if err := s.o.Store.Get(r.c.Request.Context(), store.ResVMInstance, r.str("vmInstanceUuid"), &vm); err != nil {
			writeError(r.c, 0, err)
			return
		}
		vol = string(vm.RootVolumeUUID)
	}
	if vol == "" {
		writeError(r.c, http.StatusBadRequest, models.Invalid("uuid or vmInstanceUuid is required"))
		return
	}
	s.startJob(r, workflows.ResizeVolume, workflows.VolumeOpParams{VolumeUUID: vol, Size: r.int64("size")})
}

func (s *Server) createSnapshot(r *request) {
	s.startJob(r, workflows.CreateSnapshot, workflows.VolumeOpParams{VolumeUUID: r.str("volumeUuid"), SnapshotUUID: s.newResourceUUID(r),
		Name: r.str("name"), Description: r.str("description"), AccountUUID: r.session.AccountUUID})
}

func snapshotOp(wf string) handlerFunc {
	return func(s *Server, r *request) {
		s.startJob(r, wf, workflows.VolumeOpParams{SnapshotUUID: r.str("uuid")})
	}
}

func (s *Server) attachPS(r *request) {
	args, _ := json.Marshal(r.params)
	s.startJob(r, workflows.AttachPS, workflows.AttachPSParams{PSUUID: r.str("primaryStorageUuid"), ClusterUUID: r.str("clusterUuid"),
		Op: activities.OpParams{Op: "AttachPrimaryStorageToCluster", Args: args, AccountUUID: r.session.AccountUUID}})
}

// localStorageCapacity answers GetLocalStorageHostDiskCapacity: each host's
// share of a local storage.
func (s *Server) localStorageCapacity(r *request) {
	refs, err := s.o.Store.LocalStorageHosts(r.c.Request.Context(), r.str("primaryStorageUuid"), r.str("hostUuid"))
	if err != nil {
		writeError(r.c, 0, err)
		return
	}
	r.c.JSON(http.StatusOK, gin.H{"inventories": refs})
}

// notSupported answers an API ZCloud does not implement, with the reason.
func notSupported(why string) handlerFunc {
	return func(_ *Server, r *request) {
		writeError(r.c, 0, &models.Error{Kind: models.KindInvalid, Code: models.CodeOperation,
			Message: "not supported: " + r.api.Name, Details: why})
	}
}

func (s *Server) changeHostState(r *request) {
	args, _ := json.Marshal(r.params)
	s.startJob(r, workflows.ChangeHostState, workflows.ChangeHostStateParams{HostUUID: r.str("uuid"), Event: r.str("stateEvent"),
		Op: activities.OpParams{Op: "ChangeHostState", Args: args, AccountUUID: r.session.AccountUUID}})
}

func (s *Server) volumeFromSnapshot(r *request) {
	uuid := s.newResourceUUID(r)
	r.params["uuid"] = uuid
	args, _ := json.Marshal(r.params)
	s.startJob(r, workflows.VolumeFromSnapshot, workflows.VolumeFromSnapshotParams{VolumeUUID: uuid, SnapshotUUID: r.str("volumeSnapshotUuid"),
		Op: activities.OpParams{Op: "CreateDataVolumeFromVolumeSnapshot", Args: args, AccountUUID: r.session.AccountUUID,
			SystemTags: r.systemTags, UserTags: r.userTags}})
}
