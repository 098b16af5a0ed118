package aliyun

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/zcloud/zcloud/workflows"
)

// remote is what the generic steps know of one Alibaba resource: its id
// and status, and the SDK's description of it.
type remote struct {
	ID     string
	Status string
	VPC    *vpc.Vpc
	VSw    *vpc.VSwitch
	SG     *ecs.SecurityGroup
	Inst   *ecs.Instance
	EIP    *vpc.EipAddress
	Img    *ecs.Image
	VGW    *vpc.VpnGateway
	CGW    *vpc.CustomerGateway
	VCO    *vpc.VpnConnectionInDescribeVpnConnections
	Route  *vpc.RouteEntry
	VBR    *vpc.VirtualBorderRouterType
	RI     *vpc.RouterInterfaceType
}

func jsonList(ids ...string) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

// describe reads one remote resource; found is false when it is gone.
func (c *conn) describe(ctx context.Context, kind, id string) (remote, bool, error) {
	switch kind {
	case workflows.KindVpc:
		cl, err := c.vpc()
		if err != nil {
			return remote{}, false, err
		}
		req := vpc.CreateDescribeVpcsRequest()
		req.RegionId, req.VpcId = c.region, id
		var resp *vpc.DescribeVpcsResponse
		if err := c.call(ctx, "DescribeVpcs", func() (err error) { resp, err = cl.DescribeVpcs(req); return }); err != nil {
			return remote{}, false, notFoundOK(err)
		}
		for i := range resp.Vpcs.Vpc {
			if v := &resp.Vpcs.Vpc[i]; v.VpcId == id {
				return remote{ID: id, Status: v.Status, VPC: v}, true, nil
			}
		}
	case workflows.KindVSwitch:
		cl, err := c.vpc()
		if err != nil {
			return remote{}, false, err
		}
		req := vpc.CreateDescribeVSwitchesRequest()
		req.RegionId, req.VSwitchId = c.region, id
		var resp *vpc.DescribeVSwitchesResponse
		if err := c.call(ctx, "DescribeVSwitches", func() (err error) { resp, err = cl.DescribeVSwitches(req); return }); err != nil {
			return remote{}, false, notFoundOK(err)
		}
		for i := range resp.VSwitches.VSwitch {
			if v := &resp.VSwitches.VSwitch[i]; v.VSwitchId == id {
				return remote{ID: id, Status: v.Status, VSw: v}, true, nil
			}
		}
	case workflows.KindSecurityGroup:
		cl, err := c.ecs()
		if err != nil {
			return remote{}, false, err
		}
		req := ecs.CreateDescribeSecurityGroupsRequest()
		req.RegionId, req.SecurityGroupIds = c.region, jsonList(id)
		var resp *ecs.DescribeSecurityGroupsResponse
		if err := c.call(ctx, "DescribeSecurityGroups", func() (err error) { resp, err = cl.DescribeSecurityGroups(req); return }); err != nil {
			return remote{}, false, notFoundOK(err)
		}
		for i := range resp.SecurityGroups.SecurityGroup {
			if g := &resp.SecurityGroups.SecurityGroup[i]; g.SecurityGroupId == id {
				return remote{ID: id, Status: "Available", SG: g}, true, nil
			}
		}
	case workflows.KindInstance:
		cl, err := c.ecs()
		if err != nil {
			return remote{}, false, err
		}
		req := ecs.CreateDescribeInstancesRequest()
		req.RegionId, req.InstanceIds = c.region, jsonList(id)
		var resp *ecs.DescribeInstancesResponse
		if err := c.call(ctx, "DescribeInstances", func() (err error) { resp, err = cl.DescribeInstances(req); return }); err != nil {
			return remote{}, false, notFoundOK(err)
		}
		for i := range resp.Instances.Instance {
			if in := &resp.Instances.Instance[i]; in.InstanceId == id {
				return remote{ID: id, Status: in.Status, Inst: in}, true, nil
			}
		}
	case workflows.KindEip:
		cl, err := c.vpc()
		if err != nil {
			return remote{}, false, err
		}
		req := vpc.CreateDescribeEipAddressesRequest()
		req.RegionId, req.AllocationId = c.region, id
		var resp *vpc.DescribeEipAddressesResponse
		if err := c.call(ctx, "DescribeEipAddresses", func() (err error) { resp, err = cl.DescribeEipAddresses(req); return }); err != nil {
			return remote{}, false, notFoundOK(err)
		}
		for i := range resp.EipAddresses.EipAddress {
			if e := &resp.EipAddresses.EipAddress[i]; e.AllocationId == id {
				return remote{ID: id, Status: e.Status, EIP: e}, true, nil
			}
		}
	case workflows.KindImage:
		cl, err := c.ecs()
		if err != nil {
			return remote{}, false, err
		}
		req := ecs.CreateDescribeImagesRequest()
		// DescribeImages answers only Available images unless asked.
		req.RegionId, req.ImageId, req.ImageOwnerAlias = c.region, id, "self"
		req.Status = "Creating,Waiting,Available,UnAvailable,CreateFailed"
		var resp *ecs.DescribeImagesResponse
		if err := c.call(ctx, "DescribeImages", func() (err error) { resp, err = cl.DescribeImages(req); return }); err != nil {
			return remote{}, false, notFoundOK(err)
		}
		for i := range resp.Images.Image {
			if im := &resp.Images.Image[i]; im.ImageId == id {
				return remote{ID: id, Status: im.Status, Img: im}, true, nil
			}
		}
	case workflows.KindVpnGateway, workflows.KindUserGateway, workflows.KindVpnConnection:
		return c.describeVpn(ctx, kind, id)
	case workflows.KindVbr, workflows.KindRouterInterface:
		return c.describeExpress(ctx, kind, id)
	case workflows.KindRouteEntry:
		return remote{}, false, fmt.Errorf("describe: a route entry needs its table; use describeRef")
	case workflows.KindOssBucket:
		ok, err := c.bucketExists(ctx, id)
		if err != nil || !ok {
			return remote{}, false, err
		}
		return remote{ID: id, Status: "Available"}, true, nil
	default:
		return remote{}, false, fmt.Errorf("describe: unknown kind %s", kind)
	}
	return remote{}, false, nil
}

// describeRef reads the remote resource a reference names (a route entry
// needs its route table, which the reference carries).
func (c *conn) describeRef(ctx context.Context, ref workflows.RemoteRef) (remote, bool, error) {
	if ref.Kind != workflows.KindRouteEntry {
		return c.describe(ctx, ref.Kind, ref.ID)
	}
	entries, err := c.routeEntries(ctx, ref.Extra["routeTableId"], ref.ID)
	if err != nil {
		return remote{}, false, notFoundOK(err)
	}
	for i := range entries {
		if e := &entries[i]; e.RouteEntryId == ref.ID {
			return remote{ID: ref.ID, Status: e.Status, Route: e}, true, nil
		}
	}
	return remote{}, false, nil
}

// notFoundOK turns "not found" into no error (the caller reports found=false).
func notFoundOK(err error) error {
	if isNotFound(err) {
		return nil
	}
	return err
}

// deleteRemote deletes one remote resource; a missing one is fine.
func (c *conn) deleteRemote(ctx context.Context, ref workflows.RemoteRef) error {
	var err error
	switch ref.Kind {
	case workflows.KindVpc:
		cl, cerr := c.vpc()
		if cerr != nil {
			return cerr
		}
		req := vpc.CreateDeleteVpcRequest()
		req.RegionId, req.VpcId = c.region, ref.ID
		err = c.call(ctx, "DeleteVpc", func() error { _, err := cl.DeleteVpc(req); return err })
	case workflows.KindVSwitch:
		cl, cerr := c.vpc()
		if cerr != nil {
			return cerr
		}
		req := vpc.CreateDeleteVSwitchRequest()
		req.RegionId, req.VSwitchId = c.region, ref.ID
		err = c.call(ctx, "DeleteVSwitch", func() error { _, err := cl.DeleteVSwitch(req); return err })
	case workflows.KindSecurityGroup:
		cl, cerr := c.ecs()
		if cerr != nil {
			return cerr
		}
		req := ecs.CreateDeleteSecurityGroupRequest()
		req.RegionId, req.SecurityGroupId = c.region, ref.ID
		err = c.call(ctx, "DeleteSecurityGroup", func() error { _, err := cl.DeleteSecurityGroup(req); return err })
	case workflows.KindSecurityGroupRule:
		err = c.revokeRule(ctx, ref.Extra)
	case workflows.KindInstance:
		cl, cerr := c.ecs()
		if cerr != nil {
			return cerr
		}
		req := ecs.CreateDeleteInstanceRequest()
		req.RegionId, req.InstanceId, req.Force = c.region, ref.ID, requests.NewBoolean(true)
		err = c.call(ctx, "DeleteInstance", func() error { _, err := cl.DeleteInstance(req); return err })
	case workflows.KindEip:
		cl, cerr := c.vpc()
		if cerr != nil {
			return cerr
		}
		if r, found, derr := c.describe(ctx, ref.Kind, ref.ID); derr != nil {
			return derr
		} else if found && r.EIP.InstanceId != "" {
			ureq := vpc.CreateUnassociateEipAddressRequest()
			ureq.RegionId, ureq.AllocationId, ureq.InstanceId = c.region, ref.ID, r.EIP.InstanceId
			if err := c.call(ctx, "UnassociateEipAddress", func() error { _, err := cl.UnassociateEipAddress(ureq); return err }); err != nil && !isNotFound(err) {
				return err
			}
			if err := c.waitFor(ctx, ref, []string{"Available"}, false); err != nil {
				return err
			}
		}
		req := vpc.CreateReleaseEipAddressRequest()
		req.RegionId, req.AllocationId = c.region, ref.ID
		err = c.call(ctx, "ReleaseEipAddress", func() error { _, err := cl.ReleaseEipAddress(req); return err })
	case workflows.KindImage:
		cl, cerr := c.ecs()
		if cerr != nil {
			return cerr
		}
		req := ecs.CreateDeleteImageRequest()
		req.RegionId, req.ImageId, req.Force = c.region, ref.ID, requests.NewBoolean(true)
		err = c.call(ctx, "DeleteImage", func() error { _, err := cl.DeleteImage(req); return err })
	case workflows.KindOssBucket:
		cl, cerr := c.oss()
		if cerr != nil {
			return cerr
		}
		err = c.ossCall(ctx, "DeleteBucket", func() error { return cl.DeleteBucket(ref.ID) })
	case workflows.KindVbr, workflows.KindRouterInterface:
		err = c.deleteExpress(ctx, ref)
	case workflows.KindRouteEntry:
		cl, cerr := c.vpc()
		if cerr != nil {
			return cerr
		}
		req := vpc.CreateDeleteRouteEntryRequest()
		req.RegionId, req.RouteEntryId, req.RouteTableId = c.region, ref.ID, ref.Extra["routeTableId"]
		err = c.call(ctx, "DeleteRouteEntry", func() error { _, err := cl.DeleteRouteEntry(req); return err })
	case workflows.KindUserGateway:
		cl, cerr := c.vpc()
		if cerr != nil {
			return cerr
		}
		req := vpc.CreateDeleteCustomerGatewayRequest()
		req.RegionId, req.CustomerGatewayId = c.region, ref.ID
		err = c.call(ctx, "DeleteCustomerGateway", func() error { _, err := cl.DeleteCustomerGateway(req); return err })
	case workflows.KindVpnConnection:
		cl, cerr := c.vpc()
		if cerr != nil {
			return cerr
		}
		// The gateway refuses changes while it is updating.
		gw := workflows.RemoteRef{Kind: workflows.KindVpnGateway, ID: ref.Extra["vpnGatewayId"]}
		if werr := c.waitFor(ctx, gw, []string{"active"}, false); werr != nil && !isNotFound(werr) {
			return werr
		}
		req := vpc.CreateDeleteVpnConnectionRequest()
		req.RegionId, req.VpnConnectionId = c.region, ref.ID
		err = c.call(ctx, "DeleteVpnConnection", func() error { _, err := cl.DeleteVpnConnection(req); return err })
	default:
		return fmt.Errorf("delete: unknown kind %s", ref.Kind)
	}
	if isNotFound(err) {
		return nil
	}
	return err
}

// rule fields as the API and the store name them.
func ruleArgs(args map[string]any) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"securityGroupId", "direction", "protocol", "portRange", "cidr", "policy", "nictype", "priority", "description"} {
		switch v := args[k].(type) {
		case string:
			out[k] = v
		case float64:
			out[k] = strconv.FormatInt(int64(v), 10)
		case int64:
			out[k] = strconv.FormatInt(v, 10)
		}
	}
	if out["policy"] == "" {
		out["policy"] = "accept"
	}
	if out["nictype"] == "" {
		out["nictype"] = "intranet"
	}
	if out["priority"] == "" {
		out["priority"] = "1"
	}
	return out
}

// authorizeRule adds a rule (ingress or egress).
func (c *conn) authorizeRule(ctx context.Context, r map[string]string) error {
	cl, err := c.ecs()
	if err != nil {
		return err
	}
	prio, _ := strconv.Atoi(r["priority"])
	if r["direction"] == "egress" {
		req := ecs.CreateAuthorizeSecurityGroupEgressRequest()
		req.RegionId, req.SecurityGroupId, req.IpProtocol, req.PortRange = c.region, r["securityGroupId"], r["protocol"], r["portRange"]
		req.DestCidrIp, req.Policy, req.NicType, req.Priority, req.Description = r["cidr"], r["policy"], r["nictype"], strconv.Itoa(prio), r["description"]
		return c.call(ctx, "AuthorizeSecurityGroupEgress", func() error { _, err := cl.AuthorizeSecurityGroupEgress(req); return err })
	}
	req := ecs.CreateAuthorizeSecurityGroupRequest()
	req.RegionId, req.SecurityGroupId, req.IpProtocol, req.PortRange = c.region, r["securityGroupId"], r["protocol"], r["portRange"]
	req.SourceCidrIp, req.Policy, req.NicType, req.Priority, req.Description = r["cidr"], r["policy"], r["nictype"], strconv.Itoa(prio), r["description"]
	return c.call(ctx, "AuthorizeSecurityGroup", func() error { _, err := cl.AuthorizeSecurityGroup(req); return err })
}

// revokeRule removes a rule (ingress or egress).
func (c *conn) revokeRule(ctx context.Context, r map[string]string) error {
	cl, err := c.ecs()
	if err != nil {
		return err
	}
	if r["direction"] == "egress" {
		req := ecs.CreateRevokeSecurityGroupEgressRequest()
		req.RegionId, req.SecurityGroupId, req.IpProtocol, req.PortRange = c.region, r["securityGroupId"], r["protocol"], r["portRange"]
		req.DestCidrIp, req.Policy, req.NicType = r["cidr"], r["policy"], r["nictype"]
		return c.call(ctx, "RevokeSecurityGroupEgress", func() error { _, err := cl.RevokeSecurityGroupEgress(req); return err })
	}
	req := ecs.CreateRevokeSecurityGroupRequest()
	req.RegionId, req.SecurityGroupId, req.IpProtocol, req.PortRange = c.region, r["securityGroupId"], r["protocol"], r["portRange"]
	req.SourceCidrIp, req.Policy, req.NicType = r["cidr"], r["policy"], r["nictype"]
	return c.call(ctx, "RevokeSecurityGroup", func() error { _, err := cl.RevokeSecurityGroup(req); return err })
}
