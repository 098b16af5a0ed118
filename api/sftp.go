package api

import (
	"net/http"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// sftpRoutes are Sftp backup storage's: added, reconnected and updated over
// SSH; deleting, zones, images and queries are every backup storage's.
var sftpRoutes = routeSet{
	queries: map[string]string{"QuerySftpBackupStorage": store.ResBackupStorage},
	special: map[string]handlerFunc{
		"AddSftpBackupStorage":       (*Server).addSftpBS,
		"ReconnectSftpBackupStorage": (*Server).reconnectSftpBS,
		"UpdateSftpBackupStorage":    (*Server).updateSftpBS,
	},
}

// addSftpBS answers AddSftpBackupStorage; the SSH password is stored
// before the job starts (sshOp). importImages (ZStack imports the images a
// reused directory holds) is refused rather than ignored.
func (s *Server) addSftpBS(r *request) {
	if b, _ := r.params["importImages"].(bool); b {
		notSupported("importing the images an Sftp backup storage's directory already holds is not built")(s, r)
		return
	}
	if uuid, op, ok := s.sshOp(r, "AddSftpBackupStorage"); ok {
		s.startJob(r, workflows.AddSftpBackupStorage, workflows.AddBSParams{BSUUID: uuid, Op: op})
	}
}

func (s *Server) reconnectSftpBS(r *request) {
	s.startJob(r, workflows.ReconnectSftpBackupStorage, activities.BSRef{BSUUID: r.str("uuid")})
}

// updateSftpBS answers UpdateSftpBackupStorage. A new password is stored
// under a pending UUID, never in the job; the job checks the new settings
// over SSH and saves them (and the password) only when they work.
func (s *Server) updateSftpBS(r *request) {
	p := activities.SftpBSUpdateParams{BSUUID: r.str("uuid"), Hostname: r.str("hostname"), Username: r.str("username"),
		SSHPort: int(r.int64("sshPort")), Name: r.str("name"), Description: r.str("description")}
	if p.BSUUID == "" {
		writeError(r.c, http.StatusBadRequest, models.Invalid("uuid is required"))
		return
	}
	if pw := r.str("password"); pw != "" {
		p.PendingUUID = models.NewUUID()
		if err := s.o.Store.SetSSHPassword(r.c.Request.Context(), p.PendingUUID, pw); err != nil {
			writeError(r.c, 0, err)
			return
		}
	}
	s.startJob(r, workflows.UpdateSftpBackupStorage, p)
}
