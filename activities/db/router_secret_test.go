package db

import (
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/models/secret"
	"github.com/zcloud/zcloud/models/store"
)

// withSecrets gives activities on an in-memory store with a control-plane
// secret key.
func withSecrets(t *testing.T) (*Activities, *store.Store, *secret.ControlPlane) {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite::memory:")
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	key := make([]byte, secret.KeySize)
	_, err = rand.Read(key)
	require.NoError(t, err)
	cp, err := secret.NewControlPlane(key)
	require.NoError(t, err)
	return &Activities{Store: st, Secrets: cp}, st, cp
}

// TestRouterPSKSealing: a stored pre-shared key leaves for a host only
// sealed to the key its agent reported; a host without a key, or a control
// plane without a secret key, gets an error and never the key in clear.
func TestRouterPSKSealing(t *testing.T) {
	ctx := t.Context()
	a, st, cp := withSecrets(t)

	// The API seals to the control plane; the change keeps it encrypted.
	sealed, err := secret.Seal(cp.PublicKey(), secret.ControlPlaneSealInfo, "s3cret-psk")
	require.NoError(t, err)
	args := store.ChangeArgs{"authKey": sealed}
	require.NoError(t, a.encryptAuthKey(args))
	stored := args.Str("authKey")
	require.True(t, secret.IsEncrypted(stored))
	require.NotContains(t, stored, "s3cret-psk")
	require.Error(t, a.encryptAuthKey(store.ChangeArgs{"authKey": "s3cret-psk"}), "a key in clear is refused")

	_, err = a.hostSealer(ctx, "host-old")(stored)
	require.ErrorContains(t, err, "reported no sealing key")

	seed := make([]byte, secret.KeySize)
	_, err = rand.Read(seed)
	require.NoError(t, err)
	host, err := secret.NewKeyPair(seed, secret.HostSealInfo)
	require.NoError(t, err)
	require.NoError(t, st.SetHostSealingKey(ctx, "host-new", host.PublicKey()))
	out, err := a.hostSealer(ctx, "host-new")(stored)
	require.NoError(t, err)
	require.NotContains(t, out, "s3cret-psk")
	got, err := host.Open(out)
	require.NoError(t, err)
	require.Equal(t, "s3cret-psk", got)

	// An agent that reconnects without a key forgets the old one.
	require.NoError(t, st.SetHostSealingKey(ctx, "host-new", ""))
	_, err = a.hostSealer(ctx, "host-new")(stored)
	require.ErrorContains(t, err, "reported no sealing key")

	_, err = (&Activities{Store: st}).hostSealer(ctx, "host-new")(stored)
	require.ErrorContains(t, err, "no secret key")
	require.ErrorContains(t, (&Activities{Store: st}).encryptAuthKey(store.ChangeArgs{"authKey": sealed}), "no secret key")
}
