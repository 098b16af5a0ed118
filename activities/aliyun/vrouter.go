package aliyun

import (
	"context"
	"errors"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// routeEntries lists a route table's entries (one entry when id is set).
func (c *conn) routeEntries(ctx context.Context, tableID, id string) ([]vpc.RouteEntry, error) {
	cl, err := c.vpc()
	if err != nil {
		return nil, err
	}
	var out []vpc.RouteEntry
	req := vpc.CreateDescribeRouteEntryListRequest()
	req.RegionId, req.RouteTableId, req.RouteEntryId, req.MaxResult = c.region, tableID, id, requests.NewInteger(100)
	for {
		var resp *vpc.DescribeRouteEntryListResponse
		if err := c.call(ctx, "DescribeRouteEntryList", func() (err error) { resp, err = cl.DescribeRouteEntryList(req); return }); err != nil {
			return nil, err
		}
		out = append(out, resp.RouteEntrys.RouteEntry...)
		if resp.NextToken == "" {
			return out, nil
		}
		req.NextToken = resp.NextToken
	}
}

// vrouterOf reads a VRouter row and the region of its VPC.
func (a *Activities) vrouterOf(ctx context.Context, uuid string) (models.VpcVirtualRouter, models.DataCenter, error) {
	var vr models.VpcVirtualRouter
	var v models.EcsVpc
	if err := a.store.Get(ctx, store.ResAliyunVRouter, uuid, &vr); err != nil {
		return vr, models.DataCenter{}, wrap(err)
	}
	if err := a.store.Get(ctx, store.ResEcsVpc, vr.VpcUUID, &v); err != nil {
		return vr, models.DataCenter{}, wrap(err)
	}
	dc, err := a.dataCenter(ctx, v.DataCenterUUID)
	return vr, dc, wrap(err)
}

// routeTableOf resolves the router a route entry belongs to: a VPC's
// VRouter (vRouterType vrouter) or a VBR (vbr). It answers the router's
// route table and region.
func (a *Activities) routeTableOf(ctx context.Context, vRouterType, uuid string) (tableID string, dc models.DataCenter, err error) {
	switch vRouterType {
	case "", "vrouter":
		vr, dc, err := a.vrouterOf(ctx, uuid)
		return vr.RouteTableID, dc, err
	case workflows.KindVbr:
		var v models.VirtualBorderRouter
		if err := a.store.Get(ctx, store.ResVirtualBorderRouter, uuid, &v); err != nil {
			return "", dc, wrap(err)
		}
		dc, err := a.dataCenter(ctx, v.DataCenterUUID)
		return v.RouteTableID, dc, wrap(err)
	}
	return "", dc, wrap(&models.Error{Kind: models.KindInvalid, Code: models.CodeInvalidArgument,
		Message: "not supported: route entries of a " + vRouterType, Details: "vRouterType is vrouter or vbr", Cause: errors.ErrUnsupported})
}

// createRouteEntry adds a custom route to a VRouter's or VBR's table; the
// next hop is an ECS instance, a VPN gateway or a router interface of the
// inventory.
func (a *Activities) createRouteEntry(ctx context.Context, p workflows.HybridParams, token string) (workflows.RemoteRef, error) {
	ref := workflows.RemoteRef{Kind: workflows.KindRouteEntry, UUID: p.UUID, AccountUUID: p.AccountUUID}
	vrType := orDefault(str(p.Args, "vRouterType"), "vrouter")
	tableID, dc, err := a.routeTableOf(ctx, vrType, str(p.Args, "vRouterUuid"))
	if err != nil {
		return ref, err
	}
	hopType := str(p.Args, "nextHopType")
	var hop string
	switch hopType {
	case "Instance":
		var in models.EcsInstance
		if err := a.store.Get(ctx, store.ResEcsInstance, str(p.Args, "nextHopUuid"), &in); err != nil {
			return ref, wrap(err)
		}
		hop = in.EcsInstanceID
	case "VpnGateway":
		var g models.VpcVpnGateway
		if err := a.store.Get(ctx, store.ResVpnGateway, str(p.Args, "nextHopUuid"), &g); err != nil {
			return ref, wrap(err)
		}
		hop = g.GatewayID
	case "RouterInterface":
		var ri models.AliyunRouterInterface
		if err := a.store.Get(ctx, store.ResAliyunRouterIface, str(p.Args, "nextHopUuid"), &ri); err != nil {
			return ref, wrap(err)
		}
		hop = ri.RouterInterfaceID
	default:
		return ref, wrap(&models.Error{Kind: models.KindInvalid, Code: models.CodeInvalidArgument,
			Message: "not supported: next hop type " + hopType, Details: "Instance, VpnGateway and RouterInterface are", Cause: errors.ErrUnsupported})
	}
	c, err := a.connFor(ctx, p.AccountUUID, dc.RegionID)
	if err != nil {
		return ref, wrap(err)
	}
	cl, err := c.vpc()
	if err != nil {
		return ref, err
	}
	req := vpc.CreateCreateRouteEntryRequest()
	req.RegionId, req.RouteTableId, req.DestinationCidrBlock = dc.RegionID, tableID, str(p.Args, "dstCidrBlock")
	req.NextHopType, req.NextHopId, req.ClientToken = hopType, hop, token
	var resp *vpc.CreateRouteEntryResponse
	if err := c.call(ctx, "CreateRouteEntry", func() (err error) { resp, err = cl.CreateRouteEntry(req); return }); err != nil {
		return ref, err
	}
	ref.ID, ref.Region = resp.RouteEntryId, dc.RegionID
	ref.Extra = map[string]string{"routeTableId": tableID, "vRouterUuid": str(p.Args, "vRouterUuid"), "vRouterType": vrType}
	return ref, nil
}

func routeEntity(e *vpc.RouteEntry, vrUUID, vrType string) models.VpcVirtualRouteEntry {
	now := models.Now()
	hop := e.InstanceId
	if hop == "" && len(e.NextHops.NextHop) > 0 {
		hop = e.NextHops.NextHop[0].NextHopId
	}
	return models.VpcVirtualRouteEntry{RouteEntryID: e.RouteEntryId, Type: e.Type, VRouterType: orDefault(vrType, "vrouter"), Status: e.Status,
		DestinationCidrBlock: e.DestinationCidrBlock, NextHopID: hop, VirtualRouterUUID: vrUUID, NextHopType: e.NextHopType,
		CreateDate: now, LastOpDate: now}
}

// syncVRouter mirrors the VRouter of a VPC.
func (a *Activities) syncVRouter(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	var v models.EcsVpc
	if err := a.store.Get(ctx, store.ResEcsVpc, str(p.Args, "vpcUuid"), &v); err != nil {
		return activities.Result{}, wrap(err)
	}
	c, dc, err := a.connDC(ctx, p.AccountUUID, v.DataCenterUUID)
	if err != nil {
		return activities.Result{}, err
	}
	cl, err := c.vpc()
	if err != nil {
		return activities.Result{}, err
	}
	req := vpc.CreateDescribeVRoutersRequest()
	req.RegionId, req.VRouterId = dc.RegionID, v.VRouterID
	var resp *vpc.DescribeVRoutersResponse
	if err := c.call(ctx, "DescribeVRouters", func() (err error) { resp, err = cl.DescribeVRouters(req); return }); err != nil {
		return activities.Result{}, err
	}
	var seen []string
	for _, r := range resp.VRouters.VRouter {
		if r.VpcId != v.EcsVpcID {
			continue
		}
		now := models.Now()
		e := models.VpcVirtualRouter{VrID: r.VRouterId, VpcUUID: v.UUID, Name: r.VRouterName, Description: models.Ref(r.Description),
			CreateDate: now, LastOpDate: now}
		if ids := r.RouteTableIds.RouteTableId; len(ids) > 0 {
			e.RouteTableID = ids[0]
		}
		if _, err := a.store.UpsertRemote(ctx, store.ResAliyunVRouter, "vpc_uuid", v.UUID, "vr_id", e.VrID,
			models.NameUUID(store.ResAliyunVRouter, v.UUID, e.VrID), &e, p.AccountUUID); err != nil {
			return activities.Result{}, wrap(err)
		}
		seen = append(seen, r.VRouterId)
	}
	if _, err := a.store.DeleteStale(ctx, store.ResAliyunVRouter, "vr_id", seen, "vpc_uuid = ?", v.UUID); err != nil {
		return activities.Result{}, err
	}
	return a.list(ctx, store.ResAliyunVRouter, "vpcUuid", v.UUID)
}

// syncRouteEntries mirrors the routes of a VRouter's or VBR's table.
func (a *Activities) syncRouteEntries(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	vrType, vrUUID := orDefault(str(p.Args, "vRouterType"), "vrouter"), str(p.Args, "vRouterUuid")
	tableID, dc, err := a.routeTableOf(ctx, vrType, vrUUID)
	if err != nil {
		return activities.Result{}, err
	}
	c, err := a.connFor(ctx, p.AccountUUID, dc.RegionID)
	if err != nil {
		return activities.Result{}, wrap(err)
	}
	entries, err := c.routeEntries(ctx, tableID, "")
	if err != nil {
		return activities.Result{}, err
	}
	var seen []string
	for i := range entries {
		e := routeEntity(&entries[i], vrUUID, vrType)
		if _, err := a.store.UpsertRemote(ctx, store.ResAliyunRouteEntry, "virtual_router_uuid", vrUUID, "route_entry_id", e.RouteEntryID,
			models.NameUUID(store.ResAliyunRouteEntry, vrUUID, e.RouteEntryID), &e, p.AccountUUID); err != nil {
			return activities.Result{}, wrap(err)
		}
		seen = append(seen, e.RouteEntryID)
	}
	if _, err := a.store.DeleteStale(ctx, store.ResAliyunRouteEntry, "route_entry_id", seen, "virtual_router_uuid = ?", vrUUID); err != nil {
		return activities.Result{}, err
	}
	return a.list(ctx, store.ResAliyunRouteEntry, "virtualRouterUuid", vrUUID)
}
