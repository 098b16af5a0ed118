package workflows

import (
	"encoding/json"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/netapi"
)

// The router appliance's control-plane contract: workflow names and the
// database steps of its workflows (implemented by activities/db). The host
// side is package netapi.

// Router workflow names (stable: they are in every history).
const (
	// RouterChange is every API that changes what routers do: attach and
	// detach of VPC L3s, VIP, EIP, port forwarding, load balancer, IPsec
	// and route table changes, offerings.
	RouterChange = "zcloud.RouterChange"
	// CreateVpcRouter is CreateVpcVRouter.
	CreateVpcRouter = "zcloud.CreateVpcRouter"
	// RouterLifecycle is start, stop, reboot, reconnect and destroy of a
	// router.
	RouterLifecycle = "zcloud.RouterLifecycle"
)

// Router activity names (local activities on the control plane).
const (
	ActRouterApply        = "db.RouterApply"
	ActRouterUndo         = "db.RouterUndo"
	ActRouterForget       = "db.RouterForget"
	ActRouterSpec         = "db.RouterSpec"
	ActRouterCreateRecord = "db.RouterCreateRecord"
	ActRouterDeleteRecord = "db.RouterDeleteRecord"
	ActRouterTransition   = "db.RouterTransition"
	ActRouterSetState     = "db.RouterSetState"
	ActRouterGeneration   = "db.RouterGeneration"
)

// RouterChangeParams is one router change API: its ZStack name and params
// (with "uuid" chosen by the API for creates).
type RouterChangeParams struct {
	Op          string          `json:"op"`
	Args        json.RawMessage `json:"args"`
	AccountUUID string          `json:"accountUuid"`
}

// RouterApplyParams asks for the database side of a change, journaled
// under Key (the workflow's ID) so that it can be undone.
type RouterApplyParams struct {
	Key string `json:"key"`
	RouterChangeParams
}

// RouterApplyResult is the job's reply and the routers to converge.
type RouterApplyResult struct {
	Result  activities.Result `json:"result"`
	Routers []string          `json:"routers"`
}

// RouterKey names a change's journal.
type RouterKey struct {
	Key string `json:"key"`
}

// RouterRef names a router; HostUUID, when set, is the host a spec is
// for (a migration builds the router on a host it is not placed on yet).
type RouterRef struct {
	RouterUUID string `json:"routerUuid"`
	HostUUID   string `json:"hostUuid,omitempty"`
}

// RouterSpecResult is a router's desired state as its host needs it; an
// empty State means the router does not exist.
type RouterSpecResult struct {
	HostUUID string      `json:"hostUuid"`
	State    string      `json:"state"`
	Spec     netapi.Spec `json:"spec"`
}

// CreateRouterParams are CreateVpcVRouter's params.
type CreateRouterParams struct {
	RouterUUID   string `json:"routerUuid"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	OfferingUUID string `json:"virtualRouterOfferingUuid"`
	ZoneUUID     string `json:"zoneUuid"`
	ClusterUUID  string `json:"clusterUuid"`
	HostUUID     string `json:"hostUuid"`
	AccountUUID  string `json:"accountUuid"`
	// ApplianceVMType is the router's appliance type (empty: a VPC router).
	ApplianceVMType string `json:"applianceVmType,omitempty"`
}

// RouterRecord is where a new router was placed.
type RouterRecord struct {
	RouterUUID string `json:"routerUuid"`
	HostUUID   string `json:"hostUuid"`
}

// RouterOpParams is a lifecycle action on a router.
type RouterOpParams struct {
	RouterUUID string `json:"routerUuid"`
	Action     string `json:"action"`
}

// RouterTransitionResult is the state a router had and its host.
type RouterTransitionResult struct {
	Prev     string `json:"prev"`
	HostUUID string `json:"hostUuid"`
}

// RouterStateParams records a router's state and status.
type RouterStateParams struct {
	RouterUUID string `json:"routerUuid"`
	State      string `json:"state"`
	Status     string `json:"status,omitempty"`
}
