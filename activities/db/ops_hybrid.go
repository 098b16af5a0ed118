package db

import (
	"context"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// hybridOps are the hybrid cloud's local-only operations: they change the
// inventory, never Alibaba (the *Remote APIs are workflows of their own).
// Updates of names and descriptions are local labels, as in ZStack.
var hybridOps = map[string]opFunc{
	"DeleteAliyunKeySecret":                            deleteOp(store.ResHybridAccount, "", ""),
	"DeleteHybridKeySecret":                            deleteOp(store.ResHybridAccount, "", ""),
	"UpdateAliyunKeySecret":                            updateOp(store.ResHybridAccount, "name", "description"),
	"UpdateHybridKeySecret":                            updateOp(store.ResHybridAccount, "name", "description"),
	"AttachHybridKey":                                  setCurrentKey(true),
	"AttachAliyunKey":                                  setCurrentKey(true),
	"DetachHybridKey":                                  setCurrentKey(false),
	"DetachAliyunKey":                                  setCurrentKey(false),
	"DeleteDataCenterInLocal":                          deleteDataCenter,
	"DeleteIdentityZoneInLocal":                        deleteOp(store.ResIdentityZone, "ecs_vswitches", "identity_zone_uuid"),
	"DeleteEcsVpcInLocal":                              deleteOp(store.ResEcsVpc, "ecs_vswitches", "ecs_vpc_uuid"),
	"DeleteEcsVSwitchInLocal":                          deleteOp(store.ResEcsVSwitch, "ecs_instances", "ecs_vswitch_uuid"),
	"DeleteEcsSecurityGroupInLocal":                    deleteSecurityGroupLocal,
	"DeleteEcsImageLocal":                              deleteOp(store.ResEcsImage, "", ""),
	"DeleteEcsInstanceLocal":                           deleteOp(store.ResEcsInstance, "", ""),
	"DeleteHybridEipFromLocal":                         deleteOp(store.ResHybridEip, "", ""),
	"UpdateEcsVpc":                                     updateOp(store.ResEcsVpc, "name", "description"),
	"UpdateEcsVSwitch":                                 updateOp(store.ResEcsVSwitch, "name", "description"),
	"UpdateEcsSecurityGroup":                           updateOp(store.ResEcsSecurityGroup, "name", "description"),
	"UpdateEcsImage":                                   updateOp(store.ResEcsImage, "name", "description"),
	"UpdateHybridEip":                                  updateOp(store.ResHybridEip, "name", "description"),
	"UpdateOssBucket":                                  updateOp(store.ResOssBucket, "description"),
	"DeleteOssBucketNameLocal":                         deleteOp(store.ResOssBucket, "", ""),
	"AttachOssBucketToEcsDataCenter":                   setCurrentBucket(true),
	"DetachOssBucketFromEcsDataCenter":                 setCurrentBucket(false),
	"DeleteVpcIkeConfigLocal":                          deleteOp(store.ResVpnIkeConfig, "vpc_vpn_connections", "ike_config_uuid"),
	"DeleteVpcIpSecConfigLocal":                        deleteOp(store.ResVpnIPSecConfig, "vpc_vpn_connections", "ipsec_config_uuid"),
	"DeleteVpcUserVpnGatewayLocal":                     deleteOp(store.ResUserVpnGateway, "vpc_vpn_connections", "user_gateway_uuid"),
	"DeleteVpcVpnConnectionLocal":                      deleteOp(store.ResVpnConnection, "", ""),
	"DeleteVpcVpnGatewayLocal":                         deleteOp(store.ResVpnGateway, "vpc_vpn_connections", "vpn_gateway_uuid"),
	"UpdateVpcUserVpnGateway":                          updateOp(store.ResUserVpnGateway, "name", "description"),
	"UpdateVpcVpnGateway":                              updateOp(store.ResVpnGateway, "name", "description"),
	"DeleteVirtualRouterLocal":                         deleteVRouterLocal,
	"UpdateAliyunVirtualRouter":                        updateOp(store.ResAliyunVRouter, "name", "description"),
	"DeleteVirtualBorderRouterLocal":                   deleteVbrLocal,
	"DeleteAliyunRouterInterfaceLocal":                 deleteOp(store.ResAliyunRouterIface, "", ""),
	"UpdateConnectionBetweenL3NetWorkAndAliyunVSwitch": updateOp(store.ResHybridConnection, "name", "description"),
}

// setCurrentBucket makes an OSS bucket its data center's upload bucket
// (attach) or clears it (detach).
func setCurrentBucket(current bool) opFunc {
	return func(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
		uuid := str(args, "ossBucketUuid")
		if err := a.Store.SetCurrentOssBucket(ctx, uuid, current); err != nil {
			return activities.Result{}, err
		}
		return render(ctx, a, store.ResOssBucket, uuid)
	}
}

// setCurrentKey makes an AccessKey its account's current one (attach) or
// clears it (detach).
func setCurrentKey(current bool) opFunc {
	return func(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
		if err := a.Store.SetCurrentHybridAccount(ctx, str(args, "uuid"), current); err != nil {
			return activities.Result{}, err
		}
		return render(ctx, a, store.ResHybridAccount, str(args, "uuid"))
	}
}

// deleteDataCenter removes a data center and its zones from the inventory;
// it refuses while VPCs, images, EIPs or instances of it are recorded.
func deleteDataCenter(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	uuid := str(args, "uuid")
	for _, t := range []string{"ecs_vpcs", "ecs_images", "hybrid_eips", "ecs_instances"} {
		n, err := a.Store.Count(ctx, t, "data_center_uuid = ?", uuid)
		if err != nil {
			return activities.Result{}, err
		}
		if n > 0 {
			return activities.Result{}, models.Conflict("cannot delete data center[uuid:%s]: %d rows in %s; delete them first", uuid, n, t)
		}
	}
	if _, err := a.Store.DeleteStale(ctx, store.ResIdentityZone, "uuid", nil, "data_center_uuid = ?", uuid); err != nil {
		return activities.Result{}, err
	}
	return activities.Result{}, a.Store.Delete(ctx, store.ResDataCenter, uuid)
}

// deleteSecurityGroupLocal removes a security group and its rules from the
// inventory; it refuses while instances use it.
func deleteSecurityGroupLocal(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	uuid := str(args, "uuid")
	n, err := a.Store.Count(ctx, "ecs_instances", "ecs_security_group_uuid = ?", uuid)
	if err != nil {
		return activities.Result{}, err
	}
	if n > 0 {
		return activities.Result{}, models.Conflict("cannot delete security group[uuid:%s]: %d instances use it", uuid, n)
	}
	if _, err := a.Store.DeleteStale(ctx, store.ResEcsSecurityGroupRule, "uuid", nil, "ecs_security_group_uuid = ?", uuid); err != nil {
		return activities.Result{}, err
	}
	return activities.Result{}, a.Store.Delete(ctx, store.ResEcsSecurityGroup, uuid)
}

// deleteVRouterLocal removes a VRouter and its route entries from the
// inventory (Alibaba keeps them; a sync brings them back).
func deleteVRouterLocal(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	uuid := str(args, "uuid")
	if _, err := a.Store.DeleteStale(ctx, store.ResAliyunRouteEntry, "uuid", nil, "virtual_router_uuid = ?", uuid); err != nil {
		return activities.Result{}, err
	}
	return activities.Result{}, a.Store.Delete(ctx, store.ResAliyunVRouter, uuid)
}

// deleteVbrLocal removes a VBR, its router interfaces and its route entries
// from the inventory (Alibaba keeps them; a sync brings them back).
func deleteVbrLocal(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	uuid := str(args, "uuid")
	if _, err := a.Store.DeleteStale(ctx, store.ResAliyunRouteEntry, "uuid", nil, "virtual_router_uuid = ?", uuid); err != nil {
		return activities.Result{}, err
	}
	if _, err := a.Store.DeleteStale(ctx, store.ResAliyunRouterIface, "uuid", nil, "virtual_router_uuid = ?", uuid); err != nil {
		return activities.Result{}, err
	}
	return activities.Result{}, a.Store.Delete(ctx, store.ResVirtualBorderRouter, uuid)
}
