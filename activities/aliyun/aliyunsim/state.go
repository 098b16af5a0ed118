package aliyunsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// Step is one pending asynchronous transition: the resource takes status To at time At.
type Step struct {
	To string    `json:"to"`
	At time.Time `json:"at"`
}

// Lifecycle is the status of a resource and the transitions still ahead of it. Transitions are
// applied lazily (on the next request or accessor call), so no goroutine owns them and a
// persisted state resumes exactly where it was.
type Lifecycle struct {
	Status string `json:"status"`
	Steps  []Step `json:"steps,omitempty"`
}

func (l *Lifecycle) settle(now time.Time) {
	for len(l.Steps) > 0 && !now.Before(l.Steps[0].At) {
		l.Status = l.Steps[0].To
		l.Steps = l.Steps[1:]
	}
	if len(l.Steps) == 0 {
		l.Steps = nil
	}
}

// move sets status now and schedules each of then one delay after the previous.
func (l *Lifecycle) move(now time.Time, delay time.Duration, status string, then ...string) {
	l.Status = status
	l.Steps = nil
	at := now
	for _, t := range then {
		at = at.Add(delay)
		l.Steps = append(l.Steps, Step{To: t, At: at})
	}
}

// cloud is the ECS/VPC state of one account.
type cloud struct {
	Instances           map[string]*Instance           `json:"instances"`
	Images              map[string]*Image              `json:"images"`
	SecurityGroups      map[string]*SecurityGroup      `json:"securityGroups"`
	Vpcs                map[string]*Vpc                `json:"vpcs"`
	VSwitches           map[string]*VSwitch            `json:"vswitches"`
	RouteTables         map[string]*RouteTable         `json:"routeTables"`
	RouteEntries        map[string]*RouteEntry         `json:"routeEntries"`
	Eips                map[string]*Eip                `json:"eips"`
	VpnGateways         map[string]*VpnGateway         `json:"vpnGateways"`
	CustomerGateways    map[string]*CustomerGateway    `json:"customerGateways"`
	VpnConnections      map[string]*VpnConnection      `json:"vpnConnections"`
	PhysicalConnections map[string]*PhysicalConnection `json:"physicalConnections"`
	Vbrs                map[string]*Vbr                `json:"vbrs"`
	RouterInterfaces    map[string]*RouterInterface    `json:"routerInterfaces"`
	// Tokens maps "Action/ClientToken" to the ids the first call created.
	Tokens map[string][]string `json:"tokens"`
}

func newCloud() *cloud {
	return &cloud{
		Instances:           map[string]*Instance{},
		Images:              map[string]*Image{},
		SecurityGroups:      map[string]*SecurityGroup{},
		Vpcs:                map[string]*Vpc{},
		VSwitches:           map[string]*VSwitch{},
		RouteTables:         map[string]*RouteTable{},
		RouteEntries:        map[string]*RouteEntry{},
		Eips:                map[string]*Eip{},
		VpnGateways:         map[string]*VpnGateway{},
		CustomerGateways:    map[string]*CustomerGateway{},
		VpnConnections:      map[string]*VpnConnection{},
		PhysicalConnections: map[string]*PhysicalConnection{},
		Vbrs:                map[string]*Vbr{},
		RouterInterfaces:    map[string]*RouterInterface{},
		Tokens:              map[string][]string{},
	}
}

// fill replaces nil maps after loading an older or partial state file.
func (c *cloud) fill() {
	n := newCloud()
	if c.Instances == nil {
		c.Instances = n.Instances
	}
	if c.Images == nil {
		c.Images = n.Images
	}
	if c.SecurityGroups == nil {
		c.SecurityGroups = n.SecurityGroups
	}
	if c.Vpcs == nil {
		c.Vpcs = n.Vpcs
	}
	if c.VSwitches == nil {
		c.VSwitches = n.VSwitches
	}
	if c.RouteTables == nil {
		c.RouteTables = n.RouteTables
	}
	if c.RouteEntries == nil {
		c.RouteEntries = n.RouteEntries
	}
	if c.Eips == nil {
		c.Eips = n.Eips
	}
	if c.VpnGateways == nil {
		c.VpnGateways = n.VpnGateways
	}
	if c.CustomerGateways == nil {
		c.CustomerGateways = n.CustomerGateways
	}
	if c.VpnConnections == nil {
		c.VpnConnections = n.VpnConnections
	}
	if c.PhysicalConnections == nil {
		c.PhysicalConnections = n.PhysicalConnections
	}
	if c.Vbrs == nil {
		c.Vbrs = n.Vbrs
	}
	if c.RouterInterfaces == nil {
		c.RouterInterfaces = n.RouterInterfaces
	}
	if c.Tokens == nil {
		c.Tokens = n.Tokens
	}
}

func (c *cloud) settle(now time.Time) {
	for _, x := range c.Instances {
		x.settle(now)
	}
	for _, x := range c.Images {
		x.settle(now)
	}
	for _, x := range c.Vpcs {
		x.settle(now)
	}
	for _, x := range c.VSwitches {
		x.settle(now)
	}
	for _, x := range c.RouteEntries {
		x.settle(now)
	}
	for _, x := range c.Eips {
		x.settle(now)
	}
	for _, x := range c.VpnGateways {
		x.settle(now)
	}
	for _, x := range c.VpnConnections {
		x.settle(now)
	}
	for _, x := range c.Vbrs {
		x.settle(now)
	}
	for _, x := range c.RouterInterfaces {
		x.settle(now)
	}
}

// state is everything the simulator remembers; it is what the state file holds.
type state struct {
	Accounts map[string]*cloud          `json:"accounts"`
	Buckets  map[string]*Bucket         `json:"buckets"`
	Uploads  map[string]*multipartState `json:"uploads"`
	Nonces   map[string]time.Time       `json:"nonces"`
	// NextPublicIP is the next address handed out for EIPs and VPN gateways.
	NextPublicIP netip.Addr `json:"nextPublicIp"`
}

// publicPool is where EIPs come from: 198.18.0.0/15 is reserved for benchmarking, so a
// simulated address can never be confused with a real one.
var publicPoolStart = netip.MustParseAddr("198.18.0.1")

func newState() *state {
	return &state{
		Accounts:     map[string]*cloud{},
		Buckets:      map[string]*Bucket{},
		Uploads:      map[string]*multipartState{},
		Nonces:       map[string]time.Time{},
		NextPublicIP: publicPoolStart,
	}
}

func (st *state) account(id string) *cloud {
	c, ok := st.Accounts[id]
	if !ok {
		c = newCloud()
		st.Accounts[id] = c
	}
	return c
}

func (st *state) settle(now time.Time) {
	for _, c := range st.Accounts {
		c.settle(now)
	}
}

func (st *state) allocPublicIP() string {
	ip := st.NextPublicIP
	if !ip.IsValid() {
		ip = publicPoolStart
	}
	st.NextPublicIP = ip.Next()
	return ip.String()
}

// useNonce records nonce and reports whether it was new. Nonces older than twice the allowed
// skew are forgotten: a replay of such a request already fails the timestamp check.
func (st *state) useNonce(nonce string, now time.Time) bool {
	if _, seen := st.Nonces[nonce]; seen {
		return false
	}
	for n, t := range st.Nonces {
		if now.Sub(t) > 2*MaxClockSkew {
			delete(st.Nonces, n)
		}
	}
	st.Nonces[nonce] = now
	return true
}

func (s *Server) load() error {
	b, err := os.ReadFile(s.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read state file: %w", err)
	}
	st := newState()
	if err := json.Unmarshal(b, st); err != nil {
		return fmt.Errorf("parse state file %s: %w", s.file, err)
	}
	for _, c := range st.Accounts {
		c.fill()
	}
	if st.Buckets == nil {
		st.Buckets = map[string]*Bucket{}
	}
	for _, b := range st.Buckets {
		if b.Objects == nil {
			b.Objects = map[string]*Object{}
		}
	}
	if st.Uploads == nil {
		st.Uploads = map[string]*multipartState{}
	}
	if st.Nonces == nil {
		st.Nonces = map[string]time.Time{}
	}
	s.mu.Lock()
	s.st = st
	s.mu.Unlock()
	return nil
}

// saveLocked writes the state file atomically (temp file + rename). Callers hold s.mu.
func (s *Server) saveLocked() error {
	if s.file == "" {
		return nil
	}
	b, err := json.Marshal(s.st)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.file), ".aliyunsim-state-*")
	if err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.file); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	return nil
}

// changed persists the state after a mutation. Callers hold s.mu.
func (s *Server) changed() {
	if err := s.saveLocked(); err != nil {
		s.log.Error("aliyunsim save state", "err", err)
	}
}
