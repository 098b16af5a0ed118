package api

import (
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// consoleReadTimeout bounds GetVmConsoleAddress, which asks the VM's host.
const consoleReadTimeout = 30 * time.Second

func (s *Server) setVMConsolePassword(r *request) {
	pw := r.str("consolePassword")
	if err := hostapi.ValidateConsolePassword(pw); err != nil {
		writeError(r.c, http.StatusBadRequest, err)
		return
	}
	if pw == "" {
		writeError(r.c, http.StatusBadRequest, models.Invalid("consolePassword is required"))
		return
	}
	s.startJob(r, workflows.SetVMConsolePassword, activities.ConsolePasswordParams{VMUUID: r.str("uuid"), Password: pw})
}

func (s *Server) deleteVMConsolePassword(r *request) {
	s.startJob(r, workflows.SetVMConsolePassword, activities.ConsolePasswordParams{VMUUID: r.str("uuid")})
}

// getVMConsolePassword answers GetVmConsolePassword from the VM's
// consolePassword system tag, as ZStack does.
func (s *Server) getVMConsolePassword(r *request) {
	pw, ok := s.vmTag(r, r.str("uuid"), activities.ConsolePasswordTag)
	if !ok {
		return
	}
	r.c.JSON(http.StatusOK, gin.H{"consolePassword": pw})
}

// vmTag reads the value of a VM's prefix::value system tag ("" when it has
// none); on failure it has answered the request and returns false.
func (s *Server) vmTag(r *request, uuid, prefix string) (string, bool) {
	ctx := r.c.Request.Context()
	if ok, err := s.o.Store.Exists(ctx, store.ResVMInstance, uuid); err != nil || !ok {
		if err == nil {
			err = models.NotFound("cannot find VmInstance[uuid:%s]", uuid)
		}
		writeError(r.c, 0, err)
		return "", false
	}
	var tag string
	err := s.o.Store.DB().GetContext(ctx, &tag, `SELECT tag FROM system_tags WHERE resource_uuid = ? AND tag LIKE ? ORDER BY create_date LIMIT 1`,
		uuid, prefix+"%")
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		writeError(r.c, 0, err)
		return "", false
	}
	return strings.TrimPrefix(tag, prefix), true
}

// getVMConsoleAddress answers GetVmConsoleAddress: a short workflow asks
// the VM's host for the live domain's console and the handler waits for it.
func (s *Server) getVMConsoleAddress(r *request) {
	var res activities.VMConsoleAddress
	if !s.readWorkflow(r, "vm-console-", consoleReadTimeout, workflows.VMConsoleAddress, activities.VMRef{VMUUID: r.str("uuid")}, &res) {
		return
	}
	r.c.JSON(http.StatusOK, gin.H{"hostIp": res.HostIP, "port": res.Port, "protocol": res.Protocol})
}

func (s *Server) attachISO(r *request) {
	if r.str("isoUuid") == "" {
		writeError(r.c, http.StatusBadRequest, models.Invalid("isoUuid is required"))
		return
	}
	s.startJob(r, workflows.SetVMISO, activities.ISOParams{VMUUID: r.str("vmInstanceUuid"), ISOUUID: r.str("isoUuid")})
}

func (s *Server) detachISO(r *request) {
	s.startJob(r, workflows.SetVMISO, activities.ISOParams{VMUUID: r.str("vmInstanceUuid"), ExpectUUID: r.str("isoUuid")})
}

func (s *Server) setVMBootOrder(r *request) {
	var order []string
	list, _ := r.params["bootOrder"].([]any)
	for _, v := range list {
		d, ok := v.(string)
		if !ok {
			writeError(r.c, http.StatusBadRequest, models.Invalid("bootOrder holds a %T, not a string", v))
			return
		}
		order = append(order, d)
	}
	s.startJob(r, workflows.SetVMBootOrder, activities.BootOrderParams{VMUUID: r.str("uuid"), Order: order})
}

// getVMBootOrder answers GetVmBootOrder from the VM's bootOrder system tag;
// a VM without one boots from its hard disk, then its CD-ROM.
func (s *Server) getVMBootOrder(r *request) {
	tag, ok := s.vmTag(r, r.str("uuid"), activities.BootOrderTag)
	if !ok {
		return
	}
	orders := []string{hostapi.BootHardDisk, hostapi.BootCdRom}
	if tag != "" {
		orders = strings.Split(tag, ",")
	}
	r.c.JSON(http.StatusOK, gin.H{"orders": orders})
}

// updateVM answers UpdateVmInstance: name, description, cpuNum and
// memorySize (online growth on a running VM). The other fields it accepts
// (state, defaultL3NetworkUuid, platform, reservedMemorySize, guestOsType)
// are not supported yet and refused rather than ignored.
func (s *Server) updateVM(r *request) {
	for _, k := range []string{"state", "defaultL3NetworkUuid", "platform", "reservedMemorySize", "guestOsType"} {
		if v, ok := r.params[k]; ok && v != nil && v != "" && v != float64(0) {
			writeError(r.c, http.StatusBadRequest, models.Invalid("not supported: UpdateVmInstance of %s", k))
			return
		}
	}
	s.startJob(r, workflows.ChangeVMCompute, activities.ComputeParams{VMUUID: r.str("uuid"), CPUNum: int(r.int64("cpuNum")),
		MemorySize: r.int64("memorySize"), Name: r.str("name"), Description: r.str("description")})
}

func (s *Server) changeInstanceOffering(r *request) {
	s.startJob(r, workflows.ChangeVMCompute, activities.ComputeParams{VMUUID: r.str("vmInstanceUuid"), OfferingUUID: r.str("instanceOfferingUuid")})
}
