package aliyunsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"github.com/stretchr/testify/require"
)

// TestRPCSignatureVector checks the verifier against Alibaba's published example.
func TestRPCSignatureVector(t *testing.T) {
	p := url.Values{
		"AccessKeyId": {"testid"}, "Action": {"DescribeRegions"}, "Format": {"XML"},
		"SignatureMethod": {"HMAC-SHA1"}, "SignatureNonce": {"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"},
		"SignatureVersion": {"1.0"}, "Timestamp": {"2016-02-23T12:46:24Z"}, "Version": {"2014-05-26"},
	}
	for _, tc := range []struct{ method, want string }{
		{"GET", "OLeaidS1JvxuMvnyHOwuJ+uX5qY="},
		{"POST", "MxbnVAM4w6sft9xjVpe/GCKueuk="},
	} {
		got := rpcSign(rpcStringToSign(tc.method, p), "testsecret")
		require.Equal(t, tc.want, got, tc.method)
	}
}

func TestCallerIdentityAndAuthErrors(t *testing.T) {
	s := startSim(t, Options{})

	t.Run("valid key", func(t *testing.T) {
		resp, err := stsClient(t, s, testAK, testSK).GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
		require.NoError(t, err)
		require.Equal(t, testAccount, resp.AccountId)
		require.Equal(t, "acs:ram::"+testAccount+":root", resp.Arn)
	})
	t.Run("unknown key", func(t *testing.T) {
		_, err := stsClient(t, s, "LTAI5tNoSuchKey", testSK).GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
		requireCode(t, err, "InvalidAccessKeyId.NotFound", 404)
	})
	t.Run("wrong secret", func(t *testing.T) {
		_, err := stsClient(t, s, testAK, "wrong-secret").GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
		se := requireServerError(t, err, "SignatureDoesNotMatch", 400)
		// The SDK compares the server's string to sign with its own; equal means the secret is wrong.
		require.Contains(t, se.Recommend(), "InvalidAccessKeySecret")
	})
	t.Run("removed key", func(t *testing.T) {
		s.AddAccessKey("LTAI5tTemp", "temp", "999")
		_, err := stsClient(t, s, "LTAI5tTemp", "temp").GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
		require.NoError(t, err)
		s.RemoveAccessKey("LTAI5tTemp")
		_, err = stsClient(t, s, "LTAI5tTemp", "temp").GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
		requireCode(t, err, "InvalidAccessKeyId.NotFound", 404)
	})
	t.Run("tampered parameter", func(t *testing.T) {
		c := ecsClient(t, s, testAK, testSK)
		c.SetTransport(rewriteTransport(func(r *http.Request) {
			q := r.URL.Query()
			q.Set("RegionId", "cn-beijing") // changed after signing
			r.URL.RawQuery = q.Encode()
		}))
		_, err := c.DescribeRegions(ecs.CreateDescribeRegionsRequest())
		se := requireServerError(t, err, "SignatureDoesNotMatch", 400)
		require.Contains(t, se.Message(), "server string to sign is:POST&%2F&")
	})
	t.Run("replayed nonce", func(t *testing.T) {
		c := ecsClient(t, s, testAK, testSK)
		c.SetTransport(replayTransport{})
		_, err := c.DescribeRegions(ecs.CreateDescribeRegionsRequest())
		requireCode(t, err, "SignatureNonceUsed", 400)
	})
	t.Run("unknown action", func(t *testing.T) {
		c := ecsClient(t, s, testAK, testSK)
		req := requests.NewCommonRequest()
		req.Method, req.Scheme, req.Domain = "POST", "http", s.Endpoint()
		req.Version, req.ApiName, req.Product = VersionECS, "NoSuchAction", "Ecs"
		_, err := c.ProcessCommonRequest(req)
		requireCode(t, err, "InvalidAction.NotFound", 404)
	})
	t.Run("error body", func(t *testing.T) {
		resp, err := http.Post(s.URL()+"/?Action=DescribeRegions&Version=2014-05-26", "application/x-www-form-urlencoded", nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 400, resp.StatusCode)
		var body map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		for _, k := range []string{"RequestId", "HostId", "Code", "Message", "Recommend"} {
			require.NotEmpty(t, body[k], k)
		}
		require.Equal(t, "MissingParameter", body["Code"])
	})
}

func TestSkewedTimestamp(t *testing.T) {
	// The server's clock runs an hour ahead, so the SDK's fresh timestamp is an hour old.
	s := startSim(t, Options{Clock: func() time.Time { return time.Now().Add(time.Hour) }})
	_, err := stsClient(t, s, testAK, testSK).GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	requireCode(t, err, "InvalidTimeStamp.Expired", 400)

	s2 := startSim(t, Options{Clock: func() time.Time { return time.Now().Add(10 * time.Minute) }})
	_, err = stsClient(t, s2, testAK, testSK).GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	require.NoError(t, err, "10 minutes of skew is within the 15 allowed")
}

type rewriteTransport func(*http.Request)

func (f rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	f(r)
	return http.DefaultTransport.RoundTrip(r)
}

// replayTransport sends each request twice and returns the second answer.
type replayTransport struct{}

func (replayTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
	}
	send := func() (*http.Response, error) {
		c := r.Clone(r.Context())
		c.Body = io.NopCloser(bytes.NewReader(body))
		return http.DefaultTransport.RoundTrip(c)
	}
	first, err := send()
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(first.Body)
	first.Body.Close()
	if first.StatusCode != 200 || !strings.Contains(string(b), "Regions") {
		return nil, io.ErrUnexpectedEOF
	}
	return send()
}
