-- Networking: VLAN/VXLAN L2s, network services, security groups.
ALTER TABLE l2_networks ADD COLUMN pool_uuid VARCHAR(32);
CREATE UNIQUE INDEX ux_l2_pool_vni ON l2_networks (pool_uuid, virtual_network_id);

CREATE TABLE vni_ranges (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  l2_network_uuid VARCHAR(32) NOT NULL,
  start_vni INTEGER NOT NULL,
  end_vni INTEGER NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_vni_ranges_l2 ON vni_ranges (l2_network_uuid);

CREATE TABLE vtep_cidrs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  pool_uuid VARCHAR(32) NOT NULL,
  cluster_uuid VARCHAR(32) NOT NULL,
  cidr VARCHAR(64) NOT NULL,
  create_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_vtep_cidrs ON vtep_cidrs (pool_uuid, cluster_uuid);

CREATE TABLE network_service_providers (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  type VARCHAR(64) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_nsp_type ON network_service_providers (type);

CREATE TABLE network_service_types (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  provider_uuid VARCHAR(32) NOT NULL,
  service_type VARCHAR(64) NOT NULL,
  create_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_nst ON network_service_types (provider_uuid, service_type);

CREATE TABLE network_service_l3_refs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  l3_network_uuid VARCHAR(32) NOT NULL,
  provider_uuid VARCHAR(32) NOT NULL,
  service_type VARCHAR(64) NOT NULL,
  create_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_ns_l3 ON network_service_l3_refs (l3_network_uuid, service_type);

CREATE TABLE security_groups (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  state VARCHAR(32) NOT NULL,
  ip_version INTEGER NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);

CREATE TABLE security_group_rules (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  security_group_uuid VARCHAR(32) NOT NULL,
  type VARCHAR(16) NOT NULL,
  ip_version INTEGER NOT NULL,
  protocol VARCHAR(16) NOT NULL,
  state VARCHAR(32) NOT NULL,
  priority INTEGER NOT NULL,
  description VARCHAR(2048),
  allowed_cidr VARCHAR(64) NOT NULL,
  start_port INTEGER NOT NULL,
  end_port INTEGER NOT NULL,
  action VARCHAR(16) NOT NULL,
  remote_security_group_uuid VARCHAR(32),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_sg_rules_sg ON security_group_rules (security_group_uuid);

CREATE TABLE security_group_l3_refs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  security_group_uuid VARCHAR(32) NOT NULL,
  l3_network_uuid VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_sg_l3 ON security_group_l3_refs (security_group_uuid, l3_network_uuid);

CREATE TABLE vm_nic_security_group_refs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  vm_nic_uuid VARCHAR(32) NOT NULL,
  security_group_uuid VARCHAR(32) NOT NULL,
  vm_instance_uuid VARCHAR(32) NOT NULL,
  priority INTEGER NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_nic_sg ON vm_nic_security_group_refs (vm_nic_uuid, security_group_uuid);
CREATE INDEX ix_nic_sg_sg ON vm_nic_security_group_refs (security_group_uuid);
