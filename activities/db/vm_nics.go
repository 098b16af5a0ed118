package db

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// registerVMNICs registers the VM NIC activities.
func (a *Activities) registerVMNICs(w worker.Registry) {
	for name, fn := range map[string]any{
		activities.VMNICAttach:  a.VMNICAttach,
		activities.VMNICRelease: a.VMNICRelease,
		activities.VMNICGet:     a.VMNICGet,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// VMNICAttach records a NIC of a VM on an L3 network (lookup-or-create by
// its UUID) and reserves its address: the static one when given, else a
// free one of the L3's ranges (store.AllocateIP, race-free). A VM already
// on the L3 through another NIC, an L3 without ranges, or a static address
// that is taken or outside the ranges is refused; a refused call leaves no
// NIC behind.
func (a *Activities) VMNICAttach(ctx context.Context, p activities.NICAttachParams) (activities.NICResult, error) {
	if err := a.Faults.check(activities.VMNICAttach); err != nil {
		return activities.NICResult{}, wrap(err)
	}
	if p.NICUUID == "" || p.L3UUID == "" {
		return activities.NICResult{}, wrap(models.Invalid("nic uuid and l3 network uuid are required"))
	}
	vm, err := a.deviceVM(ctx, p.VMUUID, "nics")
	if err != nil {
		return activities.NICResult{}, err
	}
	var l3 models.L3Network
	if err := a.Store.Get(ctx, store.ResL3Network, p.L3UUID, &l3); err != nil {
		return activities.NICResult{}, wrap(err)
	}
	nics, err := a.Store.VMNics(ctx, vm.UUID)
	if err != nil {
		return activities.NICResult{}, err
	}
	var mine *models.VMNic
	next := 0
	for i, n := range nics {
		if n.UUID == p.NICUUID {
			mine = &nics[i]
			continue
		}
		if n.L3NetworkUUID == p.L3UUID {
			return activities.NICResult{}, wrap(models.Conflict("vm[uuid:%s] already has nic[uuid:%s] on l3 network[uuid:%s]",
				vm.UUID, n.UUID, p.L3UUID).WithCode(models.CodeOperation))
		}
		next = max(next, n.DeviceID+1)
	}
	if mine == nil {
		dev := next
		if p.DeviceID != nil {
			dev = *p.DeviceID
		}
		var h models.Host
		hv := ""
		if vm.HostUUID != "" {
			if err := a.Store.Get(ctx, store.ResHost, string(vm.HostUUID), &h); err == nil {
				hv = h.HypervisorType
			}
		}
		now := models.Now()
		n := models.VMNic{UUID: p.NICUUID, VMInstanceUUID: vm.UUID, L3NetworkUUID: l3.UUID, MAC: macFor(p.NICUUID),
			HypervisorType: hv, IPVersion: 4, DriverType: "virtio", InternalName: fmt.Sprintf("vnic%d.%d", dev, dev),
			DeviceID: dev, Type: "VNIC", State: models.StateEnabled, CreateDate: now, LastOpDate: now}
		if err := a.Store.Insert(ctx, store.ResVMNic, &n); err != nil && models.AsError(err).Kind != models.KindConflict {
			return activities.NICResult{}, wrap(err)
		}
		mine = &n
	}
	u, err := a.Store.AllocateIP(ctx, l3.UUID, mine.UUID, p.StaticIP)
	if err != nil {
		// Nothing of a refused attach stays behind.
		if rerr := a.Store.Delete(ctx, store.ResVMNic, mine.UUID); rerr != nil {
			return activities.NICResult{}, fmt.Errorf("%w (and the nic record stays: %v)", wrap(err), rerr)
		}
		return activities.NICResult{}, wrap(err)
	}
	if err := a.Store.Update(ctx, store.ResVMNic, mine.UUID, map[string]any{"ip": u.IP, "netmask": u.Netmask, "gateway": u.Gateway}); err != nil {
		return activities.NICResult{}, wrap(err)
	}
	return a.VMNICGet(ctx, activities.NICRef{NICUUID: mine.UUID})
}

// VMNICGet describes a NIC as its host needs it, with its VM's state and
// host.
func (a *Activities) VMNICGet(ctx context.Context, p activities.NICRef) (activities.NICResult, error) {
	var n models.VMNic
	if err := a.Store.Get(ctx, store.ResVMNic, p.NICUUID, &n); err != nil {
		return activities.NICResult{}, wrap(err)
	}
	var vm models.VMInstance
	if err := a.Store.Get(ctx, store.ResVMInstance, n.VMInstanceUUID, &vm); err != nil {
		return activities.NICResult{}, wrap(err)
	}
	bridge, err := a.BridgeOfL3(ctx, n.L3NetworkUUID)
	if err != nil {
		return activities.NICResult{}, wrap(err)
	}
	return activities.NICResult{VMUUID: vm.UUID, State: vm.State, HostUUID: string(vm.HostUUID),
		NIC: hostapi.NICSpec{UUID: n.UUID, MAC: n.MAC, IP: string(n.IP), Netmask: string(n.Netmask), Gateway: string(n.Gateway),
			L3UUID: n.L3NetworkUUID, Bridge: bridge, DeviceID: n.DeviceID, Driver: n.DriverType}}, nil
}

// VMNICRelease frees a NIC's addresses and deletes its record; releasing
// a NIC that is gone succeeds.
func (a *Activities) VMNICRelease(ctx context.Context, p activities.NICRef) error {
	if err := a.Faults.check(activities.VMNICRelease); err != nil {
		return wrap(err)
	}
	if err := a.Store.ReleaseIPsOfNIC(ctx, p.NICUUID); err != nil {
		return err
	}
	err := a.Store.Delete(ctx, store.ResVMNic, p.NICUUID)
	if err != nil && models.AsError(err).Kind == models.KindNotFound {
		return nil
	}
	return wrap(err)
}
