-- Hybrid cloud (Alibaba Cloud): AccessKeys, regions, zones and the remote
-- resources mirrored in the inventory. Remote ids are unique per data
-- center, so a sync re-run finds its rows instead of adding twins.
CREATE TABLE hybrid_accounts (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  account_uuid VARCHAR(32) NOT NULL,
  user_uuid VARCHAR(32),
  type VARCHAR(32) NOT NULL,
  akey VARCHAR(128) NOT NULL,
  secret VARCHAR(1024) NOT NULL,
  hybrid_account_id VARCHAR(64) NOT NULL,
  hybrid_user_id VARCHAR(128) NOT NULL,
  hybrid_user_name VARCHAR(255) NOT NULL,
  is_current VARCHAR(8) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_hybrid_accounts_account ON hybrid_accounts (account_uuid);

-- The public half of the key pair that API servers seal new secrets with
-- before they enter a workflow's input; the private half is derived from
-- the control plane's secret key and never stored.
CREATE TABLE hybrid_sealing_keys (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  public_key VARCHAR(255) NOT NULL,
  create_date BIGINT NOT NULL
);

CREATE TABLE data_centers (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  deleted VARCHAR(8) NOT NULL,
  region_name VARCHAR(255) NOT NULL,
  dc_type VARCHAR(32) NOT NULL,
  region_id VARCHAR(64) NOT NULL,
  description VARCHAR(2048),
  endpoint VARCHAR(255) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_data_centers_region ON data_centers (dc_type, region_id);

CREATE TABLE identity_zones (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  closed VARCHAR(8) NOT NULL,
  data_center_uuid VARCHAR(32) NOT NULL,
  zone_id VARCHAR(64) NOT NULL,
  type VARCHAR(32) NOT NULL,
  zone_name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_identity_zones_zone ON identity_zones (data_center_uuid, zone_id);

CREATE TABLE ecs_vpcs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  ecs_vpc_id VARCHAR(64) NOT NULL,
  data_center_uuid VARCHAR(32) NOT NULL,
  status VARCHAR(32) NOT NULL,
  deleted VARCHAR(8) NOT NULL,
  name VARCHAR(255) NOT NULL,
  cidr_block VARCHAR(64) NOT NULL,
  v_router_id VARCHAR(64) NOT NULL,
  description VARCHAR(2048),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_ecs_vpcs_id ON ecs_vpcs (data_center_uuid, ecs_vpc_id);

CREATE TABLE ecs_vswitches (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  v_switch_id VARCHAR(64) NOT NULL,
  status VARCHAR(32) NOT NULL,
  cidr_block VARCHAR(64) NOT NULL,
  available_ip_address_count BIGINT NOT NULL,
  description VARCHAR(2048),
  name VARCHAR(255) NOT NULL,
  ecs_vpc_uuid VARCHAR(32) NOT NULL,
  identity_zone_uuid VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_ecs_vswitches_id ON ecs_vswitches (ecs_vpc_uuid, v_switch_id);

CREATE TABLE ecs_security_groups (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  ecs_vpc_uuid VARCHAR(32) NOT NULL,
  security_group_id VARCHAR(64) NOT NULL,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_ecs_security_groups_id ON ecs_security_groups (ecs_vpc_uuid, security_group_id);

CREATE TABLE ecs_security_group_rules (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  ecs_security_group_uuid VARCHAR(32) NOT NULL,
  protocol VARCHAR(16) NOT NULL,
  port_range VARCHAR(32) NOT NULL,
  cidr_ip VARCHAR(64) NOT NULL,
  priority VARCHAR(8) NOT NULL,
  direction VARCHAR(16) NOT NULL,
  nic_type VARCHAR(16) NOT NULL,
  policy VARCHAR(16) NOT NULL,
  description VARCHAR(2048),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_ecs_sg_rules_group ON ecs_security_group_rules (ecs_security_group_uuid);

CREATE TABLE ecs_images (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  local_image_uuid VARCHAR(32),
  ecs_image_id VARCHAR(128) NOT NULL,
  name VARCHAR(255) NOT NULL,
  ecs_image_size BIGINT NOT NULL,
  description VARCHAR(2048),
  data_center_uuid VARCHAR(32) NOT NULL,
  platform VARCHAR(64) NOT NULL,
  type VARCHAR(16) NOT NULL,
  oss_md5_sum VARCHAR(64),
  format VARCHAR(32) NOT NULL,
  os_name VARCHAR(255) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_ecs_images_id ON ecs_images (data_center_uuid, ecs_image_id);

CREATE TABLE ecs_instances (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  local_vm_instance_uuid VARCHAR(32),
  ecs_instance_id VARCHAR(64) NOT NULL,
  name VARCHAR(255) NOT NULL,
  ecs_status VARCHAR(32) NOT NULL,
  cpu_cores BIGINT NOT NULL,
  memory_size BIGINT NOT NULL,
  ecs_instance_type VARCHAR(64) NOT NULL,
  ecs_band_width BIGINT NOT NULL,
  ecs_root_volume_id VARCHAR(64) NOT NULL,
  ecs_root_volume_category VARCHAR(64) NOT NULL,
  ecs_root_volume_size BIGINT NOT NULL,
  private_ip_address VARCHAR(64) NOT NULL,
  public_ip_address VARCHAR(64) NOT NULL,
  ecs_vswitch_uuid VARCHAR(32) NOT NULL,
  ecs_image_uuid VARCHAR(32) NOT NULL,
  ecs_security_group_uuid VARCHAR(32) NOT NULL,
  identity_zone_uuid VARCHAR(32) NOT NULL,
  data_center_uuid VARCHAR(32) NOT NULL,
  charge_type VARCHAR(32) NOT NULL,
  expire_date BIGINT NOT NULL,
  description VARCHAR(2048),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_ecs_instances_dc ON ecs_instances (data_center_uuid, ecs_instance_id);

CREATE TABLE hybrid_eips (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  eip_id VARCHAR(64) NOT NULL,
  band_width VARCHAR(16) NOT NULL,
  data_center_uuid VARCHAR(32) NOT NULL,
  allocate_resource_uuid VARCHAR(32),
  allocate_resource_type VARCHAR(64),
  status VARCHAR(32) NOT NULL,
  eip_address VARCHAR(64) NOT NULL,
  eip_type VARCHAR(32) NOT NULL,
  name VARCHAR(255) NOT NULL,
  charge_type VARCHAR(32) NOT NULL,
  description VARCHAR(2048),
  allocate_time BIGINT NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_hybrid_eips_id ON hybrid_eips (data_center_uuid, eip_id);

-- OSS buckets known to the inventory; is_current marks the bucket a data
-- center uploads images through (AttachOssBucketToEcsDataCenter).
CREATE TABLE oss_buckets (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  bucket_name VARCHAR(128) NOT NULL,
  data_center_uuid VARCHAR(32) NOT NULL,
  is_current VARCHAR(8) NOT NULL,
  region_name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_oss_buckets_name ON oss_buckets (data_center_uuid, bucket_name);

-- IPsec VPN between a local site and an Alibaba VPC.
CREATE TABLE vpc_vpn_gateways (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  type VARCHAR(32) NOT NULL,
  gateway_id VARCHAR(64) NOT NULL,
  v_switch_uuid VARCHAR(32),
  data_center_uuid VARCHAR(32) NOT NULL,
  public_ip VARCHAR(64) NOT NULL,
  spec VARCHAR(32) NOT NULL,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  status VARCHAR(32) NOT NULL,
  business_status VARCHAR(32) NOT NULL,
  end_date BIGINT NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_vpc_vpn_gateways_id ON vpc_vpn_gateways (data_center_uuid, gateway_id);

CREATE TABLE vpc_user_vpn_gateways (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  data_center_uuid VARCHAR(32) NOT NULL,
  type VARCHAR(32) NOT NULL,
  gateway_id VARCHAR(64) NOT NULL,
  ip VARCHAR(64) NOT NULL,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_vpc_user_vpn_gateways_id ON vpc_user_vpn_gateways (data_center_uuid, gateway_id);

CREATE TABLE vpc_vpn_ike_configs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  psk VARCHAR(255) NOT NULL,
  version VARCHAR(16) NOT NULL,
  mode VARCHAR(16) NOT NULL,
  encode_algorithm VARCHAR(32) NOT NULL,
  auth_algorithm VARCHAR(32) NOT NULL,
  pfs VARCHAR(16) NOT NULL,
  lifetime BIGINT NOT NULL,
  local_ip VARCHAR(64),
  remote_ip VARCHAR(64),
  description VARCHAR(2048),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);

CREATE TABLE vpc_vpn_ipsec_configs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  encode_algorithm VARCHAR(32) NOT NULL,
  auth_algorithm VARCHAR(32) NOT NULL,
  pfs VARCHAR(16) NOT NULL,
  lifetime BIGINT NOT NULL,
  description VARCHAR(2048),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);

CREATE TABLE vpc_vpn_connections (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  type VARCHAR(32) NOT NULL,
  name VARCHAR(255) NOT NULL,
  status VARCHAR(64) NOT NULL,
  description VARCHAR(2048),
  connection_id VARCHAR(64) NOT NULL,
  data_center_uuid VARCHAR(32) NOT NULL,
  user_gateway_uuid VARCHAR(32),
  vpn_gateway_uuid VARCHAR(32),
  local_subnet VARCHAR(1024) NOT NULL,
  remote_subnet VARCHAR(1024) NOT NULL,
  ike_config_uuid VARCHAR(32),
  ipsec_config_uuid VARCHAR(32),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_vpc_vpn_connections_id ON vpc_vpn_connections (data_center_uuid, connection_id);

-- VPC VRouters and their route entries.
CREATE TABLE vpc_virtual_routers (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  vr_id VARCHAR(64) NOT NULL,
  vpc_uuid VARCHAR(32) NOT NULL,
  route_table_id VARCHAR(64) NOT NULL,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_vpc_virtual_routers_id ON vpc_virtual_routers (vpc_uuid, vr_id);

CREATE TABLE vpc_virtual_route_entries (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  route_entry_id VARCHAR(64) NOT NULL,
  type VARCHAR(16) NOT NULL,
  v_router_type VARCHAR(16) NOT NULL,
  status VARCHAR(32) NOT NULL,
  destination_cidr_block VARCHAR(64) NOT NULL,
  next_hop_id VARCHAR(64) NOT NULL,
  virtual_router_uuid VARCHAR(32) NOT NULL,
  next_hop_type VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_vpc_route_entries_id ON vpc_virtual_route_entries (virtual_router_uuid, route_entry_id);
