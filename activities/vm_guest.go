package activities

import (
	"encoding/base64"
	"net"
	"slices"
	"strings"

	"github.com/zcloud/zcloud/models"
)

// Guest configuration activities: what a guest learns at boot (user-data,
// SSH key, hostname, kept as ZStack's system tags), its password through
// the guest agent, its NICs' MAC and static addresses.
const (
	// VMGuestTagSet replaces (empty value: removes) a VM's guest system
	// tag and returns the value it had.
	VMGuestTagSet = "db.VMGuestTagSet"
	// VMGuestTarget checks a VM still runs on the host a password was
	// sealed to.
	VMGuestTarget = "db.VMGuestTarget"
	// VMNicMACSet changes the MAC of a stopped VM's NIC.
	VMNicMACSet = "db.VMNicMACSet"
	// VMStaticIPSet gives a stopped VM's NIC on an L3 the address asked for
	// and records it as the NIC's static address.
	VMStaticIPSet = "db.VMStaticIPSet"
)

// ZStack's system tags of guest configuration (VmSystemTags): userdata is
// base64, customMac::<l3Uuid>::<mac> picks a NIC's MAC at creation.
const (
	UserdataTag  = "userdata::"
	SSHKeyTag    = "sshkey::"
	HostnameTag  = "hostname::"
	CustomMACTag = "customMac::"
)

// CPUModeConfig is the global config (category kvm) holding the vCPU mode
// of every VM: none, host-model or host-passthrough. A cluster's
// ClusterCPUModelTag names a CPU model for its VMs instead.
const (
	CPUModeCategory    = "kvm"
	CPUModeConfig      = "vm.cpuMode"
	ClusterCPUModelTag = "clusterKVMCpuModel::"
)

// GuestTagParams sets a VM's Prefix::Value system tag; an empty Value
// removes it.
type GuestTagParams struct {
	VMUUID string `json:"vmUuid"`
	Prefix string `json:"prefix"`
	Value  string `json:"value"`
}

// GuestTagResult is the value a tag change replaced, and where the VM is:
// a running VM's host serves the new value at once when its L3 has the
// flat metadata service.
type GuestTagResult struct {
	Prev     string `json:"prev"`
	State    string `json:"state,omitempty"`
	HostUUID string `json:"hostUuid,omitempty"`
}

// GuestPasswordParams changes a running VM's account password through its
// guest agent; the password is sealed to HostUUID's agent, never in clear
// in a history.
type GuestPasswordParams struct {
	VMUUID         string `json:"vmUuid"`
	HostUUID       string `json:"hostUuid"`
	Account        string `json:"account"`
	SealedPassword string `json:"sealedPassword"`
}

// NICMACParams gives a NIC a MAC.
type NICMACParams struct {
	NICUUID string `json:"nicUuid"`
	MAC     string `json:"mac"`
}

// StaticIPParams gives a VM's NIC on L3UUID the address IP.
type StaticIPParams struct {
	VMUUID string `json:"vmUuid"`
	L3UUID string `json:"l3NetworkUuid"`
	IP     string `json:"ip"`
}

// DecodeUserdata decodes the value of a userdata:: tag (base64, as ZStack
// keeps it).
func DecodeUserdata(v string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return "", models.Invalid("userdata must be base64: %v", err).WithCode(models.CodeInvalidArgument)
	}
	return string(b), nil
}

// ValidateMAC checks a MAC a user gives a NIC: six colon-separated octets,
// unicast, not all zeros. It returns the MAC in lower case.
func ValidateMAC(mac string) (string, error) {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 || !strings.Contains(mac, ":") {
		return "", models.Invalid("mac [%s] is not six colon-separated octets (fa:16:3e:00:00:01)", mac).WithCode(models.CodeInvalidArgument)
	}
	if hw[0]&1 == 1 {
		return "", models.Invalid("mac [%s] is a multicast address", mac).WithCode(models.CodeInvalidArgument)
	}
	if slices.Equal(hw, net.HardwareAddr{0, 0, 0, 0, 0, 0}) {
		return "", models.Invalid("mac [%s] is all zeros", mac).WithCode(models.CodeInvalidArgument)
	}
	return hw.String(), nil
}
