-- Router appliance (vRouter / VPC router): offerings, routers and their
-- NICs, VIPs and the services on them (EIP, port forwarding, load balancer,
-- IPsec), VPC route tables, and the journal that lets a router change roll
-- back.
CREATE TABLE virtual_router_offerings (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  cpu_num INTEGER NOT NULL,
  memory_size BIGINT NOT NULL,
  reserved_memory_size BIGINT NOT NULL,
  type VARCHAR(64) NOT NULL,
  state VARCHAR(32) NOT NULL,
  allocator_strategy VARCHAR(64),
  sort_key INTEGER NOT NULL,
  zone_uuid VARCHAR(32) NOT NULL,
  management_network_uuid VARCHAR(32) NOT NULL,
  public_network_uuid VARCHAR(32) NOT NULL,
  image_uuid VARCHAR(32) NOT NULL,
  is_default BOOLEAN NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_vr_offerings_zone ON virtual_router_offerings (zone_uuid);

CREATE TABLE virtual_routers (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  zone_uuid VARCHAR(32) NOT NULL,
  cluster_uuid VARCHAR(32) NOT NULL,
  host_uuid VARCHAR(32),
  last_host_uuid VARCHAR(32),
  image_uuid VARCHAR(32) NOT NULL,
  instance_offering_uuid VARCHAR(32) NOT NULL,
  appliance_vm_type VARCHAR(64) NOT NULL,
  management_network_uuid VARCHAR(32) NOT NULL,
  public_network_uuid VARCHAR(32) NOT NULL,
  default_route_l3_network_uuid VARCHAR(32) NOT NULL,
  type VARCHAR(64) NOT NULL,
  hypervisor_type VARCHAR(64) NOT NULL,
  state VARCHAR(32) NOT NULL,
  status VARCHAR(32) NOT NULL,
  cpu_num INTEGER NOT NULL,
  memory_size BIGINT NOT NULL,
  platform VARCHAR(64) NOT NULL,
  architecture VARCHAR(32) NOT NULL,
  generation BIGINT NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_virtual_routers_host ON virtual_routers (host_uuid);

CREATE TABLE virtual_router_nics (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  vm_instance_uuid VARCHAR(32) NOT NULL,
  l3_network_uuid VARCHAR(32) NOT NULL,
  ip VARCHAR(64) NOT NULL,
  mac VARCHAR(32) NOT NULL,
  netmask VARCHAR(64) NOT NULL,
  gateway VARCHAR(64) NOT NULL,
  ip_version INTEGER NOT NULL,
  device_id INTEGER NOT NULL,
  type VARCHAR(32) NOT NULL,
  state VARCHAR(32) NOT NULL,
  hypervisor_type VARCHAR(64) NOT NULL,
  driver_type VARCHAR(32) NOT NULL,
  internal_name VARCHAR(64) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_vr_nics_router_l3 ON virtual_router_nics (vm_instance_uuid, l3_network_uuid);
CREATE INDEX ix_vr_nics_l3 ON virtual_router_nics (l3_network_uuid);

CREATE TABLE vips (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  l3_network_uuid VARCHAR(32) NOT NULL,
  ip VARCHAR(64) NOT NULL,
  gateway VARCHAR(64) NOT NULL,
  netmask VARCHAR(64) NOT NULL,
  prefix_len INTEGER NOT NULL,
  state VARCHAR(32) NOT NULL,
  service_provider VARCHAR(64),
  use_for VARCHAR(255),
  is_system BOOLEAN NOT NULL,
  used_ip_uuid VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_vips_l3 ON vips (l3_network_uuid);

CREATE TABLE eips (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  vip_uuid VARCHAR(32) NOT NULL,
  vip_ip VARCHAR(64) NOT NULL,
  vm_nic_uuid VARCHAR(32),
  guest_ip VARCHAR(64),
  state VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_eips_vip ON eips (vip_uuid);
CREATE INDEX ix_eips_nic ON eips (vm_nic_uuid);

CREATE TABLE port_forwarding_rules (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  vip_uuid VARCHAR(32) NOT NULL,
  vip_ip VARCHAR(64) NOT NULL,
  vip_port_start INTEGER NOT NULL,
  vip_port_end INTEGER NOT NULL,
  private_port_start INTEGER NOT NULL,
  private_port_end INTEGER NOT NULL,
  protocol_type VARCHAR(16) NOT NULL,
  vm_nic_uuid VARCHAR(32),
  guest_ip VARCHAR(64),
  allowed_cidr VARCHAR(64),
  state VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_pf_vip ON port_forwarding_rules (vip_uuid);
CREATE INDEX ix_pf_nic ON port_forwarding_rules (vm_nic_uuid);

CREATE TABLE load_balancers (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  vip_uuid VARCHAR(32) NOT NULL,
  state VARCHAR(32) NOT NULL,
  type VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_lb_vip ON load_balancers (vip_uuid);

CREATE TABLE load_balancer_listeners (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  load_balancer_uuid VARCHAR(32) NOT NULL,
  instance_port INTEGER NOT NULL,
  load_balancer_port INTEGER NOT NULL,
  protocol VARCHAR(16) NOT NULL,
  health_check_protocol VARCHAR(16) NOT NULL,
  health_check_uri VARCHAR(255),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_lb_listeners_lb ON load_balancer_listeners (load_balancer_uuid);

CREATE TABLE load_balancer_listener_nic_refs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  listener_uuid VARCHAR(32) NOT NULL,
  vm_nic_uuid VARCHAR(32) NOT NULL,
  status VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_lb_nic_refs ON load_balancer_listener_nic_refs (listener_uuid, vm_nic_uuid);
CREATE INDEX ix_lb_nic_refs_nic ON load_balancer_listener_nic_refs (vm_nic_uuid);

CREATE TABLE ipsec_connections (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  peer_address VARCHAR(255) NOT NULL,
  auth_mode VARCHAR(32) NOT NULL,
  auth_key VARCHAR(1024) NOT NULL,
  vip_uuid VARCHAR(32) NOT NULL,
  l3_network_uuid VARCHAR(32) NOT NULL,
  ike_auth_algorithm VARCHAR(32) NOT NULL,
  ike_encryption_algorithm VARCHAR(32) NOT NULL,
  ike_dh_group INTEGER NOT NULL,
  policy_auth_algorithm VARCHAR(32) NOT NULL,
  policy_encryption_algorithm VARCHAR(32) NOT NULL,
  pfs VARCHAR(32) NOT NULL,
  policy_mode VARCHAR(32) NOT NULL,
  transform_protocol VARCHAR(32) NOT NULL,
  ike_version VARCHAR(32) NOT NULL,
  id_type VARCHAR(32) NOT NULL,
  local_id VARCHAR(255),
  remote_id VARCHAR(255),
  state VARCHAR(32) NOT NULL,
  status VARCHAR(32) NOT NULL,
  ike_life_time INTEGER NOT NULL,
  life_time INTEGER NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_ipsec_vip ON ipsec_connections (vip_uuid);

CREATE TABLE ipsec_peer_cidrs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  cidr VARCHAR(64) NOT NULL,
  connection_uuid VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_ipsec_peer_cidrs_conn ON ipsec_peer_cidrs (connection_uuid);

CREATE TABLE vrouter_route_tables (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);

CREATE TABLE vrouter_route_entries (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  description VARCHAR(2048),
  type VARCHAR(32) NOT NULL,
  route_table_uuid VARCHAR(32) NOT NULL,
  destination VARCHAR(64) NOT NULL,
  target VARCHAR(64),
  distance INTEGER NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_vrouter_route_entries ON vrouter_route_entries (route_table_uuid, destination, distance);

CREATE TABLE vrouter_route_table_refs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  virtual_router_vm_uuid VARCHAR(32) NOT NULL,
  route_table_uuid VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_vrouter_route_table_refs ON vrouter_route_table_refs (virtual_router_vm_uuid);

-- Before-images of the rows one router change touched, keyed by the
-- change's workflow, so that a retried step finds its own journal and a
-- compensation puts every row back.
CREATE TABLE router_change_journal (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  images TEXT NOT NULL,
  result TEXT NOT NULL,
  create_date BIGINT NOT NULL
);
