-- Real hosts and storage: KVM hosts reached over SSH, local primary storage
-- with capacity per host, ImageStore/Sftp backup storage on an SSH host.
ALTER TABLE hosts ADD COLUMN username VARCHAR(255);
ALTER TABLE hosts ADD COLUMN ssh_port INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN os_distribution VARCHAR(64);
ALTER TABLE hosts ADD COLUMN os_release VARCHAR(64);
ALTER TABLE hosts ADD COLUMN os_version VARCHAR(64);
ALTER TABLE hosts ADD COLUMN domain_type VARCHAR(16);

ALTER TABLE backup_storages ADD COLUMN hostname VARCHAR(255);
ALTER TABLE backup_storages ADD COLUMN username VARCHAR(255);
ALTER TABLE backup_storages ADD COLUMN ssh_port INTEGER NOT NULL DEFAULT 0;
ALTER TABLE backup_storages ADD COLUMN agent_url VARCHAR(1024);

-- SSH passwords of hosts and backup storages, kept out of every inventory.
CREATE TABLE ssh_credentials (
  resource_uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  password VARCHAR(255) NOT NULL,
  create_date BIGINT NOT NULL
);

CREATE TABLE local_storage_host_refs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  primary_storage_uuid VARCHAR(32) NOT NULL,
  host_uuid VARCHAR(32) NOT NULL,
  total_capacity BIGINT NOT NULL,
  available_capacity BIGINT NOT NULL,
  total_physical_capacity BIGINT NOT NULL,
  available_physical_capacity BIGINT NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_ls_host ON local_storage_host_refs (primary_storage_uuid, host_uuid);

CREATE TABLE volume_snapshots (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(2048),
  type VARCHAR(32) NOT NULL,
  volume_uuid VARCHAR(32) NOT NULL,
  primary_storage_uuid VARCHAR(32),
  primary_storage_install_path VARCHAR(2048),
  volume_type VARCHAR(32) NOT NULL,
  format VARCHAR(32) NOT NULL,
  size BIGINT NOT NULL,
  state VARCHAR(32) NOT NULL,
  status VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
CREATE INDEX ix_snapshots_volume ON volume_snapshots (volume_uuid);
