package api

import (
	"encoding/json"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/workflows"
)

// imageRoutes are the APIs of images made from volumes and snapshots,
// volumes made from data volume templates, and the image delete, recover,
// expunge lifecycle.
var imageRoutes = routeSet{
	special: map[string]handlerFunc{
		"CreateRootVolumeTemplateFromRootVolume":     (*Server).imageFromVolume,
		"CreateDataVolumeTemplateFromVolume":         (*Server).imageFromVolume,
		"CreateRootVolumeTemplateFromVolumeSnapshot": (*Server).imageFromVolume,
		"CreateDataVolumeTemplateFromVolumeSnapshot": (*Server).imageFromVolume,
		"CreateDataVolumeFromVolumeTemplate":         (*Server).volumeFromTemplate,
		"DeleteImage":                                imageOp(workflows.DeleteImage),
		"RecoverImage":                               imageOp(workflows.RecoverImage),
		"ExpungeImage":                               imageOp(workflows.ExpungeImage),
	},
}

// imageFromVolume starts the job making an image of a volume or snapshot;
// the API's name tells which.
func (s *Server) imageFromVolume(r *request) {
	uuid := s.newResourceUUID(r)
	r.params["uuid"] = uuid
	args, _ := json.Marshal(r.params)
	s.startJob(r, workflows.ImageFromVolume, activities.ImageFromVolumeParams{ImageUUID: uuid,
		Op: activities.OpParams{Op: r.api.Name, Args: args, AccountUUID: r.session.AccountUUID, SystemTags: r.systemTags, UserTags: r.userTags}})
}

func (s *Server) volumeFromTemplate(r *request) {
	uuid := s.newResourceUUID(r)
	r.params["uuid"] = uuid
	args, _ := json.Marshal(r.params)
	s.startJob(r, workflows.VolumeFromTemplate, workflows.VolumeFromTemplateParams{VolumeUUID: uuid,
		Op: activities.OpParams{Op: r.api.Name, Args: args, AccountUUID: r.session.AccountUUID, SystemTags: r.systemTags, UserTags: r.userTags}})
}

// imageOp starts an image lifecycle workflow on the image named by
// imageUuid (or uuid) and the backup storages named by backupStorageUuids.
func imageOp(wf string) handlerFunc {
	return func(s *Server, r *request) {
		img := r.str("imageUuid")
		if img == "" {
			img = r.str("uuid")
		}
		var bss []string
		if l, ok := r.params["backupStorageUuids"].([]any); ok {
			for _, v := range l {
				if b, ok := v.(string); ok {
					bss = append(bss, b)
				}
			}
		}
		s.startJob(r, wf, activities.ImageOpParams{ImageUUID: img, BSUUIDs: bss})
	}
}
