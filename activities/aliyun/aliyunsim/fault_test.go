package aliyunsim

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/stretchr/testify/require"
)

func TestFaultInjection(t *testing.T) {
	s := startSim(t, Options{})
	ec, vc := ecsClient(t, s, testAK, testSK), vpcClient(t, s)

	s.InjectThrottle("DescribeRegions", 2)
	for range 2 {
		_, err := ec.DescribeRegions(ecs.CreateDescribeRegionsRequest())
		se := requireServerError(t, err, "Throttling", 400)
		require.Equal(t, "Request was denied due to user flow control.", se.Message())
	}
	_, err := ec.DescribeRegions(ecs.CreateDescribeRegionsRequest())
	require.NoError(t, err)
	require.Equal(t, 3, s.Calls("DescribeRegions"))

	// A failure injected into CreateVpc leaves no VPC behind; the next call works.
	s.InjectError("CreateVpc", "InternalError", 500)
	_, err = vc.CreateVpc(vpc.CreateCreateVpcRequest())
	requireCode(t, err, "InternalError", 500)
	require.Empty(t, s.Vpcs())
	_, err = vc.CreateVpc(vpc.CreateCreateVpcRequest())
	require.NoError(t, err)
	require.Len(t, s.Vpcs(), 1)

	// Any-action throttling and probability.
	s.InjectThrottle("", 1)
	_, err = vc.DescribeVpcs(vpc.CreateDescribeVpcsRequest())
	requireCode(t, err, "Throttling", 400)
	s.SetThrottleRate(1)
	_, err = vc.DescribeVpcs(vpc.CreateDescribeVpcsRequest())
	requireCode(t, err, "Throttling", 400)
	s.ClearFaults()
	_, err = vc.DescribeVpcs(vpc.CreateDescribeVpcsRequest())
	require.NoError(t, err)

	s.SetLatency("DescribeZones", 150*time.Millisecond)
	start := time.Now()
	_, err = ec.DescribeZones(ecs.CreateDescribeZonesRequest())
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	s.ClearFaults()

	// OSS operations take injected errors as OSS XML errors.
	c := ossClient(t, s, testAK, testSK)
	require.NoError(t, c.CreateBucket("zs-fault"))
	b, err := c.Bucket("zs-fault")
	require.NoError(t, err)
	s.InjectError("PutObject", "ServiceUnavailable", 503)
	requireOSSCode(t, b.PutObject("k", strings.NewReader("v")), "ServiceUnavailable", 503)
	require.NoError(t, b.PutObject("k", strings.NewReader("v")))
}

// TestStatePersistence closes a server with a state file and opens a new one on it: resources,
// their pending transitions, ClientTokens and OSS objects survive.
func TestStatePersistence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	s1 := startSim(t, Options{StateFile: file})
	vc := vpcClient(t, s1)
	cv := vpc.CreateCreateVpcRequest()
	cv.CidrBlock, cv.ClientToken = "10.1.0.0/16", "tok-persist"
	v, err := vc.CreateVpc(cv)
	require.NoError(t, err)
	c := ossClient(t, s1, testAK, testSK)
	require.NoError(t, c.CreateBucket("zs-persist"))
	b, err := c.Bucket("zs-persist")
	require.NoError(t, err)
	require.NoError(t, b.PutObject("obj", strings.NewReader("kept")))
	require.NoError(t, s1.Close())

	s2 := startSim(t, Options{StateFile: file})
	vc2 := vpcClient(t, s2)
	require.Equal(t, "Pending", vpcStatus(t, vc2, v.VpcId), "the pending transition survives")
	eventually(t, s2, "VPC Available", func() bool { return vpcStatus(t, vc2, v.VpcId) == "Available" })
	cv2 := vpc.CreateCreateVpcRequest() // a request remembers the endpoint it was sent to
	cv2.CidrBlock, cv2.ClientToken = "10.1.0.0/16", "tok-persist"
	again, err := vc2.CreateVpc(cv2)
	require.NoError(t, err)
	require.Equal(t, v.VpcId, again.VpcId, "ClientToken survives")
	require.Len(t, s2.Vpcs(), 1)
	b2, err := ossClient(t, s2, testAK, testSK).Bucket("zs-persist")
	require.NoError(t, err)
	r, err := b2.GetObject("obj")
	require.NoError(t, err)
	defer r.Close()
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, "kept", string(got))

	_, err = New(Options{StateFile: filepath.Join(t.TempDir(), "missing.json")})
	require.NoError(t, err, "a missing state file starts empty")
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte("{not json"), 0o600))
	_, err = New(Options{StateFile: bad})
	require.ErrorContains(t, err, "parse state file")
}
