package models

// Resource states shared by many resources.
const (
	StateEnabled  = "Enabled"
	StateDisabled = "Disabled"
)

// Host admin states and connection statuses (ZStack HostState, HostStatus).
const (
	HostPreMaintenance = "PreMaintenance"
	HostMaintenance    = "Maintenance"

	StatusConnecting   = "Connecting"
	StatusConnected    = "Connected"
	StatusDisconnected = "Disconnected"
)

// Storage and image statuses.
const (
	ImageReady       = "Ready"
	ImageDownloading = "Downloading"
	ImageDeleted     = "Deleted"

	VolumeReady           = "Ready"
	VolumeCreating        = "Creating"
	VolumeNotInstantiated = "NotInstantiated"
	VolumeDeleted         = "Deleted"
)

// VM states (ZStack VmInstanceState).
const (
	VMCreated    = "Created"
	VMStarting   = "Starting"
	VMRunning    = "Running"
	VMStopping   = "Stopping"
	VMStopped    = "Stopped"
	VMRebooting  = "Rebooting"
	VMDestroying = "Destroying"
	VMDestroyed  = "Destroyed"
	VMMigrating  = "Migrating"
	VMExpunging  = "Expunging"
	VMPausing    = "Pausing"
	VMPaused     = "Paused"
	VMResuming   = "Resuming"
	VMError      = "Error"
	VMUnknown    = "Unknown"
	// VMReimaging holds a stopped VM while ReimageVmInstance re-creates its
	// root volume (ZCloud's own state: ZStack serializes reimage in the
	// VM's queue instead).
	VMReimaging = "Reimaging"
)

// VMEvent names a transition of the VM state machine.
type VMEvent string

// VM events (ZStack VmInstanceStateEvent), each moving the VM into an
// intermediate state that doubles as the VM's lock: a second mutation finds
// the VM in a state its event doesn't accept and fails with VM.1010.
const (
	VMEventStart   VMEvent = "start"
	VMEventStop    VMEvent = "stop"
	VMEventReboot  VMEvent = "reboot"
	VMEventDestroy VMEvent = "destroy"
	VMEventRecover VMEvent = "recover"
	VMEventExpunge VMEvent = "expunge"
	VMEventPause   VMEvent = "pause"
	VMEventResume  VMEvent = "resume"
	VMEventMigrate VMEvent = "migrate"
	VMEventReimage VMEvent = "reimage"
)

// vmTransitions lists, for each event, the states it may start from and the
// intermediate state it holds while it runs.
var vmTransitions = map[VMEvent]struct {
	from []string
	via  string
}{
	VMEventStart:   {from: []string{VMStopped}, via: VMStarting},
	VMEventStop:    {from: []string{VMRunning, VMPaused, VMUnknown}, via: VMStopping},
	VMEventReboot:  {from: []string{VMRunning}, via: VMRebooting},
	VMEventDestroy: {from: []string{VMRunning, VMStopped, VMPaused, VMUnknown, VMError, VMCreated}, via: VMDestroying},
	VMEventRecover: {from: []string{VMDestroyed}, via: VMStopped},
	VMEventExpunge: {from: []string{VMDestroyed}, via: VMExpunging},
	VMEventPause:   {from: []string{VMRunning}, via: VMPausing},
	VMEventResume:  {from: []string{VMPaused}, via: VMResuming},
	VMEventMigrate: {from: []string{VMRunning}, via: VMMigrating},
	VMEventReimage: {from: []string{VMStopped}, via: VMReimaging},
}

// VMTransition returns the states an event may start from and the state it
// moves the VM into.
func VMTransition(e VMEvent) (from []string, via string, ok bool) {
	t, ok := vmTransitions[e]
	if !ok {
		return nil, "", false
	}
	return append([]string(nil), t.from...), t.via, true
}

// VMStateError is the VM.1010 error for an event the VM's state refuses.
func VMStateError(vmUUID, state string, e VMEvent) *Error {
	return Conflict("the vm[uuid:%s] is in state [%s], which does not allow operation [%s]", vmUUID, state, e).WithCode(CodeVMState)
}

// Host state events (ChangeHostState's stateEvent).
const (
	HostEventEnable   = "enable"
	HostEventDisable  = "disable"
	HostEventMaintain = "maintain"
)

// VM delete policies (global config vm.deletionPolicy).
const (
	DeletePolicyDirect = "Direct"
	DeletePolicyDelay  = "Delay"
	DeletePolicyNever  = "Never"
)
