package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// routerChangeAPIs are served by the router change workflow (database
// change, then every affected router converged; undone on failure).
var routerChangeAPIs = []string{
	"CreateVirtualRouterOffering",
	"CreateVip", "DeleteVip",
	"CreateEip", "AttachEip", "DetachEip", "DeleteEip",
	"CreatePortForwardingRule", "AttachPortForwardingRule", "DetachPortForwardingRule", "DeletePortForwardingRule",
	"CreateLoadBalancer", "DeleteLoadBalancer", "CreateLoadBalancerListener", "DeleteLoadBalancerListener",
	"AddVmNicToLoadBalancer", "RemoveVmNicFromLoadBalancer",
	"CreateIPsecConnection", "DeleteIPsecConnection",
	"CreateVRouterRouteTable", "DeleteVRouterRouteTable", "AddVRouterRouteEntry", "DeleteVRouterRouteEntry",
	"AttachVRouterRouteTableToVRouter", "DetachVRouterRouteTableFromVRouter",
	"UpdateVirtualRouterOffering", "UpdateVip", "UpdateEip", "UpdatePortForwardingRule", "UpdateLoadBalancer",
	"UpdateLoadBalancerListener", "UpdateIPsecConnection", "UpdateVRouterRouteTable",
	"ChangeVipState", "ChangeEipState", "ChangePortForwardingRuleState", "ChangeIPSecConnectionState",
	"SetVipQos", "DeleteVipQos",
}

// routerRoutes are the router appliance's own APIs.
var routerRoutes = routeSet{
	queries: map[string]string{
		"QueryVpcRouter": store.ResVpcRouter, "QueryApplianceVm": store.ResVpcRouter, "QueryVirtualRouterVm": store.ResVpcRouter,
		"QueryVirtualRouterOffering": store.ResVirtualRouterOffering,
		"QueryVip":                   store.ResVip, "QueryEip": store.ResEip, "QueryPortForwardingRule": store.ResPortForwarding,
		"QueryLoadBalancer": store.ResLoadBalancer, "QueryLoadBalancerListener": store.ResLBListener,
		"QueryIPSecConnection": store.ResIPsec, "QueryVRouterRouteTable": store.ResRouteTable,
		"QueryVRouterRouteEntry": store.ResVRouterRouteEntry, "QueryVirtualRouterVRouterRouteTableRef": store.ResRouteTableRef,
	},
	special: routerSpecial(),
}

func routerSpecial() map[string]handlerFunc {
	m := map[string]handlerFunc{
		"CreateVpcVRouter":       (*Server).createVpcRouter,
		"ReconnectVirtualRouter": routerOp("vmInstanceUuid", models.RouterActReconnect, nil),
	}
	for _, name := range routerChangeAPIs {
		m[name] = func(s *Server, r *request) { s.routerChange(r, name) }
	}
	return m
}

// routerShared are the APIs a VPC router shares with VMs and instance
// offerings, as in ZStack: each wraps the API's own handler (orig), which
// serves the calls that name no router.
var routerShared = map[string]func(orig handlerFunc) handlerFunc{
	"StartVmInstance":   func(orig handlerFunc) handlerFunc { return routerOp("uuid", models.RouterActStart, orig) },
	"StopVmInstance":    func(orig handlerFunc) handlerFunc { return routerOp("uuid", models.RouterActStop, orig) },
	"RebootVmInstance":  func(orig handlerFunc) handlerFunc { return routerOp("uuid", models.RouterActReboot, orig) },
	"DestroyVmInstance": func(orig handlerFunc) handlerFunc { return routerOp("uuid", models.RouterActDestroy, orig) },
	"MigrateVm": func(orig handlerFunc) handlerFunc {
		return func(s *Server, r *request) {
			if !s.isRouter(r, "vmInstanceUuid") {
				orig(s, r)
				return
			}
			uuid, _ := r.params["vmInstanceUuid"].(string)
			host, _ := r.params["hostUuid"].(string)
			s.startJob(r, workflows.RouterMigrate, workflows.RouterMigrateParams{RouterUUID: uuid, HostUUID: host})
		}
	},
	"AttachL3NetworkToVm": func(orig handlerFunc) handlerFunc {
		return func(s *Server, r *request) {
			if s.isRouter(r, "vmInstanceUuid") {
				s.routerChange(r, "AttachL3NetworkToVm")
				return
			}
			orig(s, r)
		}
	},
	"DetachL3NetworkFromVm": func(orig handlerFunc) handlerFunc {
		return func(s *Server, r *request) {
			nic, _ := r.params["vmNicUuid"].(string)
			if s.o.Store.RouterOfNic(r.c.Request.Context(), nic) != "" {
				s.routerChange(r, "DetachL3NetworkFromVm")
				return
			}
			orig(s, r)
		}
	},
	"DeleteInstanceOffering": func(orig handlerFunc) handlerFunc {
		return func(s *Server, r *request) {
			uuid, _ := r.params["uuid"].(string)
			if ok, err := s.o.Store.Exists(r.c.Request.Context(), store.ResVirtualRouterOffering, uuid); err == nil && ok {
				s.routerChange(r, "DeleteVirtualRouterOffering")
				return
			}
			orig(s, r)
		}
	},
}

// withRouterRoutes returns sets plus routerRoutes, with every API of
// routerShared served by its wrapper around the handler another set gave
// it (a generic op becomes a special handler calling op). One URL keeps
// one route: the router never shadows a VM's or an offering's handler.
func withRouterRoutes(sets []routeSet) []routeSet {
	out := make([]routeSet, 0, len(sets)+1)
	served := map[string]bool{}
	for _, set := range sets {
		n := routeSet{queries: set.queries, special: map[string]handlerFunc{}}
		for name, h := range set.special {
			if wrap, ok := routerShared[name]; ok {
				h = wrap(h)
				served[name] = true
			}
			n.special[name] = h
		}
		for _, name := range set.ops {
			if wrap, ok := routerShared[name]; ok {
				n.special[name] = wrap((*Server).op)
				served[name] = true
				continue
			}
			n.ops = append(n.ops, name)
		}
		out = append(out, n)
	}
	own := routeSet{queries: routerRoutes.queries, special: map[string]handlerFunc{}}
	for name, h := range routerRoutes.special {
		own.special[name] = h
	}
	for name, wrap := range routerShared {
		if !served[name] {
			vm, ok := vmNICHandlers[name]
			if !ok {
				vm = notForVMs
			}
			own.special[name] = wrap(vm)
		}
	}
	return append(out, own)
}

// notForVMs answers a shared API that only routers are served by so far.
func notForVMs(_ *Server, r *request) {
	writeError(r.c, http.StatusBadRequest, (&models.Error{Kind: models.KindInvalid, Code: models.CodeOperation,
		Message: "not supported: " + r.api.Name + " of a vm instance", Details: "only vpc routers are served by this API so far"}))
}

// isRouter reports whether the param names a router.
func (s *Server) isRouter(r *request, param string) bool {
	uuid, _ := r.params[param].(string)
	return uuid != "" && s.o.Store.RouterIsRouter(r.c.Request.Context(), uuid)
}

// routerChange starts the router change workflow; creates get their UUID
// here so that a retried step finds its own rows.
func (s *Server) routerChange(r *request, op string) {
	if strings.HasPrefix(op, "Create") || strings.HasPrefix(op, "Add") {
		if _, ok := r.params["uuid"]; !ok {
			r.params["uuid"] = s.newResourceUUID(r)
		}
	}
	// The pre-shared key enters no workflow in clear: sealed here to the
	// control plane's key, the change's activity opens it and keeps it
	// encrypted.
	if op == "CreateIPsecConnection" && !s.sealParam(r, "authKey") {
		return
	}
	args, _ := json.Marshal(r.params)
	s.startJob(r, workflows.RouterChange, workflows.RouterChangeParams{Op: op, Args: args, AccountUUID: r.session.AccountUUID})
}

// createVpcRouter checks the offering at once, then starts the create saga.
func (s *Server) createVpcRouter(r *request) {
	str := func(k string) string { v, _ := r.params[k].(string); return v }
	var o models.VirtualRouterOffering
	if err := s.o.Store.Get(r.c.Request.Context(), store.ResVirtualRouterOffering, str("virtualRouterOfferingUuid"), &o); err != nil {
		writeError(r.c, 0, err)
		return
	}
	s.startJob(r, workflows.CreateVpcRouter, workflows.CreateRouterParams{RouterUUID: s.newResourceUUID(r), Name: str("name"),
		Description: str("description"), OfferingUUID: o.UUID, ZoneUUID: str("zoneUuid"), ClusterUUID: str("clusterUuid"),
		HostUUID: str("hostUuid"), AccountUUID: r.session.AccountUUID})
}

// routerOp starts a router lifecycle action; calls that name no router
// go to orig (nil: not found).
func routerOp(param, action string, orig handlerFunc) handlerFunc {
	return func(s *Server, r *request) {
		uuid, _ := r.params[param].(string)
		if !s.isRouter(r, param) {
			if orig != nil {
				orig(s, r)
				return
			}
			writeError(r.c, 0, models.NotFound("cannot find VirtualRouterVm[uuid:%s]", uuid))
			return
		}
		s.startJob(r, workflows.RouterLifecycle, workflows.RouterOpParams{RouterUUID: uuid, Action: action})
	}
}
