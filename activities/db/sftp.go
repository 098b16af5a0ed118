package db

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"log/slog"
	"path"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"golang.org/x/crypto/ssh"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/activities/sshdeploy"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/secret"
	"github.com/zcloud/zcloud/models/store"
)

// SftpType is the Sftp backup storage's type, as ZStack names it. It runs
// the ImageStore agent with its HTTP server on loopback only: images leave
// it over SSH, with a key of the backup storage's own.
const SftpType = activities.SftpBSType

// sftpOps are the Sftp backup storage's database operations of RunOp.
var sftpOps = map[string]opFunc{"AddSftpBackupStorage": addSftpBS}

// sftpCreated names the resources the Sftp operations create.
var sftpCreated = map[string]string{"AddSftpBackupStorage": store.ResBackupStorage}

// bsHasAgent reports whether a backup storage of type typ runs the
// backup storage agent (queue bsapi.Queue).
func bsHasAgent(typ string) bool { return typ == bsapi.Type || typ == SftpType }

func (a *Activities) registerSftp(w worker.Registry) {
	for name, fn := range map[string]any{
		activities.SftpBSPrepare:      a.SftpBSPrepare,
		activities.SftpBSRemoveKey:    a.SftpBSRemoveKey,
		activities.SftpBSCheckUpdate:  a.SftpBSCheckUpdate,
		activities.SftpBSRecordUpdate: a.SftpBSRecordUpdate,
		activities.SftpBSForgetUpdate: a.SftpBSForgetUpdate,
		activities.SftpBSUploadURL:    a.SftpBSUploadURL,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// addSftpBS records an Sftp backup storage as Connecting; its SSH password
// was stored by the API before the job started.
func addSftpBS(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	url := str(args, "url")
	if err := sshdeploy.CheckStoreDir(url); err != nil {
		return activities.Result{}, err
	}
	port := int(num(args, "sshPort"))
	if port == 0 {
		port = sshdeploy.DefaultSSHPort
	}
	bs := models.BackupStorage{Base: base(args), URL: url, Type: SftpType, State: models.StateEnabled, Status: models.StatusConnecting,
		Hostname: models.Ref(str(args, "hostname")), Username: models.Ref(orDefault(str(args, "username"), sshdeploy.DefaultUsername)), SSHPort: port}
	return create(ctx, a, store.ResBackupStorage, bs.UUID, &bs, p)
}

// sftpBS reads an Sftp backup storage and how to reach it over SSH.
func (a *Activities) sftpBS(ctx context.Context, bsUUID string) (models.BackupStorage, sshdeploy.Target, error) {
	bs, t, err := a.bsTarget(ctx, bsUUID)
	if err == nil && bs.Type != SftpType {
		err = models.Invalid("backup storage[uuid:%s] is a %s, not an %s", bsUUID, bs.Type, SftpType)
	}
	return bs, t, err
}

// SftpBSPrepare checks an Sftp backup storage over SSH: the login, its
// directory (made when missing), and its key pair (made once, kept
// encrypted) installed in the user's authorized_keys. It records the
// host's key, which hosts verify. A backup storage whose host key was
// recorded must present the same one (UpdateSftpBackupStorage learns a
// new one).
func (a *Activities) SftpBSPrepare(ctx context.Context, p activities.BSRef) error {
	bs, t, err := a.sftpBS(ctx, p.BSUUID)
	if err != nil {
		return wrap(err)
	}
	k, err := a.sftpKey(ctx, bs.UUID)
	if err != nil {
		return wrap(err)
	}
	t.HostKey = k.HostKey
	hostKey, err := sshdeploy.PrepareSftpStore(ctx, t, bs.URL, k.PublicKey)
	if err != nil {
		return wrap(err)
	}
	return wrap(a.Store.SetSftpHostKey(ctx, bs.UUID, hostKey))
}

// SftpBSRemoveKey removes a backup storage's public key from its user's
// authorized_keys; a backup storage or key that is gone is fine.
func (a *Activities) SftpBSRemoveKey(ctx context.Context, p activities.BSRef) error {
	bs, t, err := a.bsTarget(ctx, p.BSUUID)
	if errors.Is(err, models.ErrNotFound) || err == nil && bs.Type != SftpType {
		return nil
	}
	if err != nil {
		return wrap(err)
	}
	return wrap(a.removeSftpKey(ctx, bs.UUID, t))
}

func (a *Activities) removeSftpKey(ctx context.Context, bsUUID string, t sshdeploy.Target) error {
	k, err := a.Store.SftpKey(ctx, bsUUID)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if k.HostKey == "" {
		return nil // never installed: the host key is recorded when it is
	}
	t.HostKey = k.HostKey
	if err := sshdeploy.RemoveAuthorizedKey(ctx, t, k.PublicKey); err != nil {
		return err
	}
	a.logger().Info("sftp backup storage key removed", slog.String("bs_uuid", bsUUID))
	return nil
}

func (a *Activities) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

// sftpKey returns a backup storage's key pair, making it the first time:
// an ed25519 key whose private half is kept encrypted with the control
// plane's secret key. Its authorized_keys line is restricted (no
// forwarding, no pty) and names the backup storage.
func (a *Activities) sftpKey(ctx context.Context, bsUUID string) (store.SftpKey, error) {
	k, err := a.Store.SftpKey(ctx, bsUUID)
	if !errors.Is(err, models.ErrNotFound) {
		return k, err
	}
	if a.Secrets == nil {
		return k, models.Unavailable("this control plane has no secret key (hybrid key file): it cannot keep the ssh key of an Sftp backup storage")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return k, err
	}
	comment := "zcloud-sftp-bs-" + bsUUID
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return k, err
	}
	enc, err := a.Secrets.Encrypt(string(pem.EncodeToMemory(block)))
	if err != nil {
		return k, err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return k, err
	}
	line := "restrict " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " " + comment
	return a.Store.CreateSftpKey(ctx, store.SftpKey{BSUUID: bsUUID, PrivateKey: enc, PublicKey: line})
}

// SftpBSCheckUpdate checks the settings UpdateSftpBackupStorage asks for
// over SSH before anything is saved: the login (with the new password the
// API stored under PendingUUID), the directory, and the key installed for
// the new login. The host key is learnt anew.
func (a *Activities) SftpBSCheckUpdate(ctx context.Context, p activities.SftpBSUpdateParams) (activities.SftpBSCheckResult, error) {
	bs, t, err := a.sftpBS(ctx, p.BSUUID)
	if err != nil {
		return activities.SftpBSCheckResult{}, wrap(err)
	}
	t.ManagementIP = orDefault(p.Hostname, t.ManagementIP)
	t.Username = orDefault(p.Username, t.Username)
	if p.SSHPort != 0 {
		t.SSHPort = p.SSHPort
	}
	if p.PendingUUID != "" {
		if t.Password, err = a.Store.SSHPassword(ctx, p.PendingUUID); err != nil {
			return activities.SftpBSCheckResult{}, wrap(err)
		}
	}
	k, err := a.Store.SftpKey(ctx, bs.UUID)
	if err != nil {
		return activities.SftpBSCheckResult{}, wrap(err)
	}
	hostKey, err := sshdeploy.PrepareSftpStore(ctx, t, bs.URL, k.PublicKey)
	return activities.SftpBSCheckResult{HostKey: hostKey}, wrap(err)
}

// SftpBSRecordUpdate saves checked settings: the backup storage's record,
// the new password (moved from its pending slot) and the host key.
func (a *Activities) SftpBSRecordUpdate(ctx context.Context, p activities.SftpBSRecordParams) (activities.Result, error) {
	changes := map[string]any{}
	for k, v := range map[string]string{"hostname": p.Hostname, "username": p.Username, "name": p.Name, "description": p.Description} {
		if v != "" {
			changes[k] = v
		}
	}
	if p.SSHPort != 0 {
		changes["sshPort"] = p.SSHPort
	}
	if len(changes) > 0 {
		if err := a.Store.Update(ctx, store.ResBackupStorage, p.BSUUID, changes); err != nil {
			return activities.Result{}, wrap(err)
		}
	}
	if p.PendingUUID != "" {
		pw, err := a.Store.SSHPassword(ctx, p.PendingUUID)
		switch {
		case err == nil:
			if err := a.Store.SetSSHPassword(ctx, p.BSUUID, pw); err != nil {
				return activities.Result{}, wrap(err)
			}
		case !errors.Is(err, models.ErrNotFound): // not found: moved by an earlier attempt
			return activities.Result{}, wrap(err)
		}
		if err := a.Store.DeleteSSHPassword(ctx, p.PendingUUID); err != nil {
			return activities.Result{}, wrap(err)
		}
	}
	if err := a.Store.SetSftpHostKey(ctx, p.BSUUID, p.HostKey); err != nil {
		return activities.Result{}, wrap(err)
	}
	res, err := render(ctx, a, store.ResBackupStorage, p.BSUUID)
	return res, wrap(err)
}

// SftpBSForgetUpdate forgets the pending password of an update that
// failed; forgetting none is fine.
func (a *Activities) SftpBSForgetUpdate(ctx context.Context, p activities.SftpBSUpdateParams) error {
	if p.PendingUUID == "" {
		return nil
	}
	return wrap(a.Store.DeleteSSHPassword(ctx, p.PendingUUID))
}

// imageFetchURL is where hostUUID fetches an image: an ImageStore agent's
// copy over HTTP, else an Sftp backup storage's copy over SSH (the key
// sealed to the host's agent), else fallback (the image's own URL, for
// simulator backup storage).
func (a *Activities) imageFetchURL(ctx context.Context, imageUUID, hostUUID, fallback string) (string, error) {
	var copies []struct {
		Path   string `db:"install_path"`
		BSUUID string `db:"backup_storage_uuid"`
		Type   string `db:"type"`
	}
	if err := a.Store.DB().SelectContext(ctx, &copies, `SELECT COALESCE(r.install_path, '') AS install_path, r.backup_storage_uuid,
		COALESCE(b.type, '') AS type FROM image_backup_storage_refs r LEFT JOIN backup_storages b ON b.uuid = r.backup_storage_uuid
		WHERE r.image_uuid = ? AND r.status = ? ORDER BY r.create_date, r.uuid`, imageUUID, models.ImageReady); err != nil {
		return "", err
	}
	for _, c := range copies {
		if strings.HasPrefix(c.Path, "http") {
			return c.Path, nil
		}
	}
	for _, c := range copies {
		if c.Type == SftpType && strings.HasPrefix(c.Path, "/") {
			return a.sftpFetchURL(ctx, c.BSUUID, c.Path, hostUUID)
		}
	}
	return fallback, nil
}

// sftpFetchURL is the sftp:// URL of a file on an Sftp backup storage for
// hostUUID. When the key cannot be sealed to the host (no host yet, an
// agent without a sealing key, a control plane without a secret key) the
// URL carries none and the host answers why it cannot fetch: building a
// VM's spec for a stop or a destroy must not fail for it.
func (a *Activities) sftpFetchURL(ctx context.Context, bsUUID, path, hostUUID string) (string, error) {
	src, k, err := a.sftpSource(ctx, bsUUID, path)
	if err != nil {
		return "", err
	}
	if src.SealedKey, err = a.sealSftpKey(ctx, k, hostUUID); err != nil {
		a.logger().Warn("sftp image url without key", slog.String("bs_uuid", bsUUID), slog.String("host_uuid", hostUUID), slog.Any("error", err))
	}
	return src.URL(), nil
}

// sftpSource is the file path of an Sftp backup storage as a host reaches
// it (without the key), and the backup storage's key.
func (a *Activities) sftpSource(ctx context.Context, bsUUID, path string) (hostapi.SftpSource, store.SftpKey, error) {
	var bs models.BackupStorage
	if err := a.Store.Get(ctx, store.ResBackupStorage, bsUUID, &bs); err != nil {
		return hostapi.SftpSource{}, store.SftpKey{}, err
	}
	if bs.Type != SftpType {
		return hostapi.SftpSource{}, store.SftpKey{}, models.Invalid("backup storage[uuid:%s] is a %s, not an %s", bsUUID, bs.Type, SftpType)
	}
	k, err := a.Store.SftpKey(ctx, bsUUID)
	if err != nil {
		return hostapi.SftpSource{}, store.SftpKey{}, err
	}
	src := hostapi.SftpSource{User: string(bs.Username), Host: string(bs.Hostname), Port: bs.SSHPort, Path: path, HostKey: k.HostKey}
	if src.Port == 0 {
		src.Port = sshdeploy.DefaultSSHPort
	}
	return src, k, nil
}

// SftpBSUploadURL is where a host writes an image of a volume on an Sftp
// backup storage: the image's partial file (bsapi.PartialFile) in the
// backup storage's directory, which its agent then takes in. Unlike a
// fetch URL it must carry the key, sealed to the host.
func (a *Activities) SftpBSUploadURL(ctx context.Context, p activities.SftpUploadParams) (string, error) {
	var bs models.BackupStorage
	if err := a.Store.Get(ctx, store.ResBackupStorage, p.BSUUID, &bs); err != nil {
		return "", wrap(err)
	}
	src, k, err := a.sftpSource(ctx, p.BSUUID, path.Join(bs.URL, bsapi.PartialFile(strings.ToLower(p.ImageUUID))))
	if err != nil {
		return "", wrap(err)
	}
	if src.SealedKey, err = a.sealSftpKey(ctx, k, p.HostUUID); err != nil {
		return "", wrap(models.Unavailable("cannot give host[uuid:%s] the key of Sftp backup storage[uuid:%s]: %v", p.HostUUID, p.BSUUID, err))
	}
	return src.URL(), nil
}

// sealSftpKey opens a backup storage's private key and seals it to the
// key hostUUID's agent reported.
func (a *Activities) sealSftpKey(ctx context.Context, k store.SftpKey, hostUUID string) (string, error) {
	switch {
	case hostUUID == "":
		return "", errors.New("no host to seal the key to")
	case a.Secrets == nil:
		return "", errors.New("this control plane has no secret key")
	}
	pub, err := a.Store.HostSealingKey(ctx, hostUUID)
	if err != nil {
		return "", err
	}
	plain, err := a.Secrets.Decrypt(k.PrivateKey)
	if err != nil {
		return "", err
	}
	return secret.Seal(pub, secret.HostSealInfo, plain)
}
