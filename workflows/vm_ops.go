package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// VMOpParams names the VM of a lifecycle operation and its options.
type VMOpParams struct {
	VMUUID      string `json:"vmUuid"`
	HostUUID    string `json:"hostUuid"`
	ClusterUUID string `json:"clusterUuid"`
	StopType    string `json:"stopType"`
	DeleteMode  string `json:"deleteMode"`
}

// transition takes the VM's per-resource lock (its intermediate state) and
// registers putting the previous state back as the compensation.
func transition(ctx workflow.Context, s *saga, vmUUID string, e models.VMEvent) (activities.VMTransitionResult, error) {
	var tr activities.VMTransitionResult
	if err := local(ctx, activities.VMTransition, activities.VMTransitionParams{VMUUID: vmUUID, Event: string(e)}, &tr); err != nil {
		return tr, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.VMSetState, activities.VMStateParams{VMUUID: vmUUID, State: tr.Prev}, nil)
	})
	return tr, nil
}

func finish(ctx workflow.Context, s *saga, err *error) {
	if *err != nil {
		s.compensate(ctx)
	}
}

// StartVMWorkflow starts a stopped VM: pick a host (the requested one, else
// the allocator's), create the domain there, mark it Running.
func StartVMWorkflow(ctx workflow.Context, p VMOpParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	if _, err = transition(ctx, &s, p.VMUUID, models.VMEventStart); err != nil {
		return res, err
	}
	var alloc activities.HostAllocation
	if err = local(ctx, activities.VMAllocateHostForStart, activities.VMStartAllocParams{VMUUID: p.VMUUID, HostUUID: p.HostUUID, ClusterUUID: p.ClusterUUID}, &alloc); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error { return local(ctx, activities.VMReleaseHost, alloc, nil) })
	if err = local(ctx, activities.VMSetState, activities.VMStateParams{VMUUID: p.VMUUID, State: models.VMStarting, SetHost: true, HostUUID: alloc.HostUUID}, nil); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.VMSetState, activities.VMStateParams{VMUUID: p.VMUUID, State: models.VMStopped, SetHost: true}, nil)
	})
	if err = createOnHost(ctx, &s, p.VMUUID, alloc.HostUUID); err != nil {
		return res, err
	}
	if err = local(ctx, activities.VMSetState, activities.VMStateParams{VMUUID: p.VMUUID, State: models.VMRunning}, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}

// destroyOnHost destroys the VM's domain, if it has a host, and gives the
// host's capacity back.
func destroyOnHost(ctx workflow.Context, vmUUID string) error {
	var spec activities.VMSpecResult
	if err := local(ctx, activities.VMSpec, activities.VMRef{VMUUID: vmUUID}, &spec); err != nil {
		return err
	}
	if spec.HostUUID == "" {
		return nil
	}
	if err := onHost(ctx, spec.HostUUID, hostapi.ActDestroyVM, hostapi.DestroyVMParams{VMUUID: vmUUID}, nil); err != nil {
		return err
	}
	releaseVMNetwork(ctx, vmUUID, spec.HostUUID)
	return local(ctx, activities.VMReleaseHost, activities.HostAllocation{VMUUID: vmUUID, HostUUID: spec.HostUUID}, nil)
}

// StopVMWorkflow stops a VM ("grace" asks the guest first, "cold" forces)
// and releases its host.
func StopVMWorkflow(ctx workflow.Context, p VMOpParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	if _, err = transition(ctx, &s, p.VMUUID, models.VMEventStop); err != nil {
		return res, err
	}
	var spec activities.VMSpecResult
	if err = local(ctx, activities.VMSpec, activities.VMRef{VMUUID: p.VMUUID}, &spec); err != nil {
		return res, err
	}
	if spec.HostUUID != "" {
		typ := p.StopType
		if typ == "" {
			typ = "grace"
		}
		if err = onHost(ctx, spec.HostUUID, hostapi.ActStopVM, hostapi.StopVMParams{VMUUID: p.VMUUID, Type: typ, GraceTimeout: 60e9}, nil); err != nil {
			return res, err
		}
		// Like ZStack's KVM agent, a stopped VM leaves no domain behind; the
		// next start defines it afresh on whichever host the allocator picks.
		if err = onHost(ctx, spec.HostUUID, hostapi.ActDestroyVM, hostapi.DestroyVMParams{VMUUID: p.VMUUID}, nil); err != nil {
			return res, err
		}
		// The domain is off: from here on there is nothing to undo.
		s = saga{}
		releaseVMNetwork(ctx, p.VMUUID, spec.HostUUID)
		if err = local(ctx, activities.VMReleaseHost, activities.HostAllocation{VMUUID: p.VMUUID, HostUUID: spec.HostUUID}, nil); err != nil {
			return res, err
		}
	}
	if err = local(ctx, activities.VMSetState, activities.VMStateParams{VMUUID: p.VMUUID, State: models.VMStopped, SetHost: true}, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}

// RebootVMWorkflow reboots a running VM in place.
func RebootVMWorkflow(ctx workflow.Context, p VMOpParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	if _, err = transition(ctx, &s, p.VMUUID, models.VMEventReboot); err != nil {
		return res, err
	}
	var spec activities.VMSpecResult
	if err = local(ctx, activities.VMSpec, activities.VMRef{VMUUID: p.VMUUID}, &spec); err != nil {
		return res, err
	}
	if err = onHost(ctx, spec.HostUUID, hostapi.ActRebootVM, hostapi.RebootVMParams{VMUUID: p.VMUUID}, nil); err != nil {
		return res, err
	}
	if err = local(ctx, activities.VMSetState, activities.VMStateParams{VMUUID: p.VMUUID, State: models.VMRunning}, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}

// DestroyVMWorkflow destroys a VM per the delete policy: Delay (default)
// keeps it recoverable as Destroyed; Direct expunges it at once; Never
// keeps it Destroyed and refuses expunge.
func DestroyVMWorkflow(ctx workflow.Context, p VMOpParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	if _, err = transition(ctx, &s, p.VMUUID, models.VMEventDestroy); err != nil {
		return res, err
	}
	if err = destroyOnHost(ctx, p.VMUUID); err != nil {
		return res, err
	}
	s = saga{} // the domain is gone; destroy only moves forward from here
	var policy string
	if err = local(ctx, activities.DeletePolicy, activities.VMRef{VMUUID: p.VMUUID}, &policy); err != nil {
		return res, err
	}
	if err = local(ctx, activities.VMSetState, activities.VMStateParams{VMUUID: p.VMUUID, State: models.VMDestroyed, SetHost: true}, nil); err != nil {
		return res, err
	}
	// networking (issue 4): the destroyed VM's NICs leave their EIPs, port
	// forwarding rules and load balancers. The VM is gone whatever happens,
	// so a failure (undone by the change itself) is logged; expunge retries.
	if rerr := releaseVMNicServices(ctx, p.VMUUID, "destroy"); rerr != nil {
		workflow.GetLogger(ctx).Warn("services of the destroyed vm's nics not released", "vm_uuid", p.VMUUID, "error", rerr)
	}
	if policy == models.DeletePolicyDirect {
		return ExpungeVMWorkflow(ctx, p)
	}
	return activities.Result{}, nil
}

// RecoverVMWorkflow brings a Destroyed VM back as Stopped.
func RecoverVMWorkflow(ctx workflow.Context, p VMOpParams) (res activities.Result, err error) {
	if err = local(ctx, activities.VMTransition, activities.VMTransitionParams{VMUUID: p.VMUUID, Event: string(models.VMEventRecover)}, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}

// ExpungeVMWorkflow deletes a Destroyed VM for good: its volumes on their
// hosts, its IPs, NICs, volume records and the VM record.
func ExpungeVMWorkflow(ctx workflow.Context, p VMOpParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	if _, err = transition(ctx, &s, p.VMUUID, models.VMEventExpunge); err != nil {
		return res, err
	}
	// networking (issue 4): no service may keep a reference to the NICs
	// about to be deleted; a failure stops the expunge.
	if err = releaseVMNicServices(ctx, p.VMUUID, "expunge"); err != nil {
		return res, err
	}
	var spec activities.VMSpecResult
	if err = local(ctx, activities.VMSpec, activities.VMRef{VMUUID: p.VMUUID}, &spec); err != nil {
		return res, err
	}
	vols := append([]hostapi.VolumeSpec{spec.Spec.RootVolume}, spec.Spec.DataVolumes...)
	for _, v := range vols {
		if v.UUID == "" || v.InstallPath == "" {
			continue
		}
		if h := spec.VolumeHosts[v.UUID]; h != "" {
			if err = onHost(ctx, h, hostapi.ActDeleteVolume, hostapi.DeleteVolumeParams{Volume: v}, nil); err != nil {
				return res, err
			}
		}
	}
	s = saga{}
	ref := activities.VMRef{VMUUID: p.VMUUID}
	for _, step := range []string{activities.VMReleaseIPs, activities.VMReleaseNICs, activities.VMExpungeRecord} {
		if err = local(ctx, step, ref, nil); err != nil {
			return res, err
		}
	}
	return activities.Result{}, nil
}
