package db

import (
	"context"
	"slices"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// cpuModes are the values of the kvm/vm.cpuMode global config (ZStack's
// KVMGlobalConfig.NESTED_VIRTUALIZATION of 2.3).
var cpuModes = []string{hostapi.CPUModeNone, hostapi.CPUModeHostModel, hostapi.CPUModeHostPassthrough}

// guestConfigs are the global configs of guest configuration.
var guestConfigs = []models.GlobalConfig{
	{Category: activities.CPUModeCategory, Name: activities.CPUModeConfig, DefaultValue: hostapi.CPUModeNone,
		Description: "the vCPU mode of VMs: none, host-model or host-passthrough (a host that cannot pass its CPU through, " +
			"such as a TCG host, gives its most capable model); a cluster's clusterKVMCpuModel::<model> tag names a model instead"},
}

// registerVMGuest registers the guest configuration activities and the
// global configs they read.
func (a *Activities) registerVMGuest(w worker.Registry) {
	for name, fn := range map[string]any{
		activities.VMGuestTagSet: a.VMGuestTagSet,
		activities.VMGuestTarget: a.VMGuestTarget,
		activities.VMNicMACSet:   a.VMNicMACSet,
		activities.VMStaticIPSet: a.VMStaticIPSet,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// validateGuestConfig refuses a vCPU mode that is not one of cpuModes.
func validateGuestConfig(category, name, value string) error {
	if category == activities.CPUModeCategory && name == activities.CPUModeConfig && !slices.Contains(cpuModes, value) {
		return models.Invalid("global config %s.%s: value [%s] is not one of %s", category, name, value,
			strings.Join(cpuModes, ", ")).WithCode(models.CodeInvalidArgument)
	}
	return nil
}

// customMAC is the MAC a customMac::<l3Uuid>::<mac> tag picks for the NIC
// on l3, or def.
func customMAC(systemTags []string, l3, def string) string {
	for _, t := range systemTags {
		rest, ok := strings.CutPrefix(t, activities.CustomMACTag)
		if !ok {
			continue
		}
		if tagL3, mac, ok := strings.Cut(rest, "::"); ok && tagL3 == l3 {
			if m, err := activities.ValidateMAC(mac); err == nil {
				return m
			}
		}
	}
	return def
}

// guestSpec adds to a VM's host spec its guest configuration (from its
// userdata, sshkey and hostname tags; none of them: no config drive) and
// its vCPU mode (its cluster's model tag, else the global config).
func (a *Activities) guestSpec(ctx context.Context, spec *hostapi.VMSpec, clusterUUID string) error {
	g, err := a.guestConfig(ctx, spec.UUID)
	if err != nil {
		return err
	}
	if g.Hostname != "" || g.UserData != "" || len(g.SSHKeys) > 0 {
		spec.Guest = &g
	}
	mode := a.Store.GlobalConfigValue(ctx, activities.CPUModeCategory, activities.CPUModeConfig, hostapi.CPUModeNone)
	if clusterUUID != "" {
		model, err := tagValue(ctx, a.Store, clusterUUID, activities.ClusterCPUModelTag)
		if err != nil {
			return wrap(err)
		}
		if model != "" {
			mode = model
		}
	}
	if mode != hostapi.CPUModeNone {
		spec.CPU = &hostapi.CPUSpec{Mode: mode}
	}
	return nil
}

// guestVM reads a VM that is not going away.
func (a *Activities) guestVM(ctx context.Context, vmUUID string) (models.VMInstance, error) {
	var vm models.VMInstance
	if err := a.Store.Get(ctx, store.ResVMInstance, vmUUID, &vm); err != nil {
		return vm, wrap(err)
	}
	if slices.Contains(consoleClosedStates, vm.State) {
		return vm, wrap(models.Conflict("the vm[uuid:%s] is %s", vm.UUID, vm.State).WithCode(models.CodeVMState))
	}
	return vm, nil
}

// VMGuestTagSet replaces a VM's guest tag (empty value: removes it) and
// returns the value it had; the VM's config drive gets it at its next
// start, as ZStack's Set/DeleteVmSshKey and Set/DeleteVmHostname.
func (a *Activities) VMGuestTagSet(ctx context.Context, p activities.GuestTagParams) (activities.GuestTagResult, error) {
	switch {
	case p.Prefix == activities.SSHKeyTag, p.Prefix == activities.HostnameTag, p.Prefix == activities.UserdataTag:
	case strings.HasPrefix(p.Prefix, activities.StaticIPTag) && p.Value == "": // DeleteVmStaticIp
	default:
		return activities.GuestTagResult{}, wrap(models.Invalid("tag %q is not a guest tag", p.Prefix))
	}
	vm, err := a.guestVM(ctx, p.VMUUID)
	if err != nil {
		return activities.GuestTagResult{}, err
	}
	prev, err := tagValue(ctx, a.Store, p.VMUUID, p.Prefix)
	if err != nil {
		return activities.GuestTagResult{}, err
	}
	res := activities.GuestTagResult{Prev: prev, State: vm.State, HostUUID: string(vm.HostUUID)}
	if prev == p.Value {
		return res, nil
	}
	return res, a.setTagValue(ctx, p.VMUUID, p.Prefix, p.Value)
}

// VMGuestTarget checks that a VM runs on the host a password was sealed
// to: a VM that stopped or moved meanwhile is VM.1010.
func (a *Activities) VMGuestTarget(ctx context.Context, p activities.GuestPasswordParams) error {
	vm, err := a.guestVM(ctx, p.VMUUID)
	if err != nil {
		return err
	}
	if vm.State != models.VMRunning || string(vm.HostUUID) != p.HostUUID {
		return wrap(models.Conflict("the vm[uuid:%s] is %s on host[uuid:%s], not Running on host[uuid:%s]: its password can change only while it runs",
			vm.UUID, vm.State, vm.HostUUID, p.HostUUID).WithCode(models.CodeVMState))
	}
	return nil
}

// stoppedVM reads a VM that must be stopped for a NIC change.
func (a *Activities) stoppedVM(ctx context.Context, vmUUID, what string) (models.VMInstance, error) {
	vm, err := a.guestVM(ctx, vmUUID)
	if err != nil {
		return vm, err
	}
	if vm.State != models.VMStopped {
		return vm, wrap(models.Conflict("the vm[uuid:%s] is %s: %s needs it Stopped", vm.UUID, vm.State, what).WithCode(models.CodeVMState))
	}
	return vm, nil
}

// VMNicMACSet gives a stopped VM's NIC a new MAC, unique among all NICs.
func (a *Activities) VMNicMACSet(ctx context.Context, p activities.NICMACParams) error {
	mac, err := activities.ValidateMAC(p.MAC)
	if err != nil {
		return wrap(err)
	}
	var nic models.VMNic
	if err := a.Store.Get(ctx, store.ResVMNic, p.NICUUID, &nic); err != nil {
		return wrap(err)
	}
	if nic.MAC == mac {
		return nil
	}
	if _, err := a.stoppedVM(ctx, nic.VMInstanceUUID, "changing a nic's mac"); err != nil {
		return err
	}
	var n int
	if err := a.Store.DB().GetContext(ctx, &n, `SELECT COUNT(*) FROM vm_nics WHERE mac = ?`, mac); err != nil {
		return err
	}
	if n > 0 {
		return wrap(models.Conflict("mac [%s] is used by another nic", mac).WithCode(models.CodeInvalidArgument))
	}
	return wrap(a.Store.Update(ctx, store.ResVMNic, nic.UUID, map[string]any{"mac": mac}))
}

// VMStaticIPSet gives a stopped VM's NIC on an L3 the address asked for
// (its old one goes back to the L3; if the new one cannot be had, the NIC
// keeps the old) and records the staticIp tag, as ZStack's SetVmStaticIp.
func (a *Activities) VMStaticIPSet(ctx context.Context, p activities.StaticIPParams) error {
	if _, err := a.stoppedVM(ctx, p.VMUUID, "changing a static ip"); err != nil {
		return err
	}
	nics, err := a.Store.VMNics(ctx, p.VMUUID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(nics, func(n models.VMNic) bool { return n.L3NetworkUUID == p.L3UUID })
	if i < 0 {
		return wrap(models.Invalid("the vm[uuid:%s] has no nic on l3 network[uuid:%s]", p.VMUUID, p.L3UUID).WithCode(models.CodeInvalidArgument))
	}
	nic := nics[i]
	tag := activities.StaticIPTag + p.L3UUID + "::"
	if string(nic.IP) != p.IP {
		old := string(nic.IP)
		if err := a.Store.ReleaseIPsOfNIC(ctx, nic.UUID); err != nil {
			return err
		}
		u, err := a.Store.AllocateIP(ctx, p.L3UUID, nic.UUID, p.IP)
		if err != nil {
			if old != "" {
				if _, rerr := a.Store.AllocateIP(ctx, p.L3UUID, nic.UUID, old); rerr != nil {
					return rerr // retried: the old address is taken back
				}
			}
			return wrap(err)
		}
		if err := a.Store.Update(ctx, store.ResVMNic, nic.UUID, map[string]any{"ip": u.IP, "netmask": u.Netmask, "gateway": u.Gateway}); err != nil {
			return wrap(err)
		}
	}
	return a.setTagValue(ctx, p.VMUUID, tag, p.IP)
}
