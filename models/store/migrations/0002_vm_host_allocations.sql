-- What each VM holds on its host. Written in the same transaction as the
-- host's capacity change, so that reserving and releasing are idempotent:
-- a retried reserve finds its row, a retried release finds none.
CREATE TABLE vm_host_allocations (
  vm_uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  host_uuid VARCHAR(32) NOT NULL,
  primary_storage_uuid VARCHAR(32) NOT NULL,
  cpu BIGINT NOT NULL,
  memory BIGINT NOT NULL,
  create_date BIGINT NOT NULL
);
CREATE INDEX ix_vm_host_alloc_host ON vm_host_allocations (host_uuid);
