package aliyunsim

import (
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"time"
)

// Vpc is a VPC with its VRouter and system route table.
type Vpc struct {
	Lifecycle
	VpcID        string    `json:"vpcId"`
	RegionID     string    `json:"regionId"`
	CidrBlock    string    `json:"cidrBlock"`
	VpcName      string    `json:"vpcName"`
	Description  string    `json:"description"`
	VRouterID    string    `json:"vrouterId"`
	RouteTableID string    `json:"routeTableId"`
	CreationTime time.Time `json:"creationTime"`
}

// VSwitch is a VSwitch (subnet) of a VPC in one zone.
type VSwitch struct {
	Lifecycle
	VSwitchID    string    `json:"vswitchId"`
	VpcID        string    `json:"vpcId"`
	RegionID     string    `json:"regionId"`
	ZoneID       string    `json:"zoneId"`
	CidrBlock    string    `json:"cidrBlock"`
	VSwitchName  string    `json:"vswitchName"`
	Description  string    `json:"description"`
	CreationTime time.Time `json:"creationTime"`
}

// RouteTable is the system route table of a VRouter or of a VBR.
type RouteTable struct {
	RouteTableID string    `json:"routeTableId"`
	RegionID     string    `json:"regionId"`
	RouterID     string    `json:"routerId"`
	RouterType   string    `json:"routerType"` // VRouter or VBR
	VpcID        string    `json:"vpcId,omitempty"`
	CreationTime time.Time `json:"creationTime"`
}

// RouteEntry is a custom route entry.
type RouteEntry struct {
	Lifecycle
	RouteEntryID         string `json:"routeEntryId"`
	RouteTableID         string `json:"routeTableId"`
	DestinationCidrBlock string `json:"destinationCidrBlock"`
	NextHopType          string `json:"nextHopType"`
	NextHopID            string `json:"nextHopId"`
	Name                 string `json:"name"`
	Description          string `json:"description"`
}

func vpcHandlers() map[string]rpcHandler {
	return map[string]rpcHandler{
		"CreateVpc":                          createVpc,
		"DeleteVpc":                          deleteVpc,
		"DescribeVpcs":                       describeVpcs,
		"DescribeVpcAttribute":               describeVpcAttribute,
		"CreateVSwitch":                      createVSwitch,
		"DeleteVSwitch":                      deleteVSwitch,
		"DescribeVSwitches":                  describeVSwitches,
		"DescribeVRouters":                   describeVRouters,
		"DescribeRouteTables":                describeRouteTables,
		"DescribeRouteTableList":             describeRouteTableList,
		"DescribeRouteEntryList":             describeRouteEntryList,
		"CreateRouteEntry":                   createRouteEntry,
		"DeleteRouteEntry":                   deleteRouteEntry,
		"AllocateEipAddress":                 allocateEipAddress,
		"ReleaseEipAddress":                  releaseEipAddress,
		"AssociateEipAddress":                associateEipAddress,
		"UnassociateEipAddress":              unassociateEipAddress,
		"DescribeEipAddresses":               describeEipAddresses,
		"CreateVpnGateway":                   createVpnGateway,
		"DescribeVpnGateways":                describeVpnGateways,
		"DescribeVpnGateway":                 describeVpnGateway,
		"DeleteVpnGateway":                   deleteVpnGateway,
		"CreateCustomerGateway":              createCustomerGateway,
		"DeleteCustomerGateway":              deleteCustomerGateway,
		"DescribeCustomerGateways":           describeCustomerGateways,
		"CreateVpnConnection":                createVpnConnection,
		"DeleteVpnConnection":                deleteVpnConnection,
		"DescribeVpnConnections":             describeVpnConnections,
		"DownloadVpnConnectionConfig":        downloadVpnConnectionConfig,
		"DescribeVirtualBorderRouters":       describeVirtualBorderRouters,
		"CreateVirtualBorderRouter":          createVirtualBorderRouter,
		"DeleteVirtualBorderRouter":          deleteVirtualBorderRouter,
		"ModifyVirtualBorderRouterAttribute": modifyVirtualBorderRouterAttribute,
		"CreateRouterInterface":              createRouterInterface,
		"DeleteRouterInterface":              deleteRouterInterface,
		"DescribeRouterInterfaces":           describeRouterInterfaces,
		"ConnectRouterInterface":             connectRouterInterface,
		"ActivateRouterInterface":            activateRouterInterface,
		"DeactivateRouterInterface":          deactivateRouterInterface,
		"ModifyRouterInterfaceAttribute":     modifyRouterInterfaceAttribute,
		"ModifyVpnConnectionAttribute":       modifyVpnConnectionAttribute,
		"TerminateVirtualBorderRouter":       terminateVirtualBorderRouter,
		"RecoverVirtualBorderRouter":         recoverVirtualBorderRouter,
	}
}

func parseCidr(name, v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil || p != p.Masked() {
		return netip.Prefix{}, errf(http.StatusBadRequest, "InvalidCidrBlock.Malformed", "The specified %s %q is not a valid CIDR block.", name, v)
	}
	return p, nil
}

func overlaps(a, b string) bool {
	pa, err1 := netip.ParsePrefix(a)
	pb, err2 := netip.ParsePrefix(b)
	return err1 == nil && err2 == nil && pa.Overlaps(pb)
}

func createVpc(x *rpcCtx) (obj, error) {
	if _, err := x.checkRegion(); err != nil {
		return nil, err
	}
	if ids, _ := x.token("CreateVpc"); len(ids) == 1 {
		if v, ok := x.c.Vpcs[ids[0]]; ok {
			return obj{"VpcId": v.VpcID, "VRouterId": v.VRouterID, "RouteTableId": v.RouteTableID, "ResourceGroupId": "rg-default"}, nil
		}
	}
	cidr := x.str("CidrBlock")
	if cidr == "" {
		cidr = "172.16.0.0/12"
	}
	p, err := parseCidr("CidrBlock", cidr)
	if err != nil {
		return nil, err
	}
	if p.Bits() < 8 || p.Bits() > 28 {
		return nil, errf(http.StatusBadRequest, "InvalidCidrBlock.Malformed", "The VPC CIDR block must be /8 to /28, got %s.", cidr)
	}
	n := 0
	for _, v := range x.c.Vpcs {
		if v.RegionID == x.region {
			n++
		}
	}
	if n >= 10 {
		return nil, errf(http.StatusForbidden, "QuotaExceeded.Vpc", "The number of VPCs in region %s reached the quota of 10.", x.region)
	}
	v := &Vpc{
		VpcID: newID("vpc-"), RegionID: x.region, CidrBlock: cidr, VpcName: x.str("VpcName"),
		Description: x.str("Description"), VRouterID: newID("vrt-"), RouteTableID: newID("vtb-"), CreationTime: x.now,
	}
	v.move(x.now, x.s.delay, "Pending", "Available")
	x.c.Vpcs[v.VpcID] = v
	x.c.RouteTables[v.RouteTableID] = &RouteTable{RouteTableID: v.RouteTableID, RegionID: x.region,
		RouterID: v.VRouterID, RouterType: "VRouter", VpcID: v.VpcID, CreationTime: x.now}
	if _, k := x.token("CreateVpc"); k != "" {
		x.c.Tokens[k] = []string{v.VpcID}
	}
	return obj{"VpcId": v.VpcID, "VRouterId": v.VRouterID, "RouteTableId": v.RouteTableID, "ResourceGroupId": "rg-default"}, nil
}

func (x *rpcCtx) vpc(id string) (*Vpc, error) {
	v, ok := x.c.Vpcs[id]
	if !ok || v.RegionID != x.region {
		return nil, notFound("InvalidVpcID.NotFound", "VPC", id)
	}
	return v, nil
}

func deleteVpc(x *rpcCtx) (obj, error) {
	id, err := x.req("VpcId")
	if err != nil {
		return nil, err
	}
	v, err := x.vpc(id)
	if err != nil {
		return nil, err
	}
	if v.Status != "Available" {
		return nil, errf(http.StatusBadRequest, "IncorrectVpcStatus", "The VPC %q is %s.", id, v.Status)
	}
	for _, vs := range x.c.VSwitches {
		if vs.VpcID == id {
			return nil, errf(http.StatusBadRequest, "DependencyViolation.VSwitch", "The specified VPC has VSwitches (%s).", vs.VSwitchID)
		}
	}
	for _, sg := range x.c.SecurityGroups {
		if sg.VpcID == id {
			return nil, errf(http.StatusBadRequest, "DependencyViolation.SecurityGroup", "The specified VPC has security groups (%s).", sg.SecurityGroupID)
		}
	}
	for _, g := range x.c.VpnGateways {
		if g.VpcID == id {
			return nil, errf(http.StatusBadRequest, "DependencyViolation.VpnGateway", "The specified VPC has VPN gateways (%s).", g.VpnGatewayID)
		}
	}
	for _, ri := range x.c.RouterInterfaces {
		if ri.RouterID == v.VRouterID {
			return nil, errf(http.StatusBadRequest, "DependencyViolation.RouterInterface", "The specified VPC has router interfaces (%s).", ri.RouterInterfaceID)
		}
	}
	for eid, e := range x.c.RouteEntries {
		if e.RouteTableID == v.RouteTableID {
			delete(x.c.RouteEntries, eid)
		}
	}
	delete(x.c.RouteTables, v.RouteTableID)
	delete(x.c.Vpcs, id)
	return obj{}, nil
}

func (x *rpcCtx) vpcView(v *Vpc) obj {
	var vsws []string
	for _, vs := range x.sortedVSwitches() {
		if vs.VpcID == v.VpcID {
			vsws = append(vsws, vs.VSwitchID)
		}
	}
	return obj{
		"VpcId": v.VpcID, "RegionId": v.RegionID, "Status": v.Status, "VpcName": v.VpcName,
		"Description": v.Description, "CidrBlock": v.CidrBlock, "VRouterId": v.VRouterID,
		"CreationTime": isoTimeSec(v.CreationTime), "IsDefault": false, "ResourceGroupId": "rg-default",
		"VSwitchIds":     obj{"VSwitchId": nonNil(vsws)},
		"RouterTableIds": obj{"RouterTableIds": []string{v.RouteTableID}},
		"UserCidrs":      obj{"UserCidr": []string{}},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func describeVpcs(x *rpcCtx) (obj, error) {
	if _, err := x.checkRegion(); err != nil {
		return nil, err
	}
	ids, _ := x.ids("VpcId")
	name := x.str("VpcName")
	var all []*Vpc
	for _, v := range x.c.Vpcs {
		if v.RegionID == x.region && (len(ids) == 0 || slices.Contains(ids, v.VpcID)) && (name == "" || v.VpcName == name) {
			all = append(all, v)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].VpcID < all[j].VpcID })
	num, size, from, to, err := x.page(len(all))
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, v := range all[from:to] {
		out = append(out, x.vpcView(v))
	}
	return obj{"Vpcs": obj{"Vpc": out}, "TotalCount": len(all), "PageNumber": num, "PageSize": size}, nil
}

func describeVpcAttribute(x *rpcCtx) (obj, error) {
	id, err := x.req("VpcId")
	if err != nil {
		return nil, err
	}
	v, err := x.vpc(id)
	if err != nil {
		return nil, err
	}
	return x.vpcView(v), nil
}

func createVSwitch(x *rpcCtx) (obj, error) {
	if ids, _ := x.token("CreateVSwitch"); len(ids) == 1 {
		return obj{"VSwitchId": ids[0]}, nil
	}
	vpcID, err := x.req("VpcId")
	if err != nil {
		return nil, err
	}
	zone, err := x.req("ZoneId")
	if err != nil {
		return nil, err
	}
	cidr, err := x.req("CidrBlock")
	if err != nil {
		return nil, err
	}
	v, err := x.vpc(vpcID)
	if err != nil {
		return nil, err
	}
	if v.Status != "Available" {
		return nil, errf(http.StatusBadRequest, "IncorrectVpcStatus", "The VPC %q is %s.", vpcID, v.Status)
	}
	if err := x.checkZone(zone); err != nil {
		return nil, err
	}
	p, err := parseCidr("CidrBlock", cidr)
	if err != nil {
		return nil, err
	}
	vp, _ := netip.ParsePrefix(v.CidrBlock)
	if !vp.Contains(p.Addr()) || p.Bits() < vp.Bits() || p.Bits() > 29 {
		return nil, errf(http.StatusBadRequest, "InvalidCidrBlock.Malformed",
			"The VSwitch CIDR block %s must lie within the VPC CIDR block %s and be /%d to /29.", cidr, v.CidrBlock, vp.Bits())
	}
	for _, vs := range x.c.VSwitches {
		if vs.VpcID == vpcID && overlaps(vs.CidrBlock, cidr) {
			return nil, errf(http.StatusBadRequest, "InvalidCidrBlock.Overlapped",
				"The CIDR block %s overlaps VSwitch %s (%s).", cidr, vs.VSwitchID, vs.CidrBlock)
		}
	}
	vs := &VSwitch{
		VSwitchID: newID("vsw-"), VpcID: vpcID, RegionID: x.region, ZoneID: zone, CidrBlock: cidr,
		VSwitchName: x.str("VSwitchName"), Description: x.str("Description"), CreationTime: x.now,
	}
	vs.move(x.now, x.s.delay, "Pending", "Available")
	x.c.VSwitches[vs.VSwitchID] = vs
	if _, k := x.token("CreateVSwitch"); k != "" {
		x.c.Tokens[k] = []string{vs.VSwitchID}
	}
	return obj{"VSwitchId": vs.VSwitchID}, nil
}

func (x *rpcCtx) vswitch(id string) (*VSwitch, error) {
	vs, ok := x.c.VSwitches[id]
	if !ok || vs.RegionID != x.region {
		return nil, notFound("InvalidVSwitchId.NotFound", "VSwitch", id)
	}
	return vs, nil
}

func deleteVSwitch(x *rpcCtx) (obj, error) {
	id, err := x.req("VSwitchId")
	if err != nil {
		return nil, err
	}
	vs, err := x.vswitch(id)
	if err != nil {
		return nil, err
	}
	if vs.Status != "Available" {
		return nil, errf(http.StatusBadRequest, "IncorrectVSwitchStatus", "The VSwitch %q is %s.", id, vs.Status)
	}
	for _, in := range x.c.Instances {
		if in.VSwitchID == id {
			return nil, errf(http.StatusBadRequest, "DependencyViolation.Instance", "The specified VSwitch has instances (%s).", in.InstanceID)
		}
	}
	for _, g := range x.c.VpnGateways {
		if g.VSwitchID == id {
			return nil, errf(http.StatusBadRequest, "DependencyViolation.VpnGateway", "The specified VSwitch has VPN gateways (%s).", g.VpnGatewayID)
		}
	}
	delete(x.c.VSwitches, id)
	return obj{}, nil
}

func (x *rpcCtx) sortedVSwitches() []*VSwitch {
	var all []*VSwitch
	for _, vs := range x.c.VSwitches {
		if vs.RegionID == x.region {
			all = append(all, vs)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].VSwitchID < all[j].VSwitchID })
	return all
}

func (x *rpcCtx) freeIPs(vs *VSwitch) int {
	p, err := netip.ParsePrefix(vs.CidrBlock)
	if err != nil {
		return 0
	}
	n := (1 << (32 - p.Bits())) - 4
	for _, in := range x.c.Instances {
		if in.VSwitchID == vs.VSwitchID {
			n--
		}
	}
	return max(n, 0)
}

func describeVSwitches(x *rpcCtx) (obj, error) {
	if _, err := x.checkRegion(); err != nil {
		return nil, err
	}
	ids, _ := x.ids("VSwitchId")
	vpc, zone, name := x.str("VpcId"), x.str("ZoneId"), x.str("VSwitchName")
	var all []*VSwitch
	for _, vs := range x.sortedVSwitches() {
		if (len(ids) == 0 || slices.Contains(ids, vs.VSwitchID)) && (vpc == "" || vs.VpcID == vpc) &&
			(zone == "" || vs.ZoneID == zone) && (name == "" || vs.VSwitchName == name) {
			all = append(all, vs)
		}
	}
	num, size, from, to, err := x.page(len(all))
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, vs := range all[from:to] {
		out = append(out, obj{
			"VSwitchId": vs.VSwitchID, "VpcId": vs.VpcID, "ZoneId": vs.ZoneID, "CidrBlock": vs.CidrBlock,
			"Status": vs.Status, "VSwitchName": vs.VSwitchName, "Description": vs.Description,
			"AvailableIpAddressCount": x.freeIPs(vs), "CreationTime": isoTimeSec(vs.CreationTime),
			"IsDefault": false, "ResourceGroupId": "rg-default",
			"RouteTable": obj{"RouteTableId": x.c.Vpcs[vs.VpcID].RouteTableID, "RouteTableType": "System"},
		})
	}
	return obj{"VSwitches": obj{"VSwitch": out}, "TotalCount": len(all), "PageNumber": num, "PageSize": size}, nil
}

func describeVRouters(x *rpcCtx) (obj, error) {
	if _, err := x.checkRegion(); err != nil {
		return nil, err
	}
	want := x.str("VRouterId")
	var all []*Vpc
	for _, v := range x.c.Vpcs {
		if v.RegionID == x.region && (want == "" || v.VRouterID == want) {
			all = append(all, v)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].VRouterID < all[j].VRouterID })
	num, size, from, to, err := x.page(len(all))
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, v := range all[from:to] {
		out = append(out, obj{
			"VRouterId": v.VRouterID, "VpcId": v.VpcID, "RegionId": v.RegionID, "VRouterName": "",
			"CreationTime": isoTimeSec(v.CreationTime), "RouteTableIds": obj{"RouteTableId": []string{v.RouteTableID}},
		})
	}
	return obj{"VRouters": obj{"VRouter": out}, "TotalCount": len(all), "PageNumber": num, "PageSize": size}, nil
}

// routeEntries returns the entries of a route table: system entries for the VSwitch CIDRs of a
// VPC table, then custom entries, sorted by destination.
func (x *rpcCtx) routeEntries(rt *RouteTable) []obj {
	var out []obj
	if rt.VpcID != "" {
		for _, vs := range x.sortedVSwitches() {
			if vs.VpcID == rt.VpcID {
				out = append(out, obj{
					"RouteEntryId": "rte-system-" + vs.VSwitchID[4:], "RouteTableId": rt.RouteTableID,
					"DestinationCidrBlock": vs.CidrBlock, "Type": "System", "Status": "Available",
					"NextHopType": "local", "InstanceId": "", "RouteEntryName": "",
					"NextHops": obj{"NextHop": []obj{}},
				})
			}
		}
	}
	var custom []*RouteEntry
	for _, e := range x.c.RouteEntries {
		if e.RouteTableID == rt.RouteTableID {
			custom = append(custom, e)
		}
	}
	sort.Slice(custom, func(i, j int) bool { return custom[i].DestinationCidrBlock < custom[j].DestinationCidrBlock })
	for _, e := range custom {
		out = append(out, obj{
			"RouteEntryId": e.RouteEntryID, "RouteTableId": e.RouteTableID, "DestinationCidrBlock": e.DestinationCidrBlock,
			"Type": "Custom", "Status": e.Status, "NextHopType": e.NextHopType, "InstanceId": e.NextHopID,
			"RouteEntryName": e.Name, "Description": e.Description,
			"NextHops": obj{"NextHop": []obj{{"NextHopType": e.NextHopType, "NextHopId": e.NextHopID, "Enabled": 1, "Weight": 0}}},
		})
	}
	return out
}

func (x *rpcCtx) selectRouteTables(routerID, routerType, tableID, vpcID string) []*RouteTable {
	var all []*RouteTable
	for _, rt := range x.c.RouteTables {
		if rt.RegionID == x.region && (routerID == "" || rt.RouterID == routerID) &&
			(routerType == "" || rt.RouterType == routerType) && (tableID == "" || rt.RouteTableID == tableID) &&
			(vpcID == "" || rt.VpcID == vpcID) {
			all = append(all, rt)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].RouteTableID < all[j].RouteTableID })
	return all
}

func describeRouteTables(x *rpcCtx) (obj, error) {
	router := x.str("VRouterId")
	if router == "" {
		router = x.str("RouterId")
	}
	all := x.selectRouteTables(router, x.str("RouterType"), x.str("RouteTableId"), "")
	num, size, from, to, err := x.page(len(all))
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, rt := range all[from:to] {
		out = append(out, obj{
			"RouteTableId": rt.RouteTableID, "VRouterId": rt.RouterID, "RouteTableType": "System",
			"CreationTime": isoTimeSec(rt.CreationTime), "ResourceGroupId": "rg-default",
			"RouteEntrys": obj{"RouteEntry": x.routeEntries(rt)},
		})
	}
	return obj{"RouteTables": obj{"RouteTable": out}, "TotalCount": len(all), "PageNumber": num, "PageSize": size}, nil
}

func describeRouteTableList(x *rpcCtx) (obj, error) {
	all := x.selectRouteTables(x.str("RouterId"), x.str("RouterType"), x.str("RouteTableId"), x.str("VpcId"))
	num, size, from, to, err := x.page(len(all))
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, rt := range all[from:to] {
		var vsws []string
		for _, vs := range x.sortedVSwitches() {
			if rt.VpcID != "" && vs.VpcID == rt.VpcID {
				vsws = append(vsws, vs.VSwitchID)
			}
		}
		out = append(out, obj{
			"RouteTableId": rt.RouteTableID, "RouterId": rt.RouterID, "RouterType": rt.RouterType,
			"VpcId": rt.VpcID, "RouteTableType": "System", "Status": "Available",
			"CreationTime": isoTimeSec(rt.CreationTime), "ResourceGroupId": "rg-default",
			"VSwitchIds": obj{"VSwitchId": nonNil(vsws)},
		})
	}
	return obj{"RouterTableList": obj{"RouterTableListType": out}, "TotalCount": len(all), "PageNumber": num,
		"PageSize": size, "Success": true, "Code": "200", "Message": "successful"}, nil
}

func describeRouteEntryList(x *rpcCtx) (obj, error) {
	tableID, err := x.req("RouteTableId")
	if err != nil {
		return nil, err
	}
	rt, ok := x.c.RouteTables[tableID]
	if !ok || rt.RegionID != x.region {
		return nil, notFound("InvalidRouteTableId.NotFound", "route table", tableID)
	}
	id, dst, hop, typ := x.str("RouteEntryId"), x.str("DestinationCidrBlock"), x.str("NextHopId"), x.str("RouteEntryType")
	out := []obj{}
	for _, e := range x.routeEntries(rt) {
		if (id == "" || e["RouteEntryId"] == id) && (dst == "" || e["DestinationCidrBlock"] == dst) &&
			(hop == "" || e["InstanceId"] == hop) && (typ == "" || e["Type"] == typ) {
			out = append(out, e)
		}
	}
	return obj{"RouteEntrys": obj{"RouteEntry": out}, "NextToken": ""}, nil
}

// nextHopExists checks the next hop of a route entry.
func (x *rpcCtx) nextHopExists(typ, id string) error {
	found := false
	switch typ {
	case "Instance":
		_, found = x.c.Instances[id]
	case "VpnGateway":
		_, found = x.c.VpnGateways[id]
	case "RouterInterface":
		_, found = x.c.RouterInterfaces[id]
	case "HaVip", "NetworkInterface", "IPv6Gateway", "NatGateway", "Attachment", "VpcPeer", "Ipv4Gateway":
		return errf(http.StatusBadRequest, "InvalidNextHopType.NotSupported",
			"aliyunsim does not simulate next hops of type %s.", typ)
	default:
		return invalid("NextHopType", typ)
	}
	if !found {
		return errf(http.StatusNotFound, "InvalidNextHopId.NotFound", "The next hop %q does not exist.", id)
	}
	return nil
}

func createRouteEntry(x *rpcCtx) (obj, error) {
	tableID, err := x.req("RouteTableId")
	if err != nil {
		return nil, err
	}
	dst, err := x.req("DestinationCidrBlock")
	if err != nil {
		return nil, err
	}
	typ := x.str("NextHopType")
	if typ == "" {
		typ = "Instance"
	}
	hop, err := x.req("NextHopId")
	if err != nil {
		return nil, err
	}
	rt, ok := x.c.RouteTables[tableID]
	if !ok || rt.RegionID != x.region {
		return nil, notFound("InvalidRouteTableId.NotFound", "route table", tableID)
	}
	if _, err := parseCidr("DestinationCidrBlock", dst); err != nil {
		return nil, err
	}
	if err := x.nextHopExists(typ, hop); err != nil {
		return nil, err
	}
	for _, e := range x.c.RouteEntries {
		if e.RouteTableID == tableID {
			if e.Status == "Pending" {
				return nil, errf(http.StatusBadRequest, "IncorrectRouteEntryStatus",
					"Another route entry of route table %s is still being created.", tableID)
			}
			if e.DestinationCidrBlock == dst {
				return nil, errf(http.StatusBadRequest, "InvalidCIDRBlock.Duplicate",
					"The route table %s already has an entry for %s.", tableID, dst)
			}
		}
	}
	for _, vs := range x.c.VSwitches {
		if rt.VpcID != "" && vs.VpcID == rt.VpcID && overlaps(vs.CidrBlock, dst) && vs.CidrBlock == dst {
			return nil, errf(http.StatusBadRequest, "InvalidCIDRBlock.Duplicate", "The destination %s is a VSwitch CIDR block.", dst)
		}
	}
	e := &RouteEntry{RouteEntryID: newID("rte-"), RouteTableID: tableID, DestinationCidrBlock: dst,
		NextHopType: typ, NextHopID: hop, Name: x.str("RouteEntryName"), Description: x.str("Description")}
	e.move(x.now, x.s.delay, "Pending", "Available")
	x.c.RouteEntries[e.RouteEntryID] = e
	return obj{"RouteEntryId": e.RouteEntryID}, nil
}

func deleteRouteEntry(x *rpcCtx) (obj, error) {
	id := x.str("RouteEntryId")
	var found *RouteEntry
	if id != "" {
		found = x.c.RouteEntries[id]
	} else {
		tableID, err := x.req("RouteTableId")
		if err != nil {
			return nil, err
		}
		dst, err := x.req("DestinationCidrBlock")
		if err != nil {
			return nil, err
		}
		hop := x.str("NextHopId")
		for _, e := range x.c.RouteEntries {
			if e.RouteTableID == tableID && e.DestinationCidrBlock == dst && (hop == "" || e.NextHopID == hop) {
				found = e
			}
		}
	}
	if found == nil {
		return nil, errf(http.StatusNotFound, "InvalidRouteEntry.NotFound", "The specified route entry does not exist.")
	}
	if found.Status == "Pending" {
		return nil, errf(http.StatusBadRequest, "IncorrectRouteEntryStatus", "The route entry %q is still being created.", found.RouteEntryID)
	}
	delete(x.c.RouteEntries, found.RouteEntryID)
	return obj{}, nil
}
