package aliyunsim

import (
	"fmt"
	"slices"
	"sort"
)

// collect returns copies of one kind of resource across all accounts, after applying due
// transitions, sorted by id.
func collect[T any](s *Server, pick func(*cloud) map[string]*T) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.settle(s.now())
	var ids []string
	all := map[string]*T{}
	for _, c := range s.st.Accounts {
		for id, v := range pick(c) {
			ids = append(ids, id)
			all[id] = v
		}
	}
	sort.Strings(ids)
	out := make([]T, 0, len(ids))
	for _, id := range ids {
		out = append(out, *all[id])
	}
	return out
}

// Instances returns every ECS instance of every account.
func (s *Server) Instances() []Instance {
	out := collect(s, func(c *cloud) map[string]*Instance { return c.Instances })
	for i := range out {
		out[i].SecurityGroupIDs = slices.Clone(out[i].SecurityGroupIDs)
	}
	return out
}

// Images returns every custom image.
func (s *Server) Images() []Image {
	return collect(s, func(c *cloud) map[string]*Image { return c.Images })
}

// SecurityGroups returns every security group with its rules.
func (s *Server) SecurityGroups() []SecurityGroup {
	out := collect(s, func(c *cloud) map[string]*SecurityGroup { return c.SecurityGroups })
	for i := range out {
		out[i].Rules = slices.Clone(out[i].Rules)
	}
	return out
}

// Vpcs returns every VPC.
func (s *Server) Vpcs() []Vpc { return collect(s, func(c *cloud) map[string]*Vpc { return c.Vpcs }) }

// VSwitches returns every VSwitch.
func (s *Server) VSwitches() []VSwitch {
	return collect(s, func(c *cloud) map[string]*VSwitch { return c.VSwitches })
}

// RouteEntries returns every custom route entry.
func (s *Server) RouteEntries() []RouteEntry {
	return collect(s, func(c *cloud) map[string]*RouteEntry { return c.RouteEntries })
}

// Eips returns every EIP.
func (s *Server) Eips() []Eip { return collect(s, func(c *cloud) map[string]*Eip { return c.Eips }) }

// VpnGateways returns every VPN gateway.
func (s *Server) VpnGateways() []VpnGateway {
	return collect(s, func(c *cloud) map[string]*VpnGateway { return c.VpnGateways })
}

// CustomerGateways returns every customer gateway.
func (s *Server) CustomerGateways() []CustomerGateway {
	return collect(s, func(c *cloud) map[string]*CustomerGateway { return c.CustomerGateways })
}

// VpnConnections returns every VPN connection.
func (s *Server) VpnConnections() []VpnConnection {
	return collect(s, func(c *cloud) map[string]*VpnConnection { return c.VpnConnections })
}

// Vbrs returns every virtual border router.
func (s *Server) Vbrs() []Vbr { return collect(s, func(c *cloud) map[string]*Vbr { return c.Vbrs }) }

// RouterInterfaces returns every router interface.
func (s *Server) RouterInterfaces() []RouterInterface {
	return collect(s, func(c *cloud) map[string]*RouterInterface { return c.RouterInterfaces })
}

// Buckets returns the names of all OSS buckets.
func (s *Server) Buckets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.st.Buckets {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Object returns a copy of the content of an OSS object.
func (s *Server) Object(bucket, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.st.Buckets[bucket]
	if !ok {
		return nil, false
	}
	o, ok := b.Objects[key]
	if !ok {
		return nil, false
	}
	return slices.Clone(o.Data), true
}

// AddPhysicalConnection seeds a leased line for accountID in regionID (real ones are ordered by
// hand) and returns its id, for CreateVirtualBorderRouter.
func (s *Server) AddPhysicalConnection(accountID, regionID, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	pc := &PhysicalConnection{PhysicalConnectionID: newID("pc-"), RegionID: regionID, Name: name,
		AccessPointID: "ap-" + regionID + "-sim"}
	s.st.account(accountID).PhysicalConnections[pc.PhysicalConnectionID] = pc
	s.changed()
	return pc.PhysicalConnectionID
}

// SetVpnConnectionStatus sets the IPsec status DescribeVpnConnections reports (the simulator has
// no IPsec peer), e.g. "ipsec_sa_established".
func (s *Server) SetVpnConnectionStatus(id, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.st.Accounts {
		if v, ok := c.VpnConnections[id]; ok {
			v.move(s.now(), 0, status)
			s.changed()
			return nil
		}
	}
	return fmt.Errorf("vpn connection %s: not found", id)
}
