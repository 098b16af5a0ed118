package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/query"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// publicAPIs need no session.
var publicAPIs = map[string]bool{"LogInByAccount": true, "ValidateSession": true, "GetVersion": true}

// queries maps each Query API to the resource it reads.
var queries = map[string]string{
	"QueryZone": store.ResZone, "QueryCluster": store.ResCluster, "QueryHost": store.ResHost,
	"QueryPrimaryStorage": store.ResPrimaryStorage, "QueryBackupStorage": store.ResBackupStorage,
	"QueryImage": store.ResImage, "QueryInstanceOffering": store.ResInstanceOffering,
	"QueryDiskOffering": store.ResDiskOffering, "QueryL2Network": store.ResL2Network,
	"QueryL3Network": store.ResL3Network, "QueryIpRange": store.ResIPRange, "QueryVmInstance": store.ResVMInstance,
	"QueryVmNic": store.ResVMNic, "QueryVolume": store.ResVolume, "QueryGlobalConfig": store.ResGlobalConfig,
	"QuerySystemTag": store.ResSystemTag, "QueryUserTag": store.ResUserTag,
}

// opAPIs are served by the generic one-step job; creates get a new UUID.
var opAPIs = []string{
	"CreateZone", "UpdateZone", "ChangeZoneState", "DeleteZone",
	"CreateCluster", "UpdateCluster", "ChangeClusterState", "DeleteCluster",
	"UpdateHost",
	"AddSimulatorPrimaryStorage", "DeletePrimaryStorage", "AddSimulatorBackupStorage",
	"DetachPrimaryStorageFromCluster", "AttachBackupStorageToZone", "DetachBackupStorageFromZone",
	// AttachL2NetworkToCluster, DetachL2NetworkFromCluster and DeleteL2Network
	// are workflows (api/network.go).
	"UpdateImage",
	"CreateInstanceOffering", "UpdateInstanceOffering", "ChangeInstanceOfferingState", "DeleteInstanceOffering",
	"CreateDiskOffering", "UpdateDiskOffering", "ChangeDiskOfferingState", "DeleteDiskOffering",
	"CreateL2NoVlanNetwork", "UpdateL2Network",
	"CreateL3Network", "UpdateL3Network", "DeleteL3Network", "AddIpRange", "AddIpRangeByNetworkCidr", "DeleteIpRange",
	"AddDnsToL3Network", "UpdateGlobalConfig",
}

// special APIs with their own handlers.
var special = map[string]handlerFunc{
	"LogInByAccount":             (*Server).login,
	"LogOut":                     (*Server).logout,
	"ValidateSession":            (*Server).validateSession,
	"GetVersion":                 (*Server).getVersion,
	"GetFreeIp":                  (*Server).getFreeIP,
	"CreateVmInstance":           (*Server).createVM,
	"StartVmInstance":            vmOp(workflows.StartVM),
	"StopVmInstance":             vmOp(workflows.StopVM),
	"RebootVmInstance":           vmOp(workflows.RebootVM),
	"DestroyVmInstance":          vmOp(workflows.DestroyVM),
	"RecoverVmInstance":          vmOp(workflows.RecoverVM),
	"ExpungeVmInstance":          vmOp(workflows.ExpungeVM),
	"AddSimulatorHost":           (*Server).addSimulatorHost,
	"AddKVMHost":                 (*Server).addKVMHost,
	"AddImageStoreBackupStorage": (*Server).addImageStoreBS,
	"DeleteBackupStorage":        (*Server).deleteBackupStorage,
	"ReconnectBackupStorage":     (*Server).reconnectBackupStorage,
	"AddImage":                   (*Server).addImage,
	"ReconnectHost":              (*Server).reconnectHost,
	"DeleteHost":                 (*Server).deleteHost,
}

// routeSet is the routes of one area of the product: the core set is
// declared above, other areas (networking, hybrid cloud) declare theirs in
// their own files and are listed in routeSets.
type routeSet struct {
	queries map[string]string
	ops     []string
	special map[string]handlerFunc
}

// routeSets are every area's routes.
var routeSets = withRouterRoutes([]routeSet{networkRoutes, {queries: queries, ops: opAPIs, special: special}, computeRoutes, hybridRoutes, imageRoutes, cloneRoutes, volumeQoSRoutes, guestRoutes, sftpRoutes, storageLifecycleRoutes, tagRoutes})

// buildRoutes makes the route table from ZStack's API table: methods, paths
// and body keys come from api.tsv, never retyped here.
func (s *Server) buildRoutes() error {
	add := func(name string, h handlerFunc) error {
		a, ok := s.spec.API(name)
		if !ok {
			return fmt.Errorf("api %s is not in the API table", name)
		}
		s.router.routes = append(s.router.routes, &route{api: name, method: a.Method, segs: splitPath(a.Path), bodyKey: a.BodyKey, serve: h})
		return nil
	}
	for _, set := range routeSets {
		for name, res := range set.queries {
			res := res
			h := func(s *Server, r *request) { s.query(r, res) }
			if err := add(name, h); err != nil {
				return err
			}
			a, _ := s.spec.API(name)
			// GET by uuid is the same query with a uuid condition.
			s.router.routes = append(s.router.routes, &route{api: name, method: http.MethodGet, segs: append(splitPath(a.Path), "{uuid}"), serve: h})
		}
		for _, name := range set.ops {
			if err := add(name, (*Server).op); err != nil {
				return err
			}
		}
		for name, h := range set.special {
			if err := add(name, h); err != nil {
				return err
			}
		}
	}
	return nil
}

// op starts the generic one-step job of an API.
func (s *Server) op(r *request) {
	if strings.HasPrefix(r.api.Name, "Create") || strings.HasPrefix(r.api.Name, "Add") {
		if _, ok := r.params["uuid"]; !ok {
			r.params["uuid"] = s.newResourceUUID(r)
		}
	}
	args, _ := json.Marshal(r.params)
	s.startJob(r, workflows.Op, activities.OpParams{Op: r.api.Name, Args: args, AccountUUID: r.session.AccountUUID,
		SystemTags: r.systemTags, UserTags: r.userTags})
}

// newResourceUUID takes resourceUuid from the params or system tags
// (ZStack's resourceUuid:: tag) or makes a new one.
func (s *Server) newResourceUUID(r *request) string {
	if u, ok := r.params["resourceUuid"].(string); ok && models.IsUUID(u) {
		return strings.ToLower(u)
	}
	for _, t := range r.systemTags {
		if u, ok := strings.CutPrefix(t, "resourceUuid::"); ok && models.IsUUID(u) {
			return strings.ToLower(u)
		}
	}
	return models.NewUUID()
}

// query answers a Query API: {"inventories":[...]} (and "total" when asked).
func (s *Server) query(r *request, res string) {
	c := r.c
	q, err := query.Parse(c.Request.URL.Query())
	if err != nil {
		writeError(c, http.StatusBadRequest, err)
		return
	}
	if uuid, ok := r.params["uuid"].(string); ok {
		q.Conditions = append(q.Conditions, query.Condition{Path: []string{"uuid"}, Op: query.OpEq, Value: uuid})
	}
	if typ, ok := typedQueries[r.api.Name]; ok {
		q.Conditions = append(q.Conditions, query.Condition{Path: []string{"type"}, Op: query.OpEq, Value: typ})
	}
	items, total, err := s.o.Store.Query(c.Request.Context(), res, q)
	if err != nil {
		writeError(c, 0, err)
		return
	}
	if q.Count {
		c.JSON(http.StatusOK, gin.H{"total": total})
		return
	}
	if c.Query("format") == "csv" && len(q.Fields) == 0 {
		writeCSV(c, items)
		return
	}
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = it
		if len(q.Fields) > 0 {
			out[i] = pick(it, q.Fields)
		}
	}
	body := gin.H{"inventories": out}
	if q.ReplyWithCount {
		body["total"] = total
	}
	c.JSON(http.StatusOK, body)
}

// pick keeps only the named fields of an inventory.
func pick(v any, fields []string) map[string]any {
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		if x, ok := m[f]; ok {
			out[f] = x
		}
	}
	return out
}

func (s *Server) login(r *request) {
	name, _ := r.params["accountName"].(string)
	pw, _ := r.params["password"].(string)
	sess, err := s.o.Store.Login(r.c.Request.Context(), name, strings.ToLower(pw), s.o.SessionTTL)
	if err != nil {
		writeError(r.c, 0, err)
		return
	}
	r.c.JSON(http.StatusOK, gin.H{"inventory": sess})
}

func (s *Server) logout(r *request) {
	uuid, _ := r.params["sessionUuid"].(string)
	if err := s.o.Store.Logout(r.c.Request.Context(), uuid); err != nil {
		writeError(r.c, 0, err)
		return
	}
	r.c.JSON(http.StatusOK, gin.H{})
}

func (s *Server) validateSession(r *request) {
	uuid, _ := r.params["sessionUuid"].(string)
	_, err := s.o.Store.Session(r.c.Request.Context(), uuid)
	r.c.JSON(http.StatusOK, gin.H{"valid": err == nil})
}

// Version is ZCloud's version string (GetVersion).
const Version = "zcloud-0.1.0"

func (s *Server) getVersion(r *request) {
	r.c.JSON(http.StatusOK, gin.H{"version": Version})
}

func (s *Server) getFreeIP(r *request) {
	l3, _ := r.params["l3NetworkUuid"].(string)
	rng, _ := r.params["ipRangeUuid"].(string)
	start, _ := r.params["start"].(string)
	limit := 100
	if n, ok := r.params["limit"].(int64); ok && n > 0 {
		limit = int(n)
	}
	if l3 == "" && rng != "" {
		var ipr models.IPRange
		if err := s.o.Store.Get(r.c.Request.Context(), store.ResIPRange, rng, &ipr); err != nil {
			writeError(r.c, 0, err)
			return
		}
		l3 = ipr.L3NetworkUUID
	}
	if l3 == "" {
		writeError(r.c, http.StatusBadRequest, models.Invalid("l3NetworkUuid or ipRangeUuid is required"))
		return
	}
	ips, err := s.o.Store.FreeIPs(r.c.Request.Context(), l3, rng, start, limit)
	if err != nil {
		writeError(r.c, 0, err)
		return
	}
	r.c.JSON(http.StatusOK, gin.H{"inventories": ips})
}
