package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// createVM resolves CreateVmInstance's references (offering, image, L3s)
// so that bad input fails at once and changes nothing, then starts the
// create saga.
func (s *Server) createVM(r *request) {
	ctx := r.c.Request.Context()
	str := func(k string) string { v, _ := r.params[k].(string); return v }
	i64 := func(k string) int64 { v, _ := r.params[k].(int64); return v }
	p := activities.CreateVMParams{VMUUID: s.newResourceUUID(r), Name: str("name"), Description: str("description"),
		InstanceOfferingUUID: str("instanceOfferingUuid"), CPUNum: int(i64("cpuNum")), MemorySize: i64("memorySize"),
		ImageUUID: str("imageUuid"), DefaultL3NetworkUUID: str("defaultL3NetworkUuid"), RootDiskSize: i64("rootDiskSize"),
		ZoneUUID: str("zoneUuid"), ClusterUUID: str("clusterUuid"), HostUUID: str("hostUuid"), PSUUID: str("primaryStorageUuidForRootVolume"),
		Strategy: str("strategy"), Platform: str("platform"), AccountUUID: r.session.AccountUUID,
		SystemTags: r.systemTags, UserTags: r.userTags, StaticIPs: map[string]string{}}
	if l, ok := r.params["l3NetworkUuids"].([]any); ok {
		for _, v := range l {
			if s, ok := v.(string); ok && s != "" {
				p.L3NetworkUUIDs = append(p.L3NetworkUUIDs, s)
			}
		}
	}
	if l, ok := r.params["dataDiskSizes"].([]any); ok {
		for _, v := range l {
			if n, ok := v.(float64); ok && n > 0 {
				p.DataDiskSizes = append(p.DataDiskSizes, int64(n))
			}
		}
	}
	bad := func(err error) { writeError(r.c, 0, err) }
	switch p.Strategy {
	case "", "InstantStart":
		p.Strategy = "InstantStart"
	case workflows.StrategyCreateStopped:
	default:
		bad(models.Invalid("not supported: strategy %s", p.Strategy))
		return
	}
	if p.InstanceOfferingUUID != "" {
		var o models.InstanceOffering
		if err := s.o.Store.Get(ctx, store.ResInstanceOffering, p.InstanceOfferingUUID, &o); err != nil {
			bad(err)
			return
		}
		if o.State != models.StateEnabled {
			bad(models.Invalid("instance offering[uuid:%s] is %s", o.UUID, o.State))
			return
		}
		if p.CPUNum == 0 { // 0 means "not given": the offering decides
			p.CPUNum = o.CPUNum
		}
		if p.MemorySize == 0 {
			p.MemorySize = o.MemorySize
		}
	}
	if p.CPUNum <= 0 || p.MemorySize <= 0 {
		bad(models.Invalid("either instanceOfferingUuid or cpuNum and memorySize must be given"))
		return
	}
	if p.ImageUUID == "" {
		bad(models.Invalid("imageUuid is required"))
		return
	}
	var img models.Image
	if err := s.o.Store.Get(ctx, store.ResImage, p.ImageUUID, &img); err != nil {
		bad(err)
		return
	}
	if img.Status != models.ImageReady || img.State != models.StateEnabled {
		bad(models.Invalid("image[uuid:%s] is %s/%s, not Ready/Enabled", img.UUID, img.State, img.Status))
		return
	}
	if img.MediaType == "DataVolumeTemplate" {
		bad(models.Invalid("image[uuid:%s] is a DataVolumeTemplate; a vm is made of a RootVolumeTemplate or an ISO", img.UUID))
		return
	}
	if len(p.L3NetworkUUIDs) == 0 {
		bad(models.Invalid("l3NetworkUuids must name at least one L3 network"))
		return
	}
	for _, l3 := range p.L3NetworkUUIDs {
		if ok, err := s.o.Store.Exists(ctx, store.ResL3Network, l3); err != nil || !ok {
			bad(models.NotFound("cannot find L3Network[uuid:%s]", l3))
			return
		}
	}
	if p.DefaultL3NetworkUUID == "" {
		p.DefaultL3NetworkUUID = p.L3NetworkUUIDs[0]
	}
	if err := s.validateGuestTags(r); err != nil {
		bad(err)
		return
	}
	for _, t := range r.systemTags {
		if rest, ok := strings.CutPrefix(t, "staticIp::"); ok {
			l3, ip, ok := strings.Cut(rest, "::")
			if !ok {
				bad(models.Invalid("bad system tag [%s]; want staticIp::<l3Uuid>::<ip>", t))
				return
			}
			p.StaticIPs[l3] = ip
		}
	}
	s.startJob(r, workflows.CreateVM, p)
}

// vmOp starts a VM lifecycle workflow.
func vmOp(workflow string) handlerFunc {
	return func(s *Server, r *request) {
		str := func(k string) string { v, _ := r.params[k].(string); return v }
		s.startJob(r, workflow, workflows.VMOpParams{VMUUID: str("uuid"), HostUUID: str("hostUuid"), ClusterUUID: str("clusterUuid"),
			StopType: str("type"), DeleteMode: str("deleteMode")})
	}
}

func (s *Server) addSimulatorHost(r *request) {
	uuid := s.newResourceUUID(r)
	r.params["uuid"] = uuid
	args, _ := json.Marshal(r.params)
	s.startJob(r, workflows.AddSimHost, workflows.AddHostParams{HostUUID: uuid, Op: activities.OpParams{Op: "AddSimulatorHost", Args: args,
		AccountUUID: r.session.AccountUUID, SystemTags: r.systemTags, UserTags: r.userTags}})
}

// sshOp is an add over SSH (a KVM host, an ImageStore backup storage): the
// resource's UUID, and its operation with the SSH password left out. The
// password is stored before the job starts, so that it never enters the
// job's history; the job's compensation forgets it.
func (s *Server) sshOp(r *request, op string) (string, activities.OpParams, bool) {
	uuid := s.newResourceUUID(r)
	r.params["uuid"] = uuid
	if pw, _ := r.params["password"].(string); pw != "" {
		if err := s.o.Store.SetSSHPassword(r.c.Request.Context(), uuid, pw); err != nil {
			writeError(r.c, 0, err)
			return "", activities.OpParams{}, false
		}
	}
	delete(r.params, "password")
	args, _ := json.Marshal(r.params)
	return uuid, activities.OpParams{Op: op, Args: args, AccountUUID: r.session.AccountUUID, SystemTags: r.systemTags, UserTags: r.userTags}, true
}

func (s *Server) addKVMHost(r *request) {
	if uuid, op, ok := s.sshOp(r, "AddKVMHost"); ok {
		s.startJob(r, workflows.AddHost, workflows.AddHostParams{HostUUID: uuid, Op: op})
	}
}

func (s *Server) addImageStoreBS(r *request) {
	if uuid, op, ok := s.sshOp(r, "AddImageStoreBackupStorage"); ok {
		s.startJob(r, workflows.AddBackupStorage, workflows.AddBSParams{BSUUID: uuid, Op: op})
	}
}

func (s *Server) deleteBackupStorage(r *request) {
	uuid, _ := r.params["uuid"].(string)
	s.startJob(r, workflows.DeleteBackupStorage, activities.BSRef{BSUUID: uuid})
}

func (s *Server) reconnectBackupStorage(r *request) {
	uuid, _ := r.params["uuid"].(string)
	s.startJob(r, workflows.ReconnectBS, activities.BSRef{BSUUID: uuid})
}

// addImage has every backup storage with an agent fetch the image.
func (s *Server) addImage(r *request) {
	uuid := s.newResourceUUID(r)
	r.params["uuid"] = uuid
	args, _ := json.Marshal(r.params)
	s.startJob(r, workflows.AddImage, activities.AddImageParams{ImageUUID: uuid, Op: activities.OpParams{Op: "AddImage",
		Args: args, AccountUUID: r.session.AccountUUID, SystemTags: r.systemTags, UserTags: r.userTags}})
}

func (s *Server) reconnectHost(r *request) {
	uuid, _ := r.params["uuid"].(string)
	s.startJob(r, workflows.Reconnect, activities.HostRef{HostUUID: uuid})
}

func (s *Server) deleteHost(r *request) {
	uuid, _ := r.params["uuid"].(string)
	if uuid == "" {
		writeError(r.c, http.StatusBadRequest, models.Invalid("uuid is required"))
		return
	}
	s.startJob(r, workflows.DeleteHost, activities.HostRef{HostUUID: uuid})
}
