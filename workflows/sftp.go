package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
)

// Sftp backup storage workflow names.
const (
	AddSftpBackupStorage       = "zcloud.AddSftpBackupStorage"
	ReconnectSftpBackupStorage = "zcloud.ReconnectSftpBackupStorage"
	UpdateSftpBackupStorage    = "zcloud.UpdateSftpBackupStorage"
)

// RegisterSftp registers the Sftp backup storage workflows.
func RegisterSftp(w workflowRegistry) {
	w.RegisterWorkflowWithOptions(AddSftpBackupStorageWorkflow, workflow.RegisterOptions{Name: AddSftpBackupStorage})
	w.RegisterWorkflowWithOptions(ReconnectSftpBackupStorageWorkflow, workflow.RegisterOptions{Name: ReconnectSftpBackupStorage})
	w.RegisterWorkflowWithOptions(UpdateSftpBackupStorageWorkflow, workflow.RegisterOptions{Name: UpdateSftpBackupStorage})
}

// AddSftpBackupStorageWorkflow adds an Sftp backup storage: record it,
// check its host over SSH (login, directory, its own key pair installed in
// authorized_keys), deploy the backup storage agent (loopback HTTP only)
// and record its capacity. Any failure removes what was done, the key
// included.
func AddSftpBackupStorageWorkflow(ctx workflow.Context, p AddBSParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	ref, err := recordBS(ctx, &s, p)
	if err != nil {
		return res, err
	}
	if err = prepareSftp(ctx, &s, ref); err != nil {
		return res, err
	}
	if err = connectBS(ctx, &s, ref); err != nil {
		return res, err
	}
	return inventory(ctx, "BackupStorage", p.BSUUID, "inventory")
}

// prepareSftp checks an Sftp backup storage's host and installs its key;
// with a saga, the key is removed again on failure (registered first: a
// step cut short may have installed it).
func prepareSftp(ctx workflow.Context, s *saga, ref activities.BSRef) error {
	if s != nil {
		s.add(func(ctx workflow.Context) error {
			return workflow.ExecuteActivity(deployCtx(ctx), activities.SftpBSRemoveKey, ref).Get(ctx, nil)
		})
	}
	return workflow.ExecuteActivity(deployCtx(ctx), activities.SftpBSPrepare, ref).Get(ctx, nil)
}

// ReconnectSftpBackupStorageWorkflow checks an Sftp backup storage's host
// over SSH again (login, directory, key, the same host key) and
// reconnects its agent, which reports the capacity.
func ReconnectSftpBackupStorageWorkflow(ctx workflow.Context, p activities.BSRef) (activities.Result, error) {
	if err := prepareSftp(ctx, nil, p); err != nil {
		return activities.Result{}, err
	}
	if err := connectBS(ctx, nil, p); err != nil {
		return activities.Result{}, err
	}
	return inventory(ctx, "BackupStorage", p.BSUUID, "inventory")
}

// UpdateSftpBackupStorageWorkflow changes how an Sftp backup storage is
// reached: the new settings are checked over SSH first, and saved only
// when the check passed; a failed check changes nothing and forgets the
// new password.
func UpdateSftpBackupStorageWorkflow(ctx workflow.Context, p activities.SftpBSUpdateParams) (res activities.Result, err error) {
	var check activities.SftpBSCheckResult
	if err = workflow.ExecuteActivity(deployCtx(ctx), activities.SftpBSCheckUpdate, p).Get(ctx, &check); err != nil {
		dctx, cancel := workflow.NewDisconnectedContext(ctx)
		defer cancel()
		if ferr := local(dctx, activities.SftpBSForgetUpdate, p, nil); ferr != nil {
			workflow.GetLogger(ctx).Warn("could not forget the password of a failed update", "bs_uuid", p.BSUUID, "error", ferr)
		}
		return res, err
	}
	if err = local(ctx, activities.SftpBSRecordUpdate, activities.SftpBSRecordParams{SftpBSUpdateParams: p, HostKey: check.HostKey}, nil); err != nil {
		return res, err
	}
	return inventory(ctx, "BackupStorage", p.BSUUID, "inventory")
}
