-- Volume QoS (SetVolumeQos) as ZStack keeps it: a string on the volume,
-- "totalBandwidth=1048576,readIOPS=100", empty when unlimited.
ALTER TABLE volumes ADD COLUMN volume_qos VARCHAR(1024);

-- The VMs a shareable volume is attached to, each with the volume's device
-- number in that VM (ZStack's ShareableVolumeVmInstanceRefVO).
CREATE TABLE shareable_volume_vm_instance_refs (
  uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  volume_uuid VARCHAR(32) NOT NULL,
  vm_instance_uuid VARCHAR(32) NOT NULL,
  device_id INTEGER NOT NULL,
  create_date BIGINT NOT NULL,
  last_op_date BIGINT NOT NULL,
  UNIQUE (volume_uuid, vm_instance_uuid)
);
CREATE INDEX ix_shareable_volume_refs_vm ON shareable_volume_vm_instance_refs (vm_instance_uuid);
