package activities

import "time"

// Activities of the garbage collector that expunges deleted resources once
// their expunge period has passed, and of backup storage capacity.
const (
	// GCConfigs reads the deletion policy, expunge period and interval of
	// every kind of resource the collector expunges.
	GCConfigs = "db.GCConfigs"
	// GCCandidates lists the resources of one kind deleted longer than
	// the period ago.
	GCCandidates = "db.GCCandidates"
	// VolumeDeletePolicy returns the global volume.deletionPolicy.
	VolumeDeletePolicy = "db.VolumeDeletePolicy"
	// BSRecordCapacity records the capacity a backup storage agent
	// reported (bsapi.ActStats).
	BSRecordCapacity = "db.BSRecordCapacity"
)

// Kinds of resources the collector expunges; each has its global configs
// deletionPolicy, expungePeriod and expungeInterval under this category.
const (
	GCKindVM     = "vm"
	GCKindImage  = "image"
	GCKindVolume = "volume"
)

// GCKindConfig is one kind's collector settings.
type GCKindConfig struct {
	Kind     string        `json:"kind"`
	Policy   string        `json:"policy"`
	Period   time.Duration `json:"period"`
	Interval time.Duration `json:"interval"`
}

// GCConfigsResult holds the settings of every kind, in the order a round
// handles them.
type GCConfigsResult struct {
	Kinds []GCKindConfig `json:"kinds"`
}

// GCCandidatesParams asks for at most Limit resources of Kind deleted
// longer than Period ago.
type GCCandidatesParams struct {
	Kind   string        `json:"kind"`
	Period time.Duration `json:"period"`
	Limit  int           `json:"limit"`
}

// GCCandidate is one resource to expunge: a VM or volume by UUID, or an
// image's copies on the backup storages named.
type GCCandidate struct {
	UUID    string   `json:"uuid"`
	BSUUIDs []string `json:"backupStorageUuids,omitempty"`
}

// GCCandidatesResult lists the resources due, oldest first; More says the
// limit cut the list short.
type GCCandidatesResult struct {
	Candidates []GCCandidate `json:"candidates"`
	More       bool          `json:"more,omitempty"`
}

// BSCapacityParams records a backup storage's capacity.
type BSCapacityParams struct {
	BSUUID            string `json:"backupStorageUuid"`
	TotalCapacity     int64  `json:"totalCapacity"`
	AvailableCapacity int64  `json:"availableCapacity"`
}
