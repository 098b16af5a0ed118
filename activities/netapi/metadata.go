package netapi

// FlatMetadata is what the metadata service of a flat L3 with the Flat
// provider's Userdata service (169.254.169.254 in the L3's DHCP namespace,
// hostworker/network.Metadata) answers the guest NIC of one address. It
// carries the same guest configuration as the VM's config drive
// (hostapi.GuestSpec, from the userdata, sshkey and hostname tags); the
// hostname falls back to the NIC's DHCP hostname.
type FlatMetadata struct {
	InstanceID string   `json:"instanceId"`
	Hostname   string   `json:"hostname,omitempty"`
	UserData   string   `json:"userData,omitempty"`
	SSHKeys    []string `json:"sshKeys,omitempty"`
}
