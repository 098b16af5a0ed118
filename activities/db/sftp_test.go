package db

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/secret"
	"github.com/zcloud/zcloud/models/store"
)

// TestSftpKeySealing: an Sftp backup storage's key pair is made once and
// kept encrypted; a host gets an sftp:// URL whose key only its agent
// opens (and that logs in as the installed public key), with the host key
// to verify; a host without a sealing key gets a URL without a key, and a
// control plane without a secret key makes no key at all.
func TestSftpKeySealing(t *testing.T) {
	ctx := t.Context()
	a, st, _ := withSecrets(t)

	bsUUID, imgUUID := models.NewUUID(), models.NewUUID()
	bs := models.BackupStorage{Base: models.Base{UUID: bsUUID, Name: "sftp"}, URL: "/bs", Type: SftpType, State: models.StateEnabled,
		Status: models.StatusConnected, Hostname: "10.0.0.9", Username: "root", SSHPort: 2222}
	require.NoError(t, st.Create(ctx, store.ResBackupStorage, &bs, bsUUID, ""))

	k, err := a.sftpKey(ctx, bsUUID)
	require.NoError(t, err)
	again, err := a.sftpKey(ctx, bsUUID)
	require.NoError(t, err)
	require.Equal(t, k, again, "made once")
	require.True(t, secret.IsEncrypted(k.PrivateKey))
	require.NotContains(t, k.PrivateKey, "PRIVATE KEY")
	require.True(t, strings.HasPrefix(k.PublicKey, "restrict ssh-ed25519 "), k.PublicKey)
	require.NoError(t, st.SetSftpHostKey(ctx, bsUUID, "SHA256:bshostkey"))

	now := models.Now()
	require.NoError(t, st.Insert(ctx, store.ResImageBSRef, &models.ImageBackupStorageRef{UUID: models.NewUUID(), ImageUUID: imgUUID,
		BackupStorageUUID: bsUUID, InstallPath: "/bs/images/" + imgUUID + ".qcow2", Status: models.ImageReady, CreateDate: now, LastOpDate: now}))

	seed := make([]byte, secret.KeySize)
	_, err = rand.Read(seed)
	require.NoError(t, err)
	host, err := secret.NewKeyPair(seed, secret.HostSealInfo)
	require.NoError(t, err)
	require.NoError(t, st.SetHostSealingKey(ctx, "host-a", host.PublicKey()))

	raw, err := a.imageFetchURL(ctx, imgUUID, "host-a", "http://origin/x")
	require.NoError(t, err)
	src, err := hostapi.ParseSftpSource(raw)
	require.NoError(t, err)
	require.Equal(t, hostapi.SftpSource{User: "root", SealedKey: src.SealedKey, Host: "10.0.0.9", Port: 2222,
		Path: "/bs/images/" + imgUUID + ".qcow2", HostKey: "SHA256:bshostkey"}, src)
	require.NotContains(t, raw, "PRIVATE KEY")
	pem, err := host.Open(src.SealedKey)
	require.NoError(t, err)
	signer, err := ssh.ParsePrivateKey([]byte(pem))
	require.NoError(t, err)
	require.Contains(t, k.PublicKey, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))), "the sealed key is the installed one")

	other, err := secret.NewKeyPair(make([]byte, secret.KeySize), secret.HostSealInfo)
	require.NoError(t, err)
	_, err = other.Open(src.SealedKey)
	require.Error(t, err, "another host cannot open it")

	for _, hostUUID := range []string{"", "host-without-key"} {
		raw, err = a.imageFetchURL(ctx, imgUUID, hostUUID, "")
		require.NoError(t, err, "a spec for a stop or destroy must not fail")
		src, err = hostapi.ParseSftpSource(raw)
		require.NoError(t, err)
		require.Empty(t, src.SealedKey)
	}

	// A host writing an image of a volume gets the image's partial file
	// in the directory, with the key; without a key it gets an error.
	up := activities.SftpUploadParams{BSUUID: bsUUID, ImageUUID: strings.ToUpper(imgUUID), HostUUID: "host-a"}
	raw, err = a.SftpBSUploadURL(ctx, up)
	require.NoError(t, err)
	src, err = hostapi.ParseSftpSource(raw)
	require.NoError(t, err)
	require.Equal(t, "/bs/"+bsapi.PartialFile(imgUUID), src.Path)
	_, err = host.Open(src.SealedKey)
	require.NoError(t, err)
	up.HostUUID = "host-without-key"
	_, err = a.SftpBSUploadURL(ctx, up)
	require.ErrorContains(t, err, "cannot give host[uuid:host-without-key] the key")

	// An ImageStore copy over HTTP is preferred.
	require.NoError(t, st.Insert(ctx, store.ResImageBSRef, &models.ImageBackupStorageRef{UUID: models.NewUUID(), ImageUUID: imgUUID,
		BackupStorageUUID: models.NewUUID(), InstallPath: "http://bs:7090/images/x.qcow2", Status: models.ImageReady, CreateDate: now, LastOpDate: now}))
	raw, err = a.imageFetchURL(ctx, imgUUID, "host-a", "")
	require.NoError(t, err)
	require.Equal(t, "http://bs:7090/images/x.qcow2", raw)

	_, err = (&Activities{Store: st}).sftpKey(ctx, models.NewUUID())
	require.ErrorContains(t, err, "no secret key")
}
