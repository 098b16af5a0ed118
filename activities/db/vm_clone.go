package db

import (
	"context"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// registerVMClone registers the activities of CloneVmInstance and
// ReimageVmInstance.
func (a *Activities) registerVMClone(w worker.Registry) {
	for name, fn := range map[string]any{
		activities.VMClonePlan:     a.VMClonePlan,
		activities.VMCloneSetImage: a.VMCloneSetImage,
		activities.VMCloneResult:   a.VMCloneResult,
		activities.VMReimageCheck:  a.VMReimageCheck,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// cloneEvent names CloneVmInstance in state errors.
const cloneEvent models.VMEvent = "cloneVmInstance"

// VMClonePlan checks a clone request against its source VM and plans it:
// each clone gets the source's CPU, memory, offering, platform and L3
// networks (new NICs, MACs and IPs), and volumes copied from the source's
// as they are now, on the source's primary storage. The copy runs on the
// host holding the source's root volume, so on a local storage the clones
// are placed there too.
func (a *Activities) VMClonePlan(ctx context.Context, p activities.CloneVMParams) (activities.CloneVMPlan, error) {
	var plan activities.CloneVMPlan
	var vm models.VMInstance
	if err := a.Store.Get(ctx, store.ResVMInstance, p.SourceVMUUID, &vm); err != nil {
		return plan, wrap(err)
	}
	switch {
	case vm.Type != "UserVm":
		return plan, wrap(models.Invalid("vm[uuid:%s] is a %s; only user vms are cloned", vm.UUID, vm.Type))
	case vm.State != models.VMRunning && vm.State != models.VMStopped && vm.State != models.VMPaused:
		return plan, wrap(models.VMStateError(vm.UUID, vm.State, cloneEvent))
	case len(p.Names) == 0 || len(p.Names) != len(p.VMUUIDs):
		return plan, wrap(models.Invalid("names must name at least one clone"))
	}
	spec, err := a.VMSpec(ctx, activities.VMRef{VMUUID: vm.UUID})
	if err != nil {
		return plan, err
	}
	root := spec.Spec.RootVolume
	plan.CopyHost = spec.VolumeHosts[root.UUID]
	if plan.CopyHost == "" {
		return plan, wrap(models.Invalid("the root volume of vm[uuid:%s] was never instantiated: start the vm once before cloning it", vm.UUID))
	}
	if p.PSUUID != "" && p.PSUUID != root.PrimaryStorageUUID {
		return plan, wrap(models.Invalid("not supported: a clone's root volume is copied on its source's primary storage[uuid:%s], not on %s",
			root.PrimaryStorageUUID, p.PSUUID))
	}
	var ps models.PrimaryStorage
	if err := a.Store.Get(ctx, store.ResPrimaryStorage, root.PrimaryStorageUUID, &ps); err != nil {
		return plan, wrap(err)
	}
	host := p.HostUUID
	if ps.Type == PSLocal || ps.Type == PSSim {
		// The copy is a file on the source's host; its VM runs there.
		if host != "" && host != plan.CopyHost {
			return plan, wrap(models.Invalid("not supported: on %s primary storage a clone is made on the host of its source's disk[uuid:%s], not on host[uuid:%s]",
				ps.Type, plan.CopyHost, host))
		}
		host = plan.CopyHost
	}
	plan.Sources = append(plan.Sources, root)
	var dataSizes []int64
	if p.Full {
		for _, v := range spec.Spec.DataVolumes {
			switch {
			case spec.VolumeHosts[v.UUID] == "":
				return plan, wrap(models.Invalid("data volume[uuid:%s] of vm[uuid:%s] was never instantiated", v.UUID, vm.UUID))
			case v.PrimaryStorageUUID != root.PrimaryStorageUUID || p.DataPSUUID != "" && p.DataPSUUID != v.PrimaryStorageUUID:
				return plan, wrap(models.Invalid("not supported: data volume[uuid:%s] is copied on the root volume's primary storage[uuid:%s] only",
					v.UUID, root.PrimaryStorageUUID))
			}
			plan.Sources = append(plan.Sources, v)
			dataSizes = append(dataSizes, v.Size)
		}
	}
	var l3s []string
	for _, n := range spec.Spec.NICs {
		l3s = append(l3s, n.L3UUID)
	}
	for i, name := range p.Names {
		plan.Creates = append(plan.Creates, activities.CreateVMParams{VMUUID: p.VMUUIDs[i], Name: name,
			Description: string(vm.Description), InstanceOfferingUUID: string(vm.InstanceOfferingUUID), CPUNum: vm.CPUNum,
			MemorySize: vm.MemorySize, L3NetworkUUIDs: l3s, DefaultL3NetworkUUID: string(vm.DefaultL3NetworkUUID),
			RootDiskSize: root.Size, DataDiskSizes: dataSizes, ClusterUUID: p.ClusterUUID, HostUUID: host,
			PSUUID: root.PrimaryStorageUUID, Strategy: p.Strategy, Platform: vm.Platform, AccountUUID: p.AccountUUID,
			StaticIPs: map[string]string{}})
	}
	return plan, nil
}

// VMCloneSetImage gives a clone its source's image, architecture and guest
// OS type, and its root volume the source root volume's image, so that the
// clone reimages to the image its disk descends from. The creation saga
// made the clone without an image: its disk is a copy, so it needs no
// backup storage holding one.
func (a *Activities) VMCloneSetImage(ctx context.Context, p activities.CloneImageParams) error {
	var src, vm models.VMInstance
	if err := a.Store.Get(ctx, store.ResVMInstance, p.SourceVMUUID, &src); err != nil {
		return wrap(err)
	}
	if err := a.Store.Get(ctx, store.ResVMInstance, p.VMUUID, &vm); err != nil {
		return wrap(err)
	}
	var srcRoot models.Volume
	if err := a.Store.Get(ctx, store.ResVolume, string(src.RootVolumeUUID), &srcRoot); err != nil {
		return wrap(err)
	}
	if err := a.Store.Update(ctx, store.ResVMInstance, vm.UUID, map[string]any{"imageUuid": src.ImageUUID,
		"architecture": src.Architecture, "guestOsType": src.GuestOSType}); err != nil {
		return wrap(err)
	}
	return wrap(a.Store.Update(ctx, store.ResVolume, string(vm.RootVolumeUUID), map[string]any{"rootImageUuid": srcRoot.RootImageUUID}))
}

// cloneInventory is ZStack's CloneVmInstanceInventory.
type cloneInventory struct {
	Inventory any                    `json:"inventory,omitempty"`
	Error     *activities.CloneError `json:"error,omitempty"`
}

// cloneResults is ZStack's CloneVmInstanceResults.
type cloneResults struct {
	NumberOfClonedVM int              `json:"numberOfClonedVm"`
	Inventories      []cloneInventory `json:"inventories"`
}

// VMCloneResult renders CloneVmInstance's reply: {"result":
// CloneVmInstanceResults}, one inventory or error per name.
func (a *Activities) VMCloneResult(ctx context.Context, p activities.CloneResultParams) (activities.Result, error) {
	var out cloneResults
	for _, o := range p.Outcomes {
		if o.Error != nil {
			out.Inventories = append(out.Inventories, cloneInventory{Error: o.Error})
			continue
		}
		inv, err := a.Store.Inventory(ctx, store.ResVMInstance, o.VMUUID)
		if err != nil {
			return activities.Result{}, wrap(err)
		}
		out.NumberOfClonedVM++
		out.Inventories = append(out.Inventories, cloneInventory{Inventory: inv})
	}
	return result("result", out)
}

// VMReimageCheck checks that a VM's root volume can be re-created from its
// image: it has one, a root volume template (not an ISO), still known, and
// the volume holds no snapshots. ZStack keeps a reimaged volume's snapshots
// (they are files of their own there); ZCloud's snapshots live inside the
// volume's qcow2 file, which reimage replaces, so they must be deleted
// first.
func (a *Activities) VMReimageCheck(ctx context.Context, p activities.VMRef) error {
	vols, err := a.Store.VMVolumes(ctx, p.VMUUID)
	if err != nil {
		return wrap(err)
	}
	if len(vols) == 0 || vols[0].Type != models.VolumeRoot {
		return wrap(models.Invalid("vm[uuid:%s] has no root volume", p.VMUUID))
	}
	root := vols[0]
	if root.RootImageUUID == "" {
		return wrap(models.Invalid("the root volume of vm[uuid:%s] was not created from an image", p.VMUUID))
	}
	var img models.Image
	if err := a.Store.Get(ctx, store.ResImage, string(root.RootImageUUID), &img); err != nil {
		return wrap(models.Invalid("image[uuid:%s] of vm[uuid:%s] is gone: %v", root.RootImageUUID, p.VMUUID, err))
	}
	if img.MediaType == "ISO" {
		return wrap(models.Invalid("vm[uuid:%s] was created from ISO image[uuid:%s]; only a root volume template can be reimaged", p.VMUUID, img.UUID))
	}
	var n int
	if err := a.Store.DB().GetContext(ctx, &n, `SELECT COUNT(*) FROM volume_snapshots WHERE volume_uuid = ?`, root.UUID); err != nil {
		return wrap(err)
	}
	if n > 0 {
		return wrap(models.Conflict("root volume[uuid:%s] has %d snapshots, which live inside its file and would be lost: delete them before reimaging",
			root.UUID, n))
	}
	return nil
}
