package models

// VirtualBorderRouter is an Alibaba Express Connect virtual border router
// (VirtualBorderRouterInventory): the VLAN interface of a physical
// connection, on the Alibaba side of a leased line.
type VirtualBorderRouter struct {
	UUID                     string `db:"uuid" json:"uuid"`
	VbrID                    string `db:"vbr_id" json:"vbrId"`
	VlanInterfaceID          string `db:"vlan_interface_id" json:"vlanInterfaceId"`
	Status                   string `db:"status" json:"status"`
	DataCenterUUID           string `db:"data_center_uuid" json:"dataCenterUuid"`
	VlanID                   string `db:"vlan_id" json:"vlanId"`
	PhysicalConnectionStatus string `db:"physical_connection_status" json:"physicalConnectionStatus"`
	CircuitCode              Ref    `db:"circuit_code" json:"circuitCode,omitempty"`
	LocalGatewayIP           string `db:"local_gateway_ip" json:"localGatewayIp"`
	PeerGatewayIP            string `db:"peer_gateway_ip" json:"peerGatewayIp"`
	PeeringSubnetMask        string `db:"peering_subnet_mask" json:"peeringSubnetMask"`
	PhysicalConnectionID     string `db:"physical_connection_id" json:"physicalConnectionId"`
	RouteTableID             string `db:"route_table_id" json:"-"`
	AccessPointUUID          Ref    `db:"access_point_uuid" json:"accessPointUuid,omitempty"`
	Name                     string `db:"name" json:"name"`
	Description              Ref    `db:"description" json:"description,omitempty"`
	CreateDate               Time   `db:"create_date" json:"createDate"`
	LastOpDate               Time   `db:"last_op_date" json:"lastOpDate"`
}

// AliyunRouterInterface is one end of an Alibaba router interface pair, on
// a VPC's VRouter or on a VBR (AliyunRouterInterfaceInventory).
type AliyunRouterInterface struct {
	UUID                  string `db:"uuid" json:"uuid"`
	DataCenterUUID        string `db:"data_center_uuid" json:"dataCenterUuid"`
	RouterInterfaceID     string `db:"router_interface_id" json:"routerInterfaceId"`
	VirtualRouterUUID     string `db:"virtual_router_uuid" json:"virtualRouterUuid"`
	AccessPointUUID       Ref    `db:"access_point_uuid" json:"accessPointUuid,omitempty"`
	Role                  string `db:"role" json:"role"`
	VRouterType           string `db:"v_router_type" json:"vRouterType"`
	Spec                  string `db:"spec" json:"spec"`
	Name                  string `db:"name" json:"name"`
	Description           Ref    `db:"description" json:"description,omitempty"`
	Status                string `db:"status" json:"status"`
	OppositeInterfaceUUID Ref    `db:"opposite_interface_uuid" json:"oppositeInterfaceUuid,omitempty"`
	CreateDate            Time   `db:"create_date" json:"createDate"`
	LastOpDate            Time   `db:"last_op_date" json:"lastOpDate"`
}

// HybridConnection is a one-step interconnect between a local VPC L3
// network (behind a VPC router) and an Alibaba VPC over IPsec
// (ConnectionRelationShipInventory). The hidden columns name every piece
// the interconnect made, so that its delete removes them all.
type HybridConnection struct {
	UUID              string `db:"uuid" json:"uuid"`
	Name              string `db:"name" json:"name"`
	Description       Ref    `db:"description" json:"description,omitempty"`
	RelationShips     string `db:"relation_ships" json:"relationShips"`
	L3NetworkUUID     string `db:"l3_network_uuid" json:"-"`
	EcsVpcUUID        string `db:"ecs_vpc_uuid" json:"-"`
	VpnGatewayUUID    string `db:"vpn_gateway_uuid" json:"-"`
	UserGatewayUUID   string `db:"user_gateway_uuid" json:"-"`
	IkeConfigUUID     string `db:"ike_config_uuid" json:"-"`
	IpsecConfigUUID   string `db:"ipsec_config_uuid" json:"-"`
	VpnConnectionUUID string `db:"vpn_connection_uuid" json:"-"`
	IPsecUUID         string `db:"ipsec_uuid" json:"-"`
	RouteEntryUUID    string `db:"route_entry_uuid" json:"-"`
	CreateDate        Time   `db:"create_date" json:"createDate"`
	LastOpDate        Time   `db:"last_op_date" json:"lastOpDate"`
}
