-- The public key each host's agent reports on connect: the control plane
-- seals the secrets it sends to that host (IPsec pre-shared keys) to it.
CREATE TABLE host_sealing_keys (
  host_uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  public_key VARCHAR(255) NOT NULL,
  last_op_date BIGINT NOT NULL
);
