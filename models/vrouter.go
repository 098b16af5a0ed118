package models

// Appliance types of the routers created on demand for a vRouter network
// (an L3BasicNetwork with a router provider's services), as ZStack names
// them: its legacy VirtualRouter provider's appliance and its VyOS vrouter.
const (
	ApplianceVirtualRouter = "VirtualRouter"
	ApplianceVrouter       = "vrouter"
)

// L3VpcNetwork is the type of a VPC network: it is attached to a VPC router
// by API, never served by a router created on demand.
const L3VpcNetwork = "L3VpcNetwork"

// VRouterL3 is a vRouter network and the router serving it ("" for none
// yet).
type VRouterL3 struct {
	L3UUID     string `json:"l3NetworkUuid"`
	RouterUUID string `json:"routerUuid,omitempty"`
}

// VRouterPlan is how the router of a vRouter network is made: from which
// offering, in which cluster, as what appliance, owned by whom. RouterUUID
// is set instead when a router serves the L3 already; everything is empty
// when the L3 is no vRouter network (any more).
type VRouterPlan struct {
	RouterUUID      string `json:"routerUuid,omitempty"`
	Name            string `json:"name,omitempty"`
	OfferingUUID    string `json:"offeringUuid,omitempty"`
	ZoneUUID        string `json:"zoneUuid,omitempty"`
	ClusterUUID     string `json:"clusterUuid,omitempty"`
	ApplianceVMType string `json:"applianceVmType,omitempty"`
	AccountUUID     string `json:"accountUuid,omitempty"`
}
