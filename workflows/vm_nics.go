package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// VM NIC workflow names.
const (
	AttachVMNIC = "zcloud.AttachL3NetworkToVm"
	DetachVMNIC = "zcloud.DetachL3NetworkFromVm"
)

// onItsHost reports whether a VM in state runs on a host whose domain
// takes device changes live.
func onItsHost(state, hostUUID string) bool {
	return hostUUID != "" && (state == models.VMRunning || state == models.VMPaused)
}

// vmNetworkOnHost converges a host's flat networking (DHCP leases,
// firewalls) to the VM's NICs as recorded now.
func vmNetworkOnHost(ctx workflow.Context, hostUUID, vmUUID string) error {
	if !flatNetOn(ctx) {
		return nil
	}
	return hostNetwork(ctx, hostUUID, vmUUID, true)
}

// AttachVMNICWorkflow is AttachL3NetworkToVm: a NIC record and its address
// (static or from the L3's ranges), then, when the VM runs, its flat
// networking on the VM's host and the interface hot-plugged into the
// domain. A stopped VM only gets the records: its next start defines the
// NIC. Any failure undoes every step.
func AttachVMNICWorkflow(ctx workflow.Context, p activities.NICAttachParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var r activities.NICResult
	// Registered first: a step cut short may have made the rows. The
	// host's networking is converged again after the records are gone.
	var host string
	s.add(func(ctx workflow.Context) error {
		if host == "" {
			return nil
		}
		return vmNetworkOnHost(ctx, host, p.VMUUID)
	})
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.VMNICRelease, activities.NICRef{NICUUID: p.NICUUID}, nil)
	})
	if err = local(ctx, activities.VMNICAttach, p, &r); err != nil {
		return res, err
	}
	if onItsHost(r.State, r.HostUUID) {
		host = r.HostUUID
		if err = vmNetworkOnHost(ctx, host, p.VMUUID); err != nil {
			return res, err
		}
		s.add(func(ctx workflow.Context) error {
			return onHost(ctx, host, hostapi.ActDetachNIC, hostapi.DetachNICParams{VMUUID: p.VMUUID, NIC: r.NIC}, nil)
		})
		if err = onHost(ctx, host, hostapi.ActAttachNIC, hostapi.AttachNICParams{VMUUID: p.VMUUID, NIC: r.NIC}, nil); err != nil {
			return res, err
		}
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}

// DetachVMNICWorkflow is DetachL3NetworkFromVm: when the VM runs, the
// interface is unplugged from its domain first, then the NIC's address is
// freed and its record deleted, and the host's flat networking converged
// without it. Any failure plugs the NIC back with its MAC, address and
// device.
func DetachVMNICWorkflow(ctx workflow.Context, p activities.NICRef) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var r activities.NICResult
	if err = local(ctx, activities.VMNICGet, p, &r); err != nil {
		return res, err
	}
	running := onItsHost(r.State, r.HostUUID)
	if running {
		s.add(func(ctx workflow.Context) error {
			return onHost(ctx, r.HostUUID, hostapi.ActAttachNIC, hostapi.AttachNICParams{VMUUID: r.VMUUID, NIC: r.NIC}, nil)
		})
		if err = onHost(ctx, r.HostUUID, hostapi.ActDetachNIC, hostapi.DetachNICParams{VMUUID: r.VMUUID, NIC: r.NIC}, nil); err != nil {
			return res, err
		}
		// Runs after the records are back.
		s.add(func(ctx workflow.Context) error { return vmNetworkOnHost(ctx, r.HostUUID, r.VMUUID) })
	}
	dev := r.NIC.DeviceID
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.VMNICAttach, activities.NICAttachParams{VMUUID: r.VMUUID, L3UUID: r.NIC.L3UUID,
			NICUUID: r.NIC.UUID, StaticIP: r.NIC.IP, DeviceID: &dev}, nil)
	})
	if err = local(ctx, activities.VMNICRelease, p, nil); err != nil {
		return res, err
	}
	if running {
		if err = vmNetworkOnHost(ctx, r.HostUUID, r.VMUUID); err != nil {
			return res, err
		}
	}
	return inventory(ctx, "VmInstance", r.VMUUID, "inventory")
}
