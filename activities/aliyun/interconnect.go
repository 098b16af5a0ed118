package aliyun

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// The one-step interconnect's own steps: the plan (read and check
// everything once, generate the pre-shared key), the local IPsec
// connection as a journaled router change, and the record.

// InterconnectPlan checks an interconnect's inputs and reads what its
// steps need. The pre-shared key is generated here and leaves sealed.
func (a *Activities) InterconnectPlan(ctx context.Context, p workflows.InterconnectParams) (workflows.InterconnectPlan, error) {
	var plan workflows.InterconnectPlan
	isVBR, err := a.store.Exists(ctx, store.ResVirtualBorderRouter, p.GatewayUUID)
	if err != nil {
		return plan, wrap(err)
	}
	if isVBR {
		return plan, wrap(&models.Error{Kind: models.KindInvalid, Code: models.CodeInvalidArgument,
			Message: "not supported: an interconnect over Express Connect (a VBR)", Details: "name a VPN gateway in vbrUuid: the interconnect runs over IPsec",
			Cause: errors.ErrUnsupported})
	}
	var gw models.VpcVpnGateway
	if err := a.store.Get(ctx, store.ResVpnGateway, p.GatewayUUID, &gw); err != nil {
		return plan, wrap(err)
	}
	var v models.EcsVpc
	if err := a.store.Get(ctx, store.ResEcsVpc, p.EcsVpcUUID, &v); err != nil {
		return plan, wrap(err)
	}
	if v.DataCenterUUID != gw.DataCenterUUID {
		return plan, wrap(models.Invalid("vpn gateway[uuid:%s] and vpc[uuid:%s] are in different data centers", gw.UUID, v.UUID))
	}
	vsw := p.VSwitchUUID
	if vsw == "" {
		vsw = gw.VSwitchUUID.String()
	}
	var sw models.EcsVSwitch
	if err := a.store.Get(ctx, store.ResEcsVSwitch, vsw, &sw); err != nil {
		return plan, wrap(err)
	}
	if sw.EcsVpcUUID != v.UUID {
		return plan, wrap(models.Invalid("vswitch[uuid:%s] is not in vpc[uuid:%s]", sw.UUID, v.UUID))
	}
	vr, err := a.store.FindRemote(ctx, store.ResAliyunVRouter, "vpc_uuid", v.UUID, "vr_id", v.VRouterID)
	if err != nil {
		return plan, wrap(err)
	}
	if vr == "" {
		return plan, wrap(models.Invalid("the VRouter of vpc[uuid:%s] is not in the inventory; run SyncAliyunVirtualRouterFromRemote", v.UUID))
	}
	ranges, err := a.store.IPRanges(ctx, p.L3NetworkUUID)
	if err != nil {
		return plan, wrap(err)
	}
	if len(ranges) == 0 {
		return plan, wrap(models.Invalid("l3 network[uuid:%s] has no ip range", p.L3NetworkUUID))
	}
	vip := p.VipUUID
	if vip == "" {
		if vip, err = a.store.FindRemote(ctx, store.ResVip, "ip", p.CpeIP, "ip", p.CpeIP); err != nil {
			return plan, wrap(err)
		}
	}
	if vip == "" {
		return plan, wrap(models.Invalid("no vip has the address %s (cpeIp): give vipUuid, a vip on the local vpc router's public network", p.CpeIP))
	}
	psk, err := a.sealNewPSK(ctx)
	if err != nil {
		return plan, err
	}
	return workflows.InterconnectPlan{DataCenterUUID: gw.DataCenterUUID, LocalCIDR: ranges[0].NetworkCIDR, RemoteCIDR: sw.CidrBlock,
		GatewayIP: gw.PublicIP, VRouterUUID: vr, VipUUID: vip, SealedPSK: psk}, nil
}

// sealNewPSK generates a pre-shared key and seals it to the control
// plane's public key.
func (a *Activities) sealNewPSK(ctx context.Context) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	pub, err := a.store.SealingKey(ctx)
	if err != nil {
		return "", wrap(err)
	}
	return Seal(pub, base64.RawURLEncoding.EncodeToString(b))
}

// InterconnectIPsec creates (or deletes) the local IPsec connection of an
// interconnect as a journaled router change, as CreateIPsecConnection
// does; the pre-shared key is opened here, never carried in clear by a
// workflow. The result names the routers to converge; the change is undone
// with db.RouterUndo under the same key.
func (a *Activities) InterconnectIPsec(ctx context.Context, p workflows.InterconnectIPsecParams) (workflows.RouterApplyResult, error) {
	change := store.DeleteIPsecConnection
	args := store.ChangeArgs{"uuid": p.UUID}
	if !p.Delete {
		psk, err := a.openArg(map[string]any{"psk": p.SealedPSK}, "psk")
		if err != nil {
			return workflows.RouterApplyResult{}, err
		}
		if psk != "" { // the router tables keep it encrypted
			if psk, err = a.secrets.encrypt(psk); err != nil {
				return workflows.RouterApplyResult{}, wrap(err)
			}
		}
		change = store.CreateIPsecConnection
		args = store.ChangeArgs{"uuid": p.UUID, "name": p.Name, "l3NetworkUuid": p.L3NetworkUUID, "vipUuid": p.VipUUID,
			"peerAddress": p.PeerAddress, "authKey": psk, "peerCidrs": []any{p.PeerCIDR}, "ikeVersion": "ikev2",
			"ikeAuthAlgorithm": "sha256", "ikeEncryptionAlgorithm": "aes-128", "ikeDhGroup": float64(14),
			"policyAuthAlgorithm": "sha256", "policyEncryptionAlgorithm": "aes-128", "pfs": "dh-group14", "lifeTime": float64(3600)}
	}
	res, err := a.store.RouterChange(ctx, p.Key, func(j *store.Journal) (store.ChangeResult, error) {
		return change(j, args, p.AccountUUID)
	})
	if err != nil {
		return workflows.RouterApplyResult{}, wrap(err)
	}
	return workflows.RouterApplyResult{Routers: res.Routers}, nil
}

// InterconnectRecord records a finished interconnect.
func (a *Activities) InterconnectRecord(ctx context.Context, p workflows.InterconnectRecordParams) (activities.Result, error) {
	now := models.Now()
	rel := strings.Join([]string{"l3network:" + p.L3NetworkUUID, "vpc:" + p.EcsVpcUUID, "vpnGateway:" + p.GatewayUUID,
		"userGateway:" + p.UserGatewayUUID, "vpnConnection:" + p.VpnConnectionUUID, "ipsecConnection:" + p.IPsecUUID,
		"routeEntry:" + p.RouteEntryUUID, "localCidr:" + p.Plan.LocalCIDR, "remoteCidr:" + p.Plan.RemoteCIDR}, ",")
	e := models.HybridConnection{UUID: p.UUID, Name: p.Name, Description: models.Ref(p.Description), RelationShips: rel,
		L3NetworkUUID: p.L3NetworkUUID, EcsVpcUUID: p.EcsVpcUUID, VpnGatewayUUID: p.GatewayUUID, UserGatewayUUID: p.UserGatewayUUID,
		IkeConfigUUID: p.IkeConfigUUID, IpsecConfigUUID: p.IpsecConfigUUID, VpnConnectionUUID: p.VpnConnectionUUID,
		IPsecUUID: p.IPsecUUID, RouteEntryUUID: p.RouteEntryUUID, CreateDate: now, LastOpDate: now}
	if err := a.store.Create(ctx, store.ResHybridConnection, &e, e.UUID, p.AccountUUID); err != nil && models.AsError(err).Kind != models.KindConflict {
		return activities.Result{}, wrap(err)
	}
	return a.render(ctx, store.ResHybridConnection, p.UUID)
}

// InterconnectLookup reads an interconnect's record: the pieces to delete.
func (a *Activities) InterconnectLookup(ctx context.Context, p workflows.LocalRef) (workflows.InterconnectParams, error) {
	var c models.HybridConnection
	if err := a.store.Get(ctx, store.ResHybridConnection, p.UUID, &c); err != nil {
		if p.Optional && models.AsError(err).Kind == models.KindNotFound {
			return workflows.InterconnectParams{}, nil
		}
		return workflows.InterconnectParams{}, wrap(err)
	}
	return workflows.InterconnectParams{UUID: c.UUID, Name: c.Name, L3NetworkUUID: c.L3NetworkUUID, EcsVpcUUID: c.EcsVpcUUID,
		GatewayUUID: c.VpnGatewayUUID, UserGatewayUUID: c.UserGatewayUUID, IkeConfigUUID: c.IkeConfigUUID, IpsecConfigUUID: c.IpsecConfigUUID,
		VpnConnectionUUID: c.VpnConnectionUUID, IPsecUUID: c.IPsecUUID, RouteEntryUUID: c.RouteEntryUUID}, nil
}
