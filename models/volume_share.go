package models

// ShareableVolumeVMRef (ShareableVolumeVmInstanceRefInventory) is one VM a
// shareable volume is attached to, with the volume's device number in that
// VM. A shareable volume's own vmInstanceUuid stays empty, as in ZStack.
type ShareableVolumeVMRef struct {
	UUID           string `db:"uuid" json:"uuid"`
	VolumeUUID     string `db:"volume_uuid" json:"volumeUuid"`
	VMInstanceUUID string `db:"vm_instance_uuid" json:"vmInstanceUuid"`
	DeviceID       int    `db:"device_id" json:"deviceId"`
	CreateDate     Time   `db:"create_date" json:"createDate"`
	LastOpDate     Time   `db:"last_op_date" json:"lastOpDate"`
}
