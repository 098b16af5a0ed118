package db

import (
	"context"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/models"
)

// guestConfig is a VM's guest configuration from its userdata, sshkey and
// hostname tags: the one source of what its config drive and the flat
// metadata service tell the guest.
func (a *Activities) guestConfig(ctx context.Context, vmUUID string) (hostapi.GuestSpec, error) {
	var g hostapi.GuestSpec
	values := map[string]*string{activities.HostnameTag: &g.Hostname, activities.UserdataTag: &g.UserData}
	for _, prefix := range []string{activities.HostnameTag, activities.UserdataTag, activities.SSHKeyTag} {
		v, err := tagValue(ctx, a.Store, vmUUID, prefix)
		if err != nil {
			return g, wrap(err)
		}
		switch {
		case v == "":
		case prefix == activities.SSHKeyTag:
			g.SSHKeys = []string{v}
		case prefix == activities.UserdataTag:
			if v, err = activities.DecodeUserdata(v); err != nil {
				return g, wrap(err)
			}
			fallthrough
		default:
			*values[prefix] = v
		}
	}
	return g, nil
}

// flatMetadataOn reports whether an L3 has the Flat provider's Userdata
// service, whose hosts serve their guests' metadata at 169.254.169.254.
func (a *Activities) flatMetadataOn(ctx context.Context, l3UUID string) (bool, error) {
	n, err := a.Store.Count(ctx, "network_service_l3_refs", "l3_network_uuid = ? AND service_type = ? AND provider_uuid = ?",
		l3UUID, models.ServiceUserdata, flatProvider)
	return n > 0, err
}

// flatMetadata is what the metadata service answers a NIC of the VM: its
// guest configuration, with the NIC's DHCP hostname when the VM has no
// hostname tag.
func (a *Activities) flatMetadata(ctx context.Context, vmUUID, dhcpHostname string) (*netapi.FlatMetadata, error) {
	g, err := a.guestConfig(ctx, vmUUID)
	if err != nil {
		return nil, err
	}
	m := &netapi.FlatMetadata{InstanceID: vmUUID, Hostname: g.Hostname, UserData: g.UserData, SSHKeys: g.SSHKeys}
	if m.Hostname == "" {
		m.Hostname = dhcpHostname
	}
	return m, nil
}
