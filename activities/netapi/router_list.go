package netapi

// ListRouters names the routers a host's agent keeps state for, so that
// the control plane can remove those it moved away while the host was
// lost, or destroyed meanwhile.
const ListRouters = "net.ListRouters"

// ListRoutersParams asks a host's agent for its routers.
type ListRoutersParams struct {
	HostUUID string `json:"hostUuid"`
}

// ListRoutersResult lists the UUIDs of the routers present on the host.
type ListRoutersResult struct {
	Routers []string `json:"routers"`
}
