package aliyunsim

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/stretchr/testify/require"
)

const testImage = "ubuntu_22_04_x64_20G_alibase_20240101.vhd"

type network struct{ vpcID, vswID, sgID, routeTableID, vrouterID string }

// newNetwork creates an Available VPC with one VSwitch and a security group through the SDKs.
func newNetwork(t *testing.T, s *sim, ec *ecs.Client, vc *vpc.Client) network {
	t.Helper()
	cv := vpc.CreateCreateVpcRequest()
	cv.CidrBlock, cv.VpcName = "192.168.0.0/16", "net"
	v, err := vc.CreateVpc(cv)
	require.NoError(t, err)
	eventually(t, s, "VPC Available", func() bool { return vpcStatus(t, vc, v.VpcId) == "Available" })
	cs := vpc.CreateCreateVSwitchRequest()
	cs.VpcId, cs.ZoneId, cs.CidrBlock = v.VpcId, testZone, "192.168.1.0/24"
	vs, err := vc.CreateVSwitch(cs)
	require.NoError(t, err)
	eventually(t, s, "VSwitch Available", func() bool {
		d := vpc.CreateDescribeVSwitchesRequest()
		d.VSwitchId = vs.VSwitchId
		r, err := vc.DescribeVSwitches(d)
		require.NoError(t, err)
		return len(r.VSwitches.VSwitch) == 1 && r.VSwitches.VSwitch[0].Status == "Available"
	})
	cg := ecs.CreateCreateSecurityGroupRequest()
	cg.VpcId, cg.SecurityGroupName = v.VpcId, "web"
	sg, err := ec.CreateSecurityGroup(cg)
	require.NoError(t, err)
	return network{vpcID: v.VpcId, vswID: vs.VSwitchId, sgID: sg.SecurityGroupId, routeTableID: v.RouteTableId, vrouterID: v.VRouterId}
}

func vpcStatus(t *testing.T, vc *vpc.Client, id string) string {
	t.Helper()
	d := vpc.CreateDescribeVpcsRequest()
	d.VpcId = id
	r, err := vc.DescribeVpcs(d)
	require.NoError(t, err)
	if len(r.Vpcs.Vpc) != 1 {
		return ""
	}
	return r.Vpcs.Vpc[0].Status
}

func describeOne(t *testing.T, ec *ecs.Client, id string) ecs.Instance {
	t.Helper()
	d := ecs.CreateDescribeInstancesRequest()
	d.InstanceIds = jsonIDs(id)
	r, err := ec.DescribeInstances(d)
	require.NoError(t, err)
	require.Len(t, r.Instances.Instance, 1)
	return r.Instances.Instance[0]
}

func jsonIDs(ids ...string) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

func waitStatus(t *testing.T, s *sim, ec *ecs.Client, id, want string) {
	t.Helper()
	eventually(t, s, id+" "+want, func() bool { return describeOne(t, ec, id).Status == want })
}

func createReq(n network, token string) *ecs.CreateInstanceRequest {
	r := ecs.CreateCreateInstanceRequest()
	r.ImageId, r.InstanceType, r.SecurityGroupId, r.VSwitchId = testImage, "ecs.g7.large", n.sgID, n.vswID
	r.InstanceName, r.ClientToken = "web-1", token
	return r
}

func TestInstanceLifecycle(t *testing.T) {
	s := startSim(t, Options{})
	ec, vc := ecsClient(t, s, testAK, testSK), vpcClient(t, s)
	n := newNetwork(t, s, ec, vc)

	created, err := ec.CreateInstance(createReq(n, "tok-create-1"))
	require.NoError(t, err)
	id := created.InstanceId
	require.Equal(t, StatusPending, describeOne(t, ec, id).Status)

	// Starting a Pending instance is refused.
	start := ecs.CreateStartInstanceRequest()
	start.InstanceId = id
	_, err = ec.StartInstance(start)
	requireCode(t, err, "IncorrectInstanceStatus", 403)

	// Same ClientToken: same instance, nothing new.
	again, err := ec.CreateInstance(createReq(n, "tok-create-1"))
	require.NoError(t, err)
	require.Equal(t, id, again.InstanceId)
	require.Len(t, s.Instances(), 1)

	waitStatus(t, s, ec, id, StatusStopped)
	in := describeOne(t, ec, id)
	require.Equal(t, n.vpcID, in.VpcAttributes.VpcId)
	ip := netip.MustParseAddr(in.VpcAttributes.PrivateIpAddress.IpAddress[0])
	require.True(t, netip.MustParsePrefix("192.168.1.0/24").Contains(ip), "private ip %s", ip)
	require.Equal(t, 2, in.Cpu)
	require.Equal(t, 8192, in.Memory)
	require.Equal(t, []string{n.sgID}, in.SecurityGroupIds.SecurityGroupId)

	_, err = ec.StartInstance(start)
	require.NoError(t, err)
	require.Equal(t, StatusStarting, describeOne(t, ec, id).Status)
	_, err = ec.StartInstance(start)
	requireCode(t, err, "IncorrectInstanceStatus", 403)
	waitStatus(t, s, ec, id, StatusRunning)
	_, err = ec.StartInstance(start)
	requireCode(t, err, "IncorrectInstanceStatus", 403)

	vnc := ecs.CreateDescribeInstanceVncUrlRequest()
	vnc.InstanceId = id
	vr, err := ec.DescribeInstanceVncUrl(vnc)
	require.NoError(t, err)
	require.Contains(t, vr.VncUrl, id)

	reboot := ecs.CreateRebootInstanceRequest()
	reboot.InstanceId = id
	_, err = ec.RebootInstance(reboot)
	require.NoError(t, err)
	require.Equal(t, StatusStarting, describeOne(t, ec, id).Status)
	waitStatus(t, s, ec, id, StatusRunning)

	del := ecs.CreateDeleteInstanceRequest()
	del.InstanceId = id
	_, err = ec.DeleteInstance(del)
	requireCode(t, err, "IncorrectInstanceStatus", 403)

	mod := ecs.CreateModifyInstanceAttributeRequest()
	mod.InstanceId, mod.InstanceName = id, "renamed"
	_, err = ec.ModifyInstanceAttribute(mod)
	require.NoError(t, err)
	require.Equal(t, "renamed", describeOne(t, ec, id).InstanceName)

	stop := ecs.CreateStopInstanceRequest()
	stop.InstanceId = id
	_, err = ec.StopInstance(stop)
	require.NoError(t, err)
	require.Equal(t, StatusStopping, describeOne(t, ec, id).Status)
	_, err = ec.StopInstance(stop)
	requireCode(t, err, "IncorrectInstanceStatus", 403)
	waitStatus(t, s, ec, id, StatusStopped)
	_, err = ec.StopInstance(stop)
	requireCode(t, err, "IncorrectInstanceStatus", 403)
	_, err = ec.RebootInstance(reboot)
	requireCode(t, err, "IncorrectInstanceStatus", 403)

	// The security group cannot go while the instance uses it.
	dsg := ecs.CreateDeleteSecurityGroupRequest()
	dsg.SecurityGroupId = n.sgID
	_, err = ec.DeleteSecurityGroup(dsg)
	requireCode(t, err, "DependencyViolation", 403)

	_, err = ec.DeleteInstance(del)
	require.NoError(t, err)
	require.Empty(t, s.Instances())
	_, err = ec.DeleteInstance(del)
	requireCode(t, err, "InvalidInstanceId.NotFound", 404)
	_, err = ec.StartInstance(start)
	requireCode(t, err, "InvalidInstanceId.NotFound", 404)
	_, err = ec.DeleteSecurityGroup(dsg)
	require.NoError(t, err)
}

func TestRunInstancesPagingAndQuota(t *testing.T) {
	s := startSim(t, Options{InstanceQuota: 5})
	ec, vc := ecsClient(t, s, testAK, testSK), vpcClient(t, s)
	n := newNetwork(t, s, ec, vc)

	run := ecs.CreateRunInstancesRequest()
	run.ImageId, run.InstanceType, run.SecurityGroupId, run.VSwitchId = testImage, "ecs.c7.large", n.sgID, n.vswID
	run.Amount, run.ClientToken, run.InstanceName = requests.NewInteger(3), "tok-run-1", "batch"
	r1, err := ec.RunInstances(run)
	require.NoError(t, err)
	require.Len(t, r1.InstanceIdSets.InstanceIdSet, 3)
	r2, err := ec.RunInstances(run)
	require.NoError(t, err)
	require.Equal(t, r1.InstanceIdSets.InstanceIdSet, r2.InstanceIdSets.InstanceIdSet)
	require.Len(t, s.Instances(), 3)

	// RunInstances starts them on its own: Pending → Starting → Running.
	for _, id := range r1.InstanceIdSets.InstanceIdSet {
		waitStatus(t, s, ec, id, StatusRunning)
	}

	// Paging: 3 instances, 2 per page.
	var seen []string
	for page := 1; page <= 2; page++ {
		d := ecs.CreateDescribeInstancesRequest()
		d.PageNumber, d.PageSize, d.VpcId = requests.NewInteger(page), requests.NewInteger(2), n.vpcID
		r, err := ec.DescribeInstances(d)
		require.NoError(t, err)
		require.Equal(t, 3, r.TotalCount)
		require.Equal(t, page, r.PageNumber)
		for _, in := range r.Instances.Instance {
			seen = append(seen, in.InstanceId)
		}
	}
	require.ElementsMatch(t, r1.InstanceIdSets.InstanceIdSet, seen)

	// Filters.
	d := ecs.CreateDescribeInstancesRequest()
	d.InstanceIds = jsonIDs(r1.InstanceIdSets.InstanceIdSet[1])
	r, err := ec.DescribeInstances(d)
	require.NoError(t, err)
	require.Equal(t, 1, r.TotalCount)
	d = ecs.CreateDescribeInstancesRequest()
	d.Status = StatusStopped
	r, err = ec.DescribeInstances(d)
	require.NoError(t, err)
	require.Equal(t, 0, r.TotalCount)
	d = ecs.CreateDescribeInstancesRequest()
	d.VpcId = "vpc-other"
	r, err = ec.DescribeInstances(d)
	require.NoError(t, err)
	require.Equal(t, 0, r.TotalCount)

	// Quota 5: 3 used, 3 more do not fit, 2 do.
	run2 := ecs.CreateRunInstancesRequest()
	run2.ImageId, run2.InstanceType, run2.SecurityGroupId, run2.VSwitchId = testImage, "ecs.c7.large", n.sgID, n.vswID
	run2.Amount = requests.NewInteger(3)
	_, err = ec.RunInstances(run2)
	requireCode(t, err, "QuotaExceed.ElasticQuota", 403)
	run2.Amount = requests.NewInteger(2)
	_, err = ec.RunInstances(run2)
	require.NoError(t, err)
	_, err = ec.CreateInstance(createReq(n, ""))
	requireCode(t, err, "QuotaExceed.ElasticQuota", 403)

	// Bad references.
	bad := createReq(n, "")
	bad.ImageId = "m-nosuchimage"
	s.SetInstanceQuota(100)
	_, err = ec.CreateInstance(bad)
	requireCode(t, err, "InvalidImageId.NotFound", 404)
	bad = createReq(n, "")
	bad.VSwitchId = "vsw-nosuch"
	_, err = ec.CreateInstance(bad)
	requireCode(t, err, "InvalidVSwitchId.NotFound", 404)
	bad = createReq(n, "")
	bad.InstanceType = "ecs.nosuch.large"
	_, err = ec.CreateInstance(bad)
	requireCode(t, err, "InvalidInstanceType.NotFound", 404)
}

func TestCatalogAndSecurityGroupRules(t *testing.T) {
	s := startSim(t, Options{})
	ec, vc := ecsClient(t, s, testAK, testSK), vpcClient(t, s)

	regions, err := ec.DescribeRegions(ecs.CreateDescribeRegionsRequest())
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(regions.Regions.Region), 5)
	zones, err := ec.DescribeZones(ecs.CreateDescribeZonesRequest())
	require.NoError(t, err)
	require.Equal(t, testZone, zones.Zones.Zone[0].ZoneId)
	require.Contains(t, zones.Zones.Zone[0].AvailableInstanceTypes.InstanceTypes, "ecs.g7.large")
	types, err := ec.DescribeInstanceTypes(ecs.CreateDescribeInstanceTypesRequest())
	require.NoError(t, err)
	require.NotEmpty(t, types.InstanceTypes.InstanceType)
	images, err := ec.DescribeImages(ecs.CreateDescribeImagesRequest())
	require.NoError(t, err)
	require.Equal(t, len(publicImages), images.TotalCount)
	bad := ecs.CreateDescribeZonesRequest()
	bad.RegionId = "xx-nowhere-1"
	_, err = ec.DescribeZones(bad)
	requireCode(t, err, "InvalidRegionId.NotFound", 404)

	n := newNetwork(t, s, ec, vc)
	auth := ecs.CreateAuthorizeSecurityGroupRequest()
	auth.SecurityGroupId, auth.IpProtocol, auth.PortRange, auth.SourceCidrIp = n.sgID, "tcp", "22/22", "0.0.0.0/0"
	_, err = ec.AuthorizeSecurityGroup(auth)
	require.NoError(t, err)
	_, err = ec.AuthorizeSecurityGroup(auth) // same rule again: no duplicate
	require.NoError(t, err)
	egress := ecs.CreateAuthorizeSecurityGroupEgressRequest()
	egress.SecurityGroupId, egress.IpProtocol, egress.PortRange, egress.DestCidrIp = n.sgID, "all", "-1/-1", "0.0.0.0/0"
	egress.Policy = "drop"
	_, err = ec.AuthorizeSecurityGroupEgress(egress)
	require.NoError(t, err)
	badRule := ecs.CreateAuthorizeSecurityGroupRequest()
	badRule.SecurityGroupId, badRule.IpProtocol, badRule.PortRange, badRule.SourceCidrIp = n.sgID, "tcp", "0/99999", "0.0.0.0/0"
	_, err = ec.AuthorizeSecurityGroup(badRule)
	requireCode(t, err, "InvalidPortRange.Malformed", 400)

	attr := ecs.CreateDescribeSecurityGroupAttributeRequest()
	attr.SecurityGroupId = n.sgID
	a, err := ec.DescribeSecurityGroupAttribute(attr)
	require.NoError(t, err)
	require.Len(t, a.Permissions.Permission, 2)
	attr.Direction = "ingress"
	a, err = ec.DescribeSecurityGroupAttribute(attr)
	require.NoError(t, err)
	require.Len(t, a.Permissions.Permission, 1)
	require.Equal(t, "TCP", a.Permissions.Permission[0].IpProtocol)
	require.Equal(t, "22/22", a.Permissions.Permission[0].PortRange)

	rev := ecs.CreateRevokeSecurityGroupRequest()
	rev.SecurityGroupId, rev.IpProtocol, rev.PortRange, rev.SourceCidrIp = n.sgID, "tcp", "22/22", "0.0.0.0/0"
	_, err = ec.RevokeSecurityGroup(rev)
	require.NoError(t, err)
	_, err = ec.RevokeSecurityGroup(rev) // already gone: still fine
	require.NoError(t, err)
	revE := ecs.CreateRevokeSecurityGroupEgressRequest()
	revE.SecurityGroupId, revE.IpProtocol, revE.PortRange, revE.DestCidrIp, revE.Policy = n.sgID, "all", "-1/-1", "0.0.0.0/0", "drop"
	_, err = ec.RevokeSecurityGroupEgress(revE)
	require.NoError(t, err)
	require.Empty(t, s.SecurityGroups()[0].Rules)

	list := ecs.CreateDescribeSecurityGroupsRequest()
	list.VpcId = n.vpcID
	l, err := ec.DescribeSecurityGroups(list)
	require.NoError(t, err)
	require.Equal(t, 1, l.TotalCount)
	require.Equal(t, "web", l.SecurityGroups.SecurityGroup[0].SecurityGroupName)

	// A VPC with a security group or VSwitch cannot be deleted.
	dv := vpc.CreateDeleteVpcRequest()
	dv.VpcId = n.vpcID
	_, err = vc.DeleteVpc(dv)
	requireCode(t, err, "DependencyViolation.VSwitch", 400)
}
