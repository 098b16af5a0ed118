package aliyunsim

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/stretchr/testify/require"
)

const (
	testAK      = "LTAI5tSimAccessKey01"
	testSK      = "SimAccessKeySecret01"
	testAccount = "1234567890123456"
	testRegion  = "cn-hangzhou"
	testZone    = "cn-hangzhou-h"
)

// clearProxy removes proxy variables: the Alibaba SDKs apply them even to 127.0.0.1.
func clearProxy(t *testing.T) {
	t.Helper()
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"} {
		t.Setenv(k, "")
	}
}

// testClock is a server clock that only moves when a test advances it, so that intermediate
// states (Pending, Starting...) are observed deterministically.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// sim is a started Server and, unless the test brought its own, its manual clock.
type sim struct {
	*Server
	clk *testClock
}

func startSim(t *testing.T, opts Options) *sim {
	t.Helper()
	clearProxy(t)
	opts.Keys = append(opts.Keys, AccessKey{ID: testAK, Secret: testSK, AccountID: testAccount})
	var clk *testClock
	if opts.Clock == nil {
		clk = &testClock{now: time.Now()}
		opts.Clock = clk.Now
	}
	if opts.TransitionDelay == 0 {
		opts.TransitionDelay = time.Second
	}
	s, err := New(opts)
	require.NoError(t, err)
	require.NoError(t, s.Start("127.0.0.1:0"))
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return &sim{Server: s, clk: clk}
}

// sdkConfig is how ZCloud's client points the classic SDK at the simulator.
func sdkConfig() *sdk.Config { return sdk.NewConfig().WithScheme("http").WithTimeout(5 * time.Second) }

func ecsClient(t *testing.T, s *sim, ak, sk string) *ecs.Client {
	t.Helper()
	c, err := ecs.NewClientWithOptions(testRegion, sdkConfig(), credentials.NewAccessKeyCredential(ak, sk))
	require.NoError(t, err)
	c.Domain = s.Endpoint()
	return c
}

func vpcClient(t *testing.T, s *sim) *vpc.Client {
	t.Helper()
	c, err := vpc.NewClientWithOptions(testRegion, sdkConfig(), credentials.NewAccessKeyCredential(testAK, testSK))
	require.NoError(t, err)
	c.Domain = s.Endpoint()
	return c
}

func stsClient(t *testing.T, s *sim, ak, sk string) *sts.Client {
	t.Helper()
	c, err := sts.NewClientWithOptions(testRegion, sdkConfig(), credentials.NewAccessKeyCredential(ak, sk))
	require.NoError(t, err)
	c.Domain = s.Endpoint()
	return c
}

// requireCode asserts that err is the SDK's ServerError with code and HTTP status.
func requireCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	_ = requireServerError(t, err, code, status)
}

// requireServerError is requireCode for callers that inspect the error further: it
// returns the asserted ServerError.
func requireServerError(t *testing.T, err error, code string, status int) *sdkerrors.ServerError {
	t.Helper()
	require.Error(t, err)
	var se *sdkerrors.ServerError
	require.True(t, errors.As(err, &se), "want *errors.ServerError, got %T: %v", err, err)
	require.Equal(t, code, se.ErrorCode(), "message: %s", se.Message())
	require.Equal(t, status, se.HttpStatus())
	require.NotEmpty(t, se.RequestId())
	return se
}

// eventually checks cond, advancing the server clock 100 ms between checks, until it holds;
// it fails after 60 simulated seconds.
func eventually(t *testing.T, s *sim, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i == 600 {
			t.Fatalf("%s did not happen within 60 simulated seconds", what)
		}
		s.clk.Advance(100 * time.Millisecond)
	}
}
