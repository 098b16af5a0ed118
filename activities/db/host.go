package db

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// Global configs of host liveness (ZStack conf/globalConfig/host.xml).
var hostConfigs = []models.GlobalConfig{
	{Category: "host", Name: "ping.interval", DefaultValue: "60", Description: "seconds between two pings of a host"},
	{Category: "host", Name: "ping.maxFailure", DefaultValue: "3", Description: "failed pings before a reconnect is tried"},
	{Category: "vm", Name: "deletionPolicy", DefaultValue: models.DeletePolicyDelay, Description: "Direct, Delay or Never"},
	{Category: "image", Name: "deletionPolicy", DefaultValue: models.DeletePolicyDelay, Description: "Direct, Delay or Never"},
}

// EnsureGlobalConfigs registers the global configs this package reads.
func (a *Activities) EnsureGlobalConfigs(ctx context.Context) error {
	for _, g := range slices.Concat(hostConfigs, guestConfigs, capacityConfigs, gcConfigs()) {
		if err := a.Store.EnsureGlobalConfig(ctx, g); err != nil {
			return err
		}
	}
	return nil
}

// ValidateGlobalConfig checks a new value of a global config whose values
// this package knows (each area's validator); others are taken as they are.
func ValidateGlobalConfig(category, name, value string) error {
	for _, validate := range []func(category, name, value string) error{validateGuestConfig, validateCapacityConfig, validateGCConfig} {
		if err := validate(category, name, value); err != nil {
			return err
		}
	}
	return nil
}

func (a *Activities) intConfig(ctx context.Context, cat, name string, def int) int {
	n, err := strconv.Atoi(a.Store.GlobalConfigValue(ctx, cat, name, strconv.Itoa(def)))
	if err != nil {
		return def
	}
	return n
}

// HostInfo tells host workflows what they need of a host.
func (a *Activities) HostInfo(ctx context.Context, p activities.HostRef) (activities.HostInfoResult, error) {
	var h models.Host
	if err := a.Store.Get(ctx, store.ResHost, p.HostUUID, &h); err != nil {
		return activities.HostInfoResult{}, wrap(err)
	}
	return activities.HostInfoResult{HostUUID: h.UUID, HypervisorType: h.HypervisorType, State: h.State,
		CPUCapacity: h.CPUCapacity, MemoryCapacity: h.MemoryCapacity}, nil
}

// HostRecordConnect records a connected host's facts. The first connect
// sets the capacities; later ones keep what VMs already took.
func (a *Activities) HostRecordConnect(ctx context.Context, p activities.HostConnectParams) error {
	if p.Facts.AgentVersion != hostapi.AgentVersion {
		return wrap(models.Unavailable("agent of host[uuid:%s] speaks version %q, want %q", p.HostUUID, p.Facts.AgentVersion, hostapi.AgentVersion).WithCode(models.CodeHostUnavailable))
	}
	var h models.Host
	if err := a.Store.Get(ctx, store.ResHost, p.HostUUID, &h); err != nil {
		return wrap(err)
	}
	changes := map[string]any{"status": models.StatusConnected, "cpuNum": p.Facts.CPUNum, "cpuSockets": p.Facts.CPUSockets,
		"architecture": p.Facts.Architecture, "osDistribution": p.Facts.OSDistro, "osRelease": p.Facts.OSRelease,
		"osVersion": p.Facts.OSVersion, "domainType": p.Facts.DomainType}
	kvm := h.HypervisorType == HypervisorKVM
	if !kvm && h.TotalCPUCapacity == 0 && h.TotalMemoryCapacity == 0 {
		changes["totalCpuCapacity"], changes["availableCpuCapacity"] = int64(p.Facts.CPUNum), int64(p.Facts.CPUNum)
		changes["totalMemoryCapacity"], changes["availableMemoryCapacity"] = p.Facts.MemoryBytes, p.Facts.MemoryBytes
	}
	if err := a.Store.Update(ctx, store.ResHost, p.HostUUID, changes); err != nil {
		return wrap(err)
	}
	if kvm {
		if err := a.recordKVMCapacity(ctx, p.HostUUID, p.Facts); err != nil {
			return wrap(err)
		}
	}
	if err := a.Store.SetHostSealingKey(ctx, p.HostUUID, p.Facts.SealingKey); err != nil {
		return wrap(err)
	}
	if err := a.Store.SetHostAddresses(ctx, p.HostUUID, p.Facts.Addresses); err != nil {
		return wrap(err)
	}
	_, err := a.Store.DB().ExecContext(ctx, `UPDATE hosts SET agent_version = ?, ping_failures = 0 WHERE uuid = ?`, p.Facts.AgentVersion, p.HostUUID)
	return err
}

// HostRecordPing records a ping. A failed ping marks the host Disconnected
// and, from ping.maxFailure failures on, asks for a reconnect; a good one
// marks it Connected and syncs VM states from what the host runs.
func (a *Activities) HostRecordPing(ctx context.Context, p activities.HostPingParams) (activities.HostPingRecord, error) {
	var h models.Host
	if err := a.Store.Get(ctx, store.ResHost, p.HostUUID, &h); err != nil {
		if models.AsError(err).Kind == models.KindNotFound {
			return activities.HostPingRecord{Exists: false}, nil
		}
		return activities.HostPingRecord{}, err
	}
	rec := activities.HostPingRecord{Exists: true, Interval: time.Duration(a.intConfig(ctx, "host", "ping.interval", 60)) * time.Second}
	db := a.Store.DB()
	if !p.OK {
		failures := h.PingFailures + 1
		if _, err := db.ExecContext(ctx, `UPDATE hosts SET status = ?, ping_failures = ? WHERE uuid = ?`, models.StatusDisconnected, failures, h.UUID); err != nil {
			return rec, err
		}
		a.Logger.Warn("host ping failed", "host_uuid", h.UUID, "failures", failures, "error", p.Error)
		if n, err := a.Store.MarkRoutersDisconnected(ctx, h.UUID); err != nil {
			return rec, err
		} else if n > 0 {
			a.Logger.Warn("routers of a lost host marked Unknown", "host_uuid", h.UUID, "routers", n)
		}
		rec.Reconnect = failures >= a.intConfig(ctx, "host", "ping.maxFailure", 3)
		return rec, nil
	}
	if p.Result.HostUUID != h.UUID {
		// Another host's agent answers on this queue: refuse it.
		return rec, wrap(models.Conflict("agent on queue of host[uuid:%s] reports host uuid %s", h.UUID, p.Result.HostUUID))
	}
	if _, err := db.ExecContext(ctx, `UPDATE hosts SET status = ?, ping_failures = 0 WHERE uuid = ?`, models.StatusConnected, h.UUID); err != nil {
		return rec, err
	}
	lost, err := a.Store.RoutersOfHost(ctx, h.UUID, models.VMUnknown)
	if err != nil {
		return rec, err
	}
	leftovers, err := a.Store.HasRouterLeftovers(ctx, h.UUID)
	if err != nil {
		return rec, err
	}
	rec.ReconcileRouters = len(lost) > 0 || leftovers
	known, err := a.Store.HostVMStates(ctx, h.UUID)
	if err != nil {
		return rec, err
	}
	seen := map[string]bool{}
	for _, vm := range p.Result.VMs {
		seen[vm.UUID] = true
		if _, ok := known[vm.UUID]; !ok {
			a.Logger.Warn("host runs a domain the control plane does not place there", "host_uuid", h.UUID, "vm_uuid", vm.UUID)
			continue
		}
		if err := a.syncVM(ctx, h.UUID, vm.UUID, vm.State); err != nil {
			return rec, err
		}
	}
	for uuid, state := range known {
		if !seen[uuid] && state == models.VMRunning {
			// The host no longer has it: it stopped behind our back.
			a.Logger.Warn("running vm missing on its host", "host_uuid", h.UUID, "vm_uuid", uuid)
			if err := a.syncVM(ctx, h.UUID, uuid, models.VMStopped); err != nil {
				return rec, err
			}
		}
	}
	return rec, nil
}

// syncVM applies a state the host reported. A VM found stopped gives its
// host's CPU and memory back and leaves the host, as ZStack does.
func (a *Activities) syncVM(ctx context.Context, hostUUID, vmUUID, state string) error {
	changed, err := a.Store.SyncVMState(ctx, vmUUID, hostUUID, state)
	if err != nil || !changed {
		return err
	}
	a.Logger.Info("vm state synced from host", "host_uuid", hostUUID, "vm_uuid", vmUUID, "state", state)
	if state != models.VMStopped {
		return nil
	}
	if err := a.Store.ReleaseHostOfVM(ctx, vmUUID); err != nil {
		return err
	}
	none := ""
	return a.Store.SetVMState(ctx, vmUUID, models.VMStopped, &none)
}
