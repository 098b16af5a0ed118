package workflows

import "go.temporal.io/sdk/workflow"

// Express Connect (virtual border routers and router interface pairs) and
// the remote updates of hybrid resources.

// Kinds of Express Connect resources.
const (
	KindVbr             = "vbr"
	KindRouterInterface = "routerInterface"
)

// Remote actions of Express Connect and VPN resources.
const (
	// ActionUpdate changes a VBR's or VPN connection's attributes.
	ActionUpdate = "update"
	// ActionActivate and ActionDeactivate switch a router interface on or off.
	ActionActivate   = "activate"
	ActionDeactivate = "deactivate"
	// ActionPair points a router interface at its opposite one (Args:
	// oppositeInterfaceId, oppositeRouterId, oppositeRouterType).
	ActionPair = "pair"
	// ActionConnect connects an initiating router interface to its pair.
	ActionConnect = "connect"
	// ActionTerminate and ActionRecover stop and restart a VBR.
	ActionTerminate = "terminate"
	ActionRecover   = "recover"
)

// Express Connect workflow names.
const (
	HybridUpdateRemote      = "zcloud.HybridUpdateRemote"
	HybridConnectInterfaces = "zcloud.HybridConnectInterfaces"
)

const (
	routerInterfaceActive   = "Active"
	routerInterfaceInactive = "Inactive"
	vpnGatewayActive        = "active"
)

// UpdateRemoteParams changes one remote resource (Resource names its store
// resource) and records it again.
type UpdateRemoteParams struct {
	Resource    string         `json:"resource"`
	UUID        string         `json:"uuid"`
	Action      string         `json:"action"`
	AccountUUID string         `json:"accountUuid"`
	Args        map[string]any `json:"args,omitempty"`
}

// ConnectInterfacesParams connects a VBR's router interface (the
// initiating side) to a VRouter's (the accepting side).
type ConnectInterfacesParams struct {
	VbrInterfaceUUID     string `json:"vbrInterfaceUuid"`
	VRouterInterfaceUUID string `json:"vrouterInterfaceUuid"`
	AccountUUID          string `json:"accountUuid"`
}

// HybridUpdateRemoteWorkflow runs one remote action on a recorded resource
// (update a VBR or VPN connection, activate or deactivate a router
// interface) and records its new state. A VPN connection's change puts its
// gateway into "updating": the record waits until it is active again.
func HybridUpdateRemoteWorkflow(ctx workflow.Context, p UpdateRemoteParams) (HybridResult, error) {
	var res HybridResult
	var ref RemoteRef
	if err := remote(ctx, ActAliyunLookup, LocalRef{Resource: p.Resource, UUID: p.UUID}, &ref); err != nil {
		return res, err
	}
	ref.AccountUUID = p.AccountUUID
	if err := remote(ctx, ActAliyunAction, ActionParams{Ref: ref, Action: p.Action, Args: p.Args}, nil); err != nil {
		return res, err
	}
	switch {
	case ref.Kind == KindVpnConnection:
		gw := RemoteRef{Kind: KindVpnGateway, ID: ref.Extra["vpnGatewayId"], Region: ref.Region, AccountUUID: ref.AccountUUID}
		if err := wait(ctx, WaitParams{Ref: gw, Want: []string{vpnGatewayActive}}); err != nil {
			return res, err
		}
	case ref.Kind == KindVbr && p.Action == ActionTerminate:
		if err := wait(ctx, WaitParams{Ref: ref, Want: []string{"terminated"}}); err != nil {
			return res, err
		}
	case ref.Kind == KindVbr && p.Action == ActionRecover:
		if err := wait(ctx, WaitParams{Ref: ref, Want: []string{"active"}}); err != nil {
			return res, err
		}
	case ref.Kind == KindRouterInterface && p.Action == ActionActivate:
		if err := wait(ctx, WaitParams{Ref: ref, Want: []string{routerInterfaceActive}}); err != nil {
			return res, err
		}
	case ref.Kind == KindRouterInterface && p.Action == ActionDeactivate:
		if err := wait(ctx, WaitParams{Ref: ref, Want: []string{routerInterfaceInactive}}); err != nil {
			return res, err
		}
	}
	err := remote(ctx, ActAliyunRecord, RecordParams{Ref: ref, Args: p.Args}, &res)
	return res, err
}

// HybridConnectInterfacesWorkflow forms a router interface pair: each
// interface is pointed at the other, the initiating (VBR) side connects,
// both are waited into Active and recorded. Pointing an Idle interface at
// its opposite creates nothing, so a failure leaves nothing to undo.
func HybridConnectInterfacesWorkflow(ctx workflow.Context, p ConnectInterfacesParams) (HybridResult, error) {
	var res HybridResult
	var vbrRI, vrRI RemoteRef
	if err := remote(ctx, ActAliyunLookup, LocalRef{Resource: resRouterInterface, UUID: p.VbrInterfaceUUID}, &vbrRI); err != nil {
		return res, err
	}
	if err := remote(ctx, ActAliyunLookup, LocalRef{Resource: resRouterInterface, UUID: p.VRouterInterfaceUUID}, &vrRI); err != nil {
		return res, err
	}
	vbrRI.AccountUUID, vrRI.AccountUUID = p.AccountUUID, p.AccountUUID
	for _, pair := range [][2]RemoteRef{{vbrRI, vrRI}, {vrRI, vbrRI}} {
		args := map[string]any{"oppositeInterfaceId": pair[1].ID, "oppositeRouterId": pair[1].Extra["routerId"],
			"oppositeRouterType": pair[1].Extra["routerType"]}
		if err := remote(ctx, ActAliyunAction, ActionParams{Ref: pair[0], Action: ActionPair, Args: args}, nil); err != nil {
			return res, err
		}
	}
	if err := remote(ctx, ActAliyunAction, ActionParams{Ref: vbrRI, Action: ActionConnect}, nil); err != nil {
		return res, err
	}
	for _, ref := range []RemoteRef{vrRI, vbrRI} {
		if err := wait(ctx, WaitParams{Ref: ref, Want: []string{routerInterfaceActive}}); err != nil {
			return res, err
		}
		if err := remote(ctx, ActAliyunRecord, RecordParams{Ref: ref}, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// resRouterInterface is the store resource of a router interface (kept
// here so that workflows import no store package).
const resRouterInterface = "AliyunRouterInterface"
