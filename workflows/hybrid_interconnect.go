package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
)

// One-step interconnect: a local VPC L3 network (behind a VPC router) and
// an Alibaba VPC joined over IPsec, as one saga across both clouds
// (CreateConnectionBetweenL3NetworkAndAliyunVSwitch).

// Interconnect workflow names.
const (
	HybridInterconnect       = "zcloud.HybridInterconnect"
	HybridDeleteInterconnect = "zcloud.HybridDeleteInterconnect"
)

// Interconnect activity names.
const (
	ActInterconnectPlan   = "aliyun.InterconnectPlan"
	ActInterconnectIPsec  = "aliyun.InterconnectIPsec"
	ActInterconnectRecord = "aliyun.InterconnectRecord"
	ActInterconnectLookup = "aliyun.InterconnectLookup"
)

// Store resources the interconnect's steps name (kept here so that
// workflows import no store package).
const (
	resUserVpnGateway   = "VpcUserVpnGateway"
	resVpnIkeConfig     = "VpcVpnIkeConfig"
	resVpnIPSecConfig   = "VpcVpnIpSecConfig"
	resVpnConnection    = "VpcVpnConnection"
	resAliyunRouteEntry = "VpcVirtualRouteEntry"
	resHybridConnection = "ConnectionRelationShip"
)

// InterconnectParams asks for an interconnect. The API chooses the UUID of
// every piece, so that a retried step finds what its first attempt made.
type InterconnectParams struct {
	UUID        string `json:"uuid"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	AccountUUID string `json:"accountUuid"`
	// L3NetworkUUID is the local network, attached to a VPC router.
	L3NetworkUUID string `json:"l3NetworkUuid"`
	// EcsVpcUUID is the Alibaba VPC; GatewayUUID its VPN gateway (ZStack's
	// vbrUuid param); VSwitchUUID the remote network (the gateway's
	// VSwitch when empty).
	EcsVpcUUID  string `json:"ecsVpcUuid"`
	GatewayUUID string `json:"gatewayUuid"`
	VSwitchUUID string `json:"vSwitchUuid,omitempty"`
	// CpeIP is the local router's public address (the customer gateway);
	// VipUUID the VIP the local IPsec connection uses (found by CpeIP when
	// empty).
	CpeIP   string `json:"cpeIp"`
	VipUUID string `json:"vipUuid,omitempty"`

	UserGatewayUUID   string `json:"userGatewayUuid"`
	IkeConfigUUID     string `json:"ikeConfigUuid"`
	IpsecConfigUUID   string `json:"ipsecConfigUuid"`
	VpnConnectionUUID string `json:"vpnConnectionUuid"`
	IPsecUUID         string `json:"ipsecUuid"`
	RouteEntryUUID    string `json:"routeEntryUuid"`
}

// InterconnectPlan is what the steps need, read and checked once: the
// CIDRs of both sides, the gateway's public IP, the VPC's VRouter, the
// local VIP and the pre-shared key, generated and sealed to the control
// plane's key (it never enters a history in clear).
type InterconnectPlan struct {
	DataCenterUUID string `json:"dataCenterUuid"`
	LocalCIDR      string `json:"localCidr"`
	RemoteCIDR     string `json:"remoteCidr"`
	GatewayIP      string `json:"gatewayIp"`
	VRouterUUID    string `json:"vRouterUuid"`
	VipUUID        string `json:"vipUuid"`
	SealedPSK      string `json:"sealedPsk"`
}

// InterconnectIPsecParams creates (or, with Delete, removes) the local
// IPsec connection of an interconnect as a journaled router change.
type InterconnectIPsecParams struct {
	Key           string `json:"key"`
	UUID          string `json:"uuid"`
	Name          string `json:"name,omitempty"`
	L3NetworkUUID string `json:"l3NetworkUuid,omitempty"`
	VipUUID       string `json:"vipUuid,omitempty"`
	PeerAddress   string `json:"peerAddress,omitempty"`
	PeerCIDR      string `json:"peerCidr,omitempty"`
	SealedPSK     string `json:"sealedPsk,omitempty"`
	AccountUUID   string `json:"accountUuid"`
	Delete        bool   `json:"delete,omitempty"`
}

// InterconnectRecordParams records a finished interconnect.
type InterconnectRecordParams struct {
	InterconnectParams
	Plan InterconnectPlan `json:"plan"`
}

func hybridChild(ctx workflow.Context, step, name string, arg, result any) error {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID + "-" + step
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: id, TaskQueue: activities.TaskQueue})
	return workflow.ExecuteChildWorkflow(cctx, name, arg).Get(ctx, result)
}

// deleteRemoteStep deletes a remote resource and its row (a step's
// compensation, or a part of the interconnect's delete).
func deleteRemoteStep(ctx workflow.Context, step, res, uuid, account string) error {
	return hybridChild(ctx, step, HybridDeleteRemote, HybridParams{What: res, UUID: uuid, AccountUUID: account}, nil)
}

// HybridInterconnectWorkflow joins a local L3 network and an Alibaba VPC
// over IPsec: customer gateway at Alibaba (the local router's public IP),
// IKE and IPsec configurations (a generated pre-shared key, sealed), VPN
// connection at Alibaba, IPsec connection on the local VPC router
// (converged on its host), route at Alibaba to the local CIDR through the
// VPN gateway, record. Any failure undoes every completed step, in
// reverse, on both sides.
func HybridInterconnectWorkflow(ctx workflow.Context, p InterconnectParams) (res HybridResult, err error) {
	var s saga
	defer func() {
		if err != nil {
			s.compensate(ctx)
		}
	}()
	acct := p.AccountUUID
	var plan InterconnectPlan
	if err = remote(ctx, ActInterconnectPlan, p, &plan); err != nil {
		return res, err
	}

	ugw := HybridParams{What: KindUserGateway, UUID: p.UserGatewayUUID, AccountUUID: acct,
		Args: map[string]any{"dataCenterUuid": plan.DataCenterUUID, "ip": p.CpeIP, "name": p.Name}}
	if err = hybridChild(ctx, "customer-gateway", HybridCreate, ugw, nil); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return deleteRemoteStep(ctx, "undo-customer-gateway", resUserVpnGateway, p.UserGatewayUUID, acct)
	})

	ike := HybridParams{What: KindIkeConfig, UUID: p.IkeConfigUUID, AccountUUID: acct,
		Args: map[string]any{"name": p.Name, "psk": plan.SealedPSK, "localIp": plan.GatewayIP, "remoteIp": p.CpeIP,
			"version": "ikev2", "encAlg": "aes-128", "authAlg": "sha256", "pfs": "group14"}}
	if err = local(ctx, ActHybridAddVpnConfig, ike, nil); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, ActHybridDeleteLocal, LocalRef{Resource: resVpnIkeConfig, UUID: p.IkeConfigUUID}, nil)
	})
	ipsec := HybridParams{What: KindIpsecConfig, UUID: p.IpsecConfigUUID, AccountUUID: acct,
		Args: map[string]any{"name": p.Name, "encAlg": "aes-128", "authAlg": "sha256", "pfs": "group14", "lifetime": float64(3600)}}
	if err = local(ctx, ActHybridAddVpnConfig, ipsec, nil); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, ActHybridDeleteLocal, LocalRef{Resource: resVpnIPSecConfig, UUID: p.IpsecConfigUUID}, nil)
	})

	// At Alibaba the local subnet is the VPC's side, the remote one ours.
	vco := HybridParams{What: KindVpnConnection, UUID: p.VpnConnectionUUID, AccountUUID: acct,
		Args: map[string]any{"name": p.Name, "userGatewayUuid": p.UserGatewayUUID, "vpnGatewayUuid": p.GatewayUUID,
			"ikeConfUuid": p.IkeConfigUUID, "ipsecConfUuid": p.IpsecConfigUUID, "localCidr": plan.RemoteCIDR,
			"remoteCidr": plan.LocalCIDR, "active": "true"}}
	if err = hybridChild(ctx, "vpn-connection", HybridCreate, vco, nil); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return deleteRemoteStep(ctx, "undo-vpn-connection", resVpnConnection, p.VpnConnectionUUID, acct)
	})

	key := RouterKey{Key: workflow.GetInfo(ctx).WorkflowExecution.ID + "-ipsec"}
	var ap RouterApplyResult
	if err = remote(ctx, ActInterconnectIPsec, InterconnectIPsecParams{Key: key.Key, UUID: p.IPsecUUID, Name: p.Name,
		L3NetworkUUID: p.L3NetworkUUID, VipUUID: plan.VipUUID, PeerAddress: plan.GatewayIP, PeerCIDR: plan.RemoteCIDR,
		SealedPSK: plan.SealedPSK, AccountUUID: acct}, &ap); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		if err := local(ctx, ActRouterUndo, key, nil); err != nil {
			return err
		}
		return ensureRouters(ctx, ap.Routers)
	})
	if err = ensureRouters(ctx, ap.Routers); err != nil {
		return res, err
	}

	route := HybridParams{What: KindRouteEntry, UUID: p.RouteEntryUUID, AccountUUID: acct,
		Args: map[string]any{"vRouterUuid": plan.VRouterUUID, "vRouterType": "vrouter", "dstCidrBlock": plan.LocalCIDR,
			"nextHopType": "VpnGateway", "nextHopUuid": p.GatewayUUID}}
	if err = hybridChild(ctx, "route-entry", HybridCreate, route, nil); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return deleteRemoteStep(ctx, "undo-route-entry", resAliyunRouteEntry, p.RouteEntryUUID, acct)
	})

	if err = remote(ctx, ActInterconnectRecord, InterconnectRecordParams{InterconnectParams: p, Plan: plan}, &res); err != nil {
		return res, err
	}
	if ferr := local(ctx, ActRouterForget, key, nil); ferr != nil {
		workflow.GetLogger(ctx).Warn("cannot forget router change journal", "error", ferr)
	}
	return res, nil
}

// HybridDeleteInterconnectWorkflow removes an interconnect's pieces in
// reverse order of their creation, then its record; each removal is
// idempotent, so a retried delete finishes what a failed one began.
func HybridDeleteInterconnectWorkflow(ctx workflow.Context, p HybridParams) (res HybridResult, err error) {
	var c InterconnectParams
	if err = remote(ctx, ActInterconnectLookup, LocalRef{Resource: resHybridConnection, UUID: p.UUID, Optional: true}, &c); err != nil {
		return res, err
	}
	if c.UUID == "" {
		return res, nil // gone already
	}
	acct := p.AccountUUID
	if err = deleteRemoteStep(ctx, "route-entry", resAliyunRouteEntry, c.RouteEntryUUID, acct); err != nil {
		return res, err
	}
	key := RouterKey{Key: workflow.GetInfo(ctx).WorkflowExecution.ID + "-ipsec"}
	var ap RouterApplyResult
	if err = remote(ctx, ActInterconnectIPsec, InterconnectIPsecParams{Key: key.Key, UUID: c.IPsecUUID, AccountUUID: acct, Delete: true}, &ap); err != nil {
		return res, err
	}
	if err = ensureRouters(ctx, ap.Routers); err != nil {
		return res, err
	}
	if err = local(ctx, ActRouterForget, key, nil); err != nil {
		return res, err
	}
	if err = deleteRemoteStep(ctx, "vpn-connection", resVpnConnection, c.VpnConnectionUUID, acct); err != nil {
		return res, err
	}
	for _, r := range []LocalRef{{Resource: resVpnIkeConfig, UUID: c.IkeConfigUUID}, {Resource: resVpnIPSecConfig, UUID: c.IpsecConfigUUID}} {
		if err = local(ctx, ActHybridDeleteLocal, r, nil); err != nil {
			return res, err
		}
	}
	if err = deleteRemoteStep(ctx, "customer-gateway", resUserVpnGateway, c.UserGatewayUUID, acct); err != nil {
		return res, err
	}
	err = local(ctx, ActHybridDeleteLocal, LocalRef{Resource: resHybridConnection, UUID: c.UUID}, nil)
	return res, err
}
