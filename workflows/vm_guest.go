package workflows

import (
	"slices"

	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
)

// Guest configuration workflow names.
const (
	SetVMGuestTag    = "zcloud.SetVmGuestTag"
	ChangeVMPassword = "zcloud.ChangeVmPassword"
	UpdateVMNicMAC   = "zcloud.UpdateVmNicMac"
	SetVMStaticIP    = "zcloud.SetVmStaticIp"
)

// RegisterVMGuest registers the guest configuration workflows.
func RegisterVMGuest(w workflowRegistry) {
	w.RegisterWorkflowWithOptions(SetVMGuestTagWorkflow, workflow.RegisterOptions{Name: SetVMGuestTag})
	w.RegisterWorkflowWithOptions(ChangeVMPasswordWorkflow, workflow.RegisterOptions{Name: ChangeVMPassword})
	w.RegisterWorkflowWithOptions(UpdateVMNicMACWorkflow, workflow.RegisterOptions{Name: UpdateVMNicMAC})
	w.RegisterWorkflowWithOptions(SetVMStaticIPWorkflow, workflow.RegisterOptions{Name: SetVMStaticIP})
}

// guestTagMetadataChange: a guest tag change reaches the flat metadata
// service of a running VM's host.
const guestTagMetadataChange = "2026-12-06-guest-tag-metadata"

// SetVMGuestTagWorkflow is Set/DeleteVmSshKey and Set/DeleteVmHostname:
// it records the tag; the VM's config drive carries it from its next start
// (cloud-init reads it at boot), as in ZStack. A running VM's host also
// gets the new value at once for its flat metadata service (L3s with the
// Userdata service); if that fails, the tag is put back.
func SetVMGuestTagWorkflow(ctx workflow.Context, p activities.GuestTagParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var r activities.GuestTagResult
	if err = local(ctx, activities.VMGuestTagSet, p, &r); err != nil {
		return res, err
	}
	served := slices.Contains([]string{activities.SSHKeyTag, activities.HostnameTag, activities.UserdataTag}, p.Prefix)
	if workflow.GetVersion(ctx, guestTagMetadataChange, workflow.DefaultVersion, 1) == 1 && served &&
		r.Prev != p.Value && onItsHost(r.State, r.HostUUID) {
		s.add(func(ctx workflow.Context) error {
			back := p
			back.Value = r.Prev
			if err := local(ctx, activities.VMGuestTagSet, back, nil); err != nil {
				return err
			}
			return vmNetworkOnHost(ctx, r.HostUUID, p.VMUUID)
		})
		if err = vmNetworkOnHost(ctx, r.HostUUID, p.VMUUID); err != nil {
			return res, err
		}
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}

// ChangeVMPasswordWorkflow changes an account's password in a running
// guest through its qemu guest agent, on the host the password was sealed
// to. There is nothing to compensate: the one host step is the last, and a
// password that changed cannot be told back.
func ChangeVMPasswordWorkflow(ctx workflow.Context, p activities.GuestPasswordParams) (activities.Result, error) {
	if err := local(ctx, activities.VMGuestTarget, p, nil); err != nil {
		return activities.Result{}, err
	}
	if err := onHost(ctx, p.HostUUID, hostapi.ActSetGuestPassword, hostapi.SetGuestPasswordParams{VMUUID: p.VMUUID,
		Account: p.Account, SealedPassword: p.SealedPassword}, nil); err != nil {
		return activities.Result{}, err
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}

// UpdateVMNicMACWorkflow changes the MAC of a stopped VM's NIC; its next
// start plugs the NIC with it (and its DHCP entry follows).
func UpdateVMNicMACWorkflow(ctx workflow.Context, p activities.NICMACParams) (activities.Result, error) {
	if err := local(ctx, activities.VMNicMACSet, p, nil); err != nil {
		return activities.Result{}, err
	}
	return inventory(ctx, "VmNic", p.NICUUID, "inventory")
}

// SetVMStaticIPWorkflow gives a stopped VM's NIC the address asked for;
// its next start serves it by DHCP.
func SetVMStaticIPWorkflow(ctx workflow.Context, p activities.StaticIPParams) (activities.Result, error) {
	if err := local(ctx, activities.VMStaticIPSet, p, nil); err != nil {
		return activities.Result{}, err
	}
	return inventory(ctx, "VmInstance", p.VMUUID, "inventory")
}
