// Package aliyunsim is a stand-alone fake Alibaba Cloud endpoint for ZCloud's tests and
// `zcloud dev`: ECS (2014-05-26), VPC/EIP/VPN/Express Connect (2016-04-28), STS (2015-04-01)
// and an OSS subset, all on one HTTP listener on 127.0.0.1. The real Alibaba SDKs talk to it;
// it is never a mock of ZCloud's own code.
//
// It verifies every request: RPC calls must carry a valid HMAC-SHA1 (signature V2) with a
// known AccessKeyId, a timestamp within 15 minutes and a fresh SignatureNonce; OSS calls must
// carry a valid OSS V1 ("OSS ak:sig") or V4 ("OSS4-HMAC-SHA256") signature. Errors use Alibaba's
// codes and HTTP statuses: a JSON body {RequestId, HostId, Code, Message, Recommend} for RPC, an
// XML <Error> for OSS. Resources move through their asynchronous states (instance Pending →
// Stopped, Starting → Running, Stopping → Stopped; VPC and VSwitch Pending → Available; EIP
// Associating → InUse; VPN gateway provisioning/updating → active; route entry Pending →
// Available; router interface Connecting → Active; imported image Creating → Available), each
// step taking Options.TransitionDelay. Transitions are applied lazily when the state is next
// read, so no goroutine owns them and a state file resumes where it stopped.
//
// # Pointing the SDKs at the simulator
//
// Clear HTTP_PROXY/HTTPS_PROXY (and lower-case forms) or set NoProxy: the classic SDK applies
// proxies itself, even to 127.0.0.1.
//
// Classic SDK (github.com/aliyun/alibaba-cloud-sdk-go; ecs, vpc and sts clients alike):
//
//	cfg := sdk.NewConfig().WithScheme("http").WithTimeout(5 * time.Second)
//	cli, err := ecs.NewClientWithOptions("cn-hangzhou", cfg, credentials.NewAccessKeyCredential(ak, sk))
//	cli.Domain = sim.Endpoint() // "127.0.0.1:PORT"; no endpoint is then resolved over the network
//	cli.SetNoProxy("127.0.0.1")  // optional when the proxy variables are clear
//
// A single request can instead set req.Domain = sim.Endpoint() and req.Scheme = "http".
//
// OSS SDK (github.com/aliyun/aliyun-oss-go-sdk/oss): an IP endpoint makes the SDK use path-style
// URLs (http://127.0.0.1:PORT/bucket/key), which the simulator serves:
//
//	c, err := oss.New(sim.URL(), ak, sk)                                              // V1 signature
//	c, err := oss.New(sim.URL(), ak, sk, oss.AuthVersion(oss.AuthV4), oss.Region("cn-hangzhou")) // V4
//
// The new SDK family's V3 signature (ACS3-HMAC-SHA256) is rejected with IncompleteSignature; set
// its SignatureAlgorithm to "v2" to use the RPC signature this package verifies.
//
// # Not simulated
//
// DescribeInstanceVncUrl returns a URL but no VNC WebSocket is served behind it. VPN connections
// have no IPsec peer of their own, so their status stays ike_sa_not_established unless a test
// calls SetVpnConnectionStatus; Options.VPNRealizer can make a real one (workers/node realizes
// a gateway as a strongSwan namespace on the test host's public bridge). Dual-tunnel VPN connections, cross-account router interfaces and
// route next hops other than Instance, VpnGateway and RouterInterface answer a clear error.
// Physical connections are seeded with AddPhysicalConnection.
package aliyunsim
