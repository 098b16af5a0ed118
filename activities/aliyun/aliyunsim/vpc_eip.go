package aliyunsim

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Eip is an elastic IP address.
type Eip struct {
	Lifecycle
	AllocationID       string    `json:"allocationId"`
	RegionID           string    `json:"regionId"`
	IPAddress          string    `json:"ipAddress"`
	Name               string    `json:"name"`
	Description        string    `json:"description"`
	Bandwidth          int       `json:"bandwidth"`
	InternetChargeType string    `json:"internetChargeType"`
	ISP                string    `json:"isp"`
	InstanceID         string    `json:"instanceId,omitempty"`
	InstanceType       string    `json:"instanceType,omitempty"`
	AllocationTime     time.Time `json:"allocationTime"`
}

func allocateEipAddress(x *rpcCtx) (obj, error) {
	if _, err := x.checkRegion(); err != nil {
		return nil, err
	}
	if ids, _ := x.token("AllocateEipAddress"); len(ids) == 1 {
		if e, ok := x.c.Eips[ids[0]]; ok {
			return obj{"AllocationId": e.AllocationID, "EipAddress": e.IPAddress, "ResourceGroupId": "rg-default"}, nil
		}
	}
	bw, err := x.integer("Bandwidth", 5)
	if err != nil {
		return nil, err
	}
	if bw < 1 || bw > 500 {
		return nil, invalid("Bandwidth", x.str("Bandwidth"))
	}
	charge := x.str("InternetChargeType")
	if charge == "" {
		charge = "PayByBandwidth"
	}
	if charge != "PayByBandwidth" && charge != "PayByTraffic" {
		return nil, invalid("InternetChargeType", charge)
	}
	isp := x.str("ISP")
	if isp == "" {
		isp = "BGP"
	}
	e := &Eip{
		AllocationID: newID("eip-"), RegionID: x.region, IPAddress: x.s.st.allocPublicIP(), Name: x.str("Name"),
		Description: x.str("Description"), Bandwidth: bw, InternetChargeType: charge, ISP: isp, AllocationTime: x.now,
	}
	e.move(x.now, 0, "Available")
	x.c.Eips[e.AllocationID] = e
	if _, k := x.token("AllocateEipAddress"); k != "" {
		x.c.Tokens[k] = []string{e.AllocationID}
	}
	return obj{"AllocationId": e.AllocationID, "EipAddress": e.IPAddress, "ResourceGroupId": "rg-default"}, nil
}

func (x *rpcCtx) eip() (*Eip, error) {
	id, err := x.req("AllocationId")
	if err != nil {
		return nil, err
	}
	e, ok := x.c.Eips[id]
	if !ok || e.RegionID != x.region {
		return nil, notFound("InvalidAllocationId.NotFound", "EIP", id)
	}
	return e, nil
}

func incorrectEip(e *Eip) error {
	return errf(http.StatusBadRequest, "IncorrectEipStatus", "The current status of the EIP %s (%s) does not support this operation.", e.AllocationID, e.Status)
}

func associateEipAddress(x *rpcCtx) (obj, error) {
	e, err := x.eip()
	if err != nil {
		return nil, err
	}
	instID, err := x.req("InstanceId")
	if err != nil {
		return nil, err
	}
	typ := x.str("InstanceType")
	if typ == "" {
		typ = "EcsInstance"
	}
	if typ != "EcsInstance" {
		return nil, errf(http.StatusBadRequest, "InvalidInstanceType.NotSupported", "aliyunsim binds EIPs to EcsInstance only, not %s.", typ)
	}
	if e.Status == "InUse" && e.InstanceID == instID {
		return obj{}, nil
	}
	if e.Status != "Available" {
		return nil, incorrectEip(e)
	}
	in, err := x.instance(instID)
	if err != nil {
		return nil, err
	}
	if in.Status != StatusRunning && in.Status != StatusStopped {
		return nil, errf(http.StatusForbidden, "IncorrectInstanceStatus", "The current status of the resource does not support this operation.")
	}
	if in.EipAllocationID != "" || in.PublicIP != "" {
		return nil, errf(http.StatusBadRequest, "InvalidAssociation.Duplicated", "The instance %s already has a public address.", instID)
	}
	e.InstanceID, e.InstanceType = instID, typ
	e.move(x.now, x.s.delay, "Associating", "InUse")
	in.EipAllocationID, in.EipAddress = e.AllocationID, e.IPAddress
	return obj{}, nil
}

func unassociateEipAddress(x *rpcCtx) (obj, error) {
	e, err := x.eip()
	if err != nil {
		return nil, err
	}
	instID, err := x.req("InstanceId")
	if err != nil {
		return nil, err
	}
	if e.Status != "InUse" || e.InstanceID != instID {
		return nil, incorrectEip(e)
	}
	if in, ok := x.c.Instances[instID]; ok {
		in.EipAllocationID, in.EipAddress = "", ""
	}
	e.InstanceID, e.InstanceType = "", ""
	e.move(x.now, x.s.delay, "Unassociating", "Available")
	return obj{}, nil
}

func releaseEipAddress(x *rpcCtx) (obj, error) {
	e, err := x.eip()
	if err != nil {
		return nil, err
	}
	if e.Status != "Available" {
		return nil, incorrectEip(e)
	}
	delete(x.c.Eips, e.AllocationID)
	return obj{}, nil
}

func describeEipAddresses(x *rpcCtx) (obj, error) {
	if _, err := x.checkRegion(); err != nil {
		return nil, err
	}
	ids, _ := x.ids("AllocationId")
	addrs, _ := x.ids("EipAddress")
	inst, status := x.str("AssociatedInstanceId"), x.str("Status")
	var all []*Eip
	for _, e := range x.c.Eips {
		if e.RegionID == x.region && (len(ids) == 0 || slices.Contains(ids, e.AllocationID)) &&
			(len(addrs) == 0 || slices.Contains(addrs, e.IPAddress)) && (inst == "" || e.InstanceID == inst) &&
			(status == "" || e.Status == status) {
			all = append(all, e)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].AllocationID < all[j].AllocationID })
	num, size, from, to, err := x.page(len(all))
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, e := range all[from:to] {
		out = append(out, obj{
			"AllocationId": e.AllocationID, "IpAddress": e.IPAddress, "Status": e.Status, "RegionId": e.RegionID,
			"InstanceId": e.InstanceID, "InstanceType": e.InstanceType, "Bandwidth": strconv.Itoa(e.Bandwidth),
			"InternetChargeType": e.InternetChargeType, "ChargeType": "PostPaid", "ISP": e.ISP, "Name": e.Name,
			"Description": e.Description, "AllocationTime": isoTimeSec(e.AllocationTime), "InstanceRegionId": e.RegionID,
		})
	}
	return obj{"EipAddresses": obj{"EipAddress": out}, "TotalCount": len(all), "PageNumber": num, "PageSize": size}, nil
}
