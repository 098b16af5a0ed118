package api

import (
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// networkRoutes are the networking APIs.
var networkRoutes = routeSet{
	queries: map[string]string{
		"QueryL2VlanNetwork": store.ResL2Network, "QueryL2VxlanNetwork": store.ResL2Network,
		"QueryL2VxlanNetworkPool": store.ResL2Network, "QueryVniRange": store.ResVniRange,
		"QueryNetworkServiceProvider": store.ResNetworkProvider, "QueryNetworkServiceL3NetworkRef": store.ResNetworkL3Ref,
		"QuerySecurityGroup": store.ResSecurityGroup, "QuerySecurityGroupRule": store.ResSecurityRule,
		"QueryVmNicInSecurityGroup": store.ResVMNicSecurityRef,
	},
	ops: []string{
		"CreateL2VlanNetwork", "CreateL2VxlanNetworkPool", "CreateL2VxlanNetwork", "CreateVniRange", "UpdateVniRange", "DeleteVniRange",
		"AttachNetworkServiceToL3Network", "DetachNetworkServiceFromL3Network",
		"CreateSecurityGroup", "UpdateSecurityGroup", "ChangeSecurityGroupState", "DeleteSecurityGroup",
		"AddSecurityGroupRule", "DeleteSecurityGroupRule", "AttachSecurityGroupToL3Network", "DetachSecurityGroupFromL3Network",
		"AddVmNicToSecurityGroup", "DeleteVmNicFromSecurityGroup",
	},
}

// typedQueries narrow a query to one type of its resource.
var typedQueries = map[string]string{
	"QueryL2VlanNetwork": models.L2Vlan, "QueryL2VxlanNetwork": models.L2Vxlan, "QueryL2VxlanNetworkPool": models.L2VxlanPool,
}
