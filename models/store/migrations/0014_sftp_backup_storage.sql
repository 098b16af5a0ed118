-- The SSH key pair of each Sftp backup storage: its public key is in the
-- backup storage user's authorized_keys, KVM hosts fetch images with its
-- private key (AES-256-GCM at rest, sealed to each host's agent on the
-- way). host_key is the SHA256 fingerprint of the backup storage host's
-- key, which hosts verify.
CREATE TABLE sftp_backup_storage_keys (
  backup_storage_uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  private_key TEXT NOT NULL,
  public_key VARCHAR(1024) NOT NULL,
  host_key VARCHAR(255) NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL
);
