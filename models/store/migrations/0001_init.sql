-- ZCloud schema, portable between SQLite and MySQL/MariaDB: UUID primary
-- keys, BIGINT Unix-millisecond timestamps, no vendor-only types.
CREATE TABLE accounts (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  type VARCHAR(32) NOT NULL,
  password_hash VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_accounts_name ON accounts (name);

CREATE TABLE sessions (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  account_uuid VARCHAR(32) NOT NULL,
  user_uuid VARCHAR(32) NOT NULL,
  expired_date BIGINT NOT NULL,
  create_date BIGINT NOT NULL
);
CREATE INDEX ix_sessions_expired ON sessions (expired_date);

CREATE TABLE account_resource_refs (
  resource_uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  resource_type VARCHAR(64) NOT NULL,
  account_uuid VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL
);
CREATE INDEX ix_arr_account ON account_resource_refs (account_uuid);

CREATE TABLE zones (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  state VARCHAR(32) NOT NULL,
  type VARCHAR(32) NOT NULL,
  is_default BOOLEAN NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);

CREATE TABLE clusters (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  zone_uuid VARCHAR(32) NOT NULL,
  state VARCHAR(32) NOT NULL,
  hypervisor_type VARCHAR(32) NOT NULL,
  type VARCHAR(32) NOT NULL,
  architecture VARCHAR(32),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_clusters_zone ON clusters (zone_uuid);

CREATE TABLE hosts (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  zone_uuid VARCHAR(32) NOT NULL,
  cluster_uuid VARCHAR(32) NOT NULL,
  management_ip VARCHAR(255) NOT NULL,
  hypervisor_type VARCHAR(32) NOT NULL,
  state VARCHAR(32) NOT NULL,
  status VARCHAR(32) NOT NULL,
  total_cpu_capacity BIGINT NOT NULL,
  available_cpu_capacity BIGINT NOT NULL,
  cpu_sockets INTEGER NOT NULL,
  total_memory_capacity BIGINT NOT NULL,
  available_memory_capacity BIGINT NOT NULL,
  cpu_num INTEGER NOT NULL,
  architecture VARCHAR(32),
  memory_capacity BIGINT NOT NULL,
  cpu_capacity BIGINT NOT NULL,
  driver VARCHAR(32) NOT NULL,
  agent_version VARCHAR(64),
  ping_failures INTEGER NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_hosts_mgmt_ip ON hosts (management_ip);
CREATE INDEX ix_hosts_cluster ON hosts (cluster_uuid);

CREATE TABLE primary_storages (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  zone_uuid VARCHAR(32) NOT NULL,
  url VARCHAR(2048) NOT NULL,
  type VARCHAR(64) NOT NULL,
  state VARCHAR(32) NOT NULL,
  status VARCHAR(32) NOT NULL,
  total_capacity BIGINT NOT NULL,
  available_capacity BIGINT NOT NULL,
  total_physical_capacity BIGINT NOT NULL,
  available_physical_capacity BIGINT NOT NULL,
  system_used_capacity BIGINT NOT NULL,
  mount_path VARCHAR(2048),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);

CREATE TABLE primary_storage_cluster_refs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  primary_storage_uuid VARCHAR(32) NOT NULL,
  cluster_uuid VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_ps_cluster ON primary_storage_cluster_refs (primary_storage_uuid, cluster_uuid);
CREATE INDEX ix_ps_cluster_cluster ON primary_storage_cluster_refs (cluster_uuid);

CREATE TABLE backup_storages (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  url VARCHAR(2048) NOT NULL,
  type VARCHAR(64) NOT NULL,
  state VARCHAR(32) NOT NULL,
  status VARCHAR(32) NOT NULL,
  total_capacity BIGINT NOT NULL,
  available_capacity BIGINT NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);

CREATE TABLE backup_storage_zone_refs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  backup_storage_uuid VARCHAR(32) NOT NULL,
  zone_uuid VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_bs_zone ON backup_storage_zone_refs (backup_storage_uuid, zone_uuid);
CREATE INDEX ix_bs_zone_zone ON backup_storage_zone_refs (zone_uuid);

CREATE TABLE images (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  state VARCHAR(32) NOT NULL,
  status VARCHAR(32) NOT NULL,
  size BIGINT NOT NULL,
  actual_size BIGINT NOT NULL,
  md5sum VARCHAR(255),
  url VARCHAR(1024) NOT NULL,
  media_type VARCHAR(64) NOT NULL,
  guest_os_type VARCHAR(255),
  type VARCHAR(64) NOT NULL,
  platform VARCHAR(64) NOT NULL,
  architecture VARCHAR(32) NOT NULL,
  format VARCHAR(32) NOT NULL,
  is_system BOOLEAN NOT NULL,
  virtio BOOLEAN NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);

CREATE TABLE image_backup_storage_refs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  image_uuid VARCHAR(32) NOT NULL,
  backup_storage_uuid VARCHAR(32) NOT NULL,
  install_path VARCHAR(2048) NOT NULL,
  status VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_image_bs ON image_backup_storage_refs (image_uuid, backup_storage_uuid);

CREATE TABLE instance_offerings (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  cpu_num INTEGER NOT NULL,
  cpu_speed INTEGER NOT NULL,
  memory_size BIGINT NOT NULL,
  reserved_memory_size BIGINT NOT NULL,
  type VARCHAR(64) NOT NULL,
  allocator_strategy VARCHAR(64),
  sort_key INTEGER NOT NULL,
  state VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);

CREATE TABLE disk_offerings (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  disk_size BIGINT NOT NULL,
  sort_key INTEGER NOT NULL,
  state VARCHAR(32) NOT NULL,
  type VARCHAR(64) NOT NULL,
  allocator_strategy VARCHAR(64),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);

CREATE TABLE l2_networks (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  zone_uuid VARCHAR(32) NOT NULL,
  physical_interface VARCHAR(1024) NOT NULL,
  type VARCHAR(64) NOT NULL,
  vswitch_type VARCHAR(64) NOT NULL,
  virtual_network_id INTEGER NOT NULL,
  isolated BOOLEAN NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);

CREATE TABLE l2_network_cluster_refs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  l2_network_uuid VARCHAR(32) NOT NULL,
  cluster_uuid VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_l2_cluster ON l2_network_cluster_refs (l2_network_uuid, cluster_uuid);
CREATE INDEX ix_l2_cluster_cluster ON l2_network_cluster_refs (cluster_uuid);

CREATE TABLE l3_networks (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  type VARCHAR(64) NOT NULL,
  zone_uuid VARCHAR(32) NOT NULL,
  l2_network_uuid VARCHAR(32) NOT NULL,
  state VARCHAR(32) NOT NULL,
  dns_domain VARCHAR(255),
  is_system BOOLEAN NOT NULL,
  category VARCHAR(32) NOT NULL,
  ip_version INTEGER NOT NULL,
  enable_ipam BOOLEAN NOT NULL,
  isolated BOOLEAN NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_l3_l2 ON l3_networks (l2_network_uuid);

CREATE TABLE l3_network_dns (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  l3_network_uuid VARCHAR(32) NOT NULL,
  dns VARCHAR(255) NOT NULL,
  create_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_l3_dns ON l3_network_dns (l3_network_uuid, dns);

CREATE TABLE ip_ranges (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  l3_network_uuid VARCHAR(32) NOT NULL,
  start_ip VARCHAR(64) NOT NULL,
  end_ip VARCHAR(64) NOT NULL,
  netmask VARCHAR(64) NOT NULL,
  gateway VARCHAR(64) NOT NULL,
  network_cidr VARCHAR(64) NOT NULL,
  ip_version INTEGER NOT NULL,
  prefix_len INTEGER NOT NULL,
  ip_range_type VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_ip_ranges_l3 ON ip_ranges (l3_network_uuid);

CREATE TABLE used_ips (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  ip_range_uuid VARCHAR(32) NOT NULL,
  l3_network_uuid VARCHAR(32) NOT NULL,
  ip_version INTEGER NOT NULL,
  ip VARCHAR(64) NOT NULL,
  ip_in_long BIGINT NOT NULL,
  netmask VARCHAR(64) NOT NULL,
  gateway VARCHAR(64) NOT NULL,
  used_for VARCHAR(64) NOT NULL,
  vm_nic_uuid VARCHAR(32),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_used_ips_l3_ip ON used_ips (l3_network_uuid, ip);
CREATE INDEX ix_used_ips_range ON used_ips (ip_range_uuid);
CREATE INDEX ix_used_ips_nic ON used_ips (vm_nic_uuid);

CREATE TABLE vm_instances (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  zone_uuid VARCHAR(32),
  cluster_uuid VARCHAR(32),
  image_uuid VARCHAR(32),
  host_uuid VARCHAR(32),
  last_host_uuid VARCHAR(32),
  instance_offering_uuid VARCHAR(32),
  root_volume_uuid VARCHAR(32),
  platform VARCHAR(64) NOT NULL,
  architecture VARCHAR(32) NOT NULL,
  default_l3_network_uuid VARCHAR(32),
  type VARCHAR(64) NOT NULL,
  hypervisor_type VARCHAR(64) NOT NULL,
  memory_size BIGINT NOT NULL,
  reserved_memory_size BIGINT NOT NULL,
  cpu_num INTEGER NOT NULL,
  cpu_speed BIGINT NOT NULL,
  allocator_strategy VARCHAR(64),
  state VARCHAR(32) NOT NULL,
  guest_os_type VARCHAR(255),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_vm_host ON vm_instances (host_uuid);
CREATE INDEX ix_vm_state ON vm_instances (state);

CREATE TABLE vm_nics (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  vm_instance_uuid VARCHAR(32) NOT NULL,
  l3_network_uuid VARCHAR(32) NOT NULL,
  ip VARCHAR(64),
  mac VARCHAR(32) NOT NULL,
  hypervisor_type VARCHAR(64) NOT NULL,
  netmask VARCHAR(64),
  gateway VARCHAR(64),
  ip_version INTEGER NOT NULL,
  driver_type VARCHAR(32) NOT NULL,
  internal_name VARCHAR(64) NOT NULL,
  device_id INTEGER NOT NULL,
  type VARCHAR(32) NOT NULL,
  state VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_vm_nics_mac ON vm_nics (mac);
CREATE INDEX ix_vm_nics_vm ON vm_nics (vm_instance_uuid);

CREATE TABLE volumes (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  primary_storage_uuid VARCHAR(32),
  vm_instance_uuid VARCHAR(32),
  disk_offering_uuid VARCHAR(32),
  root_image_uuid VARCHAR(32),
  install_path VARCHAR(2048),
  type VARCHAR(32) NOT NULL,
  format VARCHAR(32) NOT NULL,
  size BIGINT NOT NULL,
  actual_size BIGINT NOT NULL,
  device_id INTEGER NOT NULL,
  state VARCHAR(32) NOT NULL,
  status VARCHAR(32) NOT NULL,
  is_shareable BOOLEAN NOT NULL,
  host_uuid VARCHAR(32),
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_volumes_vm ON volumes (vm_instance_uuid);
CREATE INDEX ix_volumes_ps ON volumes (primary_storage_uuid);

CREATE TABLE system_tags (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  resource_uuid VARCHAR(32) NOT NULL,
  resource_type VARCHAR(64) NOT NULL,
  tag VARCHAR(2048) NOT NULL,
  type VARCHAR(16) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_system_tags_res ON system_tags (resource_uuid);

CREATE TABLE user_tags (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  resource_uuid VARCHAR(32) NOT NULL,
  resource_type VARCHAR(64) NOT NULL,
  tag VARCHAR(2048) NOT NULL,
  type VARCHAR(16) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_user_tags_res ON user_tags (resource_uuid);

CREATE TABLE global_configs (
  category VARCHAR(64) NOT NULL,
  name VARCHAR(128) NOT NULL,
  value VARCHAR(1024) NOT NULL,
  default_value VARCHAR(1024) NOT NULL,
  description VARCHAR(2048) NOT NULL,
  PRIMARY KEY (category, name)
);
