package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// VM device workflow names.
const (
	SetVMConsolePassword = "zcloud.SetVmConsolePassword"
	VMConsoleAddress     = "zcloud.GetVmConsoleAddress"
	SetVMISO             = "zcloud.SetVmIso"
	SetVMBootOrder       = "zcloud.SetVmBootOrder"
	ChangeVMCompute      = "zcloud.ChangeVmCompute"
)

// SetVMConsolePasswordWorkflow records a VM's console password (empty:
// removes it) and, when the VM runs, gives it to the domain on its host,
// which changes the running display's password at once where QEMU can (a
// display started with a password) and otherwise from the next start, as
// ZStack's Set/DeleteVmConsolePassword. A failure on the host puts the
// previous password back in the record and on the host.
func SetVMConsolePasswordWorkflow(ctx workflow.Context, p activities.ConsolePasswordParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var prev activities.ConsolePasswordResult
	if err = local(ctx, activities.VMConsolePasswordSet, p, &prev); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.VMConsolePasswordSet, activities.ConsolePasswordParams{VMUUID: p.VMUUID, Password: prev.Prev}, nil)
	})
	if prev.HostUUID != "" && (prev.State == models.VMRunning || prev.State == models.VMPaused) {
		// Registered first: a step cut short may have changed the domain.
		s.add(func(ctx workflow.Context) error {
			return onHost(ctx, prev.HostUUID, hostapi.ActSetVMConsolePassword,
				hostapi.SetVMConsolePasswordParams{VMUUID: p.VMUUID, Password: prev.Prev}, nil)
		})
		var r hostapi.SetVMConsolePasswordResult
		if err = onHost(ctx, prev.HostUUID, hostapi.ActSetVMConsolePassword,
			hostapi.SetVMConsolePasswordParams{VMUUID: p.VMUUID, Password: p.Password}, &r); err != nil {
			return res, err
		}
		workflow.GetLogger(ctx).Info("console password set", "vmUuid", p.VMUUID, "live", r.Live)
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}

// VMConsoleAddressWorkflow reads where a running VM's VNC console listens
// from the live domain on its host. A console listening on every address
// is reported at the host's management IP.
func VMConsoleAddressWorkflow(ctx workflow.Context, p activities.VMRef) (activities.VMConsoleAddress, error) {
	var t activities.ConsoleTargetResult
	if err := local(ctx, activities.VMConsoleTarget, p, &t); err != nil {
		return activities.VMConsoleAddress{}, err
	}
	var c hostapi.VMConsole
	if err := onHost(ctx, t.HostUUID, hostapi.ActGetVMConsole, hostapi.GetVMConsoleParams{VMUUID: p.VMUUID}, &c); err != nil {
		return activities.VMConsoleAddress{}, err
	}
	host := c.Host
	switch host {
	case "", "0.0.0.0", "::":
		host = t.ManagementIP
	}
	return activities.VMConsoleAddress{HostIP: host, Port: c.Port, Protocol: c.Protocol}, nil
}

// isoOnHost puts iso (nil: nothing) into the CD-ROM of the VM's domain.
func isoOnHost(ctx workflow.Context, hostUUID, vmUUID string, iso *hostapi.ISOSpec) error {
	if iso == nil {
		return onHost(ctx, hostUUID, hostapi.ActDetachISO, hostapi.DetachISOParams{VMUUID: vmUUID}, nil)
	}
	return onHost(ctx, hostUUID, hostapi.ActAttachISO, hostapi.AttachISOParams{VMUUID: vmUUID, ISO: *iso}, nil)
}

// SetVMISOWorkflow is AttachIsoToVmInstance (p.ISOUUID set) and
// DetachIsoFromVmInstance (empty): it records the ISO of the VM's CD-ROM
// and, when the VM runs, changes the disc in the running domain (its host
// fetches an ISO into its image cache first, as a root image). A stopped VM
// gets it when it next starts. A failure on the host puts the previous
// ISO back in the record and in the drive.
func SetVMISOWorkflow(ctx workflow.Context, p activities.ISOParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var r activities.ISOResult
	if err = local(ctx, activities.VMISOSet, p, &r); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.VMISOSet, activities.ISOParams{VMUUID: p.VMUUID, ISOUUID: r.Prev}, nil)
	})
	if r.HostUUID != "" && (r.State == models.VMRunning || r.State == models.VMPaused) {
		s.add(func(ctx workflow.Context) error { return isoOnHost(ctx, r.HostUUID, p.VMUUID, r.PrevISO) })
		if err = isoOnHost(ctx, r.HostUUID, p.VMUUID, r.ISO); err != nil {
			return res, err
		}
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}

// SetVMBootOrderWorkflow records a VM's boot order; the domain gets it when
// the VM next starts, as in ZStack.
func SetVMBootOrderWorkflow(ctx workflow.Context, p activities.BootOrderParams) (activities.Result, error) {
	if err := local(ctx, activities.VMBootOrderSet, p, nil); err != nil {
		return activities.Result{}, err
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}

// ChangeVMComputeWorkflow is UpdateVmInstance and ChangeInstanceOffering:
// the record and the capacity the VM holds on its host change together
// (a host without room refuses), then a running VM grows online on its
// host, up to the maximums its domain was defined with. Online shrinking
// is refused by the host, as in ZStack; a stopped VM takes any size at its
// next start. A failure on the host puts the record and capacity back.
func ChangeVMComputeWorkflow(ctx workflow.Context, p activities.ComputeParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var r activities.ComputeResult
	if err = local(ctx, activities.VMComputeSet, p, &r); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error { return local(ctx, activities.VMComputeSet, r.Prev, nil) })
	changed := r.New.CPUNum != r.Prev.CPUNum || r.New.MemorySize != r.Prev.MemorySize
	if changed && r.HostUUID != "" && (r.State == models.VMRunning || r.State == models.VMPaused) {
		// No host compensation: a grown domain cannot shrink online; the
		// record goes back and the next start defines the old size.
		if err = onHost(ctx, r.HostUUID, hostapi.ActSetVMCompute, hostapi.SetVMComputeParams{VMUUID: p.VMUUID,
			CPUNum: r.New.CPUNum, MemorySize: r.New.MemorySize}, nil); err != nil {
			return res, err
		}
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}
