package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// StrategyCreateStopped creates the VM without starting it.
const StrategyCreateStopped = "CreateStopped"

// CreateVMWorkflow is ZStack's VM creation flow chain as a saga: record →
// allocate host and primary storage → volumes → NICs → IPs → instantiate
// volumes and create the domain on the host → post-create. Each step
// registers its compensation after it succeeds; any failure, a cancel, or a
// dead host (ScheduleToStart) releases everything the earlier steps took.
func CreateVMWorkflow(ctx workflow.Context, p activities.CreateVMParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	if err = createVM(ctx, &s, p, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}

// volumeMaker makes one volume of a VM being created on hostUUID (its
// compensation, deleting it there, is registered already). Nil instantiates
// it afresh (from its image, or blank); CloneVmInstance copies its source's.
type volumeMaker func(ctx workflow.Context, hostUUID string, v hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error)

// createVM runs the steps of the creation saga on s. With CreateStopped the
// volumes are made only when mk is set (a clone's disks are its source's
// as they are now, not what a first start would make).
func createVM(ctx workflow.Context, s *saga, p activities.CreateVMParams, mk volumeMaker) error {
	ref := activities.VMRef{VMUUID: p.VMUUID}

	if err := local(ctx, activities.VMCreateRecord, p, nil); err != nil {
		return err
	}
	s.add(func(ctx workflow.Context) error { return local(ctx, activities.VMDeleteRecord, ref, nil) })

	var alloc activities.HostAllocation
	if err := local(ctx, activities.VMAllocateHost, p, &alloc); err != nil {
		return err
	}
	s.add(func(ctx workflow.Context) error { return local(ctx, activities.VMReleaseHost, alloc, nil) })

	ap := activities.VMAllocParams{P: p, Alloc: alloc}
	if err := local(ctx, activities.VMAllocateVolumes, ap, nil); err != nil {
		return err
	}
	s.add(func(ctx workflow.Context) error { return local(ctx, activities.VMReleaseVolumes, ap, nil) })

	if err := local(ctx, activities.VMAllocateNICs, ap, nil); err != nil {
		return err
	}
	s.add(func(ctx workflow.Context) error { return local(ctx, activities.VMReleaseNICs, ref, nil) })

	if err := local(ctx, activities.VMAllocateIPs, ap, nil); err != nil {
		return err
	}
	s.add(func(ctx workflow.Context) error { return local(ctx, activities.VMReleaseIPs, ref, nil) })

	if p.Strategy == StrategyCreateStopped {
		if mk != nil {
			var spec activities.VMSpecResult
			if err := local(ctx, activities.VMSpec, ref, &spec); err != nil {
				return err
			}
			if err := makeVolumes(ctx, s, spec, alloc.HostUUID, mk); err != nil {
				return err
			}
		}
		// The VM keeps its primary storage and volumes; its host's CPU and
		// memory go back until it starts.
		if err := local(ctx, activities.VMReleaseHost, alloc, nil); err != nil {
			return err
		}
		return local(ctx, activities.VMSetState, activities.VMStateParams{VMUUID: p.VMUUID, State: models.VMStopped, SetHost: true}, nil)
	}

	if err := createOnHostWith(ctx, s, p.VMUUID, alloc.HostUUID, mk); err != nil {
		return err
	}
	return local(ctx, activities.VMSetState, activities.VMStateParams{VMUUID: p.VMUUID, State: models.VMRunning, SetHost: true, HostUUID: alloc.HostUUID}, nil)
}

// createOnHost instantiates a VM's volumes on its host and creates and
// starts the domain, registering the compensation of each step.
func createOnHost(ctx workflow.Context, s *saga, vmUUID, hostUUID string) error {
	return createOnHostWith(ctx, s, vmUUID, hostUUID, nil)
}

// createOnHostWith is createOnHost with the volumes made by mk (nil:
// instantiated). The routers of the VM's vRouter networks come first (made
// on demand; they stay if the VM fails later).
func createOnHostWith(ctx workflow.Context, s *saga, vmUUID, hostUUID string, mk volumeMaker) error {
	if err := ensureVMRouters(ctx, vmUUID); err != nil {
		return err
	}
	var spec activities.VMSpecResult
	if err := local(ctx, activities.VMSpec, activities.VMRef{VMUUID: vmUUID}, &spec); err != nil {
		return err
	}
	if err := makeVolumes(ctx, s, spec, hostUUID, mk); err != nil {
		return err
	}
	if err := ensureVMNetwork(ctx, s, vmUUID, hostUUID); err != nil {
		return err
	}
	s.add(func(ctx workflow.Context) error {
		return onHost(ctx, hostUUID, hostapi.ActDestroyVM, hostapi.DestroyVMParams{VMUUID: vmUUID}, nil)
	})
	var vr hostapi.VMOpResult
	return onHost(ctx, hostUUID, hostapi.ActCreateVM, hostapi.CreateVMParams{VM: spec.Spec, Start: true}, &vr)
}

// makeVolumes makes a VM's volumes on hostUUID with mk (nil: instantiated)
// and records them there.
func makeVolumes(ctx workflow.Context, s *saga, spec activities.VMSpecResult, hostUUID string, mk volumeMaker) error {
	vols := append([]hostapi.VolumeSpec{spec.Spec.RootVolume}, spec.Spec.DataVolumes...)
	for _, v := range vols {
		v := v
		// Host steps register their (idempotent) compensation before they
		// run: a step cancelled or timed out half-way may still have left
		// something on the host. Host activities wait for the agent to
		// acknowledge a cancel, so the compensation runs after the step.
		s.add(func(ctx workflow.Context) error {
			return onHost(ctx, hostUUID, hostapi.ActDeleteVolume, hostapi.DeleteVolumeParams{Volume: v}, nil)
		})
		var out hostapi.InstantiateVolumeResult
		var err error
		if mk != nil {
			out, err = mk(ctx, hostUUID, v)
		} else {
			err = onHost(ctx, hostUUID, hostapi.ActInstantiateVolume, hostapi.InstantiateVolumeParams{Volume: v}, &out)
		}
		if err != nil {
			return err
		}
		if err := local(ctx, activities.VolumeSetHost, activities.VolumeHost{VolumeUUID: v.UUID, HostUUID: hostUUID,
			InstallPath: out.InstallPath, ActualSize: out.ActualSize}, nil); err != nil {
			return err
		}
	}
	return nil
}
