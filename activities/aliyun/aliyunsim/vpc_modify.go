package aliyunsim

import (
	"encoding/json"
	"net/http"
)

// modifyRouterInterfaceAttribute renames a router interface or, while it is
// Idle, points it at its opposite interface (how a pair is formed before
// ConnectRouterInterface).
func modifyRouterInterfaceAttribute(x *rpcCtx) (obj, error) {
	ri, err := x.routerInterface()
	if err != nil {
		return nil, err
	}
	oppID, oppRouter, oppType := x.str("OppositeInterfaceId"), x.str("OppositeRouterId"), x.str("OppositeRouterType")
	if (oppID != "" || oppRouter != "" || oppType != "") && ri.Status != "Idle" {
		return nil, incorrectRI(ri)
	}
	if oppType != "" {
		if err := oneOf("OppositeRouterType", oppType, "VRouter", "VBR"); err != nil {
			return nil, err
		}
		ri.OppositeRouterType = oppType
	}
	if oppID != "" {
		if _, ok := x.c.RouterInterfaces[oppID]; !ok {
			return nil, errf(http.StatusBadRequest, "InvalidOppositeInterfaceId.NotFound", "The opposite router interface %q does not exist.", oppID)
		}
		ri.OppositeInterfaceID = oppID
	}
	if oppRouter != "" {
		ri.OppositeRouterID = oppRouter
	}
	if v := x.str("OppositeInterfaceOwnerId"); v != "" {
		ri.OppositeInterfaceOwnerID = v
	}
	if v := x.str("Name"); v != "" {
		ri.Name = v
	}
	if v := x.str("Description"); v != "" {
		ri.Description = v
	}
	if v := x.str("HealthCheckSourceIp"); v != "" {
		ri.HealthCheckSourceIP = v
	}
	if v := x.str("HealthCheckTargetIp"); v != "" {
		ri.HealthCheckTargetIP = v
	}
	return obj{}, nil
}

// modifyVpnConnectionAttribute changes a VPN connection's name, subnets and
// IKE/IPsec configurations; like a create, it puts the gateway into
// "updating" for a while and is refused while the gateway is not active.
func modifyVpnConnectionAttribute(x *rpcCtx) (obj, error) {
	c, err := x.vpnConnection()
	if err != nil {
		return nil, err
	}
	g, err := x.vpnGateway(c.VpnGatewayID)
	if err != nil {
		return nil, err
	}
	if g.Status != "active" {
		return nil, configuring(g)
	}
	local, remote := c.LocalSubnet, c.RemoteSubnet
	if v := x.str("LocalSubnet"); v != "" {
		if err := subnets("LocalSubnet", v); err != nil {
			return nil, err
		}
		local = v
	}
	if v := x.str("RemoteSubnet"); v != "" {
		if err := subnets("RemoteSubnet", v); err != nil {
			return nil, err
		}
		remote = v
	}
	ike, ipsec := c.IkeConfig, c.IpsecConfig
	if v := x.str("IkeConfig"); v != "" {
		if err := json.Unmarshal([]byte(v), &ike); err != nil {
			return nil, invalid("IkeConfig", v)
		}
	}
	if v := x.str("IpsecConfig"); v != "" {
		if err := json.Unmarshal([]byte(v), &ipsec); err != nil {
			return nil, invalid("IpsecConfig", v)
		}
	}
	c.LocalSubnet, c.RemoteSubnet, c.IkeConfig, c.IpsecConfig = local, remote, ike, ipsec
	if v := x.str("Name"); v != "" {
		c.Name = v
	}
	if x.str("EffectImmediately") != "" {
		c.EffectImmediately = x.boolean("EffectImmediately")
	}
	g.move(x.now, x.s.delay, "updating", "active")
	return vpnConnectionView(c), nil
}

// terminateVirtualBorderRouter stops an active VBR (it keeps its
// configuration and can be recovered).
func terminateVirtualBorderRouter(x *rpcCtx) (obj, error) {
	v, err := x.vbr()
	if err != nil {
		return nil, err
	}
	switch v.Status {
	case "terminated":
		return obj{}, nil
	case "active":
		v.move(x.now, x.s.delay, "terminating", "terminated")
		return obj{}, nil
	}
	return nil, errf(http.StatusBadRequest, "IncorrectStatus.Vbr", "The VBR %s is %s.", v.VbrID, v.Status)
}

// recoverVirtualBorderRouter restarts a terminated VBR.
func recoverVirtualBorderRouter(x *rpcCtx) (obj, error) {
	v, err := x.vbr()
	if err != nil {
		return nil, err
	}
	switch v.Status {
	case "active":
		return obj{}, nil
	case "terminated":
		v.move(x.now, x.s.delay, "recovering", "active")
		return obj{}, nil
	}
	return nil, errf(http.StatusBadRequest, "IncorrectStatus.Vbr", "The VBR %s is %s.", v.VbrID, v.Status)
}
