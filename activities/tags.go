package activities

import (
	"regexp"
	"strings"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// TagApply checks a tag API's change (resource type, resource, owner,
// pattern, inherent) and makes it, or hands a VM guest tag to the guest
// configuration workflow.
const TagApply = "db.TagApply"

// TagInventory renders tags (system or user) by UUID as a job's result.
const TagInventory = "db.TagInventory"

// TagInventoryParams names the tags to render: one under Key "inventory",
// a list under "inventories".
type TagInventoryParams struct {
	Type  string   `json:"type"`
	UUIDs []string `json:"uuids"`
	Key   string   `json:"key"`
}

// TagChangesParams is the job of a tag API: its changes, made in order
// (and undone in reverse when one fails), and the reply key.
type TagChangesParams struct {
	Changes []TagParams `json:"changes"`
	Key     string      `json:"key,omitempty"`
}

// Tag API actions.
const (
	TagCreate = "Create"
	TagUpdate = "Update"
	TagDelete = "Delete"
)

// Tag types, as the tag tables' type column holds them.
const (
	TagTypeSystem = "System"
	TagTypeUser   = "User"
)

// TagParams is one change of the tag APIs: Create (ResourceUUID,
// ResourceType as ZStack names it, e.g. VmInstanceVO, Tag, Type), Update
// (TagUUID, Tag; system tags only) or Delete (TagUUID).
type TagParams struct {
	Action       string `json:"action"`
	TagUUID      string `json:"tagUuid,omitempty"`
	ResourceUUID string `json:"resourceUuid,omitempty"`
	ResourceType string `json:"resourceType,omitempty"`
	Tag          string `json:"tag,omitempty"`
	Type         string `json:"type,omitempty"`
	AccountUUID  string `json:"accountUuid"`
}

// TagPlan is what TagApply did or left to do: the tag's UUID and type,
// and, for a VM's guest tag, the change that the guest configuration
// workflow makes (it pushes a running VM's host too).
type TagPlan struct {
	UUID    string          `json:"uuid"`
	Type    string          `json:"type"`
	Created bool            `json:"created,omitempty"`
	Guest   *GuestTagParams `json:"guest,omitempty"`
}

// TagPattern is a system tag ZCloud reads, on one resource type (store
// name). A tag is Prefix+value, or exactly Prefix when Exact. Check
// validates the value; ManagedBy names the APIs that alone may change the
// tag (a raw tag write would bypass their checks and host steps); Guest
// marks the guest configuration tags served to the guest.
type TagPattern struct {
	Resource  string
	Prefix    string
	Format    string
	Exact     bool
	Guest     bool
	Check     func(value string) error
	ManagedBy string
	// Many: a resource may carry several tags of the pattern; otherwise
	// it has one, changed by UpdateSystemTag.
	Many bool
}

// cpuModelName is a libvirt CPU model name (Haswell-noTSX, EPYC-v2, ...).
var cpuModelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$`)

// SystemTagPatterns are the system tags ZCloud knows, per resource type.
// Any other system tag is refused: ZCloud would store it and ignore it.
var SystemTagPatterns = []TagPattern{
	{Resource: "VmInstance", Prefix: UserdataTag, Format: UserdataTag + "<base64>", Guest: true, Check: checkUserdata},
	{Resource: "VmInstance", Prefix: SSHKeyTag, Format: SSHKeyTag + "<public key>", Guest: true, Check: hostapi.ValidateSSHKey},
	{Resource: "VmInstance", Prefix: HostnameTag, Format: HostnameTag + "<hostname>", Guest: true, Check: hostapi.ValidateHostname},
	{Resource: "VmInstance", Prefix: StaticIPTag, Format: StaticIPTag + "<l3Uuid>::<ip>", ManagedBy: "SetVmStaticIp and DeleteVmStaticIp"},
	{Resource: "VmInstance", Prefix: CustomMACTag, Format: CustomMACTag + "<l3Uuid>::<mac>",
		ManagedBy: "UpdateVmNicMac (customMac is read only when the VM is created)"},
	{Resource: "VmInstance", Prefix: ConsolePasswordTag, Format: ConsolePasswordTag + "<password>",
		ManagedBy: "SetVmConsolePassword and DeleteVmConsolePassword"},
	{Resource: "VmInstance", Prefix: ISOTag, Format: ISOTag + "<imageUuid>", ManagedBy: "AttachIsoToVmInstance and DetachIsoFromVmInstance"},
	{Resource: "VmInstance", Prefix: BootOrderTag, Format: BootOrderTag + "<devices>", ManagedBy: "SetVmBootOrder"},
	{Resource: "Volume", Prefix: VolumeShareableTag, Format: VolumeShareableTag, Exact: true,
		ManagedBy: "CreateDataVolume (a volume is made shareable only when it is created)"},
	{Resource: "Vip", Prefix: "vipQos::", Format: "vipQos::inboundBandwidth::<bps>::outboundBandwidth::<bps>", ManagedBy: "SetVipQos and DeleteVipQos"},
	{Resource: "Cluster", Prefix: ClusterCPUModelTag, Format: ClusterCPUModelTag + "<cpu model>", Check: checkCPUModel},
	{Resource: "VirtualRouterOffering", Prefix: GuestL3NetworkTag, Format: GuestL3NetworkTag + "<l3Uuid>", Check: checkUUID, Many: true},
}

// GuestL3NetworkTag on a virtual router offering makes it the offering of
// an L3's on-demand router.
const GuestL3NetworkTag = "guestL3Network::"

// MatchSystemTag finds the pattern of a system tag on a resource type
// (store name); it says why when there is none, in ZStack's words.
func MatchSystemTag(resource, tag string) (TagPattern, error) {
	for _, p := range SystemTagPatterns {
		if p.Resource != resource {
			continue
		}
		if p.Exact && tag == p.Prefix || !p.Exact && strings.HasPrefix(tag, p.Prefix) {
			return p, nil
		}
	}
	return TagPattern{}, models.Invalid("no system tag matches[%s] for resourceType[%s]", tag, resource+"VO").WithCode(models.CodeInvalidArgument)
}

// Value is the value a tag of the pattern carries.
func (p TagPattern) Value(tag string) string { return strings.TrimPrefix(tag, p.Prefix) }

// Validate checks a tag the tag APIs would write: refused when an API
// manages it, else its value checked.
func (p TagPattern) Validate(tag string) error {
	if p.ManagedBy != "" {
		return models.Invalid("system tag [%s] (%s) cannot be set or removed directly: use %s", tag, p.Format, p.ManagedBy).
			WithCode(models.CodeInvalidArgument)
	}
	if p.Check == nil {
		return nil
	}
	if err := p.Check(p.Value(tag)); err != nil {
		e := models.AsError(err)
		return models.Invalid("bad system tag [%s], want %s: %s", tag, p.Format, e.Message).WithCode(models.CodeInvalidArgument)
	}
	return nil
}

func checkUserdata(v string) error {
	ud, err := DecodeUserdata(v)
	if err != nil {
		return err
	}
	return hostapi.ValidateGuest(hostapi.GuestSpec{UserData: ud})
}

func checkCPUModel(v string) error {
	if !cpuModelName.MatchString(v) {
		return models.Invalid("[%s] is not a cpu model name", v)
	}
	return nil
}

func checkUUID(v string) error {
	if !models.IsUUID(v) {
		return models.Invalid("[%s] is not a uuid", v)
	}
	return nil
}
