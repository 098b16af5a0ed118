package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// Volume QoS workflow names.
const (
	SetVolumeQoS  = "zcloud.SetVolumeQos"
	VolumeQoSLive = "zcloud.GetVolumeQos"
)

// RegisterVolumeQoS registers the volume QoS workflows.
func RegisterVolumeQoS(w workflowRegistry) {
	w.RegisterWorkflowWithOptions(SetVolumeQoSWorkflow, workflow.RegisterOptions{Name: SetVolumeQoS})
	w.RegisterWorkflowWithOptions(VolumeQoSLiveWorkflow, workflow.RegisterOptions{Name: VolumeQoSLive})
}

// vmOnHost reports whether a VM in state runs on a host (its domain is
// active there).
func vmOnHost(hostUUID, state string) bool {
	return hostUUID != "" && (state == models.VMRunning || state == models.VMPaused)
}

// SetVolumeQoSWorkflow is SetVolumeQos and DeleteVolumeQos: the volume's
// limits change in its record and, when its VM runs, on the volume's disk
// in the running domain (QEMU throttles it at once). A stopped VM's next
// start defines the disk with them; a migration carries them along. A
// failure on the host puts the previous limits back in the record and on
// the host.
func SetVolumeQoSWorkflow(ctx workflow.Context, c activities.VolumeQoSChange) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var r activities.VolumeQoSResult
	if err = local(ctx, activities.VolumeQoSSet, c, &r); err != nil {
		return res, err
	}
	prev := r.Prev
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.VolumeQoSSet, activities.VolumeQoSChange{VolumeUUID: c.VolumeUUID, Replace: &prev}, nil)
	})
	if vmOnHost(r.VMHostUUID, r.VMState) {
		before := r.Volume
		before.QoS = &prev
		// Registered first: a step cut short may have changed the domain.
		s.add(func(ctx workflow.Context) error {
			return onHost(ctx, r.VMHostUUID, hostapi.ActSetVolumeQoS, hostapi.SetVolumeQoSParams{VMUUID: r.VMUUID, Volume: before}, nil)
		})
		if err = onHost(ctx, r.VMHostUUID, hostapi.ActSetVolumeQoS, hostapi.SetVolumeQoSParams{VMUUID: r.VMUUID, Volume: r.Volume}, nil); err != nil {
			return res, err
		}
	}
	return inventory(ctx, "Volume", c.VolumeUUID, "inventory")
}

// VolumeQoSLiveResult is a volume's limits; Live says they were read from
// the running domain rather than from the record.
type VolumeQoSLiveResult struct {
	QoS  hostapi.VolumeQoS `json:"qos"`
	Live bool              `json:"live"`
}

// VolumeQoSLiveWorkflow is GetVolumeQos with forceSync: the limits QEMU
// applies to the volume's disk, read from the running domain on its host;
// a volume whose VM does not run has those of its record.
func VolumeQoSLiveWorkflow(ctx workflow.Context, p activities.VolumeRef) (VolumeQoSLiveResult, error) {
	var r activities.VolumeQoSResult
	if err := local(ctx, activities.VolumeQoSTarget, p, &r); err != nil {
		return VolumeQoSLiveResult{}, err
	}
	if !vmOnHost(r.VMHostUUID, r.VMState) {
		return VolumeQoSLiveResult{QoS: r.New}, nil
	}
	var q hostapi.VolumeQoS
	if err := onHost(ctx, r.VMHostUUID, hostapi.ActGetVolumeQoS, hostapi.GetVolumeQoSParams{VMUUID: r.VMUUID, Volume: r.Volume}, &q); err != nil {
		return VolumeQoSLiveResult{}, err
	}
	return VolumeQoSLiveResult{QoS: q, Live: true}, nil
}

// attachShareable attaches a shareable volume to one more VM: recorded
// with the device number it takes in that VM, placed and instantiated next
// to the VM if it never was, and hot-plugged when the VM runs. Each step is
// undone if a later one fails.
func attachShareable(ctx workflow.Context, s *saga, p VolumeOpParams, vi activities.VolumeInfoResult) (res activities.Result, err error) {
	switch {
	case vi.Type != models.VolumeData:
		return res, businessError(models.Invalid("volume[uuid:%s] is a %s volume; only data volumes attach", p.VolumeUUID, vi.Type))
	case vi.Status == models.VolumeDeleted:
		return res, businessError(models.Invalid("volume[uuid:%s] is deleted; recover it first", p.VolumeUUID))
	}
	var spec activities.VMSpecResult
	if err = local(ctx, activities.VMSpec, activities.VMRef{VMUUID: p.VMUUID}, &spec); err != nil {
		return res, err
	}
	if spec.State != models.VMRunning && spec.State != models.VMStopped && spec.State != models.VMPaused {
		return res, businessError(models.VMStateError(p.VMUUID, spec.State, "attachDataVolume"))
	}
	var ref activities.VolumeShareAttachResult
	share := activities.VolumeShareParams{VolumeUUID: p.VolumeUUID, VMUUID: p.VMUUID}
	if err = local(ctx, activities.VolumeShareAttach, share, &ref); err != nil {
		return res, err
	}
	if ref.Existed {
		return inventory(ctx, "Volume", p.VolumeUUID, "inventory")
	}
	s.add(func(ctx workflow.Context) error { return local(ctx, activities.VolumeShareDetach, share, nil) })
	if vi.HostUUID == "" {
		if vi, err = placeBesideVM(ctx, s, p, spec); err != nil {
			return res, err
		}
	}
	if vmOnHost(spec.HostUUID, spec.State) {
		if err = hotPlug(ctx, s, spec.HostUUID, p.VMUUID, vi.Volume, ref.DeviceID); err != nil {
			return res, err
		}
	}
	return inventory(ctx, "Volume", p.VolumeUUID, "inventory")
}

// detachShareable detaches a shareable volume from p.VMUUID, or from every
// VM when it is empty (the volume is being deleted): hot-unplugged from a
// running domain, then forgotten.
func detachShareable(ctx workflow.Context, p VolumeOpParams, vi activities.VolumeInfoResult) (res activities.Result, err error) {
	var refs []activities.VolumeShareRef
	if err = local(ctx, activities.VolumeShareRefs, activities.VolumeShareParams{VolumeUUID: p.VolumeUUID, VMUUID: p.VMUUID}, &refs); err != nil {
		return res, err
	}
	for _, ref := range refs {
		if vmOnHost(ref.VMHostUUID, ref.VMState) {
			vol := vi.Volume
			vol.DeviceID = ref.DeviceID
			if err = onHost(ctx, ref.VMHostUUID, hostapi.ActDetachVolume, hostapi.DetachVolumeParams{VMUUID: ref.VMUUID, Volume: vol}, nil); err != nil {
				return res, err
			}
		}
		if err = local(ctx, activities.VolumeShareDetach, activities.VolumeShareParams{VolumeUUID: p.VolumeUUID, VMUUID: ref.VMUUID}, nil); err != nil {
			return res, err
		}
	}
	return inventory(ctx, "Volume", p.VolumeUUID, "inventory")
}
