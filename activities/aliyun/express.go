package aliyun

import (
	"context"
	"strconv"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// Express Connect: virtual border routers (made by hand at Alibaba on a
// leased line, so ZCloud syncs, updates, terminates and recovers them) and
// router interface pairs between a VBR and a VPC's VRouter.

// Router types as Alibaba names them.
const (
	routerVBR     = "VBR"
	routerVRouter = "VRouter"
)

// describeExpress reads a VBR or a router interface.
func (c *conn) describeExpress(ctx context.Context, kind, id string) (remote, bool, error) {
	cl, err := c.vpc()
	if err != nil {
		return remote{}, false, err
	}
	switch kind {
	case workflows.KindVbr:
		vbrs, err := c.vbrs(ctx, cl, id)
		if err != nil {
			return remote{}, false, notFoundOK(err)
		}
		for i := range vbrs {
			if v := &vbrs[i]; v.VbrId == id {
				return remote{ID: id, Status: v.Status, VBR: v}, true, nil
			}
		}
	case workflows.KindRouterInterface:
		ris, err := c.routerInterfaces(ctx, cl, id)
		if err != nil {
			return remote{}, false, notFoundOK(err)
		}
		for i := range ris {
			if r := &ris[i]; r.RouterInterfaceId == id {
				return remote{ID: id, Status: r.Status, RI: r}, true, nil
			}
		}
	}
	return remote{}, false, nil
}

// vbrs lists the region's VBRs (one when id is set).
func (c *conn) vbrs(ctx context.Context, cl *vpc.Client, id string) ([]vpc.VirtualBorderRouterType, error) {
	var out []vpc.VirtualBorderRouterType
	err := forPages(func(number, size requests.Integer) (int, error) {
		req := vpc.CreateDescribeVirtualBorderRoutersRequest()
		req.RegionId, req.PageNumber, req.PageSize = c.region, number, size
		if id != "" {
			req.Filter = &[]vpc.DescribeVirtualBorderRoutersFilter{{Key: "VbrId", Value: &[]string{id}}}
		}
		var resp *vpc.DescribeVirtualBorderRoutersResponse
		if err := c.call(ctx, "DescribeVirtualBorderRouters", func() (err error) { resp, err = cl.DescribeVirtualBorderRouters(req); return }); err != nil {
			return 0, err
		}
		out = append(out, resp.VirtualBorderRouterSet.VirtualBorderRouterType...)
		return len(resp.VirtualBorderRouterSet.VirtualBorderRouterType), nil
	})
	return out, err
}

// routerInterfaces lists the region's router interfaces (one when id is set).
func (c *conn) routerInterfaces(ctx context.Context, cl *vpc.Client, id string) ([]vpc.RouterInterfaceType, error) {
	var out []vpc.RouterInterfaceType
	err := forPages(func(number, size requests.Integer) (int, error) {
		req := vpc.CreateDescribeRouterInterfacesRequest()
		req.RegionId, req.PageNumber, req.PageSize = c.region, number, size
		if id != "" {
			req.Filter = &[]vpc.DescribeRouterInterfacesFilter{{Key: "RouterInterfaceId", Value: &[]string{id}}}
		}
		var resp *vpc.DescribeRouterInterfacesResponse
		if err := c.call(ctx, "DescribeRouterInterfaces", func() (err error) { resp, err = cl.DescribeRouterInterfaces(req); return }); err != nil {
			return 0, err
		}
		out = append(out, resp.RouterInterfaceSet.RouterInterfaceType...)
		return len(resp.RouterInterfaceSet.RouterInterfaceType), nil
	})
	return out, err
}

// expressRouter resolves the local router a router interface sits on: a
// VBR or a VPC's VRouter of the inventory. It answers Alibaba's router id
// and type and the router's data center.
func (a *Activities) expressRouter(ctx context.Context, routerType, uuid string) (id, typ, dcUUID, tableID string, err error) {
	switch routerType {
	case routerVBR, workflows.KindVbr:
		var v models.VirtualBorderRouter
		if err := a.store.Get(ctx, store.ResVirtualBorderRouter, uuid, &v); err != nil {
			return "", "", "", "", wrap(err)
		}
		return v.VbrID, routerVBR, v.DataCenterUUID, v.RouteTableID, nil
	case routerVRouter, "vrouter", "":
		vr, dc, err := a.vrouterOf(ctx, uuid)
		if err != nil {
			return "", "", "", "", err
		}
		return vr.VrID, routerVRouter, dc.UUID, vr.RouteTableID, nil
	}
	return "", "", "", "", wrap(models.Invalid("unknown router type %s", routerType))
}

// createRouterInterface creates one end of a router interface pair: a VBR's
// end initiates, a VRouter's accepts (Alibaba's rule). The pair is formed
// by StartConnectionBetweenAliyunRouterInterface.
func (a *Activities) createRouterInterface(ctx context.Context, p workflows.HybridParams, token string) (workflows.RemoteRef, error) {
	ref := workflows.RemoteRef{Kind: workflows.KindRouterInterface, UUID: p.UUID, AccountUUID: p.AccountUUID}
	routerID, typ, dcUUID, _, err := a.expressRouter(ctx, str(p.Args, "routerType"), str(p.Args, "vRouterUuid"))
	if err != nil {
		return ref, err
	}
	if want := str(p.Args, "dataCenterUuid"); want != "" && want != dcUUID {
		return ref, wrap(models.Invalid("router[uuid:%s] is not in data center[uuid:%s]", str(p.Args, "vRouterUuid"), want))
	}
	c, dc, err := a.connDC(ctx, p.AccountUUID, dcUUID)
	if err != nil {
		return ref, err
	}
	cl, err := c.vpc()
	if err != nil {
		return ref, err
	}
	req := vpc.CreateCreateRouterInterfaceRequest()
	req.RegionId, req.OppositeRegionId, req.RouterType, req.RouterId = dc.RegionID, dc.RegionID, typ, routerID
	req.Name, req.Description, req.ClientToken = str(p.Args, "name"), str(p.Args, "description"), token
	req.AccessPointId = str(p.Args, "accessPointUuid")
	if typ == routerVBR {
		req.Role, req.OppositeRouterType, req.Spec = "InitiatingSide", routerVRouter, orDefault(str(p.Args, "spec"), "Small.1")
	} else {
		req.Role, req.OppositeRouterType, req.Spec = "AcceptingSide", routerVBR, orDefault(str(p.Args, "spec"), "Negative")
	}
	var resp *vpc.CreateRouterInterfaceResponse
	if err := c.call(ctx, "CreateRouterInterface", func() (err error) { resp, err = cl.CreateRouterInterface(req); return }); err != nil {
		return ref, err
	}
	ref.ID, ref.Region = resp.RouterInterfaceId, dc.RegionID
	ref.Extra = map[string]string{"dataCenterUuid": dc.UUID, "routerId": routerID, "routerType": typ, "routerUuid": str(p.Args, "vRouterUuid")}
	return ref, nil
}

// deleteExpress deletes a router interface (deactivating it first when it
// is connected) or a VBR.
func (c *conn) deleteExpress(ctx context.Context, ref workflows.RemoteRef) error {
	cl, err := c.vpc()
	if err != nil {
		return err
	}
	if ref.Kind == workflows.KindVbr {
		req := vpc.CreateDeleteVirtualBorderRouterRequest()
		req.RegionId, req.VbrId = c.region, ref.ID
		return c.call(ctx, "DeleteVirtualBorderRouter", func() error { _, err := cl.DeleteVirtualBorderRouter(req); return err })
	}
	r, found, err := c.describeExpress(ctx, ref.Kind, ref.ID)
	if err != nil || !found {
		return err
	}
	switch r.Status {
	case "Connecting", "Activating":
		if err := c.waitFor(ctx, ref, []string{"Active"}, false); err != nil {
			return err
		}
		fallthrough
	case "Active":
		dreq := vpc.CreateDeactivateRouterInterfaceRequest()
		dreq.RegionId, dreq.RouterInterfaceId = c.region, ref.ID
		if err := c.call(ctx, "DeactivateRouterInterface", func() error { _, err := cl.DeactivateRouterInterface(dreq); return err }); err != nil {
			return err
		}
		fallthrough
	case "Deactivating":
		if err := c.waitFor(ctx, ref, []string{"Inactive"}, false); err != nil {
			return err
		}
	}
	req := vpc.CreateDeleteRouterInterfaceRequest()
	req.RegionId, req.RouterInterfaceId = c.region, ref.ID
	return c.call(ctx, "DeleteRouterInterface", func() error { _, err := cl.DeleteRouterInterface(req); return err })
}

// actionExpress runs an action on a VBR, a router interface or a VPN
// connection.
func (a *Activities) actionExpress(ctx context.Context, c *conn, p workflows.ActionParams) error {
	cl, err := c.vpc()
	if err != nil {
		return err
	}
	ref := p.Ref
	switch {
	case ref.Kind == workflows.KindVbr && p.Action == workflows.ActionUpdate:
		req := vpc.CreateModifyVirtualBorderRouterAttributeRequest()
		req.RegionId, req.VbrId, req.Name, req.Description = c.region, ref.ID, str(p.Args, "name"), str(p.Args, "description")
		req.LocalGatewayIp, req.PeerGatewayIp, req.PeeringSubnetMask = str(p.Args, "localGatewayIp"), str(p.Args, "peerGatewayIp"), str(p.Args, "peeringSubnetMask")
		req.CircuitCode = str(p.Args, "circuitCode")
		if v := str(p.Args, "vlanId"); v != "" {
			if _, err := strconv.Atoi(v); err != nil {
				return wrap(models.Invalid("vlanId %q is not a number", v))
			}
			req.VlanId = requests.Integer(v)
		}
		req.ClientToken = clientToken(ctx, ref.Kind+"-"+p.Action)
		return c.call(ctx, "ModifyVirtualBorderRouterAttribute", func() error { _, err := cl.ModifyVirtualBorderRouterAttribute(req); return err })
	case ref.Kind == workflows.KindVbr && p.Action == workflows.ActionTerminate:
		req := vpc.CreateTerminateVirtualBorderRouterRequest()
		req.RegionId, req.VbrId, req.ClientToken = c.region, ref.ID, clientToken(ctx, ref.Kind+"-"+p.Action)
		return c.call(ctx, "TerminateVirtualBorderRouter", func() error { _, err := cl.TerminateVirtualBorderRouter(req); return err })
	case ref.Kind == workflows.KindVbr && p.Action == workflows.ActionRecover:
		req := vpc.CreateRecoverVirtualBorderRouterRequest()
		req.RegionId, req.VbrId, req.ClientToken = c.region, ref.ID, clientToken(ctx, ref.Kind+"-"+p.Action)
		return c.call(ctx, "RecoverVirtualBorderRouter", func() error { _, err := cl.RecoverVirtualBorderRouter(req); return err })
	case ref.Kind == workflows.KindRouterInterface && p.Action == workflows.ActionPair:
		req := vpc.CreateModifyRouterInterfaceAttributeRequest()
		req.RegionId, req.RouterInterfaceId = c.region, ref.ID
		req.OppositeInterfaceId, req.OppositeRouterId, req.OppositeRouterType =
			str(p.Args, "oppositeInterfaceId"), str(p.Args, "oppositeRouterId"), str(p.Args, "oppositeRouterType")
		return c.call(ctx, "ModifyRouterInterfaceAttribute", func() error { _, err := cl.ModifyRouterInterfaceAttribute(req); return err })
	case ref.Kind == workflows.KindRouterInterface && p.Action == workflows.ActionConnect:
		r, found, err := c.describeExpress(ctx, ref.Kind, ref.ID)
		if err != nil {
			return err
		}
		if found && r.Status != "Idle" {
			return nil // connected already (a retry after a lost reply)
		}
		req := vpc.CreateConnectRouterInterfaceRequest()
		req.RegionId, req.RouterInterfaceId = c.region, ref.ID
		return c.call(ctx, "ConnectRouterInterface", func() error { _, err := cl.ConnectRouterInterface(req); return err })
	case ref.Kind == workflows.KindRouterInterface && (p.Action == workflows.ActionActivate || p.Action == workflows.ActionDeactivate):
		r, found, err := c.describeExpress(ctx, ref.Kind, ref.ID)
		if err != nil {
			return err
		}
		if !found {
			return wrap(models.NotFound("router interface %s is gone from Alibaba Cloud", ref.ID))
		}
		if p.Action == workflows.ActionActivate {
			if r.Status == "Active" || r.Status == "Activating" {
				return nil
			}
			req := vpc.CreateActivateRouterInterfaceRequest()
			req.RegionId, req.RouterInterfaceId = c.region, ref.ID
			return c.call(ctx, "ActivateRouterInterface", func() error { _, err := cl.ActivateRouterInterface(req); return err })
		}
		if r.Status == "Inactive" || r.Status == "Deactivating" {
			return nil
		}
		req := vpc.CreateDeactivateRouterInterfaceRequest()
		req.RegionId, req.RouterInterfaceId = c.region, ref.ID
		return c.call(ctx, "DeactivateRouterInterface", func() error { _, err := cl.DeactivateRouterInterface(req); return err })
	case ref.Kind == workflows.KindVpnConnection && p.Action == workflows.ActionUpdate:
		return a.updateVpnConnection(ctx, c, cl, p)
	}
	return wrap(models.Invalid("unknown %s action %s", ref.Kind, p.Action))
}

// recordExpress records a VBR or a router interface.
func (a *Activities) recordExpress(ctx context.Context, r remote, p workflows.RecordParams) (string, string, error) {
	ref := p.Ref
	switch ref.Kind {
	case workflows.KindVbr:
		dc := ref.Extra["dataCenterUuid"]
		e := vbrEntity(r.VBR, dc)
		uuid, err := a.store.UpsertRemote(ctx, store.ResVirtualBorderRouter, "data_center_uuid", dc, "vbr_id", e.VbrID, ref.UUID, &e, ref.AccountUUID)
		return store.ResVirtualBorderRouter, uuid, err
	case workflows.KindRouterInterface:
		dc := ref.Extra["dataCenterUuid"]
		e := a.riEntity(ctx, r.RI, dc)
		if e.VirtualRouterUUID == "" {
			e.VirtualRouterUUID = ref.Extra["routerUuid"]
		}
		if e.Description == "" {
			e.Description = models.Ref(str(p.Args, "description"))
		}
		uuid, err := a.store.UpsertRemote(ctx, store.ResAliyunRouterIface, "data_center_uuid", dc, "router_interface_id", e.RouterInterfaceID,
			ref.UUID, &e, ref.AccountUUID)
		return store.ResAliyunRouterIface, uuid, err
	}
	return "", "", models.Invalid("cannot record %s", ref.Kind)
}

func vbrEntity(v *vpc.VirtualBorderRouterType, dcUUID string) models.VirtualBorderRouter {
	now := models.Now()
	return models.VirtualBorderRouter{VbrID: v.VbrId, VlanInterfaceID: v.VlanInterfaceId, Status: v.Status, DataCenterUUID: dcUUID,
		VlanID: strconv.Itoa(v.VlanId), PhysicalConnectionStatus: v.PhysicalConnectionStatus, CircuitCode: models.Ref(v.CircuitCode),
		LocalGatewayIP: v.LocalGatewayIp, PeerGatewayIP: v.PeerGatewayIp, PeeringSubnetMask: v.PeeringSubnetMask,
		PhysicalConnectionID: v.PhysicalConnectionId, RouteTableID: v.RouteTableId, Name: v.Name, Description: models.Ref(v.Description),
		CreateDate: now, LastOpDate: now}
}

// riEntity maps a router interface to its row; its router and opposite
// interface are resolved to local rows when they are recorded.
func (a *Activities) riEntity(ctx context.Context, r *vpc.RouterInterfaceType, dcUUID string) models.AliyunRouterInterface {
	now := models.Now()
	e := models.AliyunRouterInterface{DataCenterUUID: dcUUID, RouterInterfaceID: r.RouterInterfaceId, Role: r.Role, Spec: r.Spec,
		Name: r.Name, Description: models.Ref(r.Description), Status: r.Status, CreateDate: now, LastOpDate: now}
	if r.RouterType == routerVBR {
		e.VRouterType = workflows.KindVbr
		e.VirtualRouterUUID, _ = a.store.FindRemote(ctx, store.ResVirtualBorderRouter, "data_center_uuid", dcUUID, "vbr_id", r.RouterId)
	} else {
		e.VRouterType = "vrouter"
		// VRouter rows are scoped by VPC; a VRouter id is unique in a region.
		e.VirtualRouterUUID, _ = a.store.FindRemote(ctx, store.ResAliyunVRouter, "vr_id", r.RouterId, "vr_id", r.RouterId)
	}
	if r.OppositeInterfaceId != "" {
		opp, _ := a.store.FindRemote(ctx, store.ResAliyunRouterIface, "data_center_uuid", dcUUID, "router_interface_id", r.OppositeInterfaceId)
		e.OppositeInterfaceUUID = models.Ref(opp)
	}
	return e
}

// syncExpress mirrors a data center's VBRs or router interfaces.
func (a *Activities) syncExpress(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	c, dc, err := a.connDC(ctx, p.AccountUUID, str(p.Args, "dataCenterUuid"))
	if err != nil {
		return activities.Result{}, err
	}
	cl, err := c.vpc()
	if err != nil {
		return activities.Result{}, err
	}
	var seen []string
	var res, idCol string
	switch p.What {
	case workflows.KindVbr:
		res, idCol = store.ResVirtualBorderRouter, "vbr_id"
		vbrs, err := c.vbrs(ctx, cl, "")
		if err != nil {
			return activities.Result{}, err
		}
		for i := range vbrs {
			e := vbrEntity(&vbrs[i], dc.UUID)
			if _, err := a.store.UpsertRemote(ctx, res, "data_center_uuid", dc.UUID, idCol, e.VbrID,
				models.NameUUID(res, dc.UUID, e.VbrID), &e, p.AccountUUID); err != nil {
				return activities.Result{}, wrap(err)
			}
			seen = append(seen, e.VbrID)
		}
	case workflows.KindRouterInterface:
		res, idCol = store.ResAliyunRouterIface, "router_interface_id"
		ris, err := c.routerInterfaces(ctx, cl, "")
		if err != nil {
			return activities.Result{}, err
		}
		// Two passes: the second links each interface to its opposite,
		// which the first may have just imported.
		for pass := 0; pass < 2; pass++ {
			seen = seen[:0]
			for i := range ris {
				e := a.riEntity(ctx, &ris[i], dc.UUID)
				if _, err := a.store.UpsertRemote(ctx, res, "data_center_uuid", dc.UUID, idCol, e.RouterInterfaceID,
					models.NameUUID(res, dc.UUID, e.RouterInterfaceID), &e, p.AccountUUID); err != nil {
					return activities.Result{}, wrap(err)
				}
				seen = append(seen, e.RouterInterfaceID)
			}
		}
	default:
		return activities.Result{}, wrap(models.Invalid("cannot sync %s", p.What))
	}
	if _, err := a.store.DeleteStale(ctx, res, idCol, seen, "data_center_uuid = ?", dc.UUID); err != nil {
		return activities.Result{}, err
	}
	return a.list(ctx, res, "dataCenterUuid", dc.UUID)
}

// lookupExpress resolves a VBR or router interface row to its remote
// reference.
func (a *Activities) lookupExpress(ctx context.Context, p workflows.LocalRef, ref workflows.RemoteRef) (workflows.RemoteRef, error) {
	var dcUUID string
	switch p.Resource {
	case store.ResVirtualBorderRouter:
		var v models.VirtualBorderRouter
		if err := a.store.Get(ctx, p.Resource, p.UUID, &v); err != nil {
			return ref, wrap(err)
		}
		ref.Kind, ref.ID, dcUUID = workflows.KindVbr, v.VbrID, v.DataCenterUUID
	case store.ResAliyunRouterIface:
		var r models.AliyunRouterInterface
		if err := a.store.Get(ctx, p.Resource, p.UUID, &r); err != nil {
			return ref, wrap(err)
		}
		ref.Kind, ref.ID, dcUUID = workflows.KindRouterInterface, r.RouterInterfaceID, r.DataCenterUUID
		routerID, typ, _, _, err := a.expressRouter(ctx, r.VRouterType, r.VirtualRouterUUID)
		if err != nil {
			return ref, err
		}
		ref.Extra = map[string]string{"routerId": routerID, "routerType": typ, "routerUuid": r.VirtualRouterUUID}
	}
	dc, err := a.dataCenter(ctx, dcUUID)
	if err != nil {
		return ref, wrap(err)
	}
	ref.Region = dc.RegionID
	if ref.Extra == nil {
		ref.Extra = map[string]string{}
	}
	ref.Extra["dataCenterUuid"] = dcUUID
	return ref, nil
}

// updateVpnConnection changes a VPN connection's name, subnets, state or
// configurations at Alibaba (UpdateVpcVpnConnectionRemote).
func (a *Activities) updateVpnConnection(ctx context.Context, c *conn, cl *vpc.Client, p workflows.ActionParams) error {
	req := vpc.CreateModifyVpnConnectionAttributeRequest()
	req.RegionId, req.VpnConnectionId, req.Name = c.region, p.Ref.ID, str(p.Args, "name")
	req.LocalSubnet, req.RemoteSubnet = str(p.Args, "localCidr"), str(p.Args, "remoteCidr")
	if v, ok := p.Args["active"].(bool); ok {
		req.EffectImmediately = requests.NewBoolean(v)
	}
	if u := str(p.Args, "ikeConfUuid"); u != "" {
		var ike models.VpcVpnIkeConfig
		if err := a.store.Get(ctx, store.ResVpnIkeConfig, u, &ike); err != nil {
			return wrap(err)
		}
		s, err := a.ikeJSON(ike)
		if err != nil {
			return err
		}
		req.IkeConfig = s
	}
	if u := str(p.Args, "ipsecConfUuid"); u != "" {
		var ipsec models.VpcVpnIPSecConfig
		if err := a.store.Get(ctx, store.ResVpnIPSecConfig, u, &ipsec); err != nil {
			return wrap(err)
		}
		req.IpsecConfig = ipsecJSON(ipsec)
	}
	req.ClientToken = clientToken(ctx, workflows.KindVpnConnection+"-"+p.Action)
	if err := c.call(ctx, "ModifyVpnConnectionAttribute", func() error { _, err := cl.ModifyVpnConnectionAttribute(req); return err }); err != nil {
		return err
	}
	fields := map[string]any{}
	for k, col := range map[string]string{"ikeConfUuid": "ikeConfigUuid", "ipsecConfUuid": "ipsecConfigUuid", "description": "description"} {
		if v := str(p.Args, k); v != "" {
			fields[col] = v
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return wrap(a.store.Update(ctx, store.ResVpnConnection, p.Ref.UUID, fields))
}
