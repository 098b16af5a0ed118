package aliyun

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
)

func randomKey(t *testing.T) []byte {
	k := make([]byte, KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func TestSecretsRoundTrip(t *testing.T) {
	s, err := NewSecrets(randomKey(t))
	require.NoError(t, err)
	other, err := NewSecrets(randomKey(t))
	require.NoError(t, err)

	sealed, err := Seal(s.PublicKey(), "my-secret")
	require.NoError(t, err)
	require.NotContains(t, sealed, "my-secret")
	got, err := s.open(sealed)
	require.NoError(t, err)
	require.Equal(t, "my-secret", got)
	_, err = other.open(sealed)
	require.Error(t, err, "sealed to another control plane's key")

	a, err := s.encrypt("my-secret")
	require.NoError(t, err)
	b, err := s.encrypt("my-secret")
	require.NoError(t, err)
	require.NotEqual(t, a, b, "a fresh nonce per encryption")
	got, err = s.decrypt(a)
	require.NoError(t, err)
	require.Equal(t, "my-secret", got)
	_, err = other.decrypt(a)
	require.Error(t, err, "another key cannot decrypt")
	_, err = NewSecrets([]byte("short"))
	require.Error(t, err)
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "hybrid.key")
	k1, err := LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	require.Len(t, k1, KeySize)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	k2, err := LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	require.Equal(t, k1, k2, "the key is kept")
	require.NoError(t, os.WriteFile(path, []byte("bad"), 0o600))
	_, err = LoadOrCreateKeyFile(path)
	require.Error(t, err)
}

func TestRemoteErrMapping(t *testing.T) {
	for _, tc := range []struct {
		code      string
		status    int
		retryable bool
		kind      models.Kind
		zcode     string
	}{
		{"Throttling", 400, true, "", ""},
		{"Throttling.User", 400, true, "", ""},
		{"ServiceUnavailable", 503, true, "", ""},
		{"InternalError", 500, true, "", ""},
		{"SignatureDoesNotMatch", 400, false, models.KindInvalid, models.CodeInvalidArgument},
		{"InvalidAccessKeyId.NotFound", 404, false, models.KindInvalid, models.CodeInvalidArgument},
		{"IncorrectInstanceStatus", 403, false, models.KindConflict, models.CodeVMState},
		{"InvalidInstanceId.NotFound", 404, false, models.KindNotFound, models.CodeNotFound},
		{"QuotaExceeded.Instance", 403, false, models.KindUnavailable, models.CodeOperation},
		{"DependencyViolation", 400, false, models.KindConflict, models.CodeOperation},
	} {
		t.Run(tc.code, func(t *testing.T) {
			se := sdkerrors.NewServerError(tc.status, `{"Code":"`+tc.code+`","Message":"m","RequestId":"r-1"}`, "")
			err := remoteErr("Act", se)
			var app *temporal.ApplicationError
			require.True(t, errors.As(err, &app), "got %T", err)
			require.Equal(t, tc.retryable, !app.NonRetryable(), "retryable")
			require.Contains(t, app.Error(), tc.code, "the Alibaba code is kept")
			if tc.retryable {
				require.Equal(t, ErrTypeRetry, app.Type())
				return
			}
			require.Equal(t, activities.ErrType, app.Type())
			var me models.Error
			require.NoError(t, app.Details(&me))
			require.Equal(t, tc.kind, me.Kind)
			require.Equal(t, tc.zcode, me.Code)
		})
	}
	// A network failure is retried.
	err := remoteErr("Act", errors.New("connection refused"))
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app))
	require.False(t, app.NonRetryable())
}

func TestLimiterPerKey(t *testing.T) {
	a := New(nil, nil, Config{RatePerKey: 5}, nil)
	l := a.limiter("AK1")
	require.Same(t, l, a.limiter("AK1"), "one bucket per AccessKey")
	for i := 0; i < 5; i++ {
		require.True(t, l.Allow(), "burst %d", i)
	}
	require.False(t, l.Allow(), "the bucket is empty")
	require.True(t, a.limiter("AK2").Allow(), "another key has its own bucket")
}
