package api

import (
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

// volumeQoSReadTimeout bounds GetVolumeQos with forceSync, which asks the
// VM's host.
const volumeQoSReadTimeout = 30 * time.Second

// volumeQoSRoutes are volume QoS and shareable volumes' attachments.
var volumeQoSRoutes = routeSet{
	queries: map[string]string{"QueryShareableVolumeVmInstanceRef": store.ResShareableVolumeVMRef},
	special: map[string]handlerFunc{
		"SetVolumeQos":    (*Server).setVolumeQoS,
		"DeleteVolumeQos": (*Server).deleteVolumeQoS,
		"GetVolumeQos":    (*Server).getVolumeQoS,
	},
}

func (s *Server) setVolumeQoS(r *request) {
	c := activities.VolumeQoSChange{VolumeUUID: r.str("uuid"), Mode: r.str("mode"), VolumeBandwidth: r.int64("volumeBandwidth"),
		Limits: hostapi.VolumeQoS{TotalBandwidth: r.int64("totalBandwidth"), ReadBandwidth: r.int64("readBandwidth"),
			WriteBandwidth: r.int64("writeBandwidth"), TotalIOPS: r.int64("totalIOPS"), ReadIOPS: r.int64("readIOPS"),
			WriteIOPS: r.int64("writeIOPS")}}
	if err := c.Validate(); err != nil {
		writeError(r.c, http.StatusBadRequest, err)
		return
	}
	s.startJob(r, workflows.SetVolumeQoS, c)
}

func (s *Server) deleteVolumeQoS(r *request) {
	mode := r.str("mode")
	if mode == "" {
		mode = "total"
	}
	s.startJob(r, workflows.SetVolumeQoS, activities.VolumeQoSChange{VolumeUUID: r.str("uuid"), Delete: mode})
}

// getVolumeQoS answers GetVolumeQos from the volume's record, or with
// forceSync from the running domain on its VM's host; an unlimited value
// is -1, as in ZStack.
func (s *Server) getVolumeQoS(r *request) {
	uuid := r.str("uuid")
	var q hostapi.VolumeQoS
	if force := r.params["forceSync"]; force == true || strings.EqualFold(r.str("forceSync"), "true") {
		live, ok := s.liveVolumeQoS(r, uuid)
		if !ok {
			return
		}
		q = live
	} else {
		var v models.Volume
		if err := s.o.Store.Get(r.c.Request.Context(), store.ResVolume, uuid, &v); err != nil {
			writeError(r.c, 0, err)
			return
		}
		q = activities.ParseVolumeQoS(string(v.VolumeQos))
	}
	or := func(v int64) int64 {
		if v == 0 {
			return -1
		}
		return v
	}
	r.c.JSON(http.StatusOK, gin.H{"volumeUuid": uuid,
		"volumeBandwidth": or(q.TotalBandwidth), "volumeBandwidthRead": or(q.ReadBandwidth), "volumeBandwidthWrite": or(q.WriteBandwidth),
		"iopsTotal": or(q.TotalIOPS), "iopsRead": or(q.ReadIOPS), "iopsWrite": or(q.WriteIOPS),
		"volumeBandwidthUpthreshold": -1, "volumeBandwidthReadUpthreshold": -1, "volumeBandwidthWriteUpthreshold": -1,
		"iopsTotalUpthreshold": -1, "iopsReadUpthreshold": -1, "iopsWriteUpthreshold": -1})
}

// liveVolumeQoS runs the short workflow that reads a volume's limits from
// its VM's host and waits for it; on failure it has answered the request.
func (s *Server) liveVolumeQoS(r *request, uuid string) (hostapi.VolumeQoS, bool) {
	var res workflows.VolumeQoSLiveResult
	if !s.readWorkflow(r, "volume-qos-", volumeQoSReadTimeout, workflows.VolumeQoSLive, activities.VolumeRef{VolumeUUID: uuid}, &res) {
		return hostapi.VolumeQoS{}, false
	}
	return res.QoS, true
}
