package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/aliyun"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/query"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// hybridRoutes are the hybrid cloud's APIs (Alibaba Cloud, FEATURES.md §6).
var hybridRoutes = routeSet{
	queries: map[string]string{
		"QueryHybridKeySecret": store.ResHybridAccount, "QueryDataCenterFromLocal": store.ResDataCenter,
		"QueryIdentityZoneFromLocal": store.ResIdentityZone, "QueryEcsVpcFromLocal": store.ResEcsVpc,
		"QueryEcsVSwitchFromLocal": store.ResEcsVSwitch, "QueryEcsSecurityGroupFromLocal": store.ResEcsSecurityGroup,
		"QueryEcsSecurityGroupRuleFromLocal": store.ResEcsSecurityGroupRule, "QueryEcsImageFromLocal": store.ResEcsImage,
		"QueryEcsInstanceFromLocal": store.ResEcsInstance, "QueryHybridEipFromLocal": store.ResHybridEip,
		"QueryOssBucketFileName": store.ResOssBucket, "QueryVpcVpnGatewayFromLocal": store.ResVpnGateway,
		"QueryVpcUserVpnGatewayFromLocal": store.ResUserVpnGateway, "QueryVpcVpnConnectionFromLocal": store.ResVpnConnection,
		"QueryVpcIkeConfigFromLocal": store.ResVpnIkeConfig, "QueryVpcIpSecConfigFromLocal": store.ResVpnIPSecConfig,
		"QueryAliyunVirtualRouterFromLocal": store.ResAliyunVRouter, "QueryAliyunRouteEntryFromLocal": store.ResAliyunRouteEntry,
		"QueryVirtualBorderRouterFromLocal": store.ResVirtualBorderRouter, "QueryAliyunRouterInterfaceFromLocal": store.ResAliyunRouterIface,
		"QueryConnectionBetweenL3NetworkAndAliyunVSwitch": store.ResHybridConnection,
	},
	ops: []string{
		"DeleteAliyunKeySecret", "DeleteHybridKeySecret", "UpdateAliyunKeySecret", "UpdateHybridKeySecret",
		"AttachHybridKey", "AttachAliyunKey", "DetachHybridKey", "DetachAliyunKey",
		"DeleteDataCenterInLocal", "DeleteIdentityZoneInLocal", "DeleteEcsVpcInLocal", "DeleteEcsVSwitchInLocal",
		"DeleteEcsSecurityGroupInLocal", "DeleteEcsImageLocal", "DeleteEcsInstanceLocal", "DeleteHybridEipFromLocal",
		"UpdateEcsVpc", "UpdateEcsVSwitch", "UpdateEcsSecurityGroup", "UpdateEcsImage", "UpdateHybridEip",
		"DeleteOssBucketNameLocal", "AttachOssBucketToEcsDataCenter", "DetachOssBucketFromEcsDataCenter", "UpdateOssBucket",
		"DeleteVpcIkeConfigLocal", "DeleteVpcIpSecConfigLocal", "DeleteVpcUserVpnGatewayLocal", "DeleteVpcVpnConnectionLocal",
		"DeleteVpcVpnGatewayLocal", "UpdateVpcUserVpnGateway", "UpdateVpcVpnGateway",
		"DeleteVirtualRouterLocal", "UpdateAliyunVirtualRouter",
		"DeleteVirtualBorderRouterLocal", "DeleteAliyunRouterInterfaceLocal", "UpdateConnectionBetweenL3NetWorkAndAliyunVSwitch",
	},
	special: map[string]handlerFunc{
		"AddAliyunKeySecret":                               (*Server).addHybridKey,
		"AddHybridKeySecret":                               (*Server).addHybridKey,
		"GetDataCenterFromRemote":                          hybridRead(workflows.ReadRegions),
		"GetIdentityZoneFromRemote":                        hybridRead(workflows.ReadZones),
		"GetEcsInstanceType":                               hybridRead(workflows.ReadInstanceType),
		"GetEcsInstanceVncUrl":                             hybridRead(workflows.ReadVncURL),
		"AddDataCenterFromRemote":                          hybridJob(workflows.HybridAddDataCenter, "", true),
		"AddIdentityZoneFromRemote":                        hybridJob(workflows.HybridAddIdentityZone, "", true),
		"SyncDataCenterFromRemote":                         hybridJob(workflows.HybridSync, workflows.SyncDataCenter, false),
		"SyncIdentityFromRemote":                           hybridJob(workflows.HybridSync, workflows.SyncIdentityZones, false),
		"SyncEcsVpcFromRemote":                             hybridJob(workflows.HybridSync, workflows.KindVpc, false),
		"SyncEcsVSwitchFromRemote":                         hybridJob(workflows.HybridSync, workflows.KindVSwitch, false),
		"SyncEcsSecurityGroupFromRemote":                   hybridJob(workflows.HybridSync, workflows.KindSecurityGroup, false),
		"SyncEcsSecurityGroupRuleFromRemote":               hybridJob(workflows.HybridSync, workflows.KindSecurityGroupRule, false),
		"SyncEcsImageFromRemote":                           hybridJob(workflows.HybridSync, workflows.KindImage, false),
		"SyncEcsInstanceFromRemote":                        hybridJob(workflows.HybridSync, workflows.KindInstance, false),
		"SyncHybridEipFromRemote":                          hybridJob(workflows.HybridSync, workflows.KindEip, false),
		"CreateEcsVpcRemote":                               hybridJob(workflows.HybridCreate, workflows.KindVpc, true),
		"CreateEcsVSwitchRemote":                           hybridJob(workflows.HybridCreate, workflows.KindVSwitch, true),
		"CreateEcsSecurityGroupRemote":                     hybridJob(workflows.HybridCreate, workflows.KindSecurityGroup, true),
		"CreateEcsSecurityGroupRuleRemote":                 hybridJob(workflows.HybridCreate, workflows.KindSecurityGroupRule, true),
		"CreateHybridEip":                                  hybridJob(workflows.HybridCreate, workflows.KindEip, true),
		"DeleteEcsVpcRemote":                               hybridJob(workflows.HybridDeleteRemote, store.ResEcsVpc, false),
		"DeleteEcsVSwitchRemote":                           hybridJob(workflows.HybridDeleteRemote, store.ResEcsVSwitch, false),
		"DeleteEcsSecurityGroupRemote":                     hybridJob(workflows.HybridDeleteRemote, store.ResEcsSecurityGroup, false),
		"DeleteEcsSecurityGroupRuleRemote":                 hybridJob(workflows.HybridDeleteRemote, store.ResEcsSecurityGroupRule, false),
		"DeleteHybridEipRemote":                            hybridJob(workflows.HybridDeleteRemote, store.ResHybridEip, false),
		"DeleteEcsImageRemote":                             hybridJob(workflows.HybridDeleteRemote, store.ResEcsImage, false),
		"DeleteEcsInstance":                                hybridJob(workflows.HybridDeleteRemote, store.ResEcsInstance, false),
		"CreateEcsInstanceFromEcsImage":                    (*Server).createEcs,
		"StartEcsInstance":                                 ecsOp(workflows.ActionStart),
		"StopEcsInstance":                                  ecsOp(workflows.ActionStop),
		"RebootEcsInstance":                                ecsOp(workflows.ActionReboot),
		"UpdateEcsInstance":                                ecsOp(workflows.ActionModify),
		"AttachHybridEipToEcs":                             eipOp(true),
		"DetachHybridEipFromEcs":                           eipOp(false),
		"CreateEcsImageFromLocalImage":                     (*Server).createEcsImage,
		"CreateOssBucketRemote":                            (*Server).createOssBucket,
		"AddOssBucketFromRemote":                           (*Server).addOssBucket,
		"DeleteOssBucketRemote":                            hybridJob(workflows.HybridDeleteRemote, store.ResOssBucket, false),
		"GetOssBucketNameFromRemote":                       hybridRead(workflows.ReadOssBuckets),
		"GetVpcVpnConfigurationFromRemote":                 hybridRead(workflows.ReadVpnConfiguration),
		"SyncVpcVpnGatewayFromRemote":                      hybridJob(workflows.HybridSync, workflows.KindVpnGateway, false),
		"SyncVpcUserVpnGatewayFromRemote":                  hybridJob(workflows.HybridSync, workflows.KindUserGateway, false),
		"SyncVpcVpnConnectionFromRemote":                   hybridJob(workflows.HybridSync, workflows.KindVpnConnection, false),
		"CreateVpcUserVpnGatewayRemote":                    hybridJob(workflows.HybridCreate, workflows.KindUserGateway, true),
		"CreateVpcVpnConnectionRemote":                     hybridJob(workflows.HybridCreate, workflows.KindVpnConnection, true),
		"DeleteVpcUserVpnGatewayRemote":                    hybridJob(workflows.HybridDeleteRemote, store.ResUserVpnGateway, false),
		"DeleteVpcVpnConnectionRemote":                     hybridJob(workflows.HybridDeleteRemote, store.ResVpnConnection, false),
		"CreateVpnIkeConfig":                               (*Server).createIkeConfig,
		"SyncAliyunVirtualRouterFromRemote":                hybridJob(workflows.HybridSync, workflows.KindVirtualRouter, false),
		"SyncAliyunRouteEntryFromRemote":                   hybridJob(workflows.HybridSync, workflows.KindRouteEntry, false),
		"CreateAliyunVpcVirtualRouterEntryRemote":          hybridJob(workflows.HybridCreate, workflows.KindRouteEntry, true),
		"DeleteAliyunRouteEntryRemote":                     hybridJob(workflows.HybridDeleteRemote, store.ResAliyunRouteEntry, false),
		"CreateVpnIpsecConfig":                             hybridJob(workflows.HybridAddVpnConfig, workflows.KindIpsecConfig, true),
		"SyncVirtualBorderRouterFromRemote":                hybridJob(workflows.HybridSync, workflows.KindVbr, false),
		"UpdateVirtualBorderRouterRemote":                  updateRemote(store.ResVirtualBorderRouter, workflows.ActionUpdate),
		"RecoveryVirtualBorderRouterRemote":                updateRemote(store.ResVirtualBorderRouter, workflows.ActionRecover),
		"TerminateVirtualBorderRouterRemote":               updateRemote(store.ResVirtualBorderRouter, workflows.ActionTerminate),
		"SyncAliyunRouterInterfaceFromRemote":              hybridJob(workflows.HybridSync, workflows.KindRouterInterface, false),
		"CreateAliyunRouterInterfaceRemote":                hybridJob(workflows.HybridCreate, workflows.KindRouterInterface, true),
		"DeleteAliyunRouterInterfaceRemote":                hybridJob(workflows.HybridDeleteRemote, store.ResAliyunRouterIface, false),
		"UpdateAliyunRouteInterfaceRemote":                 (*Server).updateRouterInterface,
		"StartConnectionBetweenAliyunRouterInterface":      (*Server).connectRouterInterfaces,
		"CreateConnectionBetweenL3NetworkAndAliyunVSwitch": (*Server).createInterconnect,
		"GetConnectionBetweenL3NetworkAndAliyunVSwitch":    (*Server).getInterconnects,
		"DeleteConnectionBetweenL3NetWorkAndAliyunVSwitch": hybridJob(workflows.HybridDeleteInterconnect, store.ResHybridConnection, false),
		"UpdateVpcVpnConnectionRemote":                     updateRemote(store.ResVpnConnection, workflows.ActionUpdate),
	},
}

func param(r *request, k string) string {
	v, _ := r.params[k].(string)
	return v
}

// sealParam replaces a secret param by its sealed form, so that it enters
// no workflow input (and so no history) in clear.
func (s *Server) sealParam(r *request, k string) bool {
	v := param(r, k)
	if v == "" {
		return true
	}
	pub, err := s.o.Store.SealingKey(r.c.Request.Context())
	if err == nil {
		v, err = aliyun.Seal(pub, v)
	}
	if err != nil {
		writeError(r.c, 0, err)
		return false
	}
	r.params[k] = v
	return true
}

// addHybridKey seals the secret to the control plane's key and starts the
// job that validates the key with Alibaba (STS) and records it.
func (s *Server) addHybridKey(r *request) {
	typ := param(r, "type")
	if typ != "" && typ != models.HybridTypeAliyun {
		writeError(r.c, http.StatusBadRequest, &models.Error{Kind: models.KindInvalid, Code: models.CodeInvalidArgument,
			Message: "not supported: hybrid type " + typ, Cause: errors.ErrUnsupported})
		return
	}
	if !s.sealParam(r, "secret") {
		return
	}
	account := r.session.AccountUUID
	if a := param(r, "accountUuid"); a != "" {
		account = a
	}
	s.startJob(r, workflows.HybridAddKey, workflows.AddKeyParams{UUID: s.newResourceUUID(r), Name: param(r, "name"),
		Description: param(r, "description"), Type: models.HybridTypeAliyun, AKey: param(r, "key"), SealedSecret: param(r, "secret"),
		AccountUUID: account, SystemTags: r.systemTags, UserTags: r.userTags})
}

// hybridJob starts a hybrid workflow on the API's params; create gives
// the new resource its UUID.
func hybridJob(workflow, what string, create bool) handlerFunc {
	return func(s *Server, r *request) {
		p := workflows.HybridParams{What: what, UUID: param(r, "uuid"), AccountUUID: r.session.AccountUUID, Args: r.params,
			SystemTags: r.systemTags, UserTags: r.userTags}
		if create {
			p.UUID = s.newResourceUUID(r)
		}
		s.startJob(r, workflow, p)
	}
}

func (s *Server) createEcs(r *request) {
	if param(r, "instanceType") == "" {
		writeError(r.c, http.StatusBadRequest, &models.Error{Kind: models.KindInvalid, Code: models.CodeInvalidArgument,
			Message: "not supported: an instance offering instead of instanceType", Details: "give instanceType (GetEcsInstanceType lists them)",
			Cause: errors.ErrUnsupported})
		return
	}
	if !s.sealParam(r, "ecsRootPassword") {
		return
	}
	s.startJob(r, workflows.HybridCreateEcs, workflows.HybridParams{What: workflows.KindInstance, UUID: s.newResourceUUID(r),
		AccountUUID: r.session.AccountUUID, Args: r.params, SystemTags: r.systemTags, UserTags: r.userTags})
}

func ecsOp(op string) handlerFunc {
	return func(s *Server, r *request) {
		if !s.sealParam(r, "password") {
			return
		}
		s.startJob(r, workflows.HybridEcsOp, workflows.EcsOpParams{UUID: param(r, "uuid"), Op: op, AccountUUID: r.session.AccountUUID, Args: r.params})
	}
}

func eipOp(attach bool) handlerFunc {
	return func(s *Server, r *request) {
		s.startJob(r, workflows.HybridEipOp, workflows.EipOpParams{EipUUID: param(r, "eipUuid"), EcsUUID: param(r, "ecsUuid"),
			Attach: attach, AccountUUID: r.session.AccountUUID})
	}
}

// ossOwnKey refuses a bucket's own AccessKey (ossKey/ossSecret): buckets
// are reached with the account's current key.
func ossOwnKey(r *request) bool {
	if param(r, "ossKey") != "" || param(r, "ossSecret") != "" || param(r, "ossDomain") != "" {
		writeError(r.c, http.StatusBadRequest, &models.Error{Kind: models.KindInvalid, Code: models.CodeInvalidArgument,
			Message: "not supported: ossDomain, ossKey and ossSecret", Details: "buckets are reached with the current AccessKey",
			Cause: errors.ErrUnsupported})
		return true
	}
	return false
}

func (s *Server) createOssBucket(r *request) {
	if ossOwnKey(r) {
		return
	}
	hybridJob(workflows.HybridCreate, workflows.KindOssBucket, true)(s, r)
}

func (s *Server) addOssBucket(r *request) {
	if ossOwnKey(r) {
		return
	}
	s.startJob(r, workflows.HybridRecord, workflows.RecordParams{Ref: workflows.RemoteRef{Kind: workflows.KindOssBucket,
		UUID: s.newResourceUUID(r), ID: param(r, "bucketName"), AccountUUID: r.session.AccountUUID},
		Args: r.params, SystemTags: r.systemTags, UserTags: r.userTags})
}

// createEcsImage checks the local image and the data center, then starts
// the upload-and-import saga.
func (s *Server) createEcsImage(r *request) {
	ctx := r.c.Request.Context()
	var img models.Image
	if err := s.o.Store.Get(ctx, store.ResImage, param(r, "imageUuid"), &img); err != nil {
		writeError(r.c, 0, err)
		return
	}
	if ok, err := s.o.Store.Exists(ctx, store.ResDataCenter, param(r, "dataCenterUuid")); err != nil || !ok {
		writeError(r.c, 0, models.NotFound("cannot find DataCenter[uuid:%s]", param(r, "dataCenterUuid")))
		return
	}
	s.startJob(r, workflows.HybridCreateEcsImage, workflows.HybridParams{What: workflows.KindImage, UUID: s.newResourceUUID(r),
		AccountUUID: r.session.AccountUUID, Args: r.params, SystemTags: r.systemTags, UserTags: r.userTags})
}

// hybridReadTimeout bounds a synchronous Get*FromRemote call.
const hybridReadTimeout = time.Minute

// hybridRead answers a synchronous API that reads Alibaba: the call runs
// as a short workflow on a control-plane worker (which holds the keys) and
// the handler waits for its result.
func hybridRead(what string) handlerFunc {
	return func(s *Server, r *request) {
		p := workflows.HybridParams{What: what, UUID: param(r, "uuid"), AccountUUID: r.session.AccountUUID, Args: r.params}
		var res activities.Result
		if !s.readWorkflow(r, "hybrid-read-", hybridReadTimeout, workflows.HybridRead, p, &res) {
			return
		}
		r.c.JSON(http.StatusOK, gin.H{res.Key: res.Value})
	}
}

// createIkeConfig seals the pre-shared key before it enters the job.
func (s *Server) createIkeConfig(r *request) {
	if !s.sealParam(r, "psk") {
		return
	}
	hybridJob(workflows.HybridAddVpnConfig, workflows.KindIkeConfig, true)(s, r)
}

// updateRemote starts the job that runs one remote action on a recorded
// resource and records it again.
func updateRemote(res, action string) handlerFunc {
	return func(s *Server, r *request) {
		s.startJob(r, workflows.HybridUpdateRemote, workflows.UpdateRemoteParams{Resource: res, UUID: param(r, "uuid"), Action: action,
			AccountUUID: r.session.AccountUUID, Args: r.params})
	}
}

// updateRouterInterface activates or deactivates a router interface (op
// active or inactive).
func (s *Server) updateRouterInterface(r *request) {
	action := workflows.ActionActivate
	if param(r, "op") == "inactive" {
		action = workflows.ActionDeactivate
	}
	updateRemote(store.ResAliyunRouterIface, action)(s, r)
}

// connectRouterInterfaces pairs a VBR's router interface with a VRouter's
// and connects them.
func (s *Server) connectRouterInterfaces(r *request) {
	s.startJob(r, workflows.HybridConnectInterfaces, workflows.ConnectInterfacesParams{VbrInterfaceUUID: param(r, "vbrInterfaceUuid"),
		VRouterInterfaceUUID: param(r, "vrouterInterfaceUuid"), AccountUUID: r.session.AccountUUID})
}

// createInterconnect starts the one-step interconnect of a local L3
// network and an Alibaba VPC over IPsec. ZStack's vbrUuid names the
// Alibaba-side gateway: a VPN gateway (a VBR answers "not supported");
// vSwitchUuid and vipUuid are optional extensions.
func (s *Server) createInterconnect(r *request) {
	uuid := s.newResourceUUID(r)
	part := func(what string) string { return models.NameUUID("interconnect", uuid, what) }
	s.startJob(r, workflows.HybridInterconnect, workflows.InterconnectParams{UUID: uuid, Name: param(r, "name"),
		Description: param(r, "description"), AccountUUID: r.session.AccountUUID, L3NetworkUUID: param(r, "l3networkUuid"),
		EcsVpcUUID: param(r, "vpcUuid"), GatewayUUID: param(r, "vbrUuid"), VSwitchUUID: param(r, "vSwitchUuid"),
		CpeIP: param(r, "cpeIp"), VipUUID: param(r, "vipUuid"),
		UserGatewayUUID: part("userGateway"), IkeConfigUUID: part("ike"), IpsecConfigUUID: part("ipsec"),
		VpnConnectionUUID: part("vpnConnection"), IPsecUUID: part("ipsecConnection"), RouteEntryUUID: part("routeEntry")})
}

// getInterconnects answers the interconnects that involve a resource: a
// local L3 network, a VPC router (through its L3 networks), an Alibaba VPC
// or a VBR (interconnects run over IPsec, so a VBR has none).
func (s *Server) getInterconnects(r *request) {
	ctx := r.c.Request.Context()
	uuid := param(r, "uuid")
	var stmt string
	switch param(r, "resourceType") {
	case "l3network":
		stmt = "SELECT uuid FROM hybrid_connections WHERE l3_network_uuid = ?"
	case "vroutervm":
		stmt = "SELECT uuid FROM hybrid_connections WHERE l3_network_uuid IN (SELECT l3_network_uuid FROM virtual_router_nics WHERE vm_instance_uuid = ?)"
	case "vpc":
		stmt = "SELECT uuid FROM hybrid_connections WHERE ecs_vpc_uuid = ?"
	}
	var uuids []string
	if stmt != "" {
		if err := s.o.Store.DB().SelectContext(ctx, &uuids, s.o.Store.DB().Rebind(stmt), uuid); err != nil {
			writeError(r.c, 0, err)
			return
		}
	}
	out := []any{}
	if len(uuids) > 0 {
		q := query.Query{Limit: len(uuids), Conditions: []query.Condition{{Path: []string{"uuid"}, Op: query.OpIn,
			Value: strings.Join(uuids, ","), Values: uuids}}}
		items, _, err := s.o.Store.Query(ctx, store.ResHybridConnection, q)
		if err != nil {
			writeError(r.c, 0, err)
			return
		}
		out = append(out, items...)
	}
	r.c.JSON(http.StatusOK, gin.H{"inventories": out})
}
