package aliyunsim

import (
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"time"
)

// PhysicalConnection is a leased line. Real ones are ordered by hand, so the simulator seeds
// them through AddPhysicalConnection rather than an API.
type PhysicalConnection struct {
	PhysicalConnectionID string `json:"physicalConnectionId"`
	RegionID             string `json:"regionId"`
	Name                 string `json:"name"`
	AccessPointID        string `json:"accessPointId"`
}

// Vbr is a virtual border router on a physical connection.
type Vbr struct {
	Lifecycle
	VbrID                string    `json:"vbrId"`
	RegionID             string    `json:"regionId"`
	PhysicalConnectionID string    `json:"physicalConnectionId"`
	VlanID               int       `json:"vlanId"`
	LocalGatewayIP       string    `json:"localGatewayIp"`
	PeerGatewayIP        string    `json:"peerGatewayIp"`
	PeeringSubnetMask    string    `json:"peeringSubnetMask"`
	Name                 string    `json:"name"`
	Description          string    `json:"description"`
	CircuitCode          string    `json:"circuitCode"`
	RouteTableID         string    `json:"routeTableId"`
	VlanInterfaceID      string    `json:"vlanInterfaceId"`
	CreationTime         time.Time `json:"creationTime"`
}

// RouterInterface is one end of a VRouter/VBR interconnection.
type RouterInterface struct {
	Lifecycle
	RouterInterfaceID        string    `json:"routerInterfaceId"`
	RegionID                 string    `json:"regionId"`
	RouterType               string    `json:"routerType"`
	RouterID                 string    `json:"routerId"`
	Role                     string    `json:"role"`
	Spec                     string    `json:"spec"`
	Name                     string    `json:"name"`
	Description              string    `json:"description"`
	OppositeRegionID         string    `json:"oppositeRegionId"`
	OppositeRouterType       string    `json:"oppositeRouterType"`
	OppositeRouterID         string    `json:"oppositeRouterId"`
	OppositeInterfaceID      string    `json:"oppositeInterfaceId"`
	OppositeInterfaceOwnerID string    `json:"oppositeInterfaceOwnerId"`
	AccessPointID            string    `json:"accessPointId"`
	HealthCheckSourceIP      string    `json:"healthCheckSourceIp"`
	HealthCheckTargetIP      string    `json:"healthCheckTargetIp"`
	CreationTime             time.Time `json:"creationTime"`
}

// filters reads Filter.N.Key with its values Filter.N.Value.M.
func (x *rpcCtx) filters() map[string][]string {
	out := map[string][]string{}
	for i := 1; ; i++ {
		k := x.str("Filter." + strconv.Itoa(i) + ".Key")
		if k == "" {
			return out
		}
		vals := x.list("Filter."+strconv.Itoa(i)+".Value", "")
		if len(vals) == 0 {
			if v := x.str("Filter." + strconv.Itoa(i) + ".Value"); v != "" {
				vals = []string{v}
			}
		}
		out[k] = append(out[k], vals...)
	}
}

func matches(f map[string][]string, fields map[string]string) bool {
	for k, vals := range f {
		if v, ok := fields[k]; ok && !slices.Contains(vals, v) {
			return false
		}
	}
	return true
}

func createVirtualBorderRouter(x *rpcCtx) (obj, error) {
	if ids, _ := x.token("CreateVirtualBorderRouter"); len(ids) == 1 {
		return obj{"VbrId": ids[0]}, nil
	}
	pcID, err := x.req("PhysicalConnectionId")
	if err != nil {
		return nil, err
	}
	pc, ok := x.c.PhysicalConnections[pcID]
	if !ok || pc.RegionID != x.region {
		return nil, notFound("InvalidPhysicalConnectionId.NotFound", "physical connection", pcID)
	}
	if x.str("VlanId") == "" {
		return nil, missing("VlanId")
	}
	vlan, err := x.integer("VlanId", 0)
	if err != nil || vlan < 0 || vlan > 2999 {
		return nil, errf(http.StatusBadRequest, "InvalidVlanId.Malformed", "VlanId must be 0 to 2999.")
	}
	local, err := x.req("LocalGatewayIp")
	if err != nil {
		return nil, err
	}
	peer, err := x.req("PeerGatewayIp")
	if err != nil {
		return nil, err
	}
	mask, err := x.req("PeeringSubnetMask")
	if err != nil {
		return nil, err
	}
	for _, ip := range []string{local, peer} {
		if _, err := netip.ParseAddr(ip); err != nil {
			return nil, errf(http.StatusBadRequest, "InvalidIpAddress.Malformed", "%q is not an IP address.", ip)
		}
	}
	for _, v := range x.c.Vbrs {
		if v.PhysicalConnectionID == pcID && v.VlanID == vlan {
			return nil, errf(http.StatusBadRequest, "InvalidVlanId.Used", "VLAN %d is already used on %s by %s.", vlan, pcID, v.VbrID)
		}
	}
	v := &Vbr{
		VbrID: newID("vbr-"), RegionID: x.region, PhysicalConnectionID: pcID, VlanID: vlan, LocalGatewayIP: local,
		PeerGatewayIP: peer, PeeringSubnetMask: mask, Name: x.str("Name"), Description: x.str("Description"),
		CircuitCode: x.str("CircuitCode"), RouteTableID: newID("vtb-"), VlanInterfaceID: newID("ri-"), CreationTime: x.now,
	}
	v.move(x.now, 0, "active")
	x.c.Vbrs[v.VbrID] = v
	x.c.RouteTables[v.RouteTableID] = &RouteTable{RouteTableID: v.RouteTableID, RegionID: x.region,
		RouterID: v.VbrID, RouterType: "VBR", CreationTime: x.now}
	if _, k := x.token("CreateVirtualBorderRouter"); k != "" {
		x.c.Tokens[k] = []string{v.VbrID}
	}
	return obj{"VbrId": v.VbrID}, nil
}

func (x *rpcCtx) vbr() (*Vbr, error) {
	id, err := x.req("VbrId")
	if err != nil {
		return nil, err
	}
	v, ok := x.c.Vbrs[id]
	if !ok || v.RegionID != x.region {
		return nil, notFound("InvalidVbrId.NotFound", "VBR", id)
	}
	return v, nil
}

func deleteVirtualBorderRouter(x *rpcCtx) (obj, error) {
	v, err := x.vbr()
	if err != nil {
		return nil, err
	}
	for _, ri := range x.c.RouterInterfaces {
		if ri.RouterID == v.VbrID {
			return nil, errf(http.StatusBadRequest, "DependencyViolation.RouterInterface", "The VBR has router interface %s.", ri.RouterInterfaceID)
		}
	}
	for id, e := range x.c.RouteEntries {
		if e.RouteTableID == v.RouteTableID {
			delete(x.c.RouteEntries, id)
		}
	}
	delete(x.c.RouteTables, v.RouteTableID)
	delete(x.c.Vbrs, v.VbrID)
	return obj{}, nil
}

func modifyVirtualBorderRouterAttribute(x *rpcCtx) (obj, error) {
	v, err := x.vbr()
	if err != nil {
		return nil, err
	}
	for name, dst := range map[string]*string{"Name": &v.Name, "Description": &v.Description,
		"LocalGatewayIp": &v.LocalGatewayIP, "PeerGatewayIp": &v.PeerGatewayIP, "PeeringSubnetMask": &v.PeeringSubnetMask} {
		if s := x.str(name); s != "" {
			*dst = s
		}
	}
	if x.str("VlanId") != "" {
		vlan, err := x.integer("VlanId", 0)
		if err != nil || vlan < 0 || vlan > 2999 {
			return nil, errf(http.StatusBadRequest, "InvalidVlanId.Malformed", "VlanId must be 0 to 2999.")
		}
		for _, o := range x.c.Vbrs {
			if o.VbrID != v.VbrID && o.PhysicalConnectionID == v.PhysicalConnectionID && o.VlanID == vlan {
				return nil, errf(http.StatusBadRequest, "InvalidVlanId.Used", "VLAN %d is already used by %s.", vlan, o.VbrID)
			}
		}
		v.VlanID = vlan
	}
	return obj{}, nil
}

func describeVirtualBorderRouters(x *rpcCtx) (obj, error) {
	f := x.filters()
	var all []*Vbr
	for _, v := range x.c.Vbrs {
		if v.RegionID == x.region && matches(f, map[string]string{"VbrId": v.VbrID, "PhysicalConnectionId": v.PhysicalConnectionID,
			"Status": v.Status, "VlanId": strconv.Itoa(v.VlanID), "Name": v.Name}) {
			all = append(all, v)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].VbrID < all[j].VbrID })
	num, size, from, to, err := x.page(len(all))
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, v := range all[from:to] {
		ap := ""
		if pc, ok := x.c.PhysicalConnections[v.PhysicalConnectionID]; ok {
			ap = pc.AccessPointID
		}
		out = append(out, obj{
			"VbrId": v.VbrID, "Status": v.Status, "VlanId": v.VlanID, "LocalGatewayIp": v.LocalGatewayIP,
			"PeerGatewayIp": v.PeerGatewayIP, "PeeringSubnetMask": v.PeeringSubnetMask, "RouteTableId": v.RouteTableID,
			"PhysicalConnectionId": v.PhysicalConnectionID, "PhysicalConnectionStatus": "Enabled",
			"Name": v.Name, "Description": v.Description, "CircuitCode": v.CircuitCode, "AccessPointId": ap,
			"VlanInterfaceId": v.VlanInterfaceID, "CreationTime": isoTimeSec(v.CreationTime),
		})
	}
	return obj{"VirtualBorderRouterSet": obj{"VirtualBorderRouterType": out}, "TotalCount": len(all),
		"PageNumber": num, "PageSize": size}, nil
}

var riSpecs = []string{"Mini.2", "Mini.5", "Small.1", "Small.2", "Small.5", "Middle.1", "Middle.2", "Middle.5",
	"Large.1", "Large.2", "Large.5", "Xlarge.1", "Negative"}

// routerExists reports whether a VRouter (of a VPC) or VBR of the account has id.
func (x *rpcCtx) routerExists(typ, id string) bool {
	switch typ {
	case "VRouter":
		for _, v := range x.c.Vpcs {
			if v.VRouterID == id {
				return true
			}
		}
	case "VBR":
		_, ok := x.c.Vbrs[id]
		return ok
	}
	return false
}

func createRouterInterface(x *rpcCtx) (obj, error) {
	if ids, _ := x.token("CreateRouterInterface"); len(ids) == 1 {
		return obj{"RouterInterfaceId": ids[0], "OrderId": 0}, nil
	}
	typ, err := x.req("RouterType")
	if err != nil {
		return nil, err
	}
	if err := oneOf("RouterType", typ, "VRouter", "VBR"); err != nil {
		return nil, err
	}
	routerID, err := x.req("RouterId")
	if err != nil {
		return nil, err
	}
	role, err := x.req("Role")
	if err != nil {
		return nil, err
	}
	if err := oneOf("Role", role, "InitiatingSide", "AcceptingSide"); err != nil {
		return nil, err
	}
	oppRegion, err := x.req("OppositeRegionId")
	if err != nil {
		return nil, err
	}
	spec := x.str("Spec")
	if spec == "" && role == "AcceptingSide" {
		spec = "Negative"
	}
	if err := oneOf("Spec", spec, riSpecs...); err != nil {
		return nil, err
	}
	if !x.routerExists(typ, routerID) {
		return nil, notFound("InvalidRouterId.NotFound", typ, routerID)
	}
	if typ == "VBR" && role != "InitiatingSide" {
		return nil, errf(http.StatusBadRequest, "OperationUnsupported.VbrAcceptingSide", "A VBR router interface can only be the initiating side.")
	}
	oppType := x.str("OppositeRouterType")
	if oppType == "" {
		oppType = "VRouter"
	}
	ri := &RouterInterface{
		RouterInterfaceID: newID("ri-"), RegionID: x.region, RouterType: typ, RouterID: routerID, Role: role,
		Spec: spec, Name: x.str("Name"), Description: x.str("Description"), OppositeRegionID: oppRegion,
		OppositeRouterType: oppType, OppositeRouterID: x.str("OppositeRouterId"),
		OppositeInterfaceID: x.str("OppositeInterfaceId"), OppositeInterfaceOwnerID: x.str("OppositeInterfaceOwnerId"),
		AccessPointID: x.str("AccessPointId"), HealthCheckSourceIP: x.str("HealthCheckSourceIp"),
		HealthCheckTargetIP: x.str("HealthCheckTargetIp"), CreationTime: x.now,
	}
	ri.move(x.now, 0, "Idle")
	x.c.RouterInterfaces[ri.RouterInterfaceID] = ri
	if _, k := x.token("CreateRouterInterface"); k != "" {
		x.c.Tokens[k] = []string{ri.RouterInterfaceID}
	}
	return obj{"RouterInterfaceId": ri.RouterInterfaceID, "OrderId": 0}, nil
}

func (x *rpcCtx) routerInterface() (*RouterInterface, error) {
	id, err := x.req("RouterInterfaceId")
	if err != nil {
		return nil, err
	}
	ri, ok := x.c.RouterInterfaces[id]
	if !ok || ri.RegionID != x.region {
		return nil, notFound("InvalidInstanceId.NotFound", "router interface", id)
	}
	return ri, nil
}

func incorrectRI(ri *RouterInterface) error {
	return errf(http.StatusBadRequest, "IncorrectRIStatus", "The router interface %s is %s.", ri.RouterInterfaceID, ri.Status)
}

// connectRouterInterface connects an Idle initiator to its Idle acceptor (same account; the
// opposite interface may be in another region of the simulator). Both go Connecting → Active.
func connectRouterInterface(x *rpcCtx) (obj, error) {
	ri, err := x.routerInterface()
	if err != nil {
		return nil, err
	}
	if ri.Role != "InitiatingSide" {
		return nil, errf(http.StatusBadRequest, "IncorrectRole.NotInitiatingSide", "Only the initiating side can connect.")
	}
	if ri.Status != "Idle" {
		return nil, incorrectRI(ri)
	}
	if ri.OppositeInterfaceOwnerID != "" && ri.OppositeInterfaceOwnerID != x.key.AccountID {
		return nil, errf(http.StatusBadRequest, "InvalidParameter", "cross-account router interfaces are not supported by aliyunsim")
	}
	opp, ok := x.c.RouterInterfaces[ri.OppositeInterfaceID]
	if ri.OppositeInterfaceID == "" || !ok {
		return nil, errf(http.StatusBadRequest, "InvalidOppositeInterfaceId.NotFound", "The opposite router interface %q does not exist.", ri.OppositeInterfaceID)
	}
	if opp.Role != "AcceptingSide" || opp.RegionID != ri.OppositeRegionID || opp.RouterID != ri.OppositeRouterID ||
		(opp.OppositeInterfaceID != "" && opp.OppositeInterfaceID != ri.RouterInterfaceID) {
		return nil, errf(http.StatusBadRequest, "InvalidOppositeInterfaceInfo",
			"The opposite router interface %s does not match (role, region, router).", opp.RouterInterfaceID)
	}
	if opp.Status != "Idle" {
		return nil, incorrectRI(opp)
	}
	opp.OppositeInterfaceID, opp.OppositeRouterID, opp.OppositeRouterType, opp.OppositeRegionID =
		ri.RouterInterfaceID, ri.RouterID, ri.RouterType, ri.RegionID
	ri.move(x.now, x.s.delay, "Connecting", "Active")
	opp.move(x.now, x.s.delay, "Connecting", "Active")
	return obj{}, nil
}

func deleteRouterInterface(x *rpcCtx) (obj, error) {
	ri, err := x.routerInterface()
	if err != nil {
		return nil, err
	}
	if ri.Status != "Idle" && ri.Status != "Inactive" {
		return nil, incorrectRI(ri)
	}
	for _, e := range x.c.RouteEntries {
		if e.NextHopID == ri.RouterInterfaceID {
			return nil, errf(http.StatusBadRequest, "DependencyViolation.RouteEntry", "Route entry %s points at the router interface.", e.RouteEntryID)
		}
	}
	delete(x.c.RouterInterfaces, ri.RouterInterfaceID)
	return obj{}, nil
}

func describeRouterInterfaces(x *rpcCtx) (obj, error) {
	f := x.filters()
	var all []*RouterInterface
	for _, ri := range x.c.RouterInterfaces {
		if ri.RegionID == x.region && matches(f, map[string]string{"RouterInterfaceId": ri.RouterInterfaceID,
			"RouterId": ri.RouterID, "RouterType": ri.RouterType, "Role": ri.Role, "Status": ri.Status,
			"OppositeInterfaceId": ri.OppositeInterfaceID, "OppositeRouterId": ri.OppositeRouterID}) {
			all = append(all, ri)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].RouterInterfaceID < all[j].RouterInterfaceID })
	num, size, from, to, err := x.page(len(all))
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, ri := range all[from:to] {
		out = append(out, obj{
			"RouterInterfaceId": ri.RouterInterfaceID, "RouterType": ri.RouterType, "RouterId": ri.RouterID,
			"Role": ri.Role, "Spec": ri.Spec, "Status": ri.Status, "Name": ri.Name, "Description": ri.Description,
			"OppositeRegionId": ri.OppositeRegionID, "OppositeRouterType": ri.OppositeRouterType,
			"OppositeRouterId": ri.OppositeRouterID, "OppositeInterfaceId": ri.OppositeInterfaceID,
			"OppositeInterfaceOwnerId": ri.OppositeInterfaceOwnerID, "AccessPointId": ri.AccessPointID,
			"HealthCheckSourceIp": ri.HealthCheckSourceIP, "HealthCheckTargetIp": ri.HealthCheckTargetIP,
			"CreationTime": isoTimeSec(ri.CreationTime), "BusinessStatus": "Normal", "ChargeType": "AfterPay",
		})
	}
	return obj{"RouterInterfaceSet": obj{"RouterInterfaceType": out}, "TotalCount": len(all),
		"PageNumber": num, "PageSize": size}, nil
}

// deactivateRouterInterface takes an Active interface to Inactive (needed before deleting it).
func deactivateRouterInterface(x *rpcCtx) (obj, error) {
	ri, err := x.routerInterface()
	if err != nil {
		return nil, err
	}
	if ri.Status != "Active" {
		return nil, incorrectRI(ri)
	}
	ri.move(x.now, x.s.delay, "Deactivating", "Inactive")
	return obj{}, nil
}

// activateRouterInterface takes an Inactive interface back to Active.
func activateRouterInterface(x *rpcCtx) (obj, error) {
	ri, err := x.routerInterface()
	if err != nil {
		return nil, err
	}
	if ri.Status != "Inactive" {
		return nil, incorrectRI(ri)
	}
	ri.move(x.now, x.s.delay, "Activating", "Active")
	return obj{}, nil
}
