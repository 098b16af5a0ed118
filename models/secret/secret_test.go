package secret

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func randomKey(t *testing.T) []byte {
	k := make([]byte, KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func TestSealOpen(t *testing.T) {
	host, err := NewKeyPair(randomKey(t), HostSealInfo)
	require.NoError(t, err)
	other, err := NewKeyPair(randomKey(t), HostSealInfo)
	require.NoError(t, err)

	sealed, err := Seal(host.PublicKey(), HostSealInfo, "s3cret-psk")
	require.NoError(t, err)
	require.NotContains(t, sealed, "s3cret-psk")
	again, err := Seal(host.PublicKey(), HostSealInfo, "s3cret-psk")
	require.NoError(t, err)
	require.NotEqual(t, sealed, again, "a fresh encapsulation per seal")
	got, err := host.Open(sealed)
	require.NoError(t, err)
	require.Equal(t, "s3cret-psk", got)

	_, err = other.Open(sealed)
	require.ErrorContains(t, err, "another key", "another host's key does not open it")
	cp, err := NewControlPlane(randomKey(t))
	require.NoError(t, err)
	toCP, err := Seal(cp.PublicKey(), ControlPlaneSealInfo, "x")
	require.NoError(t, err)
	_, err = host.Open(toCP)
	require.Error(t, err, "sealed for another use")
	_, err = host.Open("not base64!")
	require.Error(t, err)
	_, err = Seal("bad", HostSealInfo, "x")
	require.Error(t, err)
	_, err = NewKeyPair([]byte("short"), HostSealInfo)
	require.Error(t, err)
}

func TestBox(t *testing.T) {
	key := randomKey(t)
	cp, err := NewControlPlane(key)
	require.NoError(t, err)
	other, err := NewControlPlane(randomKey(t))
	require.NoError(t, err)

	a, err := cp.Encrypt("s3cret-psk")
	require.NoError(t, err)
	require.True(t, IsEncrypted(a))
	require.False(t, IsEncrypted("s3cret-psk"))
	require.NotContains(t, a, "s3cret-psk")
	b, err := cp.Encrypt("s3cret-psk")
	require.NoError(t, err)
	require.NotEqual(t, a, b, "a fresh nonce per encryption")
	got, err := cp.Decrypt(a)
	require.NoError(t, err)
	require.Equal(t, "s3cret-psk", got)

	same, err := NewControlPlane(key)
	require.NoError(t, err)
	got, err = same.Decrypt(a)
	require.NoError(t, err, "the keys derive from the key alone")
	require.Equal(t, "s3cret-psk", got)
	require.Equal(t, cp.PublicKey(), same.PublicKey())

	_, err = other.Decrypt(a)
	require.ErrorContains(t, err, "wrong secret key")
	_, err = cp.Decrypt("s3cret-psk")
	require.ErrorContains(t, err, "unknown format")
	_, err = cp.Decrypt(atRestTag + "AAAA")
	require.ErrorContains(t, err, "corrupt")
}

func TestLoadControlPlane(t *testing.T) {
	cp, err := LoadControlPlane(nil, "")
	require.NoError(t, err)
	require.Nil(t, cp, "no key, no control-plane secrets")
	path := t.TempDir() + "/k/hybrid.key"
	a, err := LoadControlPlane(nil, path)
	require.NoError(t, err)
	b, err := LoadControlPlane(nil, path)
	require.NoError(t, err)
	require.Equal(t, a.PublicKey(), b.PublicKey(), "the key file is kept")
}

// TestLoadOrCreateKeyFileRace has many creators race for one key file: all
// read the same full key, the file is 0600, and no temporary file is left.
func TestLoadOrCreateKeyFileRace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	path := filepath.Join(dir, "cp.key")
	const n = 16
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateKeyFile(path) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Len(t, keys[i], KeySize)
		require.Equal(t, keys[0], keys[i], "creator %d read another key", i)
	}
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the key file remains")
	again, err := LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	require.Equal(t, keys[0], again)
}
