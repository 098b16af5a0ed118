package aliyunsim

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/stretchr/testify/require"
)

// recordingRealizer keeps the tunnels it was asked for; fail makes the
// next Ensure fail.
type recordingRealizer struct {
	mu      sync.Mutex
	tunnels map[string]string // connection id → "gwIP>cgIP psk"
	fail    bool
}

func (r *recordingRealizer) Ensure(_ context.Context, c VpnConnection, gw VpnGateway, cg CustomerGateway) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		r.fail = false
		return errors.New("no namespace today")
	}
	r.tunnels[c.VpnConnectionID] = gw.InternetIP + ">" + cg.IPAddress + " " + c.IkeConfig.Psk + " " + c.LocalSubnet
	return nil
}

func (r *recordingRealizer) Delete(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.tunnels, id)
	return nil
}

func (r *recordingRealizer) snapshot() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]string{}
	for k, v := range r.tunnels {
		out[k] = v
	}
	return out
}

// TestVpnRealizer checks the VPNRealizer hook: a created connection is
// realized with its gateway's public IP, the customer gateway's IP, the
// key and Alibaba's subnet; a failed realization fails the call and the
// retry with the same ClientToken realizes the same connection; a delete
// removes the tunnel.
func TestVpnRealizer(t *testing.T) {
	r := &recordingRealizer{tunnels: map[string]string{}}
	s := startSim(t, Options{VPNRealizer: r})
	ec, vc := ecsClient(t, s, testAK, testSK), vpcClient(t, s)
	n := newNetwork(t, s, ec, vc)
	cg := vpc.CreateCreateVpnGatewayRequest()
	cg.VpcId, cg.VSwitchId, cg.Bandwidth, cg.Name = n.vpcID, n.vswID, requests.NewInteger(10), "gw"
	gw, err := vc.CreateVpnGateway(cg)
	require.NoError(t, err)
	eventually(t, s, "gateway active", func() bool { return s.VpnGateways()[0].Status == "active" })
	cc := vpc.CreateCreateCustomerGatewayRequest()
	cc.IpAddress = "203.0.113.10"
	cust, err := vc.CreateCustomerGateway(cc)
	require.NoError(t, err)

	conn := vpc.CreateCreateVpnConnectionRequest()
	conn.VpnGatewayId, conn.CustomerGatewayId = gw.VpnGatewayId, cust.CustomerGatewayId
	conn.LocalSubnet, conn.RemoteSubnet, conn.ClientToken = "192.168.1.0/24", "10.10.0.0/16", "token-1"
	conn.IkeConfig = `{"Psk":"s3cret-psk"}`
	r.fail = true
	_, err = vc.CreateVpnConnection(conn)
	requireCode(t, err, "InternalError", 500)
	require.Empty(t, r.snapshot())
	eventually(t, s, "gateway active", func() bool { return s.VpnGateways()[0].Status == "active" })
	vco, err := vc.CreateVpnConnection(conn)
	require.NoError(t, err)
	require.Len(t, s.VpnConnections(), 1, "the retry found the first attempt's connection")
	want := s.VpnGateways()[0].InternetIP + ">203.0.113.10 s3cret-psk 192.168.1.0/24"
	require.Equal(t, map[string]string{vco.VpnConnectionId: want}, r.snapshot())

	eventually(t, s, "gateway active", func() bool { return s.VpnGateways()[0].Status == "active" })
	dvc := vpc.CreateDeleteVpnConnectionRequest()
	dvc.VpnConnectionId = vco.VpnConnectionId
	_, err = vc.DeleteVpnConnection(dvc)
	require.NoError(t, err)
	require.Empty(t, r.snapshot())
}
