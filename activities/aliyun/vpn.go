package aliyun

import (
	"context"
	"encoding/json"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// describeVpn reads a VPN gateway, customer gateway or VPN connection.
func (c *conn) describeVpn(ctx context.Context, kind, id string) (remote, bool, error) {
	cl, err := c.vpc()
	if err != nil {
		return remote{}, false, err
	}
	switch kind {
	case workflows.KindVpnGateway:
		req := vpc.CreateDescribeVpnGatewaysRequest()
		req.RegionId, req.VpnGatewayId = c.region, id
		var resp *vpc.DescribeVpnGatewaysResponse
		if err := c.call(ctx, "DescribeVpnGateways", func() (err error) { resp, err = cl.DescribeVpnGateways(req); return }); err != nil {
			return remote{}, false, notFoundOK(err)
		}
		for i := range resp.VpnGateways.VpnGateway {
			if g := &resp.VpnGateways.VpnGateway[i]; g.VpnGatewayId == id {
				return remote{ID: id, Status: g.Status, VGW: g}, true, nil
			}
		}
	case workflows.KindUserGateway:
		req := vpc.CreateDescribeCustomerGatewaysRequest()
		req.RegionId, req.CustomerGatewayId = c.region, id
		var resp *vpc.DescribeCustomerGatewaysResponse
		if err := c.call(ctx, "DescribeCustomerGateways", func() (err error) { resp, err = cl.DescribeCustomerGateways(req); return }); err != nil {
			return remote{}, false, notFoundOK(err)
		}
		for i := range resp.CustomerGateways.CustomerGateway {
			if g := &resp.CustomerGateways.CustomerGateway[i]; g.CustomerGatewayId == id {
				return remote{ID: id, Status: "Available", CGW: g}, true, nil
			}
		}
	case workflows.KindVpnConnection:
		req := vpc.CreateDescribeVpnConnectionsRequest()
		req.RegionId, req.VpnConnectionId = c.region, id
		var resp *vpc.DescribeVpnConnectionsResponse
		if err := c.call(ctx, "DescribeVpnConnections", func() (err error) { resp, err = cl.DescribeVpnConnections(req); return }); err != nil {
			return remote{}, false, notFoundOK(err)
		}
		for i := range resp.VpnConnections.VpnConnection {
			if v := &resp.VpnConnections.VpnConnection[i]; v.VpnConnectionId == id {
				return remote{ID: id, Status: v.Status, VCO: v}, true, nil
			}
		}
	}
	return remote{}, false, nil
}

// createUserGateway creates a customer gateway (the local VPN endpoint).
func (a *Activities) createUserGateway(ctx context.Context, p workflows.HybridParams, token string) (workflows.RemoteRef, error) {
	ref := workflows.RemoteRef{Kind: workflows.KindUserGateway, UUID: p.UUID, AccountUUID: p.AccountUUID}
	c, dc, err := a.connDC(ctx, p.AccountUUID, str(p.Args, "dataCenterUuid"))
	if err != nil {
		return ref, err
	}
	cl, err := c.vpc()
	if err != nil {
		return ref, err
	}
	req := vpc.CreateCreateCustomerGatewayRequest()
	req.RegionId, req.IpAddress, req.Name, req.Description, req.ClientToken = dc.RegionID, str(p.Args, "ip"), str(p.Args, "name"), str(p.Args, "description"), token
	var resp *vpc.CreateCustomerGatewayResponse
	if err := c.call(ctx, "CreateCustomerGateway", func() (err error) { resp, err = cl.CreateCustomerGateway(req); return }); err != nil {
		return ref, err
	}
	ref.ID, ref.Region = resp.CustomerGatewayId, dc.RegionID
	return ref, nil
}

// createVpnConnection connects a VPN gateway to a customer gateway with
// the given IKE and IPsec configurations.
func (a *Activities) createVpnConnection(ctx context.Context, p workflows.HybridParams, token string) (workflows.RemoteRef, error) {
	ref := workflows.RemoteRef{Kind: workflows.KindVpnConnection, UUID: p.UUID, AccountUUID: p.AccountUUID}
	var gw models.VpcVpnGateway
	var ugw models.VpcUserVpnGateway
	var ike models.VpcVpnIkeConfig
	var ipsec models.VpcVpnIPSecConfig
	for _, g := range []struct {
		res, uuid string
		dst       any
	}{{store.ResVpnGateway, str(p.Args, "vpnGatewayUuid"), &gw}, {store.ResUserVpnGateway, str(p.Args, "userGatewayUuid"), &ugw},
		{store.ResVpnIkeConfig, str(p.Args, "ikeConfUuid"), &ike}, {store.ResVpnIPSecConfig, str(p.Args, "ipsecConfUuid"), &ipsec}} {
		if err := a.store.Get(ctx, g.res, g.uuid, g.dst); err != nil {
			return ref, wrap(err)
		}
	}
	if gw.DataCenterUUID != ugw.DataCenterUUID {
		return ref, wrap(models.Invalid("vpn gateway[uuid:%s] and user gateway[uuid:%s] are in different data centers", gw.UUID, ugw.UUID))
	}
	if a.secrets == nil {
		return ref, wrap(errNoSecrets())
	}
	psk, err := a.secrets.decrypt(ike.Psk)
	if err != nil {
		return ref, err
	}
	c, dc, err := a.connDC(ctx, p.AccountUUID, gw.DataCenterUUID)
	if err != nil {
		return ref, err
	}
	cl, err := c.vpc()
	if err != nil {
		return ref, err
	}
	ikeJSON := ikeConfigJSON(ike, psk)
	req := vpc.CreateCreateVpnConnectionRequest()
	req.RegionId, req.VpnGatewayId, req.CustomerGatewayId, req.Name = dc.RegionID, gw.GatewayID, ugw.GatewayID, str(p.Args, "name")
	req.LocalSubnet, req.RemoteSubnet, req.ClientToken = str(p.Args, "localCidr"), str(p.Args, "remoteCidr"), token
	req.EffectImmediately = requests.NewBoolean(str(p.Args, "active") == "true")
	req.IkeConfig, req.IpsecConfig = ikeJSON, ipsecJSON(ipsec)
	var resp *vpc.CreateVpnConnectionResponse
	if err := c.call(ctx, "CreateVpnConnection", func() (err error) { resp, err = cl.CreateVpnConnection(req); return }); err != nil {
		return ref, err
	}
	ref.ID, ref.Region = resp.VpnConnectionId, dc.RegionID
	ref.Extra = map[string]string{"vpnGatewayId": gw.GatewayID, "dataCenterUuid": dc.UUID}
	return ref, nil
}

// recordVpn records a customer gateway or a VPN connection.
func (a *Activities) recordVpn(ctx context.Context, r remote, p workflows.RecordParams) (string, string, error) {
	ref := p.Ref
	now := models.Now()
	switch ref.Kind {
	case workflows.KindUserGateway:
		dc := str(p.Args, "dataCenterUuid")
		e := ugwEntity(r.CGW, dc)
		uuid, err := a.store.UpsertRemote(ctx, store.ResUserVpnGateway, "data_center_uuid", dc, "gateway_id", e.GatewayID, ref.UUID, &e, ref.AccountUUID)
		return store.ResUserVpnGateway, uuid, err
	case workflows.KindVpnConnection:
		dc := ref.Extra["dataCenterUuid"]
		e := models.VpcVpnConnection{Type: models.HybridTypeAliyun, Name: r.VCO.Name, Status: r.VCO.Status, ConnectionID: r.VCO.VpnConnectionId,
			DataCenterUUID: dc, UserGatewayUUID: models.Ref(str(p.Args, "userGatewayUuid")), VpnGatewayUUID: models.Ref(str(p.Args, "vpnGatewayUuid")),
			LocalSubnet: r.VCO.LocalSubnet, RemoteSubnet: r.VCO.RemoteSubnet, IkeConfigUUID: models.Ref(str(p.Args, "ikeConfUuid")),
			IpsecConfigUUID: models.Ref(str(p.Args, "ipsecConfUuid")), Description: models.Ref(str(p.Args, "description")), CreateDate: now, LastOpDate: now}
		var old models.VpcVpnConnection
		if ref.UUID != "" && a.store.Get(ctx, store.ResVpnConnection, ref.UUID, &old) == nil {
			// A re-record after an update keeps what the update did not name.
			keep := func(dst *models.Ref, was models.Ref) {
				if *dst == "" {
					*dst = was
				}
			}
			keep(&e.UserGatewayUUID, old.UserGatewayUUID)
			keep(&e.VpnGatewayUUID, old.VpnGatewayUUID)
			keep(&e.IkeConfigUUID, old.IkeConfigUUID)
			keep(&e.IpsecConfigUUID, old.IpsecConfigUUID)
			keep(&e.Description, old.Description)
		}
		uuid, err := a.store.UpsertRemote(ctx, store.ResVpnConnection, "data_center_uuid", dc, "connection_id", e.ConnectionID, ref.UUID, &e, ref.AccountUUID)
		return store.ResVpnConnection, uuid, err
	}
	return "", "", models.Invalid("cannot record %s", ref.Kind)
}

func ugwEntity(g *vpc.CustomerGateway, dcUUID string) models.VpcUserVpnGateway {
	now := models.Now()
	return models.VpcUserVpnGateway{DataCenterUUID: dcUUID, Type: models.HybridTypeAliyun, GatewayID: g.CustomerGatewayId, IP: g.IpAddress,
		Name: g.Name, Description: models.Ref(g.Description), CreateDate: now, LastOpDate: now}
}

// AddVpnConfig records an IKE configuration (its pre-shared key arrives
// sealed by the API and is stored encrypted) or an IPsec configuration.
func (a *Activities) AddVpnConfig(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	now := models.Now()
	alg := func(k, def string) string { return orDefault(str(p.Args, k), def) }
	life := func(def int64) int64 {
		if n := num(p.Args, "lifetime"); n > 0 {
			return n
		}
		return def
	}
	switch p.What {
	case workflows.KindIkeConfig:
		psk, err := a.openArg(p.Args, "psk")
		if err != nil {
			return activities.Result{}, err
		}
		if psk == "" {
			return activities.Result{}, wrap(models.Invalid("psk is required"))
		}
		enc, err := a.secrets.encrypt(psk)
		if err != nil {
			return activities.Result{}, err
		}
		e := models.VpcVpnIkeConfig{UUID: p.UUID, Name: str(p.Args, "name"), Psk: enc, Version: alg("version", "ikev1"), Mode: alg("mode", "main"),
			EncodeAlgorithm: alg("encAlg", "aes"), AuthAlgorithm: alg("authAlg", "sha1"), Pfs: alg("pfs", "group2"), Lifetime: life(86400),
			LocalIP: models.Ref(str(p.Args, "localIp")), RemoteIP: models.Ref(str(p.Args, "remoteIp")), Description: models.Ref(str(p.Args, "description")),
			CreateDate: now, LastOpDate: now}
		if err := a.store.Create(ctx, store.ResVpnIkeConfig, &e, e.UUID, p.AccountUUID); err != nil && models.AsError(err).Kind != models.KindConflict {
			return activities.Result{}, wrap(err)
		}
		return a.render(ctx, store.ResVpnIkeConfig, p.UUID)
	case workflows.KindIpsecConfig:
		e := models.VpcVpnIPSecConfig{UUID: p.UUID, Name: str(p.Args, "name"), EncodeAlgorithm: alg("encAlg", "aes"), AuthAlgorithm: alg("authAlg", "sha1"),
			Pfs: alg("pfs", "group2"), Lifetime: life(86400), Description: models.Ref(str(p.Args, "description")), CreateDate: now, LastOpDate: now}
		if err := a.store.Create(ctx, store.ResVpnIPSecConfig, &e, e.UUID, p.AccountUUID); err != nil && models.AsError(err).Kind != models.KindConflict {
			return activities.Result{}, wrap(err)
		}
		return a.render(ctx, store.ResVpnIPSecConfig, p.UUID)
	}
	return activities.Result{}, wrap(models.Invalid("unknown vpn configuration %s", p.What))
}

// syncVpn mirrors VPN gateways, customer gateways or VPN connections of a
// data center.
func (a *Activities) syncVpn(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	c, dc, err := a.connDC(ctx, p.AccountUUID, str(p.Args, "dataCenterUuid"))
	if err != nil {
		return activities.Result{}, err
	}
	cl, err := c.vpc()
	if err != nil {
		return activities.Result{}, err
	}
	f := &remoteFinder{a: a, ctx: ctx}
	find := f.find
	var seen []string
	var res, idCol string
	if err := forPages(func(number, size requests.Integer) (int, error) {
		n := 0
		switch p.What {
		case workflows.KindVpnGateway:
			res, idCol = store.ResVpnGateway, "gateway_id"
			req := vpc.CreateDescribeVpnGatewaysRequest()
			req.RegionId, req.PageNumber, req.PageSize = dc.RegionID, number, size
			var resp *vpc.DescribeVpnGatewaysResponse
			if err := c.call(ctx, "DescribeVpnGateways", func() (err error) { resp, err = cl.DescribeVpnGateways(req); return }); err != nil {
				return 0, err
			}
			for _, g := range resp.VpnGateways.VpnGateway {
				now := models.Now()
				vpcUUID := find(store.ResEcsVpc, "data_center_uuid", dc.UUID, "ecs_vpc_id", g.VpcId)
				e := models.VpcVpnGateway{Type: models.HybridTypeAliyun, GatewayID: g.VpnGatewayId, DataCenterUUID: dc.UUID,
					VSwitchUUID: models.Ref(find(store.ResEcsVSwitch, "ecs_vpc_uuid", vpcUUID, "v_switch_id", g.VSwitchId)),
					PublicIP:    g.InternetIp, Spec: g.Spec, Name: g.Name, Description: models.Ref(g.Description), Status: g.Status,
					BusinessStatus: g.BusinessStatus, EndDate: models.Time(g.EndTime), CreateDate: now, LastOpDate: now}
				if f.err != nil {
					return 0, f.err
				}
				if _, err := a.store.UpsertRemote(ctx, res, "data_center_uuid", dc.UUID, idCol, e.GatewayID,
					models.NameUUID(res, dc.UUID, e.GatewayID), &e, p.AccountUUID); err != nil {
					return 0, wrap(err)
				}
				seen = append(seen, g.VpnGatewayId)
			}
			n = len(resp.VpnGateways.VpnGateway)
		case workflows.KindUserGateway:
			res, idCol = store.ResUserVpnGateway, "gateway_id"
			req := vpc.CreateDescribeCustomerGatewaysRequest()
			req.RegionId, req.PageNumber, req.PageSize = dc.RegionID, number, size
			var resp *vpc.DescribeCustomerGatewaysResponse
			if err := c.call(ctx, "DescribeCustomerGateways", func() (err error) { resp, err = cl.DescribeCustomerGateways(req); return }); err != nil {
				return 0, err
			}
			for i := range resp.CustomerGateways.CustomerGateway {
				e := ugwEntity(&resp.CustomerGateways.CustomerGateway[i], dc.UUID)
				if _, err := a.store.UpsertRemote(ctx, res, "data_center_uuid", dc.UUID, idCol, e.GatewayID,
					models.NameUUID(res, dc.UUID, e.GatewayID), &e, p.AccountUUID); err != nil {
					return 0, wrap(err)
				}
				seen = append(seen, e.GatewayID)
			}
			n = len(resp.CustomerGateways.CustomerGateway)
		case workflows.KindVpnConnection:
			res, idCol = store.ResVpnConnection, "connection_id"
			req := vpc.CreateDescribeVpnConnectionsRequest()
			req.RegionId, req.PageNumber, req.PageSize = dc.RegionID, number, size
			var resp *vpc.DescribeVpnConnectionsResponse
			if err := c.call(ctx, "DescribeVpnConnections", func() (err error) { resp, err = cl.DescribeVpnConnections(req); return }); err != nil {
				return 0, err
			}
			for _, v := range resp.VpnConnections.VpnConnection {
				now := models.Now()
				uuid := find(res, "data_center_uuid", dc.UUID, idCol, v.VpnConnectionId)
				if f.err != nil {
					return 0, f.err
				}
				if uuid != "" {
					if err := a.store.Update(ctx, res, uuid, map[string]any{"status": v.Status, "name": v.Name,
						"localSubnet": v.LocalSubnet, "remoteSubnet": v.RemoteSubnet}); err != nil {
						return 0, wrap(err)
					}
				} else {
					e := models.VpcVpnConnection{Type: models.HybridTypeAliyun, Name: v.Name, Status: v.Status, ConnectionID: v.VpnConnectionId,
						DataCenterUUID: dc.UUID, LocalSubnet: v.LocalSubnet, RemoteSubnet: v.RemoteSubnet, CreateDate: now, LastOpDate: now,
						UserGatewayUUID: models.Ref(find(store.ResUserVpnGateway, "data_center_uuid", dc.UUID, "gateway_id", v.CustomerGatewayId)),
						VpnGatewayUUID:  models.Ref(find(store.ResVpnGateway, "data_center_uuid", dc.UUID, "gateway_id", v.VpnGatewayId))}
					if f.err != nil {
						return 0, f.err
					}
					if _, err := a.store.UpsertRemote(ctx, res, "data_center_uuid", dc.UUID, idCol, e.ConnectionID,
						models.NameUUID(res, dc.UUID, e.ConnectionID), &e, p.AccountUUID); err != nil {
						return 0, wrap(err)
					}
				}
				seen = append(seen, v.VpnConnectionId)
			}
			n = len(resp.VpnConnections.VpnConnection)
		}
		return n, nil
	}); err != nil {
		return activities.Result{}, err
	}
	if _, err := a.store.DeleteStale(ctx, res, idCol, seen, "data_center_uuid = ?", dc.UUID); err != nil {
		return activities.Result{}, err
	}
	return a.list(ctx, res, "dataCenterUuid", dc.UUID)
}

// encAlg maps ZStack's encryption algorithm names to Alibaba's.
func encAlg(zs string) string {
	switch zs {
	case "aes-128":
		return "aes"
	case "aes-192":
		return "aes192"
	case "aes-256":
		return "aes256"
	}
	return zs
}

// ikeConfigJSON is Alibaba's IkeConfig parameter for an IKE configuration
// and its (decrypted) pre-shared key.
func ikeConfigJSON(ike models.VpcVpnIkeConfig, psk string) string {
	b, _ := json.Marshal(map[string]any{"Psk": psk, "IkeVersion": ike.Version, "IkeMode": ike.Mode, "IkeEncAlg": encAlg(ike.EncodeAlgorithm),
		"IkeAuthAlg": ike.AuthAlgorithm, "IkePfs": ike.Pfs, "IkeLifetime": ike.Lifetime})
	return string(b)
}

// ikeJSON decrypts an IKE configuration's pre-shared key into Alibaba's
// IkeConfig parameter.
func (a *Activities) ikeJSON(ike models.VpcVpnIkeConfig) (string, error) {
	if a.secrets == nil {
		return "", wrap(errNoSecrets())
	}
	psk, err := a.secrets.decrypt(ike.Psk)
	if err != nil {
		return "", err
	}
	return ikeConfigJSON(ike, psk), nil
}

// ipsecJSON is Alibaba's IpsecConfig parameter for an IPsec configuration.
func ipsecJSON(ipsec models.VpcVpnIPSecConfig) string {
	b, _ := json.Marshal(map[string]any{"IpsecEncAlg": encAlg(ipsec.EncodeAlgorithm), "IpsecAuthAlg": ipsec.AuthAlgorithm,
		"IpsecPfs": ipsec.Pfs, "IpsecLifetime": ipsec.Lifetime})
	return string(b)
}
