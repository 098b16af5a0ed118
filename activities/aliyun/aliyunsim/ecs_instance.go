package aliyunsim

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Instance states of the ECS API.
const (
	StatusPending  = "Pending"
	StatusStarting = "Starting"
	StatusRunning  = "Running"
	StatusStopping = "Stopping"
	StatusStopped  = "Stopped"
)

// Instance is an ECS instance as the simulator keeps it.
type Instance struct {
	Lifecycle
	InstanceID         string            `json:"instanceId"`
	AccountID          string            `json:"accountId"`
	RegionID           string            `json:"regionId"`
	ZoneID             string            `json:"zoneId"`
	InstanceName       string            `json:"instanceName"`
	Description        string            `json:"description"`
	HostName           string            `json:"hostName"`
	ImageID            string            `json:"imageId"`
	OSName             string            `json:"osName"`
	OSType             string            `json:"osType"`
	InstanceType       string            `json:"instanceType"`
	CPU                int               `json:"cpu"`
	MemoryMB           int               `json:"memoryMb"`
	VpcID              string            `json:"vpcId"`
	VSwitchID          string            `json:"vswitchId"`
	PrivateIP          string            `json:"privateIp"`
	SecurityGroupIDs   []string          `json:"securityGroupIds"`
	KeyPairName        string            `json:"keyPairName,omitempty"`
	BandwidthOut       int               `json:"bandwidthOut"`
	InternetChargeType string            `json:"internetChargeType"`
	PublicIP           string            `json:"publicIp,omitempty"`
	EipAllocationID    string            `json:"eipAllocationId,omitempty"`
	EipAddress         string            `json:"eipAddress,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	CreationTime       time.Time         `json:"creationTime"`
	StartTime          time.Time         `json:"startTime"`
}

func ecsHandlers() map[string]rpcHandler {
	return map[string]rpcHandler{
		"DescribeRegions":                describeRegions,
		"DescribeZones":                  describeZones,
		"DescribeInstanceTypes":          describeInstanceTypes,
		"DescribeImages":                 describeImages,
		"ImportImage":                    importImage,
		"DeleteImage":                    deleteImage,
		"CreateInstance":                 createInstance,
		"RunInstances":                   runInstances,
		"StartInstance":                  startInstance,
		"StopInstance":                   stopInstance,
		"RebootInstance":                 rebootInstance,
		"DeleteInstance":                 deleteInstance,
		"ModifyInstanceAttribute":        modifyInstanceAttribute,
		"DescribeInstances":              describeInstances,
		"DescribeInstanceStatus":         describeInstanceStatus,
		"DescribeInstanceAttribute":      describeInstanceAttribute,
		"DescribeInstanceVncUrl":         describeInstanceVncURL,
		"CreateSecurityGroup":            createSecurityGroup,
		"DeleteSecurityGroup":            deleteSecurityGroup,
		"DescribeSecurityGroups":         describeSecurityGroups,
		"DescribeSecurityGroupAttribute": describeSecurityGroupAttribute,
		"AuthorizeSecurityGroup":         authorizeSecurityGroup(dirIngress),
		"AuthorizeSecurityGroupEgress":   authorizeSecurityGroup(dirEgress),
		"RevokeSecurityGroup":            revokeSecurityGroup(dirIngress),
		"RevokeSecurityGroupEgress":      revokeSecurityGroup(dirEgress),
	}
}

// instanceSpec is what CreateInstance and RunInstances share.
type instanceSpec struct {
	zone, image, osName, osType, vsw, vpc, privateIP, name, desc, host, keyPair, chargeType string
	typ                                                                                     instanceType
	groups                                                                                  []string
	bandwidth                                                                               int
	tags                                                                                    map[string]string
}

func (x *rpcCtx) instanceSpec(groups []string) (*instanceSpec, error) {
	if _, err := x.checkRegion(); err != nil {
		return nil, err
	}
	sp := &instanceSpec{groups: groups, tags: map[string]string{}}
	var err error
	if sp.image, err = x.req("ImageId"); err != nil {
		return nil, err
	}
	if sp.osName, sp.osType, err = x.imageOS(sp.image); err != nil {
		return nil, err
	}
	typ, err := x.req("InstanceType")
	if err != nil {
		return nil, err
	}
	var ok bool
	if sp.typ, ok = findInstanceType(typ); !ok {
		return nil, errf(http.StatusNotFound, "InvalidInstanceType.NotFound", "The specified InstanceType %q does not exist.", typ)
	}
	if sp.vsw, err = x.req("VSwitchId"); err != nil {
		return nil, err
	}
	vs, ok := x.c.VSwitches[sp.vsw]
	if !ok || vs.RegionID != x.region {
		return nil, notFound("InvalidVSwitchId.NotFound", "VSwitch", sp.vsw)
	}
	if vs.Status != "Available" {
		return nil, errf(http.StatusForbidden, "IncorrectVSwitchStatus", "The VSwitch %q is %s.", sp.vsw, vs.Status)
	}
	sp.vpc = vs.VpcID
	sp.zone = x.str("ZoneId")
	if sp.zone == "" {
		sp.zone = vs.ZoneID
	}
	if sp.zone != vs.ZoneID {
		return nil, errf(http.StatusBadRequest, "InvalidVSwitchId.NotBelongToZone",
			"The VSwitch %q is in zone %s, not %s.", sp.vsw, vs.ZoneID, sp.zone)
	}
	if len(sp.groups) == 0 {
		return nil, missing("SecurityGroupId")
	}
	for _, g := range sp.groups {
		sg, ok := x.c.SecurityGroups[g]
		if !ok || sg.RegionID != x.region {
			return nil, notFound("InvalidSecurityGroupId.NotFound", "security group", g)
		}
		if sg.VpcID != sp.vpc {
			return nil, errf(http.StatusBadRequest, "InvalidSecurityGroupId.NotMatchVpc",
				"The security group %q belongs to VPC %s, the VSwitch to %s.", g, sg.VpcID, sp.vpc)
		}
	}
	sp.privateIP = x.str("PrivateIpAddress")
	if sp.bandwidth, err = x.integer("InternetMaxBandwidthOut", 0); err != nil {
		return nil, err
	}
	sp.name, sp.desc, sp.host, sp.keyPair = x.str("InstanceName"), x.str("Description"), x.str("HostName"), x.str("KeyPairName")
	sp.chargeType = x.str("InternetChargeType")
	if sp.chargeType == "" {
		sp.chargeType = "PayByTraffic"
	}
	keys, values := x.list("Tag", "Key"), x.list("Tag", "Value")
	for i, k := range keys {
		if i < len(values) {
			sp.tags[k] = values[i]
		} else {
			sp.tags[k] = ""
		}
	}
	return sp, nil
}

func (x *rpcCtx) checkQuota(n int) error {
	have := 0
	for _, in := range x.c.Instances {
		if in.RegionID == x.region {
			have++
		}
	}
	if have+n > x.s.quota {
		return errf(http.StatusForbidden, "QuotaExceed.ElasticQuota",
			"The number of instances would exceed the quota of %d in region %s.", x.s.quota, x.region)
	}
	return nil
}

// allocPrivateIP picks want (when set and free) or the first free address of the VSwitch.
// Alibaba reserves the first three and the last addresses of every VSwitch CIDR.
func (x *rpcCtx) allocPrivateIP(vswID, want string) (string, error) {
	vs := x.c.VSwitches[vswID]
	pfx, err := netip.ParsePrefix(vs.CidrBlock)
	if err != nil {
		return "", fmt.Errorf("vswitch %s has a bad cidr: %w", vswID, err)
	}
	used := map[string]bool{}
	for _, in := range x.c.Instances {
		if in.VSwitchID == vswID {
			used[in.PrivateIP] = true
		}
	}
	if want != "" {
		a, err := netip.ParseAddr(want)
		if err != nil || !pfx.Contains(a) {
			return "", errf(http.StatusBadRequest, "InvalidPrivateIpAddress.Malformed",
				"The private IP %q is not in VSwitch %s (%s).", want, vswID, vs.CidrBlock)
		}
		if used[want] {
			return "", errf(http.StatusBadRequest, "InvalidPrivateIpAddress.Duplicated", "The private IP %q is already used.", want)
		}
		return want, nil
	}
	a := pfx.Masked().Addr()
	for range 3 {
		a = a.Next()
	}
	for ; pfx.Contains(a.Next()); a = a.Next() {
		if !used[a.String()] {
			return a.String(), nil
		}
	}
	return "", errf(http.StatusForbidden, "InvalidVSwitchId.IpNotEnough", "The VSwitch %q has no free IP address.", vswID)
}

func (x *rpcCtx) newInstance(sp *instanceSpec, name string) (*Instance, error) {
	ip, err := x.allocPrivateIP(sp.vsw, sp.privateIP)
	if err != nil {
		return nil, err
	}
	in := &Instance{
		InstanceID: newID("i-"), AccountID: x.key.AccountID, RegionID: x.region, ZoneID: sp.zone,
		InstanceName: name, Description: sp.desc, HostName: sp.host, ImageID: sp.image,
		OSName: sp.osName, OSType: sp.osType, InstanceType: sp.typ.ID, CPU: sp.typ.CPU,
		MemoryMB: int(sp.typ.MemoryGB * 1024), VpcID: sp.vpc, VSwitchID: sp.vsw, PrivateIP: ip,
		SecurityGroupIDs: slices.Clone(sp.groups), KeyPairName: sp.keyPair, BandwidthOut: sp.bandwidth,
		InternetChargeType: sp.chargeType, Tags: sp.tags, CreationTime: x.now,
	}
	if in.InstanceName == "" {
		in.InstanceName = in.InstanceID
	}
	if in.HostName == "" {
		in.HostName = "iZ" + in.InstanceID[2:] + "Z"
	}
	if sp.bandwidth > 0 {
		in.PublicIP = x.s.st.allocPublicIP()
	}
	x.c.Instances[in.InstanceID] = in
	return in, nil
}

func createInstance(x *rpcCtx) (obj, error) {
	if ids, _ := x.token("CreateInstance"); len(ids) == 1 {
		return obj{"InstanceId": ids[0], "OrderId": "", "TradePrice": 0}, nil
	}
	sp, err := x.instanceSpec(nonEmpty(x.str("SecurityGroupId")))
	if err != nil {
		return nil, err
	}
	if err := x.checkQuota(1); err != nil {
		return nil, err
	}
	in, err := x.newInstance(sp, sp.name)
	if err != nil {
		return nil, err
	}
	in.move(x.now, x.s.delay, StatusPending, StatusStopped)
	if _, k := x.token("CreateInstance"); k != "" {
		x.c.Tokens[k] = []string{in.InstanceID}
	}
	return obj{"InstanceId": in.InstanceID, "OrderId": "", "TradePrice": 0}, nil
}

func nonEmpty(v ...string) []string {
	var out []string
	for _, s := range v {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func runInstances(x *rpcCtx) (obj, error) {
	if ids, _ := x.token("RunInstances"); len(ids) > 0 {
		return obj{"InstanceIdSets": obj{"InstanceIdSet": ids}, "OrderId": "", "TradePrice": 0}, nil
	}
	groups := x.list("SecurityGroupIds", "")
	if len(groups) == 0 {
		groups = nonEmpty(x.str("SecurityGroupId"))
	}
	sp, err := x.instanceSpec(groups)
	if err != nil {
		return nil, err
	}
	amount, err := x.integer("Amount", 1)
	if err != nil {
		return nil, err
	}
	if amount < 1 || amount > 100 {
		return nil, invalid("Amount", x.str("Amount"))
	}
	if amount > 1 && sp.privateIP != "" {
		return nil, errf(http.StatusBadRequest, "InvalidParameter", "PrivateIpAddress can only be set when Amount is 1.")
	}
	if err := x.checkQuota(amount); err != nil {
		return nil, err
	}
	var ids []string
	for i := range amount {
		name := sp.name
		if amount > 1 && name != "" {
			name = name + "-" + strconv.Itoa(i+1)
		}
		in, err := x.newInstance(sp, name)
		if err != nil {
			for _, id := range ids {
				delete(x.c.Instances, id)
			}
			return nil, err
		}
		in.move(x.now, x.s.delay, StatusPending, StatusStarting, StatusRunning)
		in.StartTime = x.now
		ids = append(ids, in.InstanceID)
	}
	if _, k := x.token("RunInstances"); k != "" {
		x.c.Tokens[k] = ids
	}
	return obj{"InstanceIdSets": obj{"InstanceIdSet": ids}, "OrderId": "", "TradePrice": 0}, nil
}

func (x *rpcCtx) instance(id string) (*Instance, error) {
	in, ok := x.c.Instances[id]
	if !ok || in.RegionID != x.region {
		return nil, notFound("InvalidInstanceId.NotFound", "instance", id)
	}
	return in, nil
}

func (x *rpcCtx) instanceIn(status ...string) (*Instance, error) {
	id, err := x.req("InstanceId")
	if err != nil {
		return nil, err
	}
	in, err := x.instance(id)
	if err != nil {
		return nil, err
	}
	if len(status) > 0 && !slices.Contains(status, in.Status) {
		return nil, errf(http.StatusForbidden, "IncorrectInstanceStatus",
			"The current status of the resource does not support this operation.")
	}
	return in, nil
}

func startInstance(x *rpcCtx) (obj, error) {
	in, err := x.instanceIn(StatusStopped)
	if err != nil {
		return nil, err
	}
	in.move(x.now, x.s.delay, StatusStarting, StatusRunning)
	in.StartTime = x.now
	return obj{}, nil
}

func stopInstance(x *rpcCtx) (obj, error) {
	in, err := x.instanceIn(StatusRunning)
	if err != nil {
		return nil, err
	}
	in.move(x.now, x.s.delay, StatusStopping, StatusStopped)
	return obj{}, nil
}

func rebootInstance(x *rpcCtx) (obj, error) {
	in, err := x.instanceIn(StatusRunning)
	if err != nil {
		return nil, err
	}
	in.move(x.now, x.s.delay, StatusStarting, StatusRunning)
	in.StartTime = x.now
	return obj{}, nil
}

func deleteInstance(x *rpcCtx) (obj, error) {
	var in *Instance
	var err error
	if x.boolean("Force") {
		in, err = x.instanceIn()
	} else {
		in, err = x.instanceIn(StatusStopped)
	}
	if err != nil {
		return nil, err
	}
	if in.EipAllocationID != "" {
		if e, ok := x.c.Eips[in.EipAllocationID]; ok {
			e.InstanceID, e.InstanceType = "", ""
			e.move(x.now, 0, "Available")
		}
	}
	delete(x.c.Instances, in.InstanceID)
	return obj{}, nil
}

func modifyInstanceAttribute(x *rpcCtx) (obj, error) {
	in, err := x.instanceIn()
	if err != nil {
		return nil, err
	}
	if v := x.str("InstanceName"); v != "" {
		in.InstanceName = v
	}
	if v := x.str("Description"); v != "" {
		in.Description = v
	}
	if v := x.str("HostName"); v != "" {
		in.HostName = v
	}
	return obj{}, nil
}

func instanceView(in *Instance) obj {
	ips := []string{}
	if in.PublicIP != "" {
		ips = append(ips, in.PublicIP)
	}
	tags := []obj{}
	keys := make([]string, 0, len(in.Tags))
	for k := range in.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tags = append(tags, obj{"TagKey": k, "TagValue": in.Tags[k]})
	}
	v := obj{
		"InstanceId": in.InstanceID, "InstanceName": in.InstanceName, "Description": in.Description,
		"HostName": in.HostName, "Status": in.Status, "InstanceType": in.InstanceType,
		"InstanceTypeFamily": typeFamily(in.InstanceType),
		"ImageId":            in.ImageID, "OSName": in.OSName, "OSNameEn": in.OSName, "OSType": in.OSType,
		"RegionId": in.RegionID, "ZoneId": in.ZoneID, "Cpu": in.CPU, "Memory": in.MemoryMB,
		"InstanceNetworkType": "vpc", "InstanceChargeType": "PostPaid", "InternetChargeType": in.InternetChargeType,
		"InternetMaxBandwidthOut": in.BandwidthOut, "KeyPairName": in.KeyPairName,
		"CreationTime": isoTime(in.CreationTime), "ExpiredTime": "2099-12-31T15:59Z",
		"VpcAttributes": obj{"VpcId": in.VpcID, "VSwitchId": in.VSwitchID,
			"PrivateIpAddress": obj{"IpAddress": []string{in.PrivateIP}}},
		"PublicIpAddress":  obj{"IpAddress": ips},
		"InnerIpAddress":   obj{"IpAddress": []string{}},
		"SecurityGroupIds": obj{"SecurityGroupId": in.SecurityGroupIDs},
		"EipAddress":       obj{"AllocationId": in.EipAllocationID, "IpAddress": in.EipAddress},
		"Tags":             obj{"Tag": tags},
		"OperationLocks":   obj{"LockReason": []obj{}},
	}
	if !in.StartTime.IsZero() {
		v["StartTime"] = isoTime(in.StartTime)
	}
	if in.Status == StatusStopped {
		v["StoppedMode"] = "KeepCharging"
	}
	return v
}

func (x *rpcCtx) sortedInstances() []*Instance {
	var all []*Instance
	for _, in := range x.c.Instances {
		if in.RegionID == x.region {
			all = append(all, in)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].CreationTime.Equal(all[j].CreationTime) {
			return all[i].CreationTime.Before(all[j].CreationTime)
		}
		return all[i].InstanceID < all[j].InstanceID
	})
	return all
}

func describeInstances(x *rpcCtx) (obj, error) {
	if _, err := x.checkRegion(); err != nil {
		return nil, err
	}
	ids, err := x.ids("InstanceIds")
	if err != nil {
		return nil, err
	}
	vpc, vsw, status, name, zone := x.str("VpcId"), x.str("VSwitchId"), x.str("Status"), x.str("InstanceName"), x.str("ZoneId")
	tagKeys, tagValues := x.list("Tag", "Key"), x.list("Tag", "Value")
	var sel []obj
	for _, in := range x.sortedInstances() {
		if (len(ids) > 0 && !slices.Contains(ids, in.InstanceID)) || (vpc != "" && in.VpcID != vpc) ||
			(vsw != "" && in.VSwitchID != vsw) || (status != "" && in.Status != status) ||
			(name != "" && in.InstanceName != name) || (zone != "" && in.ZoneID != zone) {
			continue
		}
		match := true
		for i, k := range tagKeys {
			v, ok := in.Tags[k]
			if !ok || (i < len(tagValues) && tagValues[i] != v) {
				match = false
			}
		}
		if match {
			sel = append(sel, instanceView(in))
		}
	}
	num, size, from, to, err := x.page(len(sel))
	if err != nil {
		return nil, err
	}
	return obj{"Instances": obj{"Instance": sel[from:to]}, "TotalCount": len(sel), "PageNumber": num, "PageSize": size}, nil
}

func describeInstanceStatus(x *rpcCtx) (obj, error) {
	ids := x.list("InstanceId", "")
	var sel []obj
	for _, in := range x.sortedInstances() {
		if len(ids) == 0 || slices.Contains(ids, in.InstanceID) {
			sel = append(sel, obj{"InstanceId": in.InstanceID, "Status": in.Status})
		}
	}
	num, size, from, to, err := x.page(len(sel))
	if err != nil {
		return nil, err
	}
	return obj{"InstanceStatuses": obj{"InstanceStatus": sel[from:to]}, "TotalCount": len(sel), "PageNumber": num, "PageSize": size}, nil
}

func describeInstanceAttribute(x *rpcCtx) (obj, error) {
	in, err := x.instanceIn()
	if err != nil {
		return nil, err
	}
	return instanceView(in), nil
}

// describeInstanceVncURL returns a management-terminal URL. The simulator serves no VNC
// WebSocket behind it; see the package documentation.
func describeInstanceVncURL(x *rpcCtx) (obj, error) {
	in, err := x.instanceIn(StatusRunning)
	if err != nil {
		return nil, err
	}
	return obj{"VncUrl": "ws://" + x.host + "/vnc/" + in.InstanceID + "?token=" + newID("")}, nil
}

func typeFamily(id string) string {
	t, _ := findInstanceType(id)
	return t.Family
}
