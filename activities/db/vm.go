package db

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// VMCreateRecord inserts the VM row in state Starting (ZStack's
// instantiateVmFromNewCreate); a retry finds it there and succeeds.
func (a *Activities) VMCreateRecord(ctx context.Context, p activities.CreateVMParams) error {
	if err := a.Faults.check(activities.VMCreateRecord); err != nil {
		return wrap(err)
	}
	if ok, err := a.Store.Exists(ctx, store.ResVMInstance, p.VMUUID); err != nil || ok {
		return err
	}
	var img models.Image
	if p.ImageUUID != "" {
		if err := a.Store.Get(ctx, store.ResImage, p.ImageUUID, &img); err != nil {
			return wrap(err)
		}
	}
	platform := p.Platform
	if platform == "" {
		platform = img.Platform
	}
	if platform == "" {
		platform = "Linux"
	}
	arch := string(img.Architecture)
	if arch == "" {
		arch = "x86_64"
	}
	now := models.Now()
	vm := models.VMInstance{
		Base:      models.Base{UUID: p.VMUUID, Name: p.Name, Description: models.Ref(p.Description), CreateDate: now, LastOpDate: now},
		ImageUUID: models.Ref(p.ImageUUID), InstanceOfferingUUID: models.Ref(p.InstanceOfferingUUID),
		Platform: platform, Architecture: arch, DefaultL3NetworkUUID: models.Ref(p.DefaultL3NetworkUUID),
		Type: "UserVm", HypervisorType: "", MemorySize: p.MemorySize, CPUNum: p.CPUNum,
		AllocatorStrategy: "LeastVmPreferredHostAllocatorStrategy", State: models.VMStarting,
		GuestOSType: img.GuestOSType,
	}
	if err := a.Store.Create(ctx, store.ResVMInstance, &vm, vm.UUID, p.AccountUUID); err != nil {
		if models.AsError(err).Kind == models.KindConflict {
			return nil
		}
		return wrap(err)
	}
	return wrap(a.Store.AddTags(ctx, vm.UUID, store.ResVMInstance, p.SystemTags, p.UserTags))
}

// VMDeleteRecord removes the VM row (compensation of VMCreateRecord).
func (a *Activities) VMDeleteRecord(ctx context.Context, p activities.VMRef) error {
	return wrap(a.Store.Delete(ctx, store.ResVMInstance, p.VMUUID))
}

// diskSize is the root disk size: explicit, else the image's size.
func (a *Activities) diskSizes(ctx context.Context, p activities.CreateVMParams) (root int64, total int64, err error) {
	root = p.RootDiskSize
	if root == 0 && p.ImageUUID != "" {
		var img models.Image
		if err := a.Store.Get(ctx, store.ResImage, p.ImageUUID, &img); err != nil {
			return 0, 0, err
		}
		root = img.Size
	}
	total = root
	for _, d := range p.DataDiskSizes {
		total += d
	}
	return root, total, nil
}

// imageBackupStorage picks a backup storage holding the image (ZStack's
// VmImageSelectBackupStorageFlow); the allocator then only takes hosts in a
// zone that backup storage serves.
func (a *Activities) imageBackupStorage(ctx context.Context, imageUUID string) (string, error) {
	if imageUUID == "" {
		return "", nil
	}
	inv, err := a.Store.Inventory(ctx, store.ResImage, imageUUID)
	if err != nil {
		return "", err
	}
	img := inv.(*models.Image)
	for _, r := range img.BackupStorageRefs {
		if r.Status == models.ImageReady {
			return r.BackupStorageUUID, nil
		}
	}
	return "", models.Unavailable("image[uuid:%s] is not ready on any backup storage", imageUUID).WithCode(models.CodeAllocation)
}

// VMAllocateHost runs the host allocator and reserves the chosen host's CPU
// and memory, trying candidates in order (least VMs first) until a
// conditional reservation wins. The reservation is recorded with the VM, so
// a retried step returns the placement it already made.
func (a *Activities) VMAllocateHost(ctx context.Context, p activities.CreateVMParams) (activities.HostAllocation, error) {
	if err := a.Faults.check(activities.VMAllocateHost); err != nil {
		return activities.HostAllocation{}, wrap(err)
	}
	_, total, err := a.diskSizes(ctx, p)
	if err != nil {
		return activities.HostAllocation{}, wrap(err)
	}
	bs, err := a.imageBackupStorage(ctx, p.ImageUUID)
	if err != nil {
		return activities.HostAllocation{}, wrap(err)
	}
	req := store.AllocationRequest{CPU: int64(p.CPUNum), Memory: p.MemorySize, DiskSize: total, ZoneUUID: p.ZoneUUID,
		ClusterUUID: p.ClusterUUID, HostUUID: p.HostUUID, PSUUID: p.PSUUID, L3UUIDs: p.L3NetworkUUIDs, BSUUID: bs}
	alloc, err := a.allocate(ctx, p.VMUUID, req)
	if err != nil {
		return alloc, wrap(err)
	}
	var h models.Host
	if err := a.Store.Get(ctx, store.ResHost, alloc.HostUUID, &h); err != nil {
		return alloc, wrap(err)
	}
	return alloc, wrap(a.Store.Update(ctx, store.ResVMInstance, p.VMUUID, map[string]any{
		"zoneUuid": h.ZoneUUID, "clusterUuid": h.ClusterUUID, "hostUuid": h.UUID, "hypervisorType": h.HypervisorType}))
}

func (a *Activities) allocate(ctx context.Context, vmUUID string, req store.AllocationRequest) (activities.HostAllocation, error) {
	if held, ok, err := a.Store.AllocationOfVM(ctx, vmUUID); err != nil || ok {
		return activities.HostAllocation{VMUUID: vmUUID, HostUUID: held.HostUUID, PSUUID: held.PSUUID,
			CPU: held.CPU, Memory: held.Memory, DiskSize: req.DiskSize}, err
	}
	cands, err := a.Store.HostCandidates(ctx, req, 50)
	if err != nil {
		return activities.HostAllocation{}, err
	}
	if len(cands) == 0 {
		if err := a.psScopeRefusal(ctx, req); err != nil {
			return activities.HostAllocation{}, err
		}
		return activities.HostAllocation{}, models.Unavailable("no host can hold the vm: none passed the filters "+
			"(state Enabled, status Connected, hypervisor, cpu %d, memory %d, an Enabled, Connected primary storage with capacity %d, attached L2, image's zone)",
			req.CPU, req.Memory, req.DiskSize).WithCode(models.CodeAllocation)
	}
	// Candidates with equally few VMs are tried in random order so that
	// concurrent creates spread instead of racing for one host.
	for i := 0; i < len(cands); {
		j := i
		for j < len(cands) && cands[j].VMCount == cands[i].VMCount {
			j++
		}
		rand.Shuffle(j-i, func(x, y int) { cands[i+x], cands[i+y] = cands[i+y], cands[i+x] })
		i = j
	}
	var last error
	for _, c := range cands {
		if err := a.Store.ReserveHostForVM(ctx, vmUUID, c.HostUUID, c.PSUUID, req.CPU, req.Memory); err != nil {
			last = err
			continue
		}
		return activities.HostAllocation{VMUUID: vmUUID, HostUUID: c.HostUUID, ClusterUUID: c.ClusterUUID, ZoneUUID: c.ZoneUUID,
			PSUUID: c.PSUUID, CPU: req.CPU, Memory: req.Memory, DiskSize: req.DiskSize}, nil
	}
	return activities.HostAllocation{}, last
}

// VMAllocateHostForStart picks a host for a stopped VM among the clusters
// its root volume's primary storage is attached to, and reserves CPU and
// memory (the storage is already held by the volumes).
func (a *Activities) VMAllocateHostForStart(ctx context.Context, p activities.VMStartAllocParams) (activities.HostAllocation, error) {
	var vm models.VMInstance
	if err := a.Store.Get(ctx, store.ResVMInstance, p.VMUUID, &vm); err != nil {
		return activities.HostAllocation{}, wrap(err)
	}
	vols, err := a.Store.VMVolumes(ctx, p.VMUUID)
	if err != nil || len(vols) == 0 {
		return activities.HostAllocation{}, wrap(models.Unavailable("vm[uuid:%s] has no root volume", p.VMUUID))
	}
	nics, err := a.Store.VMNics(ctx, p.VMUUID)
	if err != nil {
		return activities.HostAllocation{}, err
	}
	req := store.AllocationRequest{CPU: int64(vm.CPUNum), Memory: vm.MemorySize, HostUUID: p.HostUUID, ClusterUUID: p.ClusterUUID,
		PSUUID: string(vols[0].PrimaryStorageUUID), ExistingVolumes: true}
	for _, n := range nics {
		req.L3UUIDs = append(req.L3UUIDs, n.L3NetworkUUID)
	}
	if req.HostUUID == "" && vols[0].HostUUID != "" {
		// The simulator's primary storage keeps volumes on the host that
		// created them, as LocalStorage does: the VM starts where its disk is.
		req.HostUUID = string(vols[0].HostUUID)
	}
	alloc, err := a.allocate(ctx, p.VMUUID, req)
	return alloc, wrap(err)
}

// VMReleaseHost gives back the CPU and memory a VM holds on its host;
// releasing twice is a no-op.
func (a *Activities) VMReleaseHost(ctx context.Context, alloc activities.HostAllocation) error {
	return a.Store.ReleaseHostOfVM(ctx, alloc.VMUUID)
}

// VMAllocateVolumes records the root volume and the data volumes on the
// allocated primary storage.
func (a *Activities) VMAllocateVolumes(ctx context.Context, p activities.VMAllocParams) error {
	if err := a.Faults.check(activities.VMAllocateVolumes); err != nil {
		return wrap(err)
	}
	root, _, err := a.diskSizes(ctx, p.P)
	if err != nil {
		return wrap(err)
	}
	now := models.Now()
	sizes := append([]int64{root}, p.P.DataDiskSizes...)
	for i, size := range sizes {
		typ, name := "Data", fmt.Sprintf("DATA-for-%s-%d", p.P.Name, i)
		uuid := models.NameUUID(p.P.VMUUID, "volume", fmt.Sprint(i))
		v := models.Volume{Base: models.Base{UUID: uuid, Name: name, CreateDate: now, LastOpDate: now},
			PrimaryStorageUUID: models.Ref(p.Alloc.PSUUID), VMInstanceUUID: models.Ref(p.P.VMUUID),
			// A local storage takes the room from the allocated host's share.
			HostUUID: models.Ref(p.Alloc.HostUUID),
			Type:     typ, Format: "qcow2", Size: size, DeviceID: i, State: models.StateEnabled, Status: models.VolumeCreating}
		if i == 0 {
			v.Type, v.Name, v.RootImageUUID = "Root", "ROOT-for-"+p.P.Name, models.Ref(p.P.ImageUUID)
		}
		if err := a.Store.CreateVolume(ctx, &v, p.P.AccountUUID); err != nil {
			return wrap(err)
		}
	}
	return wrap(a.Store.Update(ctx, store.ResVMInstance, p.P.VMUUID, map[string]any{"rootVolumeUuid": models.NameUUID(p.P.VMUUID, "volume", "0")}))
}

// VMReleaseVolumes deletes the volume records of a VM being rolled back,
// giving their primary storage capacity back.
func (a *Activities) VMReleaseVolumes(ctx context.Context, p activities.VMAllocParams) error {
	return a.deleteVolumes(ctx, p.P.VMUUID)
}

func (a *Activities) deleteVolumes(ctx context.Context, vmUUID string) error {
	vols, err := a.Store.VMVolumes(ctx, vmUUID)
	if err != nil {
		return err
	}
	for _, v := range vols {
		if err := a.Store.DeleteVolume(ctx, v.UUID); err != nil {
			return err
		}
	}
	return nil
}

// macFor derives a stable, locally administered MAC for a NIC.
func macFor(nicUUID string) string {
	h := models.NameUUID("mac", nicUUID)
	return fmt.Sprintf("fa:%s:%s:%s:%s:%s", h[0:2], h[2:4], h[4:6], h[6:8], h[8:10])
}

// VMAllocateNICs records one NIC per L3 network.
func (a *Activities) VMAllocateNICs(ctx context.Context, p activities.VMAllocParams) error {
	if err := a.Faults.check(activities.VMAllocateNICs); err != nil {
		return wrap(err)
	}
	var h models.Host
	if err := a.Store.Get(ctx, store.ResHost, p.Alloc.HostUUID, &h); err != nil {
		return wrap(err)
	}
	now := models.Now()
	for i, l3 := range p.P.L3NetworkUUIDs {
		uuid := models.NameUUID(p.P.VMUUID, "nic", l3)
		n := models.VMNic{UUID: uuid, VMInstanceUUID: p.P.VMUUID, L3NetworkUUID: l3, MAC: customMAC(p.P.SystemTags, l3, macFor(uuid)),
			HypervisorType: h.HypervisorType, IPVersion: 4, DriverType: "virtio",
			InternalName: fmt.Sprintf("vnic%d.%d", i, i), DeviceID: i, Type: "VNIC", State: models.StateEnabled, CreateDate: now, LastOpDate: now}
		err := a.Store.Insert(ctx, store.ResVMNic, &n)
		if err == nil {
			continue
		}
		if models.AsError(err).Kind != models.KindConflict {
			return wrap(err)
		}
		// A retried step finds its NIC; anything else that conflicts is
		// another NIC holding the MAC (a custom MAC raced by another VM).
		var had models.VMNic
		if gerr := a.Store.Get(ctx, store.ResVMNic, uuid, &had); gerr != nil || had.VMInstanceUUID != p.P.VMUUID {
			return wrap(models.Conflict("mac address %s of the vm's nic on l3 network[uuid:%s] is already used by another nic", n.MAC, l3))
		}
	}
	return nil
}

// VMReleaseNICs deletes a VM's NIC records.
func (a *Activities) VMReleaseNICs(ctx context.Context, p activities.VMRef) error {
	nics, err := a.Store.VMNics(ctx, p.VMUUID)
	if err != nil {
		return err
	}
	for _, n := range nics {
		if err := a.Store.Delete(ctx, store.ResVMNic, n.UUID); err != nil {
			return err
		}
	}
	return nil
}

// VMAllocateIPs gives each NIC an address of its L3 (the static one from a
// staticIp tag when given).
func (a *Activities) VMAllocateIPs(ctx context.Context, p activities.VMAllocParams) error {
	if err := a.Faults.check(activities.VMAllocateIPs); err != nil {
		return wrap(err)
	}
	nics, err := a.Store.VMNics(ctx, p.P.VMUUID)
	if err != nil {
		return err
	}
	for _, n := range nics {
		u, err := a.Store.AllocateIP(ctx, n.L3NetworkUUID, n.UUID, p.P.StaticIPs[n.L3NetworkUUID])
		if err != nil {
			return wrap(err)
		}
		if err := a.Store.Update(ctx, store.ResVMNic, n.UUID, map[string]any{"ip": u.IP, "netmask": u.Netmask, "gateway": u.Gateway}); err != nil {
			return wrap(err)
		}
	}
	return nil
}

// VMReleaseIPs frees the addresses of a VM's NICs.
func (a *Activities) VMReleaseIPs(ctx context.Context, p activities.VMRef) error {
	nics, err := a.Store.VMNics(ctx, p.VMUUID)
	if err != nil {
		return err
	}
	for _, n := range nics {
		if err := a.Store.ReleaseIPsOfNIC(ctx, n.UUID); err != nil {
			return err
		}
	}
	return nil
}

// VMSpec describes a VM as its host needs it.
func (a *Activities) VMSpec(ctx context.Context, p activities.VMRef) (activities.VMSpecResult, error) {
	var vm models.VMInstance
	if err := a.Store.Get(ctx, store.ResVMInstance, p.VMUUID, &vm); err != nil {
		return activities.VMSpecResult{}, wrap(err)
	}
	out := activities.VMSpecResult{HostUUID: string(vm.HostUUID), CPU: int64(vm.CPUNum), Memory: vm.MemorySize, State: vm.State,
		VolumeHosts: map[string]string{},
		Spec:        hostapi.VMSpec{UUID: vm.UUID, Name: vm.Name, CPUNum: vm.CPUNum, MemorySize: vm.MemorySize, Platform: vm.Platform}}
	if err := a.deviceSpec(ctx, &out.Spec, string(vm.HostUUID)); err != nil {
		return out, err
	}
	if err := a.guestSpec(ctx, &out.Spec, string(vm.ClusterUUID)); err != nil {
		return out, err
	}
	vols, err := a.Store.VMVolumes(ctx, vm.UUID)
	if err != nil {
		return out, err
	}
	var imgURL string
	if vm.ImageUUID != "" {
		var img models.Image
		if err := a.Store.Get(ctx, store.ResImage, string(vm.ImageUUID), &img); err == nil {
			imgURL = img.URL
		}
		// Hosts fetch from a backup storage's copy when there is one.
		var err error
		if imgURL, err = a.imageFetchURL(ctx, string(vm.ImageUUID), string(vm.HostUUID), imgURL); err != nil {
			return out, wrap(err)
		}
	}
	for _, v := range vols {
		vs := volumeSpec(v)
		if v.HostUUID != "" {
			out.VolumeHosts[v.UUID] = string(v.HostUUID)
		}
		if v.Type == "Root" {
			vs.ImageUUID, vs.ImageURL = string(v.RootImageUUID), imgURL
			out.Spec.RootVolume = vs
		} else {
			out.Spec.DataVolumes = append(out.Spec.DataVolumes, vs)
		}
	}
	shared, err := a.sharedVolumes(ctx, vm.UUID)
	if err != nil {
		return out, err
	}
	out.Spec.DataVolumes = append(out.Spec.DataVolumes, shared...)
	nics, err := a.Store.VMNics(ctx, vm.UUID)
	if err != nil {
		return out, err
	}
	for _, n := range nics {
		bridge, err := a.BridgeOfL3(ctx, n.L3NetworkUUID)
		if err != nil {
			return out, wrap(err)
		}
		out.Spec.NICs = append(out.Spec.NICs, hostapi.NICSpec{UUID: n.UUID, MAC: n.MAC, IP: string(n.IP), Netmask: string(n.Netmask),
			Gateway: string(n.Gateway), L3UUID: n.L3NetworkUUID, Bridge: bridge, DeviceID: n.DeviceID, Driver: n.DriverType})
	}
	return out, nil
}

// VolumeSetHost records where a volume was instantiated.
func (a *Activities) VolumeSetHost(ctx context.Context, p activities.VolumeHost) error {
	if err := a.Store.SetVolumeHost(ctx, p.VolumeUUID, p.HostUUID); err != nil {
		return err
	}
	return wrap(a.Store.Update(ctx, store.ResVolume, p.VolumeUUID, map[string]any{
		"installPath": p.InstallPath, "actualSize": p.ActualSize, "status": models.VolumeReady}))
}

// VMSetState sets a VM's state and optionally its host.
func (a *Activities) VMSetState(ctx context.Context, p activities.VMStateParams) error {
	if err := a.Faults.check(activities.VMSetState + ":" + p.State); err != nil {
		return wrap(err)
	}
	var host *string
	if p.SetHost {
		host = &p.HostUUID
	}
	return wrap(a.Store.SetVMState(ctx, p.VMUUID, p.State, host))
}

// VMTransition takes a VM through its state machine (the per-VM lock).
func (a *Activities) VMTransition(ctx context.Context, p activities.VMTransitionParams) (activities.VMTransitionResult, error) {
	prev, err := a.Store.TransitionVM(ctx, p.VMUUID, models.VMEvent(p.Event))
	if err != nil {
		return activities.VMTransitionResult{}, wrap(err)
	}
	return activities.VMTransitionResult{Prev: prev}, nil
}

// VMExpungeRecord deletes a VM's volume records (returning their primary
// storage capacity), anything it still holds on a host, and the VM record.
func (a *Activities) VMExpungeRecord(ctx context.Context, p activities.VMRef) error {
	if err := a.deleteVolumes(ctx, p.VMUUID); err != nil {
		return err
	}
	if err := a.forgetSharedVolumes(ctx, p.VMUUID); err != nil {
		return err
	}
	if err := a.Store.ReleaseHostOfVM(ctx, p.VMUUID); err != nil {
		return err
	}
	return a.Store.Delete(ctx, store.ResVMInstance, p.VMUUID)
}

// DeletePolicy returns the global vm.deletionPolicy.
func (a *Activities) DeletePolicy(ctx context.Context, _ activities.VMRef) (string, error) {
	return a.Store.GlobalConfigValue(ctx, "vm", "deletionPolicy", models.DeletePolicyDelay), nil
}
