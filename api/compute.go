package api

import (
	"net/http"

	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// computeRoutes are the VM, volume and snapshot APIs beyond the core
// lifecycle.
var computeRoutes = routeSet{
	queries: map[string]string{"QueryVolumeSnapshot": store.ResVolumeSnapshot},
	ops:     []string{"CreateDataVolume", "UpdateVolume", "UpdateVolumeSnapshot"},
	special: map[string]handlerFunc{
		"PauseVmInstance":          vmOp(workflows.PauseVM),
		"ResumeVmInstance":         vmOp(workflows.ResumeVM),
		"MigrateVm":                (*Server).migrateVM,
		"AttachDataVolumeToVm":     volumeOp(workflows.AttachVolume),
		"DetachDataVolumeFromVm":   volumeOp(workflows.DetachVolume),
		"DeleteDataVolume":         volumeOp(workflows.DeleteVolume),
		"RecoverDataVolume":        volumeOp(workflows.RecoverVolume),
		"ExpungeDataVolume":        volumeOp(workflows.ExpungeVolume),
		"ResizeDataVolume":         volumeOp(workflows.ResizeVolume),
		"ResizeRootVolume":         (*Server).resizeRootVolume,
		"CreateVolumeSnapshot":     (*Server).createSnapshot,
		"RevertVolumeFromSnapshot": snapshotOp(workflows.RevertSnapshot),
		"DeleteVolumeSnapshot":     snapshotOp(workflows.DeleteSnapshot),
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
