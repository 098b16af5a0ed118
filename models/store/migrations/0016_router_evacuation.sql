-- Routers moved away from a host that could not be reached (MigrateVm of a
-- router whose host is lost): the old host may still run them, and removes
-- them when it answers again.
CREATE TABLE router_leftovers (
  router_uuid VARCHAR(32) NOT NULL,
  host_uuid VARCHAR(32) NOT NULL,
  create_date BIGINT NOT NULL,
  PRIMARY KEY (router_uuid, host_uuid)
);

-- The IPv4 addresses a host's agent reported when it last connected: the
-- VXLAN peers of a host that does not answer now are kept from them, so
-- that realising a network elsewhere does not cut it off.
CREATE TABLE host_addresses (
  host_uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  addresses VARCHAR(4096) NOT NULL,
  last_op_date BIGINT NOT NULL
);
