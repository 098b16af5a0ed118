package api

import (
	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// cloneRoutes are CloneVmInstance and ReimageVmInstance.
var cloneRoutes = routeSet{
	special: map[string]handlerFunc{
		"CloneVmInstance":   (*Server).cloneVM,
		"ReimageVmInstance": (*Server).reimageVM,
	},
}

// cloneVM checks CloneVmInstance's params and starts the clone job; the
// source's state and volumes are checked by the job's first step.
func (s *Server) cloneVM(r *request) {
	bad := func(err error) { writeError(r.c, 0, err) }
	p := activities.CloneVMParams{SourceVMUUID: r.str("vmInstanceUuid"), Strategy: r.str("strategy"),
		PSUUID: r.str("primaryStorageUuidForRootVolume"), DataPSUUID: r.str("primaryStorageUuidForDataVolume"),
		ClusterUUID: r.str("clusterUuid"), HostUUID: r.str("hostUuid"), AccountUUID: r.session.AccountUUID}
	p.Full, _ = r.params["full"].(bool)
	names, _ := r.params["names"].([]any)
	for _, v := range names {
		name, ok := v.(string)
		if !ok || name == "" || len(name) > 255 {
			bad(models.Invalid("names must be non-empty strings of at most 255 characters, got %v", v))
			return
		}
		p.Names = append(p.Names, name)
	}
	if len(p.Names) == 0 {
		bad(models.Invalid("names must name at least one clone"))
		return
	}
	switch p.Strategy {
	case "", "InstantStart":
		p.Strategy = "InstantStart"
	case workflows.StrategyCreateStopped:
	default:
		bad(&models.Error{Kind: models.KindInvalid, Code: models.CodeOperation, Message: "not supported: strategy " + p.Strategy,
			Details: "clones are started (InstantStart) or made stopped with their disks (CreateStopped)"})
		return
	}
	for _, k := range []string{"vmNicParams", "rootVolumeSystemTags", "dataVolumeSystemTags"} {
		if l, _ := r.params[k].([]any); len(l) > 0 {
			bad(&models.Error{Kind: models.KindInvalid, Code: models.CodeOperation, Message: "not supported: " + k,
				Details: "a clone's NICs take new addresses on its source's L3 networks, and its volumes no system tags"})
			return
		}
	}
	ctx := r.c.Request.Context()
	if ok, err := s.o.Store.Exists(ctx, store.ResVMInstance, p.SourceVMUUID); err != nil || !ok {
		if err == nil {
			err = models.NotFound("cannot find VmInstance[uuid:%s]", p.SourceVMUUID)
		}
		bad(err)
		return
	}
	for range p.Names {
		p.VMUUIDs = append(p.VMUUIDs, models.NewUUID())
	}
	if len(p.Names) == 1 { // resourceUuid names the one clone
		p.VMUUIDs[0] = s.newResourceUUID(r)
	}
	s.startJob(r, workflows.CloneVM, p)
}

// reimageVM starts ReimageVmInstance's job.
func (s *Server) reimageVM(r *request) {
	s.startJob(r, workflows.ReimageVM, workflows.VMOpParams{VMUUID: r.str("vmInstanceUuid")})
}
