package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/secret"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// noPassthroughDevices says why the PCI and USB passthrough APIs answer
// "not supported": the domain XML can pass devices through (hostdev, see
// hostworker/domainxml), but no host inventories its PCI or USB devices,
// and the test hosts have none to prove it on.
const noPassthroughDevices = "hosts do not report their PCI/USB devices yet and the test hosts have none: " +
	"device passthrough exists only in the domain XML (hostdev), unproven on a real device"

// guestRoutes are the guest configuration APIs: SSH key, hostname and
// password of the guest, NIC MAC and static IP, and the passthrough APIs
// that cannot work yet.
var guestRoutes = routeSet{
	special: map[string]handlerFunc{
		"SetVmSshKey":                       guestTagSet("uuid", activities.SSHKeyTag, "SshKey", hostapi.ValidateSSHKey),
		"DeleteVmSshKey":                    guestTagSet("uuid", activities.SSHKeyTag, "", nil),
		"GetVmSshKey":                       guestTagGet(activities.SSHKeyTag, "sshKey"),
		"SetVmHostname":                     guestTagSet("uuid", activities.HostnameTag, "hostname", hostapi.ValidateHostname),
		"DeleteVmHostname":                  guestTagSet("uuid", activities.HostnameTag, "", nil),
		"GetVmHostname":                     guestTagGet(activities.HostnameTag, "hostname"),
		"ChangeVmPassword":                  (*Server).changeVMPassword,
		"UpdateVmNicMac":                    (*Server).updateVMNicMAC,
		"SetVmStaticIp":                     (*Server).setVMStaticIP,
		"DeleteVmStaticIp":                  (*Server).deleteVMStaticIP,
		"AttachPciDeviceToVm":               notSupported(noPassthroughDevices),
		"DetachPciDeviceFromVm":             notSupported(noPassthroughDevices),
		"AddPciDeviceSpecToVmInstance":      notSupported(noPassthroughDevices),
		"RemovePciDeviceSpecFromVmInstance": notSupported(noPassthroughDevices),
		"AttachUsbDeviceToVm":               notSupported(noPassthroughDevices),
		"DetachUsbDeviceFromVm":             notSupported(noPassthroughDevices),
	},
}

// guestTagSet records (or, without a value key, removes) a VM's guest tag.
func guestTagSet(uuidKey, prefix, valueKey string, check func(string) error) handlerFunc {
	return func(s *Server, r *request) {
		v := ""
		if valueKey != "" {
			v = strings.TrimSpace(r.str(valueKey))
			if v == "" {
				writeError(r.c, http.StatusBadRequest, models.Invalid("%s is required", valueKey))
				return
			}
			if err := check(v); err != nil {
				writeError(r.c, http.StatusBadRequest, err)
				return
			}
		}
		s.startJob(r, workflows.SetVMGuestTag, activities.GuestTagParams{VMUUID: r.str(uuidKey), Prefix: prefix, Value: v})
	}
}

// guestTagGet answers a Get API from the VM's tag, as {replyKey: value}.
func guestTagGet(prefix, replyKey string) handlerFunc {
	return func(s *Server, r *request) {
		v, ok := s.vmTag(r, r.str("uuid"), prefix)
		if !ok {
			return
		}
		r.c.JSON(http.StatusOK, gin.H{replyKey: v})
	}
}

// validateGuestTags checks the guest tags a CreateVmInstance carries
// (userdata::<base64>, sshkey::<key>, hostname::<name>,
// customMac::<l3Uuid>::<mac>), so that a bad one fails at once and creates
// nothing.
func (s *Server) validateGuestTags(r *request) error {
	for _, t := range r.systemTags {
		var err error
		switch {
		case strings.HasPrefix(t, activities.UserdataTag):
			var ud string
			if ud, err = activities.DecodeUserdata(strings.TrimPrefix(t, activities.UserdataTag)); err == nil {
				err = hostapi.ValidateGuest(hostapi.GuestSpec{UserData: ud})
			}
		case strings.HasPrefix(t, activities.SSHKeyTag):
			err = hostapi.ValidateSSHKey(strings.TrimPrefix(t, activities.SSHKeyTag))
		case strings.HasPrefix(t, activities.HostnameTag):
			err = hostapi.ValidateHostname(strings.TrimPrefix(t, activities.HostnameTag))
		case strings.HasPrefix(t, activities.CustomMACTag):
			err = s.checkCustomMAC(r, strings.TrimPrefix(t, activities.CustomMACTag))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkCustomMAC checks a customMac tag's "<l3Uuid>::<mac>": a valid MAC
// no NIC has yet.
func (s *Server) checkCustomMAC(r *request, rest string) error {
	_, mac, ok := strings.Cut(rest, "::")
	if !ok {
		return models.Invalid("bad system tag [%s%s]; want customMac::<l3Uuid>::<mac>", activities.CustomMACTag, rest)
	}
	mac, err := activities.ValidateMAC(mac)
	if err != nil {
		return err
	}
	var n int
	if err := s.o.Store.DB().GetContext(r.c.Request.Context(), &n, `SELECT COUNT(*) FROM vm_nics WHERE mac = ?`, mac); err != nil {
		return err
	}
	if n > 0 {
		return models.Conflict("mac [%s] is used by another nic", mac).WithCode(models.CodeInvalidArgument)
	}
	return nil
}

// changeVMPassword answers ChangeVmPassword: the password is sealed at
// once to the key of the agent on the VM's host, so that the job carries
// it only sealed; the guest agent there changes it.
func (s *Server) changeVMPassword(r *request) {
	ctx := r.c.Request.Context()
	account, pw := r.str("account"), r.str("password")
	if account == "" || pw == "" {
		writeError(r.c, http.StatusBadRequest, models.Invalid("account and password are required"))
		return
	}
	var vm models.VMInstance
	if err := s.o.Store.Get(ctx, store.ResVMInstance, r.str("uuid"), &vm); err != nil {
		writeError(r.c, 0, err)
		return
	}
	if vm.State != models.VMRunning || vm.HostUUID == "" {
		writeError(r.c, 0, models.Conflict("the vm[uuid:%s] is %s: its password can change only while it runs", vm.UUID, vm.State).WithCode(models.CodeVMState))
		return
	}
	pub, err := s.o.Store.HostSealingKey(ctx, string(vm.HostUUID))
	if err != nil {
		writeError(r.c, 0, err)
		return
	}
	sealed, err := secret.Seal(pub, secret.HostSealInfo, pw)
	if err != nil {
		writeError(r.c, 0, err)
		return
	}
	s.startJob(r, workflows.ChangeVMPassword, activities.GuestPasswordParams{VMUUID: vm.UUID, HostUUID: string(vm.HostUUID),
		Account: account, SealedPassword: sealed})
}

func (s *Server) updateVMNicMAC(r *request) {
	mac, err := activities.ValidateMAC(r.str("mac"))
	if err != nil {
		writeError(r.c, http.StatusBadRequest, err)
		return
	}
	s.startJob(r, workflows.UpdateVMNicMAC, activities.NICMACParams{NICUUID: r.str("vmNicUuid"), MAC: mac})
}

// setVMStaticIP answers SetVmStaticIp for IPv4; the IPv6 and explicit
// netmask/gateway fields (the L3's ranges decide those) are refused rather
// than ignored.
func (s *Server) setVMStaticIP(r *request) {
	for _, k := range []string{"ip6", "netmask", "gateway", "ipv6Gateway", "ipv6Prefix"} {
		if r.str(k) != "" {
			writeError(r.c, http.StatusBadRequest, models.Invalid("not supported: SetVmStaticIp with %s (the l3 network's ip range gives it)", k))
			return
		}
	}
	if r.str("ip") == "" {
		writeError(r.c, http.StatusBadRequest, models.Invalid("ip is required"))
		return
	}
	s.startJob(r, workflows.SetVMStaticIP, activities.StaticIPParams{VMUUID: r.str("vmInstanceUuid"), L3UUID: r.str("l3NetworkUuid"), IP: r.str("ip")})
}

// deleteVMStaticIP answers DeleteVmStaticIp: the NIC keeps its address,
// which is no longer recorded as static, as in ZStack.
func (s *Server) deleteVMStaticIP(r *request) {
	s.startJob(r, workflows.SetVMGuestTag, activities.GuestTagParams{VMUUID: r.str("vmInstanceUuid"),
		Prefix: activities.StaticIPTag + r.str("l3NetworkUuid") + "::"})
}
