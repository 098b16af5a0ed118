package db

import "github.com/zcloud/zcloud/models/store"

// routerChanges are the database sides of the router change APIs, by
// ZStack API name. Each runs in one journaled transaction (store.RouterChange)
// so that the workflow can undo it when a router fails to converge.
// CreateVip is handled apart: its address is allocated first.
var routerChanges = map[string]store.Change{
	"CreateVirtualRouterOffering":        store.CreateVirtualRouterOffering,
	"DeleteVirtualRouterOffering":        store.DeleteVirtualRouterOffering,
	"AttachL3NetworkToVm":                store.AttachL3ToRouter,
	"DetachL3NetworkFromVm":              store.DetachNicFromRouter,
	"DeleteVip":                          store.DeleteVip,
	"ReleaseVmNicServices":               store.ReleaseVMNicServices,
	"SetVipQos":                          store.SetVipQos,
	"DeleteVipQos":                       store.DeleteVipQos,
	"CreateEip":                          store.CreateEip,
	"AttachEip":                          store.AttachEip,
	"DetachEip":                          store.DetachEip,
	"DeleteEip":                          store.DeleteEip,
	"CreatePortForwardingRule":           store.CreatePortForwardingRule,
	"AttachPortForwardingRule":           store.AttachPortForwardingRule,
	"DetachPortForwardingRule":           store.DetachPortForwardingRule,
	"DeletePortForwardingRule":           store.DeletePortForwardingRule,
	"CreateLoadBalancer":                 store.CreateLoadBalancer,
	"DeleteLoadBalancer":                 store.DeleteLoadBalancer,
	"CreateLoadBalancerListener":         store.CreateLoadBalancerListener,
	"DeleteLoadBalancerListener":         store.DeleteLoadBalancerListener,
	"AddVmNicToLoadBalancer":             store.AddVMNicToLoadBalancer,
	"RemoveVmNicFromLoadBalancer":        store.RemoveVMNicFromLoadBalancer,
	"CreateIPsecConnection":              store.CreateIPsecConnection,
	"DeleteIPsecConnection":              store.DeleteIPsecConnection,
	"CreateVRouterRouteTable":            store.CreateVRouterRouteTable,
	"DeleteVRouterRouteTable":            store.DeleteVRouterRouteTable,
	"AddVRouterRouteEntry":               store.AddVRouterRouteEntry,
	"DeleteVRouterRouteEntry":            store.DeleteVRouterRouteEntry,
	"AttachVRouterRouteTableToVRouter":   store.AttachVRouterRouteTableToVRouter,
	"DetachVRouterRouteTableFromVRouter": store.DetachVRouterRouteTableFromVRouter,

	"UpdateVirtualRouterOffering":   store.UpdateNames("virtual_router_offerings", store.ResVirtualRouterOffering, "VirtualRouterOffering", "isDefault", "imageUuid"),
	"UpdateVip":                     store.UpdateNames("vips", store.ResVip, "Vip"),
	"UpdateEip":                     store.UpdateNames("eips", store.ResEip, "Eip"),
	"UpdatePortForwardingRule":      store.UpdateNames("port_forwarding_rules", store.ResPortForwarding, "PortForwardingRule"),
	"UpdateLoadBalancer":            store.UpdateNames("load_balancers", store.ResLoadBalancer, "LoadBalancer"),
	"UpdateLoadBalancerListener":    store.UpdateNames("load_balancer_listeners", store.ResLBListener, "LoadBalancerListener"),
	"UpdateIPsecConnection":         store.UpdateNames("ipsec_connections", store.ResIPsec, "IPsecConnection"),
	"UpdateVRouterRouteTable":       store.UpdateNames("vrouter_route_tables", store.ResRouteTable, "VRouterRouteTable"),
	"ChangeVipState":                store.ChangeState("vips", store.ResVip, "Vip"),
	"ChangeEipState":                store.ChangeState("eips", store.ResEip, "Eip"),
	"ChangePortForwardingRuleState": store.ChangeState("port_forwarding_rules", store.ResPortForwarding, "PortForwardingRule"),
	"ChangeIPSecConnectionState":    store.ChangeState("ipsec_connections", store.ResIPsec, "IPsecConnection"),
}
