// Package sim is an in-memory host driver: hypervisor, storage and network
// kept in maps, like ZStack's simulator. It serves scale tests and demos
// (thousands of simulated hosts in one process) and lets them inject latency
// and failures per operation, at start or at run time. It validates like a
// real host would (a VM needs instantiated volumes, a missing domain cannot
// start), so workflows exercised against it fail where they would on KVM.
package sim

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/driver"
	"github.com/zcloud/zcloud/models"
)

// Name is the driver's name in the registry and in HostFacts.Driver and
// HostFacts.DomainType.
const Name = "sim"

// VM is a simulated domain, as VMs returns it.
type VM struct {
	Spec  hostapi.VMSpec
	State string
	// MaxCPUNum and MaxMemorySize are how far the domain can grow online:
	// set when it is defined (compute.go).
	MaxCPUNum     int
	MaxMemorySize int64
}

// defined is the domain of a VM just defined, with its online maximums.
func defined(vm hostapi.VMSpec, state string) VM {
	return VM{Spec: cloneVM(vm), State: state, MaxCPUNum: max(maxOnlineCPUs, vm.CPUNum), MaxMemorySize: maxOnlineMemFact * vm.MemorySize}
}

// Volume is a simulated volume, as Volumes returns it.
type Volume struct {
	Spec       hostapi.VolumeSpec
	ActualSize int64
}

// Driver is a simulated host. The zero value is not usable; call New.
type Driver struct {
	cpuNum      int
	memoryBytes int64

	mu       sync.Mutex
	latency  map[string]time.Duration
	failures map[string]string
	domains  map[string]VM
	volumes  map[string]Volume
	// snapshots holds each volume's snapshots: the volume size at the time,
	// by snapshot UUID.
	snapshots map[string]map[string]int64
	// peers finds the driver a migration URI names; nil: no migration.
	peers func(uri string) *Driver
	// consolePorts holds the VNC port of each running domain, handed out
	// like libvirt's autoport: the lowest free one from 5900 (console.go).
	consolePorts map[string]int
	// cache holds the images fetched for volumes and CD-ROMs, by image
	// UUID (image_cache.go).
	cache map[string]bool
}

var _ driver.Driver = (*Driver)(nil)

// New returns an empty simulated host sized and faulted by cfg; zero sizes
// take DefaultCPUNum and DefaultMemoryBytes.
func New(cfg Config) (*Driver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sim config: %w", err)
	}
	d := &Driver{
		cpuNum:       cfg.CPUNum,
		memoryBytes:  cfg.MemoryBytes,
		latency:      maps.Clone(cfg.Latency),
		failures:     maps.Clone(cfg.Failures),
		domains:      map[string]VM{},
		volumes:      map[string]Volume{},
		snapshots:    map[string]map[string]int64{},
		consolePorts: map[string]int{},
	}
	if d.cpuNum == 0 {
		d.cpuNum = DefaultCPUNum
	}
	if d.memoryBytes == 0 {
		d.memoryBytes = DefaultMemoryBytes
	}
	if d.latency == nil {
		d.latency = map[string]time.Duration{}
	}
	if d.failures == nil {
		d.failures = map[string]string{}
	}
	return d, nil
}

// SetLatency makes every later call of op (a hostapi.Act* name or AnyOp)
// wait d first; d <= 0 removes the latency.
func (d *Driver) SetLatency(op string, lat time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if lat <= 0 {
		delete(d.latency, op)
		return
	}
	d.latency[op] = lat
}

// InjectFailure makes every later call of op (a hostapi.Act* name or AnyOp)
// fail with msg, without touching state, until ClearFailures.
func (d *Driver) InjectFailure(op, msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures[op] = msg
}

// ClearFailures removes every injected failure; latencies stay.
func (d *Driver) ClearFailures() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.failures)
}

// VMs returns a copy of every domain by UUID, for tests and inspection.
func (d *Driver) VMs() map[string]VM {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]VM, len(d.domains))
	for id, vm := range d.domains {
		out[id] = VM{Spec: cloneVM(vm.Spec), State: vm.State, MaxCPUNum: vm.MaxCPUNum, MaxMemorySize: vm.MaxMemorySize}
	}
	return out
}

// Volumes returns a copy of every volume by UUID, for tests and inspection.
func (d *Driver) Volumes() map[string]Volume {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.volumes)
}

// wait sleeps the latency set for op, giving up when ctx ends.
func (d *Driver) wait(ctx context.Context, op string) error {
	d.mu.Lock()
	lat, ok := d.latency[op]
	if !ok {
		lat = d.latency[AnyOp]
	}
	d.mu.Unlock()
	if lat <= 0 {
		return nil
	}
	t := time.NewTimer(lat)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sim: waiting %s of latency: %w", lat, ctx.Err())
	}
}

// injected returns the failure set for op. The caller holds d.mu, so that a
// failing call changes nothing.
func (d *Driver) injected(op string) error {
	msg, ok := d.failures[op]
	if !ok {
		msg, ok = d.failures[AnyOp]
	}
	if !ok {
		return nil
	}
	if msg == "" {
		return fmt.Errorf("sim: %w", driver.ErrInjected)
	}
	return fmt.Errorf("sim: %w: %s", driver.ErrInjected, msg)
}

// begin runs the latency of op, then locks the driver and checks for an
// injected failure. On success the caller must call d.mu.Unlock.
func (d *Driver) begin(ctx context.Context, op string) error {
	if err := d.wait(ctx, op); err != nil {
		return err
	}
	d.mu.Lock()
	if err := d.injected(op); err != nil {
		d.mu.Unlock()
		return err
	}
	return nil
}

// Facts reports the configured size of the simulated host.
func (d *Driver) Facts(ctx context.Context) (hostapi.HostFacts, error) {
	if err := d.begin(ctx, hostapi.ActConnect); err != nil {
		return hostapi.HostFacts{}, err
	}
	defer d.mu.Unlock()
	return hostapi.HostFacts{
		Driver:        Name,
		DomainType:    Name,
		CPUNum:        d.cpuNum,
		CPUSockets:    1,
		MemoryBytes:   d.memoryBytes,
		Architecture:  "x86_64",
		OSDistro:      "zcloud-sim",
		OSRelease:     "1",
		OSVersion:     "1",
		HypervisorVer: "sim-1",
	}, nil
}

// ListVMs reports every domain, sorted by UUID.
func (d *Driver) ListVMs(ctx context.Context) ([]hostapi.VMState, error) {
	if err := d.begin(ctx, hostapi.ActPing); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	out := make([]hostapi.VMState, 0, len(d.domains))
	for _, id := range slices.Sorted(maps.Keys(d.domains)) {
		out = append(out, hostapi.VMState{UUID: id, State: d.domains[id].State})
	}
	return out, nil
}

// normalizeVolume fills what a host would choose: the format and the path.
func normalizeVolume(v hostapi.VolumeSpec) hostapi.VolumeSpec {
	if v.Format == "" {
		v.Format = "qcow2"
	}
	if v.InstallPath == "" {
		v.InstallPath = path.Join("/zcloud-sim", v.PrimaryStorageUUID, v.UUID+"."+v.Format)
	}
	return v
}

// sameVolume reports whether two volume specs describe the same storage;
// the device ID and the QoS are the VM's business, not the storage's.
func sameVolume(a, b hostapi.VolumeSpec) bool {
	a.DeviceID, b.DeviceID = 0, 0
	a.QoS, b.QoS = nil, nil
	return a == b
}

// InstantiateVolume records the volume. Instantiating it again with the same
// spec returns the same result; with another spec it is a conflict.
func (d *Driver) InstantiateVolume(ctx context.Context, vol hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	const op = hostapi.ActInstantiateVolume
	if err := validateVolume(vol); err != nil {
		return hostapi.InstantiateVolumeResult{}, fmt.Errorf("sim: %w", err)
	}
	if err := d.begin(ctx, op); err != nil {
		return hostapi.InstantiateVolumeResult{}, err
	}
	defer d.mu.Unlock()
	vol = normalizeVolume(vol)
	if have, ok := d.volumes[vol.UUID]; ok {
		if !sameVolume(have.Spec, vol) {
			return hostapi.InstantiateVolumeResult{}, fmt.Errorf("sim: %w",
				models.Conflict("volume %s exists with another spec", vol.UUID))
		}
		return hostapi.InstantiateVolumeResult{InstallPath: have.Spec.InstallPath, ActualSize: have.ActualSize}, nil
	}
	v := Volume{Spec: vol, ActualSize: vol.Size}
	d.volumes[vol.UUID] = v
	d.cacheImage(vol.ImageUUID)
	return hostapi.InstantiateVolumeResult{InstallPath: vol.InstallPath, ActualSize: v.ActualSize}, nil
}

func validateVolume(v hostapi.VolumeSpec) error {
	switch {
	case v.UUID == "":
		return models.Invalid("volume uuid is empty")
	case v.Size < 0:
		return models.Invalid("volume %s has negative size %d", v.UUID, v.Size)
	case v.Size == 0 && v.ImageUUID == "" && v.ImageURL == "":
		return models.Invalid("volume %s has neither a size nor an image", v.UUID)
	}
	return nil
}

// DeleteVolume forgets the volume. A missing volume is fine; one that a
// defined domain uses is a conflict, as deleting a disk under a VM would be.
func (d *Driver) DeleteVolume(ctx context.Context, vol hostapi.VolumeSpec) error {
	const op = hostapi.ActDeleteVolume
	if vol.UUID == "" {
		return fmt.Errorf("sim: %w", models.Invalid("volume uuid is empty"))
	}
	if err := d.begin(ctx, op); err != nil {
		return err
	}
	defer d.mu.Unlock()
	if _, ok := d.volumes[vol.UUID]; !ok {
		return nil
	}
	if user := d.volumeUser(vol.UUID); user != "" {
		return fmt.Errorf("sim: %w", models.Conflict("volume %s is used by vm %s", vol.UUID, user))
	}
	delete(d.volumes, vol.UUID)
	delete(d.snapshots, vol.UUID)
	return nil
}

// volumeUser returns the UUID of the domain that uses volume, or "".
func (d *Driver) volumeUser(volUUID string) string {
	for id, vm := range d.domains {
		if slices.Contains(volumeUUIDs(vm.Spec), volUUID) {
			return id
		}
	}
	return ""
}

func volumeUUIDs(vm hostapi.VMSpec) []string {
	ids := []string{vm.RootVolume.UUID}
	for _, v := range vm.DataVolumes {
		ids = append(ids, v.UUID)
	}
	return ids
}

// checkVolumes reports a volume of vm that is not instantiated here or that
// another domain uses. The caller holds d.mu.
func (d *Driver) checkVolumes(vm hostapi.VMSpec) error {
	for _, id := range volumeUUIDs(vm) {
		if _, ok := d.volumes[id]; !ok {
			return models.Invalid("volume %s of vm %s is not instantiated on this host", id, vm.UUID)
		}
		if user := d.volumeUser(id); user != "" && user != vm.UUID {
			return models.Conflict("volume %s of vm %s is used by vm %s", id, vm.UUID, user)
		}
	}
	return nil
}

func sameVM(a, b hostapi.VMSpec) bool {
	return a.UUID == b.UUID && a.Name == b.Name && a.CPUNum == b.CPUNum &&
		a.MemorySize == b.MemorySize && a.Platform == b.Platform &&
		sameVolume(a.RootVolume, b.RootVolume) &&
		slices.EqualFunc(a.DataVolumes, b.DataVolumes, sameVolume) &&
		slices.Equal(a.NICs, b.NICs)
}

func cloneVM(vm hostapi.VMSpec) hostapi.VMSpec {
	vm.DataVolumes = slices.Clone(vm.DataVolumes)
	vm.NICs = slices.Clone(vm.NICs)
	vm.BootOrder = slices.Clone(vm.BootOrder)
	if vm.ISO != nil {
		iso := *vm.ISO
		vm.ISO = &iso
	}
	return vm
}

// CreateVM defines the domain and starts it when start is set. Creating an
// existing domain with the same spec succeeds (and starts it if asked);
// with another spec it is a conflict.
func (d *Driver) CreateVM(ctx context.Context, vm hostapi.VMSpec, start bool) (string, error) {
	const op = hostapi.ActCreateVM
	if err := driver.ValidateVM(vm); err != nil {
		return "", fmt.Errorf("sim: %w", err)
	}
	if err := d.begin(ctx, op); err != nil {
		return "", err
	}
	defer d.mu.Unlock()
	if have, ok := d.domains[vm.UUID]; ok {
		if !sameVM(have.Spec, vm) {
			return "", fmt.Errorf("sim: %w", models.Conflict("vm %s exists with another spec", vm.UUID))
		}
		if start {
			have.State = hostapi.PowerRunning
			d.domains[vm.UUID] = have
		}
		return have.State, nil
	}
	if err := d.checkVolumes(vm); err != nil {
		return "", fmt.Errorf("sim: %w", err)
	}
	state := hostapi.PowerStopped
	if start {
		state = hostapi.PowerRunning
	}
	d.domains[vm.UUID] = defined(vm, state)
	return state, nil
}

// StartVM redefines a known domain from vm and runs it; starting a running
// domain succeeds.
func (d *Driver) StartVM(ctx context.Context, vm hostapi.VMSpec) (string, error) {
	const op = hostapi.ActStartVM
	if err := driver.ValidateVM(vm); err != nil {
		return "", fmt.Errorf("sim: %w", err)
	}
	if err := d.begin(ctx, op); err != nil {
		return "", err
	}
	defer d.mu.Unlock()
	if _, ok := d.domains[vm.UUID]; !ok {
		return "", fmt.Errorf("sim: %w", models.NotFound("vm %s is not defined on this host", vm.UUID))
	}
	if err := d.checkVolumes(vm); err != nil {
		return "", fmt.Errorf("sim: %w", err)
	}
	d.domains[vm.UUID] = defined(vm, hostapi.PowerRunning)
	return hostapi.PowerRunning, nil
}

// StopVM stops the domain at once whatever the type, as a guest that obeys
// ACPI would. A stopped or missing domain is already stopped.
func (d *Driver) StopVM(ctx context.Context, vmUUID, typ string, grace time.Duration) (string, error) {
	const op = hostapi.ActStopVM
	switch {
	case vmUUID == "":
		return "", fmt.Errorf("sim: %w", models.Invalid("vm uuid is empty"))
	case typ != "" && typ != driver.StopGrace && typ != driver.StopCold:
		return "", fmt.Errorf("sim: %w", models.Invalid("stop type %q, want %s or %s", typ, driver.StopGrace, driver.StopCold))
	case grace < 0:
		return "", fmt.Errorf("sim: %w", models.Invalid("grace timeout %s is negative", grace))
	}
	if err := d.begin(ctx, op); err != nil {
		return "", err
	}
	defer d.mu.Unlock()
	if vm, ok := d.domains[vmUUID]; ok {
		vm.State = hostapi.PowerStopped
		d.domains[vmUUID] = vm
	}
	return hostapi.PowerStopped, nil
}

// RebootVM restarts the domain; a stopped one ends up running.
func (d *Driver) RebootVM(ctx context.Context, vmUUID string) (string, error) {
	const op = hostapi.ActRebootVM
	if vmUUID == "" {
		return "", fmt.Errorf("sim: %w", models.Invalid("vm uuid is empty"))
	}
	if err := d.begin(ctx, op); err != nil {
		return "", err
	}
	defer d.mu.Unlock()
	vm, ok := d.domains[vmUUID]
	if !ok {
		return "", fmt.Errorf("sim: %w", models.NotFound("vm %s is not defined on this host", vmUUID))
	}
	vm.State = hostapi.PowerRunning
	d.domains[vmUUID] = vm
	return vm.State, nil
}

// DestroyVM forgets the domain, keeping its volumes; a missing domain is
// fine.
func (d *Driver) DestroyVM(ctx context.Context, vmUUID string) error {
	const op = hostapi.ActDestroyVM
	if vmUUID == "" {
		return fmt.Errorf("sim: %w", models.Invalid("vm uuid is empty"))
	}
	if err := d.begin(ctx, op); err != nil {
		return err
	}
	defer d.mu.Unlock()
	delete(d.domains, vmUUID)
	return nil
}
