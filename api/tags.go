package api

import (
	"net/http"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/db"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/workflows"
)

// noTagPatterns says why ZStack's tag objects (/tags) answer "not
// supported".
const noTagPatterns = "ZStack's /tags objects are tag patterns (TagPatternVO: name, value, color, token type) attached to " +
	"resources by AttachTagToResources; ZCloud keeps no tag patterns: label resources with CreateUserTag and query them with QueryUserTag"

// tagRoutes are the tag APIs: system tags (validated against the patterns
// ZCloud reads, guest tags applied to the VM) and user tags (free labels).
var tagRoutes = routeSet{
	special: map[string]handlerFunc{
		"CreateSystemTag":  tagCreate(activities.TagTypeSystem),
		"CreateUserTag":    tagCreate(activities.TagTypeUser),
		"CreateSystemTags": (*Server).createSystemTags,
		"UpdateSystemTag":  (*Server).updateSystemTag,
		"DeleteTag":        (*Server).deleteTag,
		"CreateTag":        notSupported(noTagPatterns),
		"QueryTag":         notSupported(noTagPatterns),
		"UpdateTag":        notSupported(noTagPatterns),
	},
}

// tagCreate answers CreateSystemTag and CreateUserTag.
func tagCreate(typ string) handlerFunc {
	return func(s *Server, r *request) {
		s.startTagJob(r, "inventory", activities.TagParams{Action: activities.TagCreate, ResourceUUID: r.str("resourceUuid"),
			ResourceType: r.str("resourceType"), Tag: r.str("tag"), Type: typ})
	}
}

// createSystemTags answers CreateSystemTags: every tag is checked first,
// then they are created in order (all or none).
func (s *Server) createSystemTags(r *request) {
	list, _ := r.params["tags"].([]any)
	changes := make([]activities.TagParams, 0, len(list))
	for _, v := range list {
		t, ok := v.(string)
		if !ok {
			writeError(r.c, http.StatusBadRequest, models.Invalid("tags holds a %T, not a string", v))
			return
		}
		changes = append(changes, activities.TagParams{Action: activities.TagCreate, ResourceUUID: r.str("resourceUuid"),
			ResourceType: r.str("resourceType"), Tag: t, Type: activities.TagTypeSystem})
	}
	s.startTagJob(r, "inventories", changes...)
}

func (s *Server) updateSystemTag(r *request) {
	s.startTagJob(r, "inventory", activities.TagParams{Action: activities.TagUpdate, TagUUID: r.str("uuid"), Tag: r.str("tag")})
}

// deleteTag answers DeleteTag, of a system or a user tag.
func (s *Server) deleteTag(r *request) {
	s.startTagJob(r, "", activities.TagParams{Action: activities.TagDelete, TagUUID: r.str("uuid")})
}

// startTagJob checks the changes (bad input answers at once and changes
// nothing) and starts the tag job.
func (s *Server) startTagJob(r *request, key string, changes ...activities.TagParams) {
	if len(changes) == 0 {
		writeError(r.c, http.StatusBadRequest, models.Invalid("tags is required"))
		return
	}
	for i := range changes {
		changes[i].AccountUUID = r.session.AccountUUID
		if changes[i].Action == activities.TagCreate && changes[i].ResourceUUID == "" {
			writeError(r.c, http.StatusBadRequest, models.Invalid("resourceUuid is required"))
			return
		}
		if err := db.CheckTag(r.c.Request.Context(), s.o.Store, changes[i]); err != nil {
			status := 0
			if models.AsError(err).Code == db.CodePermissionDenied {
				status = http.StatusForbidden
			}
			writeError(r.c, status, err)
			return
		}
	}
	s.startJob(r, workflows.ChangeTags, activities.TagChangesParams{Changes: changes, Key: key})
}
