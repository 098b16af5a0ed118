// Package driver is the contract between the host agent and the hypervisor,
// storage and network drivers it runs on (libvirt, sim). It sits below both
// the agent and the drivers, as database/sql/driver does for database/sql, so
// that a driver package imports neither Temporal nor the agent.
package driver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// ErrInjected marks a failure that a test or demo asked a driver to produce
// (the sim's fault injection). The agent reports it as
// hostapi.ErrTypeInjected, never retried, so that a saga's rollback is what
// gets exercised.
var ErrInjected = errors.New("injected failure")

// Stop types of hostapi.StopVMParams.Type.
const (
	StopGrace = "grace" // ask the guest, force after the grace timeout
	StopCold  = "cold"  // force at once
)

// Driver does the host side of every hostapi activity. The agent calls it
// from many goroutines at once, so implementations are safe for concurrent
// use.
//
// Every method is idempotent because an activity may run again after the
// agent died half way: instantiating an existing identical volume, creating
// an existing identical VM, stopping a stopped or missing VM, and destroying
// or deleting what is already gone all succeed. Errors carry a models kind
// (models.ErrNotFound, models.ErrInvalid, models.ErrConflict),
// errors.ErrUnsupported or ErrInjected when the failure is a business one;
// anything else is taken for a transient failure and retried.
type Driver interface {
	// Facts reports the host's hardware and software. The agent fills in the
	// host UUID and the agent version.
	Facts(ctx context.Context) (hostapi.HostFacts, error)
	// ListVMs reports every domain on the host with its power state; the host
	// is the truth the control plane syncs to.
	ListVMs(ctx context.Context) ([]hostapi.VMState, error)
	// InstantiateVolume creates a volume's file or device, or finds it made.
	InstantiateVolume(ctx context.Context, vol hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error)
	// DeleteVolume removes a volume; a missing one is not an error.
	DeleteVolume(ctx context.Context, vol hostapi.VolumeSpec) error
	// CreateVM defines a domain on instantiated volumes and, if start is set,
	// starts it. It returns the domain's power state.
	CreateVM(ctx context.Context, vm hostapi.VMSpec, start bool) (string, error)
	// StartVM (re)defines a known domain from vm and starts it; a domain the
	// host does not know is models.ErrNotFound.
	StartVM(ctx context.Context, vm hostapi.VMSpec) (string, error)
	// StopVM stops a domain: typ StopGrace (or empty) asks the guest and
	// forces after grace, StopCold forces at once. A missing domain counts as stopped,
	// as in ZStack's agent.
	StopVM(ctx context.Context, vmUUID, typ string, grace time.Duration) (string, error)
	// RebootVM restarts a domain (stop then start, so a stopped one ends up
	// running, as in ZStack's agent).
	RebootVM(ctx context.Context, vmUUID string) (string, error)
	// DestroyVM stops and undefines a domain, leaving its volumes; a missing
	// domain is not an error.
	DestroyVM(ctx context.Context, vmUUID string) error

	// PauseVM freezes a running domain; a paused one stays paused. A stopped
	// domain is models.ErrConflict, a missing one models.ErrNotFound.
	PauseVM(ctx context.Context, vmUUID string) (string, error)
	// ResumeVM unfreezes a paused domain; a running one keeps running. A
	// stopped domain is models.ErrConflict, a missing one models.ErrNotFound.
	ResumeVM(ctx context.Context, vmUUID string) (string, error)
	// MigrateVM moves a running domain live to p.DestinationURI and returns
	// its state there. A domain already gone from here and running there has
	// migrated: that succeeds.
	MigrateVM(ctx context.Context, p hostapi.MigrateVMParams) (string, error)

	// AttachVolume plugs an instantiated volume into a domain, live when it
	// runs and in its definition, and returns the device name.
	AttachVolume(ctx context.Context, vmUUID string, vol hostapi.VolumeSpec) (string, error)
	// DetachVolume unplugs a volume from a domain, live and from its
	// definition; a volume not attached, or a missing domain, is fine.
	DetachVolume(ctx context.Context, vmUUID string, vol hostapi.VolumeSpec) error
	// ResizeVolume grows a volume to size bytes, online when a running
	// domain uses it, and returns the new virtual size. Shrinking is
	// models.ErrInvalid.
	ResizeVolume(ctx context.Context, vol hostapi.VolumeSpec, size int64) (int64, error)
	// CreateVolumeSnapshot takes snapshot snapshotUUID of vol, or finds it
	// taken.
	CreateVolumeSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string) (hostapi.VolumeSnapshotResult, error)
	// RevertVolumeSnapshot puts vol back to the snapshot; a running domain
	// using vol is models.ErrConflict.
	RevertVolumeSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string) error
	// DeleteVolumeSnapshot removes the snapshot; a missing one is fine.
	DeleteVolumeSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string) error
	// CreateVolumeFromSnapshot makes target a standalone copy of vol at the
	// snapshot (or as it is now when snapshotUUID is empty), or finds it
	// made.
	CreateVolumeFromSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string, target hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error)
	// UploadVolumeImage writes a standalone image of vol (at the snapshot
	// p.SnapshotUUID, or as it is now) and uploads it to p.UploadURL;
	// uploading an image the backup storage holds already succeeds.
	UploadVolumeImage(ctx context.Context, p hostapi.UploadVolumeImageParams) (hostapi.UploadVolumeImageResult, error)

	// VMConsole reports where a running domain's console listens, read from
	// the live domain. A stopped domain is models.ErrConflict, a missing one
	// models.ErrNotFound.
	VMConsole(ctx context.Context, vmUUID string) (hostapi.VMConsole, error)
	// SetVMConsolePassword sets (empty: removes) a domain's console
	// password in its definition, and on its running display when the
	// hypervisor can (it reports whether it did); setting the one it has
	// succeeds. A missing domain is models.ErrNotFound.
	SetVMConsolePassword(ctx context.Context, vmUUID, password string) (live bool, err error)
	// AttachISO fetches iso into the image cache and inserts it into the
	// domain's CD-ROM drive, live when it runs and in its definition; the
	// ISO already in succeeds. A missing domain is models.ErrNotFound.
	AttachISO(ctx context.Context, vmUUID string, iso hostapi.ISOSpec) error
	// DetachISO ejects the domain's CD-ROM, live and in its definition; an
	// empty drive or a missing domain is fine.
	DetachISO(ctx context.Context, vmUUID string) error
	// SetVMCompute grows a running domain's vCPUs and memory online, up to
	// the maximums it was defined with; shrinking is errors.ErrUnsupported,
	// beyond the maximums models.ErrInvalid, a stopped domain
	// models.ErrConflict.
	SetVMCompute(ctx context.Context, vmUUID string, cpuNum int, memorySize int64) error
	// AttachNIC plugs nic into the domain, live when it runs and in its
	// definition; a NIC already plugged succeeds. A missing domain is
	// models.ErrNotFound.
	AttachNIC(ctx context.Context, vmUUID string, nic hostapi.NICSpec) error
	// DetachNIC unplugs nic from the domain, live and from its definition;
	// a NIC not plugged, or a missing domain, is fine.
	DetachNIC(ctx context.Context, vmUUID string, nic hostapi.NICSpec) error

	// CloneVolume makes target a copy of vol as it is now (see
	// hostapi.CloneVolumeParams), live-safe while a domain runs on vol, or
	// finds it made.
	CloneVolume(ctx context.Context, vol, target hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error)
	// ReimageVolume re-creates a root volume from its image at its path,
	// keeping the old file if the new one can't be made; a running domain
	// on it is models.ErrConflict.
	ReimageVolume(ctx context.Context, vol hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error)

	// SetVolumeQoS gives vol.QoS (nil: unlimited) to vol's disk in the
	// domain, live when it runs and in its definition. A missing domain is
	// models.ErrNotFound, a volume not in it models.ErrInvalid.
	SetVolumeQoS(ctx context.Context, vmUUID string, vol hostapi.VolumeSpec) error
	// VolumeQoS reads the limits the running domain applies to vol's disk.
	// A stopped domain is models.ErrConflict, a missing one
	// models.ErrNotFound.
	VolumeQoS(ctx context.Context, vmUUID string, vol hostapi.VolumeSpec) (hostapi.VolumeQoS, error)

	// SetGuestPassword changes account's password inside the running
	// guest through its guest agent. A guest without a connected agent, or
	// a domain not running, is models.ErrConflict; a missing one
	// models.ErrNotFound.
	SetGuestPassword(ctx context.Context, vmUUID, account, password string) error

	// CleanUpImageCache removes the cached images that no volume on the
	// host uses as a backing file, no domain uses and no download is
	// writing right now, and reports what it removed and kept.
	CleanUpImageCache(ctx context.Context) (hostapi.CleanUpImageCacheResult, error)
}

// Base answers every Driver method with errors.ErrUnsupported. A driver that
// does only part of the contract embeds it and overrides what it can, and the
// control plane gets a clear, non-retried "not supported" for the rest.
type Base struct{}

var _ Driver = Base{}

func unsupported() error {
	return fmt.Errorf("%w by this driver", errors.ErrUnsupported)
}

// Facts is not supported.
func (Base) Facts(context.Context) (hostapi.HostFacts, error) {
	return hostapi.HostFacts{}, unsupported()
}

// ListVMs is not supported.
func (Base) ListVMs(context.Context) ([]hostapi.VMState, error) {
	return nil, unsupported()
}

// InstantiateVolume is not supported.
func (Base) InstantiateVolume(context.Context, hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	return hostapi.InstantiateVolumeResult{}, unsupported()
}

// DeleteVolume is not supported.
func (Base) DeleteVolume(context.Context, hostapi.VolumeSpec) error {
	return unsupported()
}

// CreateVM is not supported.
func (Base) CreateVM(context.Context, hostapi.VMSpec, bool) (string, error) {
	return "", unsupported()
}

// StartVM is not supported.
func (Base) StartVM(context.Context, hostapi.VMSpec) (string, error) {
	return "", unsupported()
}

// StopVM is not supported.
func (Base) StopVM(context.Context, string, string, time.Duration) (string, error) {
	return "", unsupported()
}

// RebootVM is not supported.
func (Base) RebootVM(context.Context, string) (string, error) {
	return "", unsupported()
}

// DestroyVM is not supported.
func (Base) DestroyVM(context.Context, string) error {
	return unsupported()
}

// PauseVM is not supported.
func (Base) PauseVM(context.Context, string) (string, error) {
	return "", unsupported()
}

// ResumeVM is not supported.
func (Base) ResumeVM(context.Context, string) (string, error) {
	return "", unsupported()
}

// MigrateVM is not supported.
func (Base) MigrateVM(context.Context, hostapi.MigrateVMParams) (string, error) {
	return "", unsupported()
}

// AttachVolume is not supported.
func (Base) AttachVolume(context.Context, string, hostapi.VolumeSpec) (string, error) {
	return "", unsupported()
}

// DetachVolume is not supported.
func (Base) DetachVolume(context.Context, string, hostapi.VolumeSpec) error {
	return unsupported()
}

// ResizeVolume is not supported.
func (Base) ResizeVolume(context.Context, hostapi.VolumeSpec, int64) (int64, error) {
	return 0, unsupported()
}

// CreateVolumeSnapshot is not supported.
func (Base) CreateVolumeSnapshot(context.Context, hostapi.VolumeSpec, string) (hostapi.VolumeSnapshotResult, error) {
	return hostapi.VolumeSnapshotResult{}, unsupported()
}

// RevertVolumeSnapshot is not supported.
func (Base) RevertVolumeSnapshot(context.Context, hostapi.VolumeSpec, string) error {
	return unsupported()
}

// DeleteVolumeSnapshot is not supported.
func (Base) DeleteVolumeSnapshot(context.Context, hostapi.VolumeSpec, string) error {
	return unsupported()
}

// CreateVolumeFromSnapshot is not supported.
func (Base) CreateVolumeFromSnapshot(context.Context, hostapi.VolumeSpec, string, hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	return hostapi.InstantiateVolumeResult{}, unsupported()
}

// UploadVolumeImage is not supported.
func (Base) UploadVolumeImage(context.Context, hostapi.UploadVolumeImageParams) (hostapi.UploadVolumeImageResult, error) {
	return hostapi.UploadVolumeImageResult{}, unsupported()
}

// VMConsole is not supported.
func (Base) VMConsole(context.Context, string) (hostapi.VMConsole, error) {
	return hostapi.VMConsole{}, unsupported()
}

// SetVMConsolePassword is not supported.
func (Base) SetVMConsolePassword(context.Context, string, string) (bool, error) {
	return false, unsupported()
}

// AttachISO is not supported.
func (Base) AttachISO(context.Context, string, hostapi.ISOSpec) error {
	return unsupported()
}

// DetachISO is not supported.
func (Base) DetachISO(context.Context, string) error {
	return unsupported()
}

// SetVMCompute is not supported.
func (Base) SetVMCompute(context.Context, string, int, int64) error {
	return unsupported()
}

// AttachNIC is not supported.
func (Base) AttachNIC(context.Context, string, hostapi.NICSpec) error {
	return unsupported()
}

// DetachNIC is not supported.
func (Base) DetachNIC(context.Context, string, hostapi.NICSpec) error {
	return unsupported()
}

// CloneVolume is not supported.
func (Base) CloneVolume(context.Context, hostapi.VolumeSpec, hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	return hostapi.InstantiateVolumeResult{}, unsupported()
}

// ReimageVolume is not supported.
func (Base) ReimageVolume(context.Context, hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	return hostapi.InstantiateVolumeResult{}, unsupported()
}

// SetVolumeQoS is not supported.
func (Base) SetVolumeQoS(context.Context, string, hostapi.VolumeSpec) error {
	return unsupported()
}

// VolumeQoS is not supported.
func (Base) VolumeQoS(context.Context, string, hostapi.VolumeSpec) (hostapi.VolumeQoS, error) {
	return hostapi.VolumeQoS{}, unsupported()
}

// SetGuestPassword is not supported.
func (Base) SetGuestPassword(context.Context, string, string, string) error {
	return unsupported()
}

// CleanUpImageCache is not supported.
func (Base) CleanUpImageCache(context.Context) (hostapi.CleanUpImageCacheResult, error) {
	return hostapi.CleanUpImageCacheResult{}, unsupported()
}

// ValidateVM checks what every driver needs of a VM spec: an identity,
// CPUs, memory and a root volume.
func ValidateVM(vm hostapi.VMSpec) error {
	switch {
	case vm.UUID == "":
		return models.Invalid("vm uuid is empty")
	case vm.CPUNum <= 0:
		return models.Invalid("vm %s has %d cpus", vm.UUID, vm.CPUNum)
	case vm.MemorySize <= 0:
		return models.Invalid("vm %s has memory size %d", vm.UUID, vm.MemorySize)
	case vm.RootVolume.UUID == "":
		return models.Invalid("vm %s has no root volume", vm.UUID)
	}
	return hostapi.ValidateConsolePassword(vm.ConsolePassword)
}
