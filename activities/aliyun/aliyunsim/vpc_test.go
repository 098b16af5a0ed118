package aliyunsim

import (
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/stretchr/testify/require"
)

// runningInstance creates an instance in n and waits until it is Stopped.
func stoppedInstance(t *testing.T, s *sim, ec *ecs.Client, n network) string {
	t.Helper()
	r, err := ec.CreateInstance(createReq(n, ""))
	require.NoError(t, err)
	waitStatus(t, s, ec, r.InstanceId, StatusStopped)
	return r.InstanceId
}

func TestVpcVSwitchRoutes(t *testing.T) {
	s := startSim(t, Options{})
	ec, vc := ecsClient(t, s, testAK, testSK), vpcClient(t, s)

	cv := vpc.CreateCreateVpcRequest()
	cv.CidrBlock, cv.ClientToken = "10.0.0.0/16", "tok-vpc"
	v, err := vc.CreateVpc(cv)
	require.NoError(t, err)
	require.NotEmpty(t, v.VRouterId)
	require.NotEmpty(t, v.RouteTableId)
	v2, err := vc.CreateVpc(cv)
	require.NoError(t, err)
	require.Equal(t, v.VpcId, v2.VpcId)
	require.Equal(t, "Pending", vpcStatus(t, vc, v.VpcId))

	cs := vpc.CreateCreateVSwitchRequest()
	cs.VpcId, cs.ZoneId, cs.CidrBlock = v.VpcId, testZone, "10.0.1.0/24"
	_, err = vc.CreateVSwitch(cs)
	requireCode(t, err, "IncorrectVpcStatus", 400)
	eventually(t, s, "VPC Available", func() bool { return vpcStatus(t, vc, v.VpcId) == "Available" })

	vs, err := vc.CreateVSwitch(cs)
	require.NoError(t, err)
	overlap := vpc.CreateCreateVSwitchRequest()
	overlap.VpcId, overlap.ZoneId, overlap.CidrBlock = v.VpcId, testZone, "10.0.1.128/25"
	_, err = vc.CreateVSwitch(overlap)
	requireCode(t, err, "InvalidCidrBlock.Overlapped", 400)
	outside := vpc.CreateCreateVSwitchRequest()
	outside.VpcId, outside.ZoneId, outside.CidrBlock = v.VpcId, testZone, "172.16.0.0/24"
	_, err = vc.CreateVSwitch(outside)
	requireCode(t, err, "InvalidCidrBlock.Malformed", 400)

	dv := vpc.CreateDeleteVpcRequest()
	dv.VpcId = v.VpcId
	_, err = vc.DeleteVpc(dv)
	requireCode(t, err, "DependencyViolation.VSwitch", 400)

	routers, err := vc.DescribeVRouters(vpc.CreateDescribeVRoutersRequest())
	require.NoError(t, err)
	require.Len(t, routers.VRouters.VRouter, 1)
	require.Equal(t, v.VpcId, routers.VRouters.VRouter[0].VpcId)
	require.Equal(t, []string{v.RouteTableId}, routers.VRouters.VRouter[0].RouteTableIds.RouteTableId)

	// Route entry to an instance: Pending → Available, then listed; a second entry for the same
	// destination is refused.
	eventually(t, s, "VSwitch Available", func() bool { return s.VSwitches()[0].Status == "Available" })
	cg := ecs.CreateCreateSecurityGroupRequest()
	cg.VpcId = v.VpcId
	sg, err := ec.CreateSecurityGroup(cg)
	require.NoError(t, err)
	inst := stoppedInstance(t, s, ec, network{vpcID: v.VpcId, vswID: vs.VSwitchId, sgID: sg.SecurityGroupId})
	ce := vpc.CreateCreateRouteEntryRequest()
	ce.RouteTableId, ce.DestinationCidrBlock, ce.NextHopType, ce.NextHopId = v.RouteTableId, "192.168.100.0/24", "Instance", inst
	re, err := vc.CreateRouteEntry(ce)
	require.NoError(t, err)
	require.NotEmpty(t, re.RouteEntryId)
	list := vpc.CreateDescribeRouteEntryListRequest()
	list.RouteTableId, list.RouteEntryType = v.RouteTableId, "Custom"
	l, err := vc.DescribeRouteEntryList(list)
	require.NoError(t, err)
	require.Len(t, l.RouteEntrys.RouteEntry, 1)
	require.Equal(t, "Pending", l.RouteEntrys.RouteEntry[0].Status)
	eventually(t, s, "route entry Available", func() bool {
		l, err := vc.DescribeRouteEntryList(list)
		require.NoError(t, err)
		return l.RouteEntrys.RouteEntry[0].Status == "Available"
	})
	_, err = vc.CreateRouteEntry(ce)
	requireCode(t, err, "InvalidCIDRBlock.Duplicate", 400)
	badHop := vpc.CreateCreateRouteEntryRequest()
	badHop.RouteTableId, badHop.DestinationCidrBlock, badHop.NextHopType, badHop.NextHopId = v.RouteTableId, "192.168.101.0/24", "Instance", "i-nosuch"
	_, err = vc.CreateRouteEntry(badHop)
	requireCode(t, err, "InvalidNextHopId.NotFound", 404)

	tables := vpc.CreateDescribeRouteTablesRequest()
	tables.VRouterId = v.VRouterId
	rt, err := vc.DescribeRouteTables(tables)
	require.NoError(t, err)
	require.Len(t, rt.RouteTables.RouteTable, 1)
	var dsts []string
	for _, e := range rt.RouteTables.RouteTable[0].RouteEntrys.RouteEntry {
		dsts = append(dsts, e.DestinationCidrBlock+"/"+e.Type)
	}
	require.ElementsMatch(t, []string{"10.0.1.0/24/System", "192.168.100.0/24/Custom"}, dsts)
	rtl := vpc.CreateDescribeRouteTableListRequest()
	rtl.VpcId = v.VpcId
	tl, err := vc.DescribeRouteTableList(rtl)
	require.NoError(t, err)
	require.Len(t, tl.RouterTableList.RouterTableListType, 1)
	require.Equal(t, v.RouteTableId, tl.RouterTableList.RouterTableListType[0].RouteTableId)

	de := vpc.CreateDeleteRouteEntryRequest()
	de.RouteEntryId = re.RouteEntryId
	_, err = vc.DeleteRouteEntry(de)
	require.NoError(t, err)
	_, err = vc.DeleteRouteEntry(de)
	requireCode(t, err, "InvalidRouteEntry.NotFound", 404)
	require.Empty(t, s.RouteEntries())
}

func TestEipBindUnbind(t *testing.T) {
	s := startSim(t, Options{})
	ec, vc := ecsClient(t, s, testAK, testSK), vpcClient(t, s)
	n := newNetwork(t, s, ec, vc)
	inst := stoppedInstance(t, s, ec, n)

	al := vpc.CreateAllocateEipAddressRequest()
	al.Bandwidth = "10"
	eip, err := vc.AllocateEipAddress(al)
	require.NoError(t, err)
	require.NotEmpty(t, eip.EipAddress)

	as := vpc.CreateAssociateEipAddressRequest()
	as.AllocationId, as.InstanceId = eip.AllocationId, inst
	_, err = vc.AssociateEipAddress(as)
	require.NoError(t, err)
	describe := func() vpc.EipAddress {
		d := vpc.CreateDescribeEipAddressesRequest()
		d.AllocationId = eip.AllocationId
		r, err := vc.DescribeEipAddresses(d)
		require.NoError(t, err)
		require.Len(t, r.EipAddresses.EipAddress, 1)
		return r.EipAddresses.EipAddress[0]
	}
	require.Equal(t, "Associating", describe().Status)
	eventually(t, s, "EIP InUse", func() bool { return describe().Status == "InUse" })
	require.Equal(t, inst, describe().InstanceId)
	require.Equal(t, eip.EipAddress, describeOne(t, ec, inst).EipAddress.IpAddress)

	rel := vpc.CreateReleaseEipAddressRequest()
	rel.AllocationId = eip.AllocationId
	_, err = vc.ReleaseEipAddress(rel)
	requireCode(t, err, "IncorrectEipStatus", 400)

	un := vpc.CreateUnassociateEipAddressRequest()
	un.AllocationId, un.InstanceId = eip.AllocationId, inst
	_, err = vc.UnassociateEipAddress(un)
	require.NoError(t, err)
	_, err = vc.ReleaseEipAddress(rel)
	requireCode(t, err, "IncorrectEipStatus", 400) // still Unassociating
	eventually(t, s, "EIP Available", func() bool { return describe().Status == "Available" })
	require.Empty(t, describeOne(t, ec, inst).EipAddress.IpAddress)
	_, err = vc.ReleaseEipAddress(rel)
	require.NoError(t, err)
	_, err = vc.ReleaseEipAddress(rel)
	requireCode(t, err, "InvalidAllocationId.NotFound", 404)
	require.Empty(t, s.Eips())
}

func TestVpn(t *testing.T) {
	s := startSim(t, Options{})
	ec, vc := ecsClient(t, s, testAK, testSK), vpcClient(t, s)
	n := newNetwork(t, s, ec, vc)

	cg := vpc.CreateCreateVpnGatewayRequest()
	cg.VpcId, cg.VSwitchId, cg.Bandwidth, cg.Name = n.vpcID, n.vswID, requests.NewInteger(10), "gw"
	gw, err := vc.CreateVpnGateway(cg)
	require.NoError(t, err)
	gwStatus := func() string {
		d := vpc.CreateDescribeVpnGatewaysRequest()
		d.VpnGatewayId = gw.VpnGatewayId
		r, err := vc.DescribeVpnGateways(d)
		require.NoError(t, err)
		require.Len(t, r.VpnGateways.VpnGateway, 1)
		return r.VpnGateways.VpnGateway[0].Status
	}
	require.Equal(t, "provisioning", gwStatus())

	cc := vpc.CreateCreateCustomerGatewayRequest()
	cc.IpAddress, cc.Name = "203.0.113.10", "onprem"
	cust, err := vc.CreateCustomerGateway(cc)
	require.NoError(t, err)
	_, err = vc.CreateCustomerGateway(cc)
	requireCode(t, err, "InvalidIpAddress.AlreadyExist", 400)

	conn := vpc.CreateCreateVpnConnectionRequest()
	conn.VpnGatewayId, conn.CustomerGatewayId = gw.VpnGatewayId, cust.CustomerGatewayId
	conn.LocalSubnet, conn.RemoteSubnet, conn.Name = "192.168.1.0/24", "10.10.0.0/16,10.20.0.0/16", "c1"
	conn.IkeConfig = `{"Psk":"s3cret-psk","IkeVersion":"ikev2","IkeEncAlg":"aes256","IkeAuthAlg":"sha256","IkePfs":"group14","IkeLifetime":28800}`
	conn.IpsecConfig = `{"IpsecEncAlg":"aes256","IpsecAuthAlg":"sha256","IpsecPfs":"group14","IpsecLifetime":3600}`
	_, err = vc.CreateVpnConnection(conn)
	requireCode(t, err, "VpnGateway.Configuring", 400) // still provisioning
	eventually(t, s, "gateway active", func() bool { return gwStatus() == "active" })

	bad := *conn
	bad.IkeConfig = `{"IkeVersion":"ikev9"}`
	_, err = vc.CreateVpnConnection(&bad)
	requireCode(t, err, "InvalidParameter", 400)

	vco, err := vc.CreateVpnConnection(conn)
	require.NoError(t, err)
	require.Equal(t, "updating", gwStatus())
	eventually(t, s, "gateway active", func() bool { return gwStatus() == "active" })

	dc := vpc.CreateDescribeVpnConnectionsRequest()
	dc.VpnGatewayId = gw.VpnGatewayId
	conns, err := vc.DescribeVpnConnections(dc)
	require.NoError(t, err)
	require.Len(t, conns.VpnConnections.VpnConnection, 1)
	got := conns.VpnConnections.VpnConnection[0]
	require.Equal(t, "ikev2", got.IkeConfig.IkeVersion)
	require.Equal(t, "group14", got.IpsecConfig.IpsecPfs)
	require.Equal(t, "10.10.0.0/16,10.20.0.0/16", got.RemoteSubnet)
	require.Equal(t, "ike_sa_not_established", got.Status)
	require.NoError(t, s.SetVpnConnectionStatus(vco.VpnConnectionId, "ipsec_sa_established"))
	conns, err = vc.DescribeVpnConnections(dc)
	require.NoError(t, err)
	require.Equal(t, "ipsec_sa_established", conns.VpnConnections.VpnConnection[0].Status)

	dl := vpc.CreateDownloadVpnConnectionConfigRequest()
	dl.VpnConnectionId = vco.VpnConnectionId
	cfg, err := vc.DownloadVpnConnectionConfig(dl)
	require.NoError(t, err)
	require.Equal(t, "s3cret-psk", cfg.VpnConnectionConfig.IkeConfig.Psk)
	require.Equal(t, "203.0.113.10", cfg.VpnConnectionConfig.Remote)
	require.Equal(t, s.VpnGateways()[0].InternetIP, cfg.VpnConnectionConfig.Local)
	require.Equal(t, int64(28800), cfg.VpnConnectionConfig.IkeConfig.IkeLifetime)

	dcg := vpc.CreateDeleteCustomerGatewayRequest()
	dcg.CustomerGatewayId = cust.CustomerGatewayId
	_, err = vc.DeleteCustomerGateway(dcg)
	requireCode(t, err, "DependencyViolation.VpnConnection", 400)
	dg := vpc.CreateDeleteVpnGatewayRequest()
	dg.VpnGatewayId = gw.VpnGatewayId
	_, err = vc.DeleteVpnGateway(dg)
	requireCode(t, err, "DependencyViolation.VpnConnection", 400)

	dvc := vpc.CreateDeleteVpnConnectionRequest()
	dvc.VpnConnectionId = vco.VpnConnectionId
	_, err = vc.DeleteVpnConnection(dvc)
	require.NoError(t, err)
	_, err = vc.DeleteCustomerGateway(dcg)
	require.NoError(t, err)
	cgs, err := vc.DescribeCustomerGateways(vpc.CreateDescribeCustomerGatewaysRequest())
	require.NoError(t, err)
	require.Zero(t, cgs.TotalCount)
	_, err = vc.DeleteVpnGateway(dg)
	requireCode(t, err, "VpnGateway.Configuring", 400) // updating after the connection went
	eventually(t, s, "gateway active", func() bool { return gwStatus() == "active" })
	_, err = vc.DeleteVpnGateway(dg)
	require.NoError(t, err)
	require.Empty(t, s.VpnGateways())
}

func TestExpressConnect(t *testing.T) {
	s := startSim(t, Options{})
	ec, vc := ecsClient(t, s, testAK, testSK), vpcClient(t, s)
	n := newNetwork(t, s, ec, vc)
	pc := s.AddPhysicalConnection(testAccount, testRegion, "line-1")

	cv := vpc.CreateCreateVirtualBorderRouterRequest()
	cv.PhysicalConnectionId, cv.VlanId = pc, requests.NewInteger(100)
	cv.LocalGatewayIp, cv.PeerGatewayIp, cv.PeeringSubnetMask, cv.Name = "10.255.0.1", "10.255.0.2", "255.255.255.252", "vbr-1"
	vbr, err := vc.CreateVirtualBorderRouter(cv)
	require.NoError(t, err)
	_, err = vc.CreateVirtualBorderRouter(cv)
	requireCode(t, err, "InvalidVlanId.Used", 400)
	noPC := *cv
	noPC.PhysicalConnectionId = "pc-nosuch"
	_, err = vc.CreateVirtualBorderRouter(&noPC)
	requireCode(t, err, "InvalidPhysicalConnectionId.NotFound", 404)

	dv := vpc.CreateDescribeVirtualBorderRoutersRequest()
	dv.Filter = &[]vpc.DescribeVirtualBorderRoutersFilter{{Key: "VbrId", Value: &[]string{vbr.VbrId}}}
	vbrs, err := vc.DescribeVirtualBorderRouters(dv)
	require.NoError(t, err)
	require.Len(t, vbrs.VirtualBorderRouterSet.VirtualBorderRouterType, 1)
	got := vbrs.VirtualBorderRouterSet.VirtualBorderRouterType[0]
	require.Equal(t, "active", got.Status)
	require.Equal(t, 100, got.VlanId)
	require.NotEmpty(t, got.RouteTableId)

	// Router interface pair: VBR initiates, the VPC's VRouter accepts.
	acc := vpc.CreateCreateRouterInterfaceRequest()
	acc.RouterType, acc.RouterId, acc.Role, acc.Spec, acc.OppositeRegionId = "VRouter", n.vrouterID, "AcceptingSide", "Negative", testRegion
	acc.OppositeRouterType, acc.OppositeRouterId = "VBR", vbr.VbrId
	riAcc, err := vc.CreateRouterInterface(acc)
	require.NoError(t, err)
	ini := vpc.CreateCreateRouterInterfaceRequest()
	ini.RouterType, ini.RouterId, ini.Role, ini.Spec, ini.OppositeRegionId = "VBR", vbr.VbrId, "InitiatingSide", "Large.2", testRegion
	ini.OppositeRouterType, ini.OppositeRouterId, ini.OppositeInterfaceId = "VRouter", n.vrouterID, riAcc.RouterInterfaceId
	riIni, err := vc.CreateRouterInterface(ini)
	require.NoError(t, err)
	vbrAccept := *ini
	vbrAccept.Role = "AcceptingSide"
	_, err = vc.CreateRouterInterface(&vbrAccept)
	requireCode(t, err, "OperationUnsupported.VbrAcceptingSide", 400)

	conn := vpc.CreateConnectRouterInterfaceRequest()
	conn.RouterInterfaceId = riAcc.RouterInterfaceId
	_, err = vc.ConnectRouterInterface(conn)
	requireCode(t, err, "IncorrectRole.NotInitiatingSide", 400)
	conn.RouterInterfaceId = riIni.RouterInterfaceId
	_, err = vc.ConnectRouterInterface(conn)
	require.NoError(t, err)
	_, err = vc.ConnectRouterInterface(conn)
	requireCode(t, err, "IncorrectRIStatus", 400)

	riStatus := func(id string) string {
		d := vpc.CreateDescribeRouterInterfacesRequest()
		d.Filter = &[]vpc.DescribeRouterInterfacesFilter{{Key: "RouterInterfaceId", Value: &[]string{id}}}
		r, err := vc.DescribeRouterInterfaces(d)
		require.NoError(t, err)
		require.Len(t, r.RouterInterfaceSet.RouterInterfaceType, 1)
		return r.RouterInterfaceSet.RouterInterfaceType[0].Status
	}
	require.Equal(t, "Connecting", riStatus(riIni.RouterInterfaceId))
	eventually(t, s, "initiator Active", func() bool { return riStatus(riIni.RouterInterfaceId) == "Active" })
	require.Equal(t, "Active", riStatus(riAcc.RouterInterfaceId))

	// A route in the VPC towards the VBR through the accepting interface.
	ce := vpc.CreateCreateRouteEntryRequest()
	ce.RouteTableId, ce.DestinationCidrBlock, ce.NextHopType, ce.NextHopId = n.routeTableID, "172.20.0.0/16", "RouterInterface", riAcc.RouterInterfaceId
	_, err = vc.CreateRouteEntry(ce)
	require.NoError(t, err)

	dri := vpc.CreateDeleteRouterInterfaceRequest()
	dri.RouterInterfaceId = riIni.RouterInterfaceId
	_, err = vc.DeleteRouterInterface(dri)
	requireCode(t, err, "IncorrectRIStatus", 400)
	dvbr := vpc.CreateDeleteVirtualBorderRouterRequest()
	dvbr.VbrId = vbr.VbrId
	_, err = vc.DeleteVirtualBorderRouter(dvbr)
	requireCode(t, err, "DependencyViolation.RouterInterface", 400)
	require.Len(t, s.RouterInterfaces(), 2)
	require.Len(t, s.Vbrs(), 1)

	// Deactivate, then both interfaces and the VBR can go.
	for _, id := range []string{riIni.RouterInterfaceId, riAcc.RouterInterfaceId} {
		de := vpc.CreateDeactivateRouterInterfaceRequest()
		de.RouterInterfaceId = id
		_, err = vc.DeactivateRouterInterface(de)
		require.NoError(t, err)
		eventually(t, s, id+" Inactive", func() bool { return riStatus(id) == "Inactive" })
	}
	_, err = vc.DeleteRouterInterface(dri)
	require.NoError(t, err)
	dri.RouterInterfaceId = riAcc.RouterInterfaceId
	_, err = vc.DeleteRouterInterface(dri)
	requireCode(t, err, "DependencyViolation.RouteEntry", 400)
	re := vpc.CreateDeleteRouteEntryRequest()
	re.RouteTableId, re.DestinationCidrBlock = n.routeTableID, "172.20.0.0/16"
	eventually(t, s, "route entry Available", func() bool { return s.RouteEntries()[0].Status == "Available" })
	_, err = vc.DeleteRouteEntry(re)
	require.NoError(t, err)
	_, err = vc.DeleteRouterInterface(dri)
	require.NoError(t, err)
	_, err = vc.DeleteVirtualBorderRouter(dvbr)
	require.NoError(t, err)
	require.Empty(t, s.Vbrs())
	require.Empty(t, s.RouterInterfaces())
}
