package api

import (
	"encoding/json"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/workflows"
)

// storageLifecycleRoutes are the state, reconnect, capacity and image cache
// APIs of primary and backup storage.
var storageLifecycleRoutes = routeSet{
	ops: []string{"UpdatePrimaryStorage", "UpdateBackupStorage", "ChangeBackupStorageState"},
	special: map[string]handlerFunc{
		"ChangePrimaryStorageState":         (*Server).changePSState,
		"ReconnectPrimaryStorage":           psOp(workflows.ReconnectPS, false),
		"SyncPrimaryStorageCapacity":        psOp(workflows.ReconnectPS, true),
		"CleanUpImageCacheOnPrimaryStorage": psOp(workflows.CleanUpImageCache, false),
	},
}

func (s *Server) changePSState(r *request) {
	args, _ := json.Marshal(r.params)
	s.startJob(r, workflows.ChangePSState, workflows.ChangePSStateParams{PSUUID: r.str("uuid"), Event: r.str("stateEvent"),
		Op: activities.OpParams{Op: "ChangePrimaryStorageState", Args: args, AccountUUID: r.session.AccountUUID}})
}

// psOp starts a primary storage workflow on the storage named by uuid (or
// primaryStorageUuid).
func psOp(wf string, sync bool) handlerFunc {
	return func(s *Server, r *request) {
		ps := r.str("primaryStorageUuid")
		if ps == "" {
			ps = r.str("uuid")
		}
		s.startJob(r, wf, workflows.PSLifecycleParams{PSUUID: ps, Sync: sync})
	}
}
