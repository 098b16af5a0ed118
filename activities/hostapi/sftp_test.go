package hostapi_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/hostapi"
)

// TestSftpSourceURL: an sftp:// image URL carries the sealed key (any
// base64) and the host key through a round trip, and its redacted form
// and parse errors never show the key.
func TestSftpSourceURL(t *testing.T) {
	sealed := "AbC+/=xyz/+==" + strings.Repeat("k", 600)
	src := hostapi.SftpSource{User: "root", SealedKey: sealed, Host: "10.0.0.5", Port: 2222, Path: "/bs/images/x.qcow2",
		HostKey: "SHA256:abc+/def"}
	got, err := hostapi.ParseSftpSource(src.URL())
	require.NoError(t, err)
	require.Equal(t, src, got)
	require.NotContains(t, src.Redacted(), "AbC")

	noKey := src
	noKey.SealedKey = ""
	got, err = hostapi.ParseSftpSource(noKey.URL())
	require.NoError(t, err)
	require.Empty(t, got.SealedKey)

	v6 := src
	v6.Host = "fd00::5"
	got, err = hostapi.ParseSftpSource(v6.URL())
	require.NoError(t, err)
	require.Equal(t, "fd00::5", got.Host)

	for _, tc := range []struct{ name, url, want string }{
		{"http", "http://h/x", "not an sftp url"},
		{"no user", "sftp://h/x?hostKey=SHA256:a", "want sftp://user@host"},
		{"relative path", "sftp://u:AbCkey@h/../x?hostKey=SHA256:a", "absolute and clean"},
		{"bad port", "sftp://u:AbCkey@h:70000/x?hostKey=SHA256:a", "bad port"},
		{"no host key", "sftp://u:AbCkey@h/x", "hostKey=SHA256"},
		{"unescaped key", "sftp://u:" + sealed + "@h/x?hostKey=SHA256:a", "does not parse"},
		{"default port", "sftp://u@h/x?hostKey=SHA256:a", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := hostapi.ParseSftpSource(tc.url)
			if tc.want == "" {
				require.NoError(t, err)
				require.Equal(t, 22, s.Port)
				return
			}
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "AbC", "the key never shows in an error")
		})
	}
}
