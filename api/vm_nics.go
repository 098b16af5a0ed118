package api

import (
	"net/http"
	"strings"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// vmNICHandlers serve the APIs a VM shares with VPC routers for the calls
// that name no router (routerShared wraps them).
var vmNICHandlers = map[string]handlerFunc{
	"AttachL3NetworkToVm":   (*Server).attachL3ToVM,
	"DetachL3NetworkFromVm": (*Server).detachL3FromVM,
}

// attachL3ToVM answers AttachL3NetworkToVm for a VM: the static address
// comes from staticIp or a staticIp::<l3Uuid>::<ip> system tag. The NIC's
// UUID is chosen here so that a retried step finds its own rows.
// driverType, customMac and vmNicParams are not supported yet and refused
// rather than ignored.
func (s *Server) attachL3ToVM(r *request) {
	for _, k := range []string{"driverType", "customMac", "vmNicParams"} {
		if v := r.str(k); v != "" {
			writeError(r.c, http.StatusBadRequest, models.Invalid("not supported: AttachL3NetworkToVm with %s", k))
			return
		}
	}
	vm, l3 := r.str("vmInstanceUuid"), r.str("l3NetworkUuid")
	ctx := r.c.Request.Context()
	for _, ref := range []struct{ res, uuid string }{{store.ResVMInstance, vm}, {store.ResL3Network, l3}} {
		if ok, err := s.o.Store.Exists(ctx, ref.res, ref.uuid); err != nil || !ok {
			if err == nil {
				err = models.NotFound("cannot find %s[uuid:%s]", ref.res, ref.uuid)
			}
			writeError(r.c, 0, err)
			return
		}
	}
	ip := r.str("staticIp")
	for _, t := range r.systemTags {
		rest, ok := strings.CutPrefix(t, activities.StaticIPTag)
		if !ok {
			continue
		}
		tagL3, tagIP, ok := strings.Cut(rest, "::")
		if !ok {
			writeError(r.c, http.StatusBadRequest, models.Invalid("bad system tag [%s]; want staticIp::<l3Uuid>::<ip>", t))
			return
		}
		if tagL3 == l3 && ip == "" {
			ip = tagIP
		}
	}
	s.startJob(r, workflows.AttachVMNIC, activities.NICAttachParams{VMUUID: vm, L3UUID: l3,
		NICUUID: s.newResourceUUID(r), StaticIP: ip})
}

// detachL3FromVM answers DetachL3NetworkFromVm for a VM's NIC.
func (s *Server) detachL3FromVM(r *request) {
	nic := r.str("vmNicUuid")
	if ok, err := s.o.Store.Exists(r.c.Request.Context(), store.ResVMNic, nic); err != nil || !ok {
		if err == nil {
			err = models.NotFound("cannot find VmNic[uuid:%s]", nic)
		}
		writeError(r.c, 0, err)
		return
	}
	s.startJob(r, workflows.DetachVMNIC, activities.NICRef{NICUUID: nic})
}
