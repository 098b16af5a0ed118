package hostapi

import (
	"strings"
	"unicode"

	"github.com/zcloud/zcloud/models"
)

// Guest configuration activities: the guest's password, changed through the
// qemu guest agent.
const (
	ActSetGuestPassword = "host.SetGuestPassword"
)

// GuestSpec is what a guest learns at boot from its NoCloud config drive (a
// small disk labelled cidata that cloud-init reads): the instance id (the VM
// UUID), its hostname, its SSH keys, its user-data and its network
// configuration (from the VM's NICs). A VMSpec without one gets no drive.
type GuestSpec struct {
	// Hostname is local-hostname; empty lets the guest keep its own.
	Hostname string `json:"hostname,omitempty"`
	// SSHKeys are public keys for the default user (public-keys).
	SSHKeys []string `json:"sshKeys,omitempty"`
	// UserData is the user-data file as the guest reads it (decoded from
	// ZStack's base64 userdata:: tag).
	UserData string `json:"userData,omitempty"`
}

// MaxUserData bounds user-data: cloud-init's own sources (EC2, OpenStack)
// stop at 16 KiB; the config drive holds it with room to spare.
const MaxUserData = 64 << 10

// ValidateGuest checks a guest spec: a hostname of RFC 1123 labels, SSH
// keys on one line each, user-data within MaxUserData.
func ValidateGuest(g GuestSpec) error {
	if g.Hostname != "" {
		if err := ValidateHostname(g.Hostname); err != nil {
			return err
		}
	}
	for _, k := range g.SSHKeys {
		if err := ValidateSSHKey(k); err != nil {
			return err
		}
	}
	if len(g.UserData) > MaxUserData {
		return models.Invalid("user-data has %d bytes; at most %d", len(g.UserData), MaxUserData)
	}
	return nil
}

// ValidateHostname checks a hostname: dot-separated labels of letters,
// digits and hyphens, 1-63 characters each, not starting or ending with a
// hyphen, 253 characters in all.
func ValidateHostname(h string) error {
	if len(h) == 0 || len(h) > 253 {
		return models.Invalid("hostname [%s] must have 1-253 characters", h)
	}
	for _, label := range strings.Split(h, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return models.Invalid("hostname [%s]: label [%s] must have 1-63 characters and not start or end with '-'", h, label)
		}
		for _, r := range label {
			if r > unicode.MaxASCII || !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' {
				return models.Invalid("hostname [%s] may hold only letters, digits, '-' and '.'", h)
			}
		}
	}
	return nil
}

// sshKeyTypes are the OpenSSH public key types a guest accepts.
var sshKeyTypes = []string{"ssh-rsa", "ssh-dss", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"}

// ValidateSSHKey checks an OpenSSH public key line: "<type> <base64> [comment]".
func ValidateSSHKey(k string) error {
	f := strings.Fields(k)
	if strings.ContainsAny(k, "\r\n") || len(f) < 2 {
		return models.Invalid("ssh key must be one line \"<type> <base64> [comment]\"")
	}
	for _, t := range sshKeyTypes {
		if f[0] == t {
			return nil
		}
	}
	return models.Invalid("ssh key type [%s] is not one of %s", f[0], strings.Join(sshKeyTypes, ", "))
}

// CPU modes of CPUSpec.Mode, as ZStack's global config kvm/vm.cpuMode names
// them; any other value is a CPU model name (Haswell, EPYC, ...).
const (
	CPUModeNone            = "none"
	CPUModeHostModel       = "host-model"
	CPUModeHostPassthrough = "host-passthrough"
)

// CPUSpec is the vCPU model a VM asks for. The host may not have it: a TCG
// host cannot pass its CPU through and falls back (see the libvirt driver).
type CPUSpec struct {
	// Mode is CPUModeNone (the hypervisor's default model), CPUModeHostModel,
	// CPUModeHostPassthrough or a named CPU model.
	Mode string `json:"mode"`
}

// SetGuestPasswordParams changes an account's password inside a running
// guest through its qemu guest agent. The password is sealed to the host's
// sealing key (HostFacts.SealingKey, secret.HostSealInfo), so that it is in
// clear in no workflow history. A guest whose agent is not connected is
// models.ErrConflict: nothing was changed there.
type SetGuestPasswordParams struct {
	VMUUID         string `json:"vmUuid"`
	Account        string `json:"account"`
	SealedPassword string `json:"sealedPassword"`
}
