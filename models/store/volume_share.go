package store

import "github.com/zcloud/zcloud/models"

// ResShareableVolumeVMRef is a shareable volume's attachment to one VM.
const ResShareableVolumeVMRef = "ShareableVolumeVmInstanceRef"

// volumeShareDomain is the shareable volumes' attachments
// (QueryShareableVolumeVmInstanceRef).
var volumeShareDomain = domain{
	entities: []entityDef{
		{ResShareableVolumeVMRef, "shareable_volume_vm_instance_refs", models.ShareableVolumeVMRef{}},
	},
	relations: map[string][]Relation{
		ResShareableVolumeVMRef: {
			{Name: "volume", Target: ResVolume, LocalColumn: "volume_uuid", RemoteColumn: "uuid"},
			{Name: "vmInstance", Target: ResVMInstance, LocalColumn: "vm_instance_uuid", RemoteColumn: "uuid"},
		},
	},
}
