package db

import (
	"context"
	"strings"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/activities/sshdeploy"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// ImageStore agent settings written into its configuration (the flags of
// `zcloud-hostworker` in imagestore mode).
const (
	KeyMode     = "mode"
	ModeBS      = "imagestore"
	KeyBSDir    = "bs-dir"
	KeyBSListen = "bs-listen"
	KeyBSURL    = "bs-url"
	// BSPort is where an ImageStore agent serves images.
	BSPort = "7090"
)

// addImageStoreBS records an ImageStore backup storage as Connecting; its
// SSH password was stored by the API before the job started.
func addImageStoreBS(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	url := str(args, "url")
	if !strings.HasPrefix(url, "/") {
		return activities.Result{}, models.Invalid("url %q must be an absolute directory on the backup storage host", url)
	}
	port := int(num(args, "sshPort"))
	if port == 0 {
		port = sshdeploy.DefaultSSHPort
	}
	bs := models.BackupStorage{Base: base(args), URL: url, Type: bsapi.Type, State: models.StateEnabled, Status: models.StatusConnecting,
		Hostname: models.Ref(str(args, "hostname")), Username: models.Ref(orDefault(str(args, "username"), sshdeploy.DefaultUsername)), SSHPort: port}
	return create(ctx, a, store.ResBackupStorage, bs.UUID, &bs, p)
}

// checkBSDeletable refuses to delete a backup storage holding images.
func checkBSDeletable(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	n, err := a.Store.Count(ctx, "image_backup_storage_refs", "backup_storage_uuid = ?", str(args, "uuid"))
	if err != nil {
		return activities.Result{}, err
	}
	if n > 0 {
		return activities.Result{}, models.Conflict("cannot delete backup storage[uuid:%s]: it holds %d images; delete them first", str(args, "uuid"), n)
	}
	return activities.Result{}, nil
}

// deleteBSRecord removes a backup storage without images, and its SSH
// credentials.
func deleteBSRecord(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	if _, err := deleteOp(store.ResBackupStorage, "image_backup_storage_refs", "backup_storage_uuid")(ctx, a, args, p); err != nil {
		return activities.Result{}, err
	}
	if err := a.Store.DeleteSftpKey(ctx, str(args, "uuid")); err != nil {
		return activities.Result{}, err
	}
	return activities.Result{}, a.Store.DeleteSSHPassword(ctx, str(args, "uuid"))
}

func (a *Activities) bsTarget(ctx context.Context, bsUUID string) (models.BackupStorage, sshdeploy.Target, error) {
	var bs models.BackupStorage
	if err := a.Store.Get(ctx, store.ResBackupStorage, bsUUID, &bs); err != nil {
		return bs, sshdeploy.Target{}, err
	}
	pw, err := a.Store.SSHPassword(ctx, bsUUID)
	if err != nil {
		return bs, sshdeploy.Target{}, err
	}
	return bs, sshdeploy.Target{ManagementIP: string(bs.Hostname), SSHPort: bs.SSHPort, Username: string(bs.Username), Password: pw}, nil
}

// BSDeployAgent installs (or updates) and starts the agent of an ImageStore
// backup storage over SSH, serving its directory on BSPort. An Sftp backup
// storage's agent serves HTTP on loopback only: hosts fetch over SSH.
func (a *Activities) BSDeployAgent(ctx context.Context, p activities.BSRef) (sshdeploy.DeployResult, error) {
	if a.Agents == nil || a.Agents.Deployer == nil {
		return sshdeploy.DeployResult{}, wrap(models.Unavailable("this control plane has no agent binary to deploy (zcloud server --agent-binary)"))
	}
	bs, t, err := a.bsTarget(ctx, p.BSUUID)
	if err != nil {
		return sshdeploy.DeployResult{}, wrap(err)
	}
	cfg := map[string]string{KeyMode: ModeBS, KeyBSDir: bs.URL, KeyBSListen: "0.0.0.0:" + BSPort,
		KeyBSURL: "http://" + string(bs.Hostname) + ":" + BSPort}
	if bs.Type == SftpType {
		cfg[KeyBSListen], cfg[KeyBSURL] = "127.0.0.1:"+BSPort, "http://127.0.0.1:"+BSPort
	}
	return a.Agents.Deployer.DeployAgent(ctx, sshdeploy.DeployParams{Target: t, HostUUID: p.BSUUID,
		TemporalAddress: a.Agents.TemporalAddress, TemporalNamespace: a.Agents.TemporalNamespace, Config: cfg})
}

// BSUndeployAgent stops and removes the agent of a backup storage, and
// the public key of an Sftp backup storage from its user's
// authorized_keys (both tried; the errors are joined).
func (a *Activities) BSUndeployAgent(ctx context.Context, p activities.BSRef) (sshdeploy.UndeployResult, error) {
	bs, t, err := a.bsTarget(ctx, p.BSUUID)
	if err != nil {
		if models.AsError(err).Kind == models.KindNotFound {
			return sshdeploy.UndeployResult{}, nil // no agent was ever deployed
		}
		return sshdeploy.UndeployResult{}, wrap(err)
	}
	if !bsHasAgent(bs.Type) {
		return sshdeploy.UndeployResult{}, nil
	}
	if a.Agents == nil || a.Agents.Deployer == nil {
		return sshdeploy.UndeployResult{}, wrap(models.Unavailable("this control plane cannot reach backup storage hosts over SSH"))
	}
	var keyErr error
	if bs.Type == SftpType {
		keyErr = wrap(a.removeSftpKey(ctx, bs.UUID, t))
	}
	res, err := a.Agents.Deployer.UndeployAgent(ctx, sshdeploy.UndeployParams{Target: t, HostUUID: p.BSUUID})
	if err == nil {
		err = keyErr
	}
	return res, err
}

// BSRecordConnect records a connected backup storage agent.
func (a *Activities) BSRecordConnect(ctx context.Context, p activities.BSConnectParams) error {
	if p.AgentVersion != bsapi.AgentVersion {
		return wrap(models.Unavailable("agent of backup storage[uuid:%s] speaks version %q, want %q", p.BSUUID, p.AgentVersion, bsapi.AgentVersion))
	}
	if err := a.Store.Update(ctx, store.ResBackupStorage, p.BSUUID, map[string]any{"status": models.StatusConnected,
		"totalCapacity": p.TotalCapacity, "availableCapacity": p.AvailableCapacity}); err != nil {
		return wrap(err)
	}
	_, err := a.Store.DB().ExecContext(ctx, `UPDATE backup_storages SET agent_url = ? WHERE uuid = ?`, p.URL, p.BSUUID)
	return wrap(err)
}

// ImageAddRecord records a new image as Downloading with a reference on
// each backup storage. Simulator backup storages hold it at once; the
// others (with an agent) are returned for the workflow to have them fetch.
func (a *Activities) ImageAddRecord(ctx context.Context, p activities.AddImageParams) (activities.ImageAddRecordResult, error) {
	var out activities.ImageAddRecordResult
	args, err := opArgs(p.Op)
	if err != nil {
		return out, wrap(err)
	}
	bsUUIDs := strs(args, "backupStorageUuids")
	if len(bsUUIDs) == 0 {
		return out, wrap(models.Invalid("backupStorageUuids must name at least one backup storage"))
	}
	sim := true
	for _, b := range bsUUIDs {
		var bs models.BackupStorage
		if err := mustExist(ctx, a, store.ResBackupStorage, b, &bs); err != nil {
			return out, wrap(err)
		}
		if bs.State != models.StateEnabled {
			return out, wrap(models.Unavailable("backup storage[uuid:%s] is %s: it takes no new images", b, bs.State).WithCode(models.CodeAllocation))
		}
		switch bs.Type {
		case "SimulatorBackupStorage":
		case bsapi.Type, SftpType:
			if bs.Status != models.StatusConnected {
				return out, wrap(models.Unavailable("backup storage[uuid:%s] is %s", b, bs.Status))
			}
			sim = false
			out.AgentBSes = append(out.AgentBSes, b)
		default:
			return out, wrap(&models.Error{Kind: models.KindInvalid, Code: models.CodeOperation,
				Message: "not supported: adding images to backup storage of type " + bs.Type})
		}
	}
	if sim {
		if _, err := addImage(ctx, a, args, p.Op); err != nil {
			return out, wrap(err)
		}
		return out, wrap(a.tagImage(ctx, p))
	}
	out.URL, out.Format = str(args, "url"), str(args, "format")
	img := models.Image{Base: base(args), State: models.StateEnabled, Status: models.ImageDownloading,
		URL: out.URL, MediaType: orDefault(str(args, "mediaType"), "RootVolumeTemplate"),
		GuestOSType: models.Ref(str(args, "guestOsType")), Type: orDefault(str(args, "type"), "zstack"),
		Platform: orDefault(str(args, "platform"), "Linux"), Architecture: orDefault(str(args, "architecture"), "x86_64"),
		Format: orDefault(out.Format, "qcow2"), System: boolean(args, "system"), Virtio: boolean(args, "virtio")}
	if err := a.Store.Create(ctx, store.ResImage, &img, img.UUID, p.Op.AccountUUID); err != nil && models.AsError(err).Kind != models.KindConflict {
		return out, wrap(err)
	}
	for _, b := range bsUUIDs {
		now := models.Now()
		ref := models.ImageBackupStorageRef{UUID: models.NameUUID(img.UUID, b), ImageUUID: img.UUID, BackupStorageUUID: b,
			Status: models.ImageDownloading, CreateDate: now, LastOpDate: now}
		if err := a.Store.Insert(ctx, store.ResImageBSRef, &ref); err != nil && models.AsError(err).Kind != models.KindConflict {
			return out, wrap(err)
		}
	}
	return out, wrap(a.tagImage(ctx, p))
}

func (a *Activities) tagImage(ctx context.Context, p activities.AddImageParams) error {
	if len(p.Op.SystemTags) == 0 && len(p.Op.UserTags) == 0 {
		return nil
	}
	return a.Store.AddTags(ctx, p.ImageUUID, store.ResImage, p.Op.SystemTags, p.Op.UserTags)
}

// ImageRecordDownloaded records one backup storage's copy of an image; the
// image is Ready, with the size and format its copy has, once every copy is.
func (a *Activities) ImageRecordDownloaded(ctx context.Context, p activities.ImageDownloadedParams) error {
	// An Sftp backup storage's copy is its file on the backup storage
	// host (ZStack's installPath); hosts get an sftp:// URL made from it.
	install := p.InstallURL
	var bs models.BackupStorage
	if err := a.Store.Get(ctx, store.ResBackupStorage, p.BSUUID, &bs); err == nil && bs.Type == SftpType {
		if p.InstallPath == "" {
			return wrap(models.Invalid("the agent of backup storage[uuid:%s] reported no install path", p.BSUUID))
		}
		install = p.InstallPath
	}
	_, err := a.Store.DB().ExecContext(ctx, `UPDATE image_backup_storage_refs SET install_path = ?, status = ?, last_op_date = ?
		WHERE image_uuid = ? AND backup_storage_uuid = ?`, install, models.ImageReady, models.Now(), p.ImageUUID, p.BSUUID)
	if err != nil {
		return wrap(err)
	}
	n, err := a.Store.Count(ctx, "image_backup_storage_refs", "image_uuid = ? AND status <> ?", p.ImageUUID, models.ImageReady)
	if err != nil {
		return wrap(err)
	}
	changes := map[string]any{"size": p.Size, "actualSize": p.ActualSize, "format": p.Format, "md5Sum": p.MD5Sum}
	if n == 0 {
		changes["status"] = models.ImageReady
	}
	return wrap(a.Store.Update(ctx, store.ResImage, p.ImageUUID, changes))
}

// ImageDeleteRecord removes an image and its references.
func (a *Activities) ImageDeleteRecord(ctx context.Context, p activities.InventoryParams) error {
	if _, err := a.Store.DB().ExecContext(ctx, `DELETE FROM image_backup_storage_refs WHERE image_uuid = ?`, p.UUID); err != nil {
		return wrap(err)
	}
	return wrap(a.Store.Delete(ctx, store.ResImage, p.UUID))
}
