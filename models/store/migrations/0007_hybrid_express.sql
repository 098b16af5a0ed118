-- Alibaba Express Connect: virtual border routers and router interfaces.
CREATE TABLE virtual_border_routers (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  vbr_id VARCHAR(64) NOT NULL,
  vlan_interface_id VARCHAR(64) NOT NULL,
  status VARCHAR(32) NOT NULL,
  data_center_uuid VARCHAR(32) NOT NULL,
  vlan_id VARCHAR(16) NOT NULL,
  physical_connection_status VARCHAR(32) NOT NULL,
  circuit_code VARCHAR(255),
  local_gateway_ip VARCHAR(64) NOT NULL,
  peer_gateway_ip VARCHAR(64) NOT NULL,
  peering_subnet_mask VARCHAR(64) NOT NULL,
  physical_connection_id VARCHAR(64) NOT NULL,
  route_table_id VARCHAR(64) NOT NULL,
  access_point_uuid VARCHAR(32),
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_virtual_border_routers_id ON virtual_border_routers (data_center_uuid, vbr_id);

CREATE TABLE aliyun_router_interfaces (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  data_center_uuid VARCHAR(32) NOT NULL,
  router_interface_id VARCHAR(64) NOT NULL,
  virtual_router_uuid VARCHAR(32) NOT NULL,
  access_point_uuid VARCHAR(32),
  role VARCHAR(32) NOT NULL,
  v_router_type VARCHAR(16) NOT NULL,
  spec VARCHAR(32) NOT NULL,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  status VARCHAR(32) NOT NULL,
  opposite_interface_uuid VARCHAR(32),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_aliyun_router_interfaces_id ON aliyun_router_interfaces (data_center_uuid, router_interface_id);

-- One-step interconnects (local VPC L3 <-> Alibaba VPC over IPsec).
CREATE TABLE hybrid_connections (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  relation_ships VARCHAR(2048) NOT NULL,
  l3_network_uuid VARCHAR(32) NOT NULL,
  ecs_vpc_uuid VARCHAR(32) NOT NULL,
  vpn_gateway_uuid VARCHAR(32) NOT NULL,
  user_gateway_uuid VARCHAR(32) NOT NULL,
  ike_config_uuid VARCHAR(32) NOT NULL,
  ipsec_config_uuid VARCHAR(32) NOT NULL,
  vpn_connection_uuid VARCHAR(32) NOT NULL,
  ipsec_uuid VARCHAR(32) NOT NULL,
  route_entry_uuid VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
