package api

import (
	"encoding/json"
	"strings"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// networkRoutes are the networking APIs.
var networkRoutes = routeSet{
	queries: map[string]string{
		"QueryL2VlanNetwork": store.ResL2Network, "QueryL2VxlanNetwork": store.ResL2Network,
		"QueryL2VxlanNetworkPool": store.ResL2Network, "QueryVniRange": store.ResVniRange,
		"QueryNetworkServiceProvider": store.ResNetworkProvider, "QueryNetworkServiceL3NetworkRef": store.ResNetworkL3Ref,
		"QuerySecurityGroup": store.ResSecurityGroup, "QuerySecurityGroupRule": store.ResSecurityRule,
		"QueryVmNicInSecurityGroup": store.ResVMNicSecurityRef,
	},
	ops: []string{
		"CreateL2VlanNetwork", "CreateL2VxlanNetworkPool", "CreateL2VxlanNetwork", "CreateVniRange", "UpdateVniRange", "DeleteVniRange",
		"AttachNetworkServiceToL3Network", "DetachNetworkServiceFromL3Network",
		"CreateSecurityGroup",
	},
	// These change what hosts run (bridges, firewalls): their jobs are
	// workflows that realise the change on the hosts and undo it on failure.
	special: map[string]handlerFunc{
		"AttachL2NetworkToCluster":         l2Op(workflows.AttachL2),
		"DetachL2NetworkFromCluster":       l2Op(workflows.DetachL2),
		"CreateL2VxlanNetwork":             l2Op(workflows.CreateVxlan),
		"DeleteL2Network":                  l2Op(workflows.DeleteL2Network),
		"UpdateSecurityGroup":              networkOp(workflows.SecurityGroupOp),
		"ChangeSecurityGroupState":         networkOp(workflows.SecurityGroupOp),
		"DeleteSecurityGroup":              networkOp(workflows.SecurityGroupOp),
		"AddSecurityGroupRule":             networkOp(workflows.SecurityGroupOp),
		"DeleteSecurityGroupRule":          networkOp(workflows.SecurityGroupOp),
		"AttachSecurityGroupToL3Network":   networkOp(workflows.SecurityGroupOp),
		"DetachSecurityGroupFromL3Network": networkOp(workflows.SecurityGroupOp),
		"AddVmNicToSecurityGroup":          networkOp(workflows.SecurityGroupOp),
		"DeleteVmNicFromSecurityGroup":     networkOp(workflows.SecurityGroupOp),
	},
}

// networkOp starts a networking workflow with the API's params as the
// database operation it runs (as the generic job would).
func networkOp(workflow string) handlerFunc {
	return func(s *Server, r *request) { s.startJob(r, workflow, s.networkOpParams(r)) }
}

// l2Op starts an L2 workflow, naming the L2 network and cluster for it.
func l2Op(workflow string) handlerFunc {
	return func(s *Server, r *request) {
		op := s.networkOpParams(r)
		l2 := r.str("l2NetworkUuid")
		if l2 == "" {
			l2 = r.str("uuid")
		}
		s.startJob(r, workflow, workflows.L2OpParams{Op: op, L2UUID: l2, ClusterUUID: r.str("clusterUuid")})
	}
}

func (s *Server) networkOpParams(r *request) activities.OpParams {
	if strings.HasPrefix(r.api.Name, "Create") || strings.HasPrefix(r.api.Name, "Add") {
		if _, ok := r.params["uuid"]; !ok {
			r.params["uuid"] = s.newResourceUUID(r)
		}
	}
	args, _ := json.Marshal(r.params)
	return activities.OpParams{Op: r.api.Name, Args: args, AccountUUID: r.session.AccountUUID,
		SystemTags: r.systemTags, UserTags: r.userTags}
}

// typedQueries narrow a query to one type of its resource.
var typedQueries = map[string]string{
	"QueryL2VlanNetwork": models.L2Vlan, "QueryL2VxlanNetwork": models.L2Vxlan, "QueryL2VxlanNetworkPool": models.L2VxlanPool,
	"QuerySftpBackupStorage": activities.SftpBSType,
}
