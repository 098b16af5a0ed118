package aliyunsim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
)

// VpnGateway is an IPsec VPN gateway of a VPC.
type VpnGateway struct {
	Lifecycle
	VpnGatewayID string    `json:"vpnGatewayId"`
	RegionID     string    `json:"regionId"`
	VpcID        string    `json:"vpcId"`
	VSwitchID    string    `json:"vswitchId"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	Bandwidth    int       `json:"bandwidth"`
	InternetIP   string    `json:"internetIp"`
	EnableSsl    bool      `json:"enableSsl"`
	CreateTime   time.Time `json:"createTime"`
}

// CustomerGateway is the on-premises side of a VPN connection.
type CustomerGateway struct {
	CustomerGatewayID string    `json:"customerGatewayId"`
	RegionID          string    `json:"regionId"`
	IPAddress         string    `json:"ipAddress"`
	Name              string    `json:"name"`
	Description       string    `json:"description"`
	Asn               string    `json:"asn,omitempty"`
	CreateTime        time.Time `json:"createTime"`
}

// IkeConfig is the IKE phase of a VPN connection, with Alibaba's JSON names.
type IkeConfig struct {
	Psk         string `json:"Psk"`
	IkeVersion  string `json:"IkeVersion"`
	IkeMode     string `json:"IkeMode"`
	IkeEncAlg   string `json:"IkeEncAlg"`
	IkeAuthAlg  string `json:"IkeAuthAlg"`
	IkePfs      string `json:"IkePfs"`
	IkeLifetime int64  `json:"IkeLifetime"`
	LocalID     string `json:"LocalId"`
	RemoteID    string `json:"RemoteId"`
}

// IpsecConfig is the IPsec phase of a VPN connection, with Alibaba's JSON names.
type IpsecConfig struct {
	IpsecEncAlg   string `json:"IpsecEncAlg"`
	IpsecAuthAlg  string `json:"IpsecAuthAlg"`
	IpsecPfs      string `json:"IpsecPfs"`
	IpsecLifetime int64  `json:"IpsecLifetime"`
}

// VpnConnection is an IPsec connection between a VPN gateway and a customer gateway. The
// simulator itself has no IPsec peer (Options.VPNRealizer can make one), so its Status stays
// ike_sa_not_established unless a test sets it with SetVpnConnectionStatus.
type VpnConnection struct {
	Lifecycle
	VpnConnectionID    string      `json:"vpnConnectionId"`
	RegionID           string      `json:"regionId"`
	VpnGatewayID       string      `json:"vpnGatewayId"`
	CustomerGatewayID  string      `json:"customerGatewayId"`
	Name               string      `json:"name"`
	LocalSubnet        string      `json:"localSubnet"`
	RemoteSubnet       string      `json:"remoteSubnet"`
	EffectImmediately  bool        `json:"effectImmediately"`
	EnableDpd          bool        `json:"enableDpd"`
	EnableNatTraversal bool        `json:"enableNatTraversal"`
	IkeConfig          IkeConfig   `json:"ikeConfig"`
	IpsecConfig        IpsecConfig `json:"ipsecConfig"`
	CreateTime         time.Time   `json:"createTime"`
}

func createVpnGateway(x *rpcCtx) (obj, error) {
	if ids, _ := x.token("CreateVpnGateway"); len(ids) == 1 {
		return obj{"VpnGatewayId": ids[0], "OrderId": 0, "Name": x.c.VpnGateways[ids[0]].Name}, nil
	}
	vpcID, err := x.req("VpcId")
	if err != nil {
		return nil, err
	}
	v, err := x.vpc(vpcID)
	if err != nil {
		return nil, err
	}
	vswID := x.str("VSwitchId")
	if vswID != "" {
		vs, err := x.vswitch(vswID)
		if err != nil {
			return nil, err
		}
		if vs.VpcID != v.VpcID {
			return nil, errf(http.StatusBadRequest, "InvalidVSwitchId.NotBelongToVpc", "The VSwitch %q is not in VPC %s.", vswID, vpcID)
		}
	}
	bw, err := x.integer("Bandwidth", 0)
	if err != nil {
		return nil, err
	}
	if !slices.Contains([]int{5, 10, 20, 50, 100, 200, 500, 1000}, bw) {
		return nil, invalid("Bandwidth", x.str("Bandwidth"))
	}
	g := &VpnGateway{
		VpnGatewayID: newID("vpn-"), RegionID: x.region, VpcID: vpcID, VSwitchID: vswID, Name: x.str("Name"),
		Description: x.str("Description"), Bandwidth: bw, InternetIP: x.s.st.allocPublicIP(),
		EnableSsl: x.boolean("EnableSsl"), CreateTime: x.now,
	}
	g.move(x.now, x.s.delay, "provisioning", "active")
	x.c.VpnGateways[g.VpnGatewayID] = g
	if _, k := x.token("CreateVpnGateway"); k != "" {
		x.c.Tokens[k] = []string{g.VpnGatewayID}
	}
	return obj{"VpnGatewayId": g.VpnGatewayID, "OrderId": 0, "Name": g.Name}, nil
}

func (x *rpcCtx) vpnGateway(id string) (*VpnGateway, error) {
	g, ok := x.c.VpnGateways[id]
	if !ok || g.RegionID != x.region {
		return nil, notFound("InvalidVpnGatewayInstanceId.NotFound", "VPN gateway", id)
	}
	return g, nil
}

func configuring(g *VpnGateway) error {
	return errf(http.StatusBadRequest, "VpnGateway.Configuring", "The VPN gateway %s is %s; retry when it is active.", g.VpnGatewayID, g.Status)
}

func deleteVpnGateway(x *rpcCtx) (obj, error) {
	id, err := x.req("VpnGatewayId")
	if err != nil {
		return nil, err
	}
	g, err := x.vpnGateway(id)
	if err != nil {
		return nil, err
	}
	if g.Status != "active" {
		return nil, configuring(g)
	}
	for _, c := range x.c.VpnConnections {
		if c.VpnGatewayID == id {
			return nil, errf(http.StatusBadRequest, "DependencyViolation.VpnConnection", "The VPN gateway has VPN connections (%s).", c.VpnConnectionID)
		}
	}
	for _, e := range x.c.RouteEntries {
		if e.NextHopID == id {
			return nil, errf(http.StatusBadRequest, "DependencyViolation.RouteEntry", "Route entry %s points at the VPN gateway.", e.RouteEntryID)
		}
	}
	delete(x.c.VpnGateways, id)
	return obj{}, nil
}

func vpnGatewayView(g *VpnGateway) obj {
	ssl := "disable"
	if g.EnableSsl {
		ssl = "enable"
	}
	return obj{
		"VpnGatewayId": g.VpnGatewayID, "VpcId": g.VpcID, "VSwitchId": g.VSwitchID, "InternetIp": g.InternetIP,
		"Status": g.Status, "BusinessStatus": "Normal", "Spec": itoaM(g.Bandwidth), "Name": g.Name,
		"Description": g.Description, "IpsecVpn": "enable", "SslVpn": ssl, "ChargeType": "PostPaid",
		"CreateTime": g.CreateTime.UnixMilli(), "EndTime": int64(4102444800000), "RegionId": g.RegionID,
	}
}

func itoaM(n int) string {
	b, _ := json.Marshal(n)
	return string(b) + "M"
}

func describeVpnGateways(x *rpcCtx) (obj, error) {
	if _, err := x.checkRegion(); err != nil {
		return nil, err
	}
	id, vpc, status := x.str("VpnGatewayId"), x.str("VpcId"), x.str("Status")
	var all []*VpnGateway
	for _, g := range x.c.VpnGateways {
		if g.RegionID == x.region && (id == "" || g.VpnGatewayID == id) && (vpc == "" || g.VpcID == vpc) &&
			(status == "" || g.Status == status) {
			all = append(all, g)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].VpnGatewayID < all[j].VpnGatewayID })
	num, size, from, to, err := x.page(len(all))
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, g := range all[from:to] {
		out = append(out, vpnGatewayView(g))
	}
	return obj{"VpnGateways": obj{"VpnGateway": out}, "TotalCount": len(all), "PageNumber": num, "PageSize": size}, nil
}

func describeVpnGateway(x *rpcCtx) (obj, error) {
	id, err := x.req("VpnGatewayId")
	if err != nil {
		return nil, err
	}
	g, err := x.vpnGateway(id)
	if err != nil {
		return nil, err
	}
	return vpnGatewayView(g), nil
}

func createCustomerGateway(x *rpcCtx) (obj, error) {
	if _, err := x.checkRegion(); err != nil {
		return nil, err
	}
	ip, err := x.req("IpAddress")
	if err != nil {
		return nil, err
	}
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return nil, errf(http.StatusBadRequest, "InvalidIpAddress.Malformed", "The specified IpAddress %q is not a valid IPv4 address.", ip)
	}
	if ids, _ := x.token("CreateCustomerGateway"); len(ids) == 1 {
		if g, ok := x.c.CustomerGateways[ids[0]]; ok {
			return customerGatewayView(g), nil
		}
	}
	for _, g := range x.c.CustomerGateways {
		if g.RegionID == x.region && g.IPAddress == ip {
			return nil, errf(http.StatusBadRequest, "InvalidIpAddress.AlreadyExist", "A customer gateway with IpAddress %s already exists (%s).", ip, g.CustomerGatewayID)
		}
	}
	g := &CustomerGateway{
		CustomerGatewayID: newID("cgw-"), RegionID: x.region, IPAddress: ip, Name: x.str("Name"),
		Description: x.str("Description"), Asn: x.str("Asn"), CreateTime: x.now,
	}
	x.c.CustomerGateways[g.CustomerGatewayID] = g
	if _, k := x.token("CreateCustomerGateway"); k != "" {
		x.c.Tokens[k] = []string{g.CustomerGatewayID}
	}
	return customerGatewayView(g), nil
}

func customerGatewayView(g *CustomerGateway) obj {
	return obj{
		"CustomerGatewayId": g.CustomerGatewayID, "IpAddress": g.IPAddress, "Name": g.Name,
		"Description": g.Description, "Asn": g.Asn, "CreateTime": g.CreateTime.UnixMilli(),
	}
}

func (x *rpcCtx) customerGateway(id string) (*CustomerGateway, error) {
	g, ok := x.c.CustomerGateways[id]
	if !ok || g.RegionID != x.region {
		return nil, notFound("InvalidCustomerGatewayInstanceId.NotFound", "customer gateway", id)
	}
	return g, nil
}

func deleteCustomerGateway(x *rpcCtx) (obj, error) {
	id, err := x.req("CustomerGatewayId")
	if err != nil {
		return nil, err
	}
	if _, err := x.customerGateway(id); err != nil {
		return nil, err
	}
	for _, c := range x.c.VpnConnections {
		if c.CustomerGatewayID == id {
			return nil, errf(http.StatusBadRequest, "DependencyViolation.VpnConnection", "The customer gateway is used by VPN connection %s.", c.VpnConnectionID)
		}
	}
	delete(x.c.CustomerGateways, id)
	return obj{}, nil
}

func describeCustomerGateways(x *rpcCtx) (obj, error) {
	id := x.str("CustomerGatewayId")
	var all []*CustomerGateway
	for _, g := range x.c.CustomerGateways {
		if g.RegionID == x.region && (id == "" || g.CustomerGatewayID == id) {
			all = append(all, g)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].CustomerGatewayID < all[j].CustomerGatewayID })
	num, size, from, to, err := x.page(len(all))
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, g := range all[from:to] {
		out = append(out, customerGatewayView(g))
	}
	return obj{"CustomerGateways": obj{"CustomerGateway": out}, "TotalCount": len(all), "PageNumber": num, "PageSize": size}, nil
}

func oneOf(name, v string, allowed ...string) error {
	if !slices.Contains(allowed, v) {
		return errf(http.StatusBadRequest, "InvalidParameter", "%s %q is not one of %s.", name, v, strings.Join(allowed, ", "))
	}
	return nil
}

// parseVpnConfigs reads the IkeConfig and IpsecConfig JSON parameters over Alibaba's defaults.
func (x *rpcCtx) parseVpnConfigs(g *VpnGateway, cg *CustomerGateway) (IkeConfig, IpsecConfig, error) {
	ike := IkeConfig{Psk: newID("")[:16], IkeVersion: "ikev1", IkeMode: "main", IkeEncAlg: "aes",
		IkeAuthAlg: "sha1", IkePfs: "group2", IkeLifetime: 86400, LocalID: g.InternetIP, RemoteID: cg.IPAddress}
	ipsec := IpsecConfig{IpsecEncAlg: "aes", IpsecAuthAlg: "sha1", IpsecPfs: "group2", IpsecLifetime: 86400}
	if v := x.str("IkeConfig"); v != "" {
		if err := json.Unmarshal([]byte(v), &ike); err != nil {
			return ike, ipsec, invalid("IkeConfig", v)
		}
	}
	if v := x.str("IpsecConfig"); v != "" {
		if err := json.Unmarshal([]byte(v), &ipsec); err != nil {
			return ike, ipsec, invalid("IpsecConfig", v)
		}
	}
	enc := []string{"aes", "aes192", "aes256", "des", "3des"}
	auth := []string{"md5", "sha1", "sha256", "sha384", "sha512"}
	pfs := []string{"group1", "group2", "group5", "group14"}
	for _, err := range []error{
		oneOf("IkeVersion", ike.IkeVersion, "ikev1", "ikev2"),
		oneOf("IkeMode", ike.IkeMode, "main", "aggressive"),
		oneOf("IkeEncAlg", ike.IkeEncAlg, enc...),
		oneOf("IkeAuthAlg", ike.IkeAuthAlg, auth...),
		oneOf("IkePfs", ike.IkePfs, pfs...),
		oneOf("IpsecEncAlg", ipsec.IpsecEncAlg, enc...),
		oneOf("IpsecAuthAlg", ipsec.IpsecAuthAlg, auth...),
		oneOf("IpsecPfs", ipsec.IpsecPfs, append(pfs, "disabled")...),
	} {
		if err != nil {
			return ike, ipsec, err
		}
	}
	if ike.IkeLifetime < 0 || ike.IkeLifetime > 86400 {
		return ike, ipsec, errf(http.StatusBadRequest, "InvalidParameter", "IkeLifetime must be 0 to 86400.")
	}
	if ipsec.IpsecLifetime < 0 || ipsec.IpsecLifetime > 86400 {
		return ike, ipsec, errf(http.StatusBadRequest, "InvalidParameter", "IpsecLifetime must be 0 to 86400.")
	}
	return ike, ipsec, nil
}

func subnets(name, v string) error {
	for _, c := range strings.Split(v, ",") {
		if _, err := parseCidr(name, strings.TrimSpace(c)); err != nil {
			return err
		}
	}
	return nil
}

func createVpnConnection(x *rpcCtx) (obj, error) {
	if ids, _ := x.token("CreateVpnConnection"); len(ids) == 1 {
		if c, ok := x.c.VpnConnections[ids[0]]; ok {
			x.realize(c)
			return obj{"VpnConnectionId": c.VpnConnectionID, "Name": c.Name, "CreateTime": c.CreateTime.UnixMilli()}, nil
		}
	}
	if x.str("TunnelOptionsSpecification.1.CustomerGatewayId") != "" {
		return nil, errf(http.StatusBadRequest, "InvalidParameter",
			"dual-tunnel VPN connections (TunnelOptionsSpecification) are not supported by aliyunsim")
	}
	gwID, err := x.req("VpnGatewayId")
	if err != nil {
		return nil, err
	}
	cgID, err := x.req("CustomerGatewayId")
	if err != nil {
		return nil, err
	}
	local, err := x.req("LocalSubnet")
	if err != nil {
		return nil, err
	}
	remote, err := x.req("RemoteSubnet")
	if err != nil {
		return nil, err
	}
	g, err := x.vpnGateway(gwID)
	if err != nil {
		return nil, err
	}
	cg, err := x.customerGateway(cgID)
	if err != nil {
		return nil, err
	}
	if g.Status != "active" {
		return nil, configuring(g)
	}
	if err := subnets("LocalSubnet", local); err != nil {
		return nil, err
	}
	if err := subnets("RemoteSubnet", remote); err != nil {
		return nil, err
	}
	ike, ipsec, err := x.parseVpnConfigs(g, cg)
	if err != nil {
		return nil, err
	}
	c := &VpnConnection{
		VpnConnectionID: newID("vco-"), RegionID: x.region, VpnGatewayID: gwID, CustomerGatewayID: cgID,
		Name: x.str("Name"), LocalSubnet: local, RemoteSubnet: remote, EffectImmediately: x.boolean("EffectImmediately"),
		EnableDpd: x.str("EnableDpd") != "false", EnableNatTraversal: x.str("EnableNatTraversal") != "false",
		IkeConfig: ike, IpsecConfig: ipsec, CreateTime: x.now,
	}
	if c.Name == "" {
		c.Name = c.VpnConnectionID
	}
	c.move(x.now, 0, "ike_sa_not_established")
	x.c.VpnConnections[c.VpnConnectionID] = c
	g.move(x.now, x.s.delay, "updating", "active")
	if _, k := x.token("CreateVpnConnection"); k != "" {
		x.c.Tokens[k] = []string{c.VpnConnectionID}
	}
	x.realize(c)
	return obj{"VpnConnectionId": c.VpnConnectionID, "Name": c.Name, "CreateTime": c.CreateTime.UnixMilli()}, nil
}

func (x *rpcCtx) vpnConnection() (*VpnConnection, error) {
	id, err := x.req("VpnConnectionId")
	if err != nil {
		return nil, err
	}
	c, ok := x.c.VpnConnections[id]
	if !ok || c.RegionID != x.region {
		return nil, notFound("InvalidVpnConnectionInstanceId.NotFound", "VPN connection", id)
	}
	return c, nil
}

func deleteVpnConnection(x *rpcCtx) (obj, error) {
	c, err := x.vpnConnection()
	if err != nil {
		return nil, err
	}
	if g, ok := x.c.VpnGateways[c.VpnGatewayID]; ok {
		if g.Status != "active" {
			return nil, configuring(g)
		}
		g.move(x.now, x.s.delay, "updating", "active")
	}
	delete(x.c.VpnConnections, c.VpnConnectionID)
	if r := x.s.vpn; r != nil {
		id := c.VpnConnectionID
		x.after = append(x.after, func(ctx context.Context) error {
			if err := r.Delete(ctx, id); err != nil {
				return errf(http.StatusInternalServerError, "InternalError", "removing the tunnel of VPN connection %s failed: %v", id, err)
			}
			return nil
		})
	}
	return obj{}, nil
}

// realize has the VPN realizer, if any, make the connection's tunnel once
// the state lock is released. A failure fails the call (the record stays:
// a retry with the same ClientToken realizes it again).
func (x *rpcCtx) realize(c *VpnConnection) {
	r := x.s.vpn
	g, gok := x.c.VpnGateways[c.VpnGatewayID]
	cg, cok := x.c.CustomerGateways[c.CustomerGatewayID]
	if r == nil || !gok || !cok {
		return
	}
	conn, gw, cgw := *c, *g, *cg
	x.after = append(x.after, func(ctx context.Context) error {
		if err := r.Ensure(ctx, conn, gw, cgw); err != nil {
			return errf(http.StatusInternalServerError, "InternalError", "realizing VPN connection %s failed: %v", conn.VpnConnectionID, err)
		}
		return nil
	})
}

func vpnConnectionView(c *VpnConnection) obj {
	return obj{
		"VpnConnectionId": c.VpnConnectionID, "VpnGatewayId": c.VpnGatewayID, "CustomerGatewayId": c.CustomerGatewayID,
		"Name": c.Name, "LocalSubnet": c.LocalSubnet, "RemoteSubnet": c.RemoteSubnet, "Status": c.Status,
		"State": "active", "EffectImmediately": c.EffectImmediately, "EnableDpd": c.EnableDpd,
		"EnableNatTraversal": c.EnableNatTraversal, "CreateTime": c.CreateTime.UnixMilli(),
		"IkeConfig": c.IkeConfig, "IpsecConfig": c.IpsecConfig,
	}
}

func describeVpnConnections(x *rpcCtx) (obj, error) {
	gw, cg, id := x.str("VpnGatewayId"), x.str("CustomerGatewayId"), x.str("VpnConnectionId")
	var all []*VpnConnection
	for _, c := range x.c.VpnConnections {
		if c.RegionID == x.region && (gw == "" || c.VpnGatewayID == gw) && (cg == "" || c.CustomerGatewayID == cg) &&
			(id == "" || c.VpnConnectionID == id) {
			all = append(all, c)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].VpnConnectionID < all[j].VpnConnectionID })
	num, size, from, to, err := x.page(len(all))
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, c := range all[from:to] {
		out = append(out, vpnConnectionView(c))
	}
	return obj{"VpnConnections": obj{"VpnConnection": out}, "TotalCount": len(all), "PageNumber": num, "PageSize": size}, nil
}

func downloadVpnConnectionConfig(x *rpcCtx) (obj, error) {
	c, err := x.vpnConnection()
	if err != nil {
		return nil, err
	}
	local, remote := "", ""
	if g, ok := x.c.VpnGateways[c.VpnGatewayID]; ok {
		local = g.InternetIP
	}
	if g, ok := x.c.CustomerGateways[c.CustomerGatewayID]; ok {
		remote = g.IPAddress
	}
	return obj{"VpnConnectionConfig": obj{
		"Local": local, "Remote": remote, "LocalSubnet": c.LocalSubnet, "RemoteSubnet": c.RemoteSubnet,
		"IkeConfig": c.IkeConfig, "IpsecConfig": c.IpsecConfig,
	}}, nil
}
