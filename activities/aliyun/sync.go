package aliyun

import (
	"context"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/query"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// pageSize is the page size of every Describe call that lists.
const pageSize = 50

// forPages walks a listing: it calls page with page numbers 1, 2, ... and
// the page size, for the caller to set on its Describe request, until a
// page holds fewer than pageSize items (page's answer) or fails.
func forPages(page func(number, size requests.Integer) (int, error)) error {
	for i := 1; ; i++ {
		n, err := page(requests.NewInteger(i), requests.NewInteger(pageSize))
		if err != nil {
			return err
		}
		if n < pageSize {
			return nil
		}
	}
}

func vpcEntity(v *vpc.Vpc, dcUUID string) models.EcsVpc {
	now := models.Now()
	return models.EcsVpc{EcsVpcID: v.VpcId, DataCenterUUID: dcUUID, Status: v.Status, Deleted: "false", Name: v.VpcName,
		CidrBlock: v.CidrBlock, VRouterID: v.VRouterId, Description: models.Ref(v.Description), CreateDate: now, LastOpDate: now}
}

func vswEntity(v *vpc.VSwitch, vpcUUID, zoneUUID string) models.EcsVSwitch {
	now := models.Now()
	return models.EcsVSwitch{VSwitchID: v.VSwitchId, Status: v.Status, CidrBlock: v.CidrBlock, AvailableIPAddressCount: v.AvailableIpAddressCount,
		Description: models.Ref(v.Description), Name: v.VSwitchName, EcsVpcUUID: vpcUUID, IdentityZoneUUID: zoneUUID, CreateDate: now, LastOpDate: now}
}

func sgEntity(g *ecs.SecurityGroup, vpcUUID string) models.EcsSecurityGroup {
	now := models.Now()
	return models.EcsSecurityGroup{EcsVpcUUID: vpcUUID, SecurityGroupID: g.SecurityGroupId, Name: g.SecurityGroupName,
		Description: models.Ref(g.Description), CreateDate: now, LastOpDate: now}
}

func eipEntity(e *vpc.EipAddress, dcUUID, ecsUUID string) models.HybridEip {
	now := models.Now()
	eip := models.HybridEip{EipID: e.AllocationId, BandWidth: e.Bandwidth, DataCenterUUID: dcUUID, Status: e.Status, EipAddress: e.IpAddress,
		EipType: models.HybridTypeAliyun, Name: e.Name, ChargeType: e.InternetChargeType, Description: models.Ref(e.Descritpion),
		CreateDate: now, LastOpDate: now}
	if ecsUUID != "" {
		eip.AllocateResourceUUID, eip.AllocateResourceType = models.Ref(ecsUUID), "EcsInstanceVO"
	}
	return eip
}

// instanceFields are the columns of a local instance that Alibaba owns.
func instanceFields(in *ecs.Instance) map[string]any {
	f := map[string]any{"ecsStatus": in.Status, "cpuCores": int64(in.Cpu), "memorySize": int64(in.Memory) << 20,
		"ecsInstanceType": in.InstanceType, "ecsBandWidth": int64(in.InternetMaxBandwidthOut), "chargeType": in.InstanceChargeType,
		"name": in.InstanceName, "description": in.Description, "publicIpAddress": ""}
	if ips := in.VpcAttributes.PrivateIpAddress.IpAddress; len(ips) > 0 {
		f["privateIpAddress"] = ips[0]
	}
	if in.EipAddress.IpAddress != "" {
		f["publicIpAddress"] = in.EipAddress.IpAddress
	} else if ips := in.PublicIpAddress.IpAddress; len(ips) > 0 {
		f["publicIpAddress"] = ips[0]
	}
	return f
}

// Record records a remote resource the workflow just made under its UUID.
func (a *Activities) Record(ctx context.Context, p workflows.RecordParams) (activities.Result, error) {
	ref := p.Ref
	if ref.Region == "" && str(p.Args, "dataCenterUuid") != "" {
		dc, err := a.dataCenter(ctx, str(p.Args, "dataCenterUuid"))
		if err != nil {
			return activities.Result{}, wrap(err)
		}
		ref.Region = dc.RegionID
	}
	c, err := a.connFor(ctx, ref.AccountUUID, ref.Region)
	if err != nil {
		return activities.Result{}, wrap(err)
	}
	var res string
	if ref.Kind == workflows.KindSecurityGroupRule {
		res = store.ResEcsSecurityGroupRule
		now := models.Now()
		x := ref.Extra
		r := models.EcsSecurityGroupRule{UUID: ref.UUID, EcsSecurityGroupUUID: str(p.Args, "groupUuid"), Protocol: x["protocol"], PortRange: x["portRange"],
			CidrIP: x["cidr"], Priority: x["priority"], Direction: x["direction"], NicType: x["nictype"], Policy: x["policy"],
			Description: models.Ref(x["description"]), CreateDate: now, LastOpDate: now}
		if err := a.store.Create(ctx, res, &r, r.UUID, ref.AccountUUID); err != nil && models.AsError(err).Kind != models.KindConflict {
			return activities.Result{}, wrap(err)
		}
		return a.render(ctx, res, ref.UUID)
	}
	r, found, err := c.describeRef(ctx, ref)
	if err != nil {
		return activities.Result{}, err
	}
	if !found {
		return activities.Result{}, wrap(models.NotFound("cannot find %s %s at Alibaba Cloud", ref.Kind, ref.ID))
	}
	var uuid string
	switch ref.Kind {
	case workflows.KindVpc:
		res = store.ResEcsVpc
		e := vpcEntity(r.VPC, str(p.Args, "dataCenterUuid"))
		e.Description = models.Ref(str(p.Args, "description"))
		uuid, err = a.store.UpsertRemote(ctx, res, "data_center_uuid", e.DataCenterUUID, "ecs_vpc_id", e.EcsVpcID, ref.UUID, &e, ref.AccountUUID)
	case workflows.KindVSwitch:
		res = store.ResEcsVSwitch
		e := vswEntity(r.VSw, str(p.Args, "vpcUuid"), str(p.Args, "identityZoneUuid"))
		uuid, err = a.store.UpsertRemote(ctx, res, "ecs_vpc_uuid", e.EcsVpcUUID, "v_switch_id", e.VSwitchID, ref.UUID, &e, ref.AccountUUID)
	case workflows.KindSecurityGroup:
		res = store.ResEcsSecurityGroup
		e := sgEntity(r.SG, str(p.Args, "vpcUuid"))
		uuid, err = a.store.UpsertRemote(ctx, res, "ecs_vpc_uuid", e.EcsVpcUUID, "security_group_id", e.SecurityGroupID, ref.UUID, &e, ref.AccountUUID)
	case workflows.KindEip:
		res = store.ResHybridEip
		dc := str(p.Args, "dataCenterUuid")
		var ecsUUID string
		if dc == "" {
			var old models.HybridEip
			if err := a.store.Get(ctx, res, ref.UUID, &old); err != nil {
				return activities.Result{}, wrap(err)
			}
			dc = old.DataCenterUUID
		}
		if r.EIP.InstanceId != "" {
			if ecsUUID, err = a.store.FindRemote(ctx, store.ResEcsInstance, "data_center_uuid", dc, "ecs_instance_id", r.EIP.InstanceId); err != nil {
				return activities.Result{}, err
			}
		}
		e := eipEntity(r.EIP, dc, ecsUUID)
		uuid, err = a.store.UpsertRemote(ctx, res, "data_center_uuid", dc, "eip_id", e.EipID, ref.UUID, &e, ref.AccountUUID)
	case workflows.KindInstance:
		res, uuid = store.ResEcsInstance, ref.UUID
		err = a.store.Update(ctx, res, ref.UUID, instanceFields(r.Inst))
	case workflows.KindImage:
		res = store.ResEcsImage
		dc := str(p.Args, "dataCenterUuid")
		im := r.Img
		now := models.Now()
		e := models.EcsImage{EcsImageID: im.ImageId, Name: im.ImageName, EcsImageSize: int64(im.Size) << 30, Description: models.Ref(im.Description),
			DataCenterUUID: dc, Platform: im.Platform, Type: "self", Format: orDefault(str(p.Args, "format"), "raw"), OSName: im.OSName,
			LocalImageUUID: models.Ref(str(p.Args, "imageUuid")), OssMd5Sum: models.Ref(str(p.Args, "md5")), CreateDate: now, LastOpDate: now}
		uuid, err = a.store.UpsertRemote(ctx, res, "data_center_uuid", dc, "ecs_image_id", e.EcsImageID, ref.UUID, &e, ref.AccountUUID)
	case workflows.KindOssBucket:
		res = store.ResOssBucket
		var dc models.DataCenter
		if dc, err = a.dataCenter(ctx, str(p.Args, "dataCenterUuid")); err != nil {
			return activities.Result{}, wrap(err)
		}
		current := "false"
		if n, cerr := a.store.Count(ctx, "oss_buckets", "data_center_uuid = ?", dc.UUID); cerr != nil {
			return activities.Result{}, cerr
		} else if n == 0 {
			current = "true" // a data center's first bucket is its upload bucket
		}
		now := models.Now()
		e := models.OssBucket{BucketName: ref.ID, DataCenterUUID: dc.UUID, Current: current, RegionName: dc.RegionName,
			Description: models.Ref(str(p.Args, "description")), CreateDate: now, LastOpDate: now}
		uuid, err = a.store.UpsertRemote(ctx, res, "data_center_uuid", dc.UUID, "bucket_name", ref.ID, ref.UUID, &e, ref.AccountUUID)
	case workflows.KindUserGateway, workflows.KindVpnConnection:
		res, uuid, err = a.recordVpn(ctx, r, p)
	case workflows.KindVbr, workflows.KindRouterInterface:
		res, uuid, err = a.recordExpress(ctx, r, p)
	case workflows.KindRouteEntry:
		res = store.ResAliyunRouteEntry
		e := routeEntity(r.Route, ref.Extra["vRouterUuid"], ref.Extra["vRouterType"])
		uuid, err = a.store.UpsertRemote(ctx, res, "virtual_router_uuid", e.VirtualRouterUUID, "route_entry_id", e.RouteEntryID, ref.UUID, &e, ref.AccountUUID)
	default:
		return activities.Result{}, wrap(models.Invalid("cannot record %s", ref.Kind))
	}
	if err != nil {
		return activities.Result{}, wrap(err)
	}
	if err := a.store.AddTags(ctx, uuid, res, p.SystemTags, p.UserTags); err != nil {
		return activities.Result{}, err
	}
	return a.render(ctx, res, uuid)
}

// Sync imports what Alibaba has into the inventory, updates what changed
// and removes what is gone; it is idempotent and returns the inventories
// of the synced scope.
func (a *Activities) Sync(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	switch p.What {
	case workflows.SyncDataCenter:
		return a.syncDataCenter(ctx, p)
	case workflows.SyncIdentityZones:
		return a.syncZones(ctx, p)
	case workflows.KindVpc:
		return a.syncVpcs(ctx, p)
	case workflows.KindVSwitch:
		return a.syncVSwitches(ctx, p)
	case workflows.KindSecurityGroup:
		return a.syncSecurityGroups(ctx, p)
	case workflows.KindSecurityGroupRule:
		return a.syncRules(ctx, p)
	case workflows.KindImage:
		return a.syncImages(ctx, p)
	case workflows.KindInstance:
		return a.syncInstances(ctx, p)
	case workflows.KindEip:
		return a.syncEips(ctx, p)
	case workflows.KindVpnGateway, workflows.KindUserGateway, workflows.KindVpnConnection:
		return a.syncVpn(ctx, p)
	case workflows.KindVirtualRouter:
		return a.syncVRouter(ctx, p)
	case workflows.KindRouteEntry:
		return a.syncRouteEntries(ctx, p)
	case workflows.KindVbr, workflows.KindRouterInterface:
		return a.syncExpress(ctx, p)
	}
	return activities.Result{}, wrap(models.Invalid("cannot sync %s", p.What))
}

// list renders every row of a resource matching one condition.
func (a *Activities) list(ctx context.Context, res, field, value string) (activities.Result, error) {
	q := query.Query{Limit: 10000}
	if field != "" {
		q.Conditions = []query.Condition{{Path: []string{field}, Op: query.OpEq, Value: value}}
	}
	items, _, err := a.store.Query(ctx, res, q)
	if err != nil {
		return activities.Result{}, err
	}
	return result("inventories", items)
}

func (a *Activities) syncDataCenter(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	c, dc, err := a.connDC(ctx, p.AccountUUID, p.UUID)
	if err != nil {
		return activities.Result{}, err
	}
	regions, err := c.regions(ctx)
	if err != nil {
		return activities.Result{}, err
	}
	deleted := "true"
	for _, r := range regions {
		if r.RegionId == dc.RegionID {
			deleted = "false"
			if err := a.store.Update(ctx, store.ResDataCenter, dc.UUID, map[string]any{"regionName": r.LocalName, "deleted": deleted}); err != nil {
				return activities.Result{}, wrap(err)
			}
		}
	}
	if deleted == "true" {
		if err := a.store.Update(ctx, store.ResDataCenter, dc.UUID, map[string]any{"deleted": deleted}); err != nil {
			return activities.Result{}, wrap(err)
		}
	} else if _, err := a.syncZones(ctx, workflows.HybridParams{UUID: dc.UUID, AccountUUID: p.AccountUUID}); err != nil {
		return activities.Result{}, err
	}
	return a.render(ctx, store.ResDataCenter, dc.UUID)
}

// syncZones refreshes the zones of a data center (p.UUID names the data
// center or one of its zones). Zones are added explicitly
// (AddIdentityZoneFromRemote), so sync updates and closes them but adds
// none.
func (a *Activities) syncZones(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	dcUUID := p.UUID
	var z models.IdentityZone
	if err := a.store.Get(ctx, store.ResIdentityZone, p.UUID, &z); err == nil {
		dcUUID = z.DataCenterUUID
	}
	c, dc, err := a.connDC(ctx, p.AccountUUID, dcUUID)
	if err != nil {
		return activities.Result{}, err
	}
	zones, err := c.zones(ctx)
	if err != nil {
		return activities.Result{}, err
	}
	remote := map[string]ecs.Zone{}
	for _, rz := range zones {
		remote[rz.ZoneId] = rz
	}
	var local []models.IdentityZone
	if err := a.store.DB().SelectContext(ctx, &local, "SELECT * FROM identity_zones WHERE data_center_uuid = ?", dc.UUID); err != nil {
		return activities.Result{}, err
	}
	for _, lz := range local {
		changes := map[string]any{"closed": "true"}
		if rz, ok := remote[lz.ZoneID]; ok {
			changes = map[string]any{"closed": "false", "zoneName": rz.LocalName}
		}
		if err := a.store.Update(ctx, store.ResIdentityZone, lz.UUID, changes); err != nil {
			return activities.Result{}, wrap(err)
		}
	}
	return a.list(ctx, store.ResIdentityZone, "dataCenterUuid", dc.UUID)
}

func (a *Activities) syncVpcs(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	c, dc, err := a.connDC(ctx, p.AccountUUID, str(p.Args, "dataCenterUuid"))
	if err != nil {
		return activities.Result{}, err
	}
	cl, err := c.vpc()
	if err != nil {
		return activities.Result{}, err
	}
	only := str(p.Args, "ecsVpcId")
	var seen []string
	if err := forPages(func(number, size requests.Integer) (int, error) {
		req := vpc.CreateDescribeVpcsRequest()
		req.RegionId, req.VpcId, req.PageNumber, req.PageSize = dc.RegionID, only, number, size
		var resp *vpc.DescribeVpcsResponse
		if err := c.call(ctx, "DescribeVpcs", func() (err error) { resp, err = cl.DescribeVpcs(req); return }); err != nil {
			return 0, err
		}
		for i := range resp.Vpcs.Vpc {
			e := vpcEntity(&resp.Vpcs.Vpc[i], dc.UUID)
			if _, err := a.store.UpsertRemote(ctx, store.ResEcsVpc, "data_center_uuid", dc.UUID, "ecs_vpc_id", e.EcsVpcID,
				models.NameUUID("EcsVpc", dc.UUID, e.EcsVpcID), &e, p.AccountUUID); err != nil {
				return 0, wrap(err)
			}
			seen = append(seen, e.EcsVpcID)
		}
		return len(resp.Vpcs.Vpc), nil
	}); err != nil {
		return activities.Result{}, err
	}
	if only == "" {
		if _, err := a.store.DeleteStale(ctx, store.ResEcsVpc, "ecs_vpc_id", seen, "data_center_uuid = ?", dc.UUID); err != nil {
			return activities.Result{}, err
		}
	}
	return a.list(ctx, store.ResEcsVpc, "dataCenterUuid", dc.UUID)
}

func (a *Activities) syncVSwitches(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	c, dc, err := a.connDC(ctx, p.AccountUUID, str(p.Args, "dataCenterUuid"))
	if err != nil {
		return activities.Result{}, err
	}
	cl, err := c.vpc()
	if err != nil {
		return activities.Result{}, err
	}
	var vpcs []models.EcsVpc
	if err := a.store.DB().SelectContext(ctx, &vpcs, "SELECT * FROM ecs_vpcs WHERE data_center_uuid = ?", dc.UUID); err != nil {
		return activities.Result{}, err
	}
	var zones []models.IdentityZone
	if err := a.store.DB().SelectContext(ctx, &zones, "SELECT * FROM identity_zones WHERE data_center_uuid = ?", dc.UUID); err != nil {
		return activities.Result{}, err
	}
	zoneUUID := map[string]string{}
	for _, z := range zones {
		zoneUUID[z.ZoneID] = z.UUID
	}
	only := str(p.Args, "vSwitchId")
	for _, v := range vpcs {
		var seen []string
		if err := forPages(func(number, size requests.Integer) (int, error) {
			req := vpc.CreateDescribeVSwitchesRequest()
			req.RegionId, req.VpcId, req.VSwitchId = dc.RegionID, v.EcsVpcID, only
			req.PageNumber, req.PageSize = number, size
			var resp *vpc.DescribeVSwitchesResponse
			if err := c.call(ctx, "DescribeVSwitches", func() (err error) { resp, err = cl.DescribeVSwitches(req); return }); err != nil {
				return 0, err
			}
			for i := range resp.VSwitches.VSwitch {
				rv := &resp.VSwitches.VSwitch[i]
				seen = append(seen, rv.VSwitchId)
				zu, ok := zoneUUID[rv.ZoneId]
				if !ok {
					continue // its zone is not in the inventory; add the zone, then sync again
				}
				e := vswEntity(rv, v.UUID, zu)
				if _, err := a.store.UpsertRemote(ctx, store.ResEcsVSwitch, "ecs_vpc_uuid", v.UUID, "v_switch_id", e.VSwitchID,
					models.NameUUID("EcsVSwitch", v.UUID, e.VSwitchID), &e, p.AccountUUID); err != nil {
					return 0, wrap(err)
				}
			}
			return len(resp.VSwitches.VSwitch), nil
		}); err != nil {
			return activities.Result{}, err
		}
		if only == "" {
			if _, err := a.store.DeleteStale(ctx, store.ResEcsVSwitch, "v_switch_id", seen, "ecs_vpc_uuid = ?", v.UUID); err != nil {
				return activities.Result{}, err
			}
		}
	}
	items, _, err := a.store.Query(ctx, store.ResEcsVSwitch, query.Query{Limit: 10000,
		Conditions: []query.Condition{{Path: []string{"ecsVpc", "dataCenterUuid"}, Op: query.OpEq, Value: dc.UUID}}})
	if err != nil {
		return activities.Result{}, err
	}
	return result("inventories", items)
}

func (a *Activities) syncSecurityGroups(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	var v models.EcsVpc
	if err := a.store.Get(ctx, store.ResEcsVpc, str(p.Args, "ecsVpcUuid"), &v); err != nil {
		return activities.Result{}, wrap(err)
	}
	c, dc, err := a.connDC(ctx, p.AccountUUID, v.DataCenterUUID)
	if err != nil {
		return activities.Result{}, err
	}
	cl, err := c.ecs()
	if err != nil {
		return activities.Result{}, err
	}
	only := str(p.Args, "securityGroupId")
	var seen []string
	if err := forPages(func(number, size requests.Integer) (int, error) {
		req := ecs.CreateDescribeSecurityGroupsRequest()
		req.RegionId, req.VpcId, req.PageNumber, req.PageSize = dc.RegionID, v.EcsVpcID, number, size
		if only != "" {
			req.SecurityGroupIds = jsonList(only)
		}
		var resp *ecs.DescribeSecurityGroupsResponse
		if err := c.call(ctx, "DescribeSecurityGroups", func() (err error) { resp, err = cl.DescribeSecurityGroups(req); return }); err != nil {
			return 0, err
		}
		for i := range resp.SecurityGroups.SecurityGroup {
			e := sgEntity(&resp.SecurityGroups.SecurityGroup[i], v.UUID)
			if _, err := a.store.UpsertRemote(ctx, store.ResEcsSecurityGroup, "ecs_vpc_uuid", v.UUID, "security_group_id", e.SecurityGroupID,
				models.NameUUID("EcsSecurityGroup", v.UUID, e.SecurityGroupID), &e, p.AccountUUID); err != nil {
				return 0, wrap(err)
			}
			seen = append(seen, e.SecurityGroupID)
		}
		return len(resp.SecurityGroups.SecurityGroup), nil
	}); err != nil {
		return activities.Result{}, err
	}
	if only == "" {
		if _, err := a.store.DeleteStale(ctx, store.ResEcsSecurityGroup, "security_group_id", seen, "ecs_vpc_uuid = ?", v.UUID); err != nil {
			return activities.Result{}, err
		}
	}
	return a.list(ctx, store.ResEcsSecurityGroup, "ecsVpcUuid", v.UUID)
}

// syncRules mirrors a security group's rules. Alibaba identifies a rule by
// its fields, so a rule's UUID derives from them.
func (a *Activities) syncRules(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	ref, err := a.Lookup(ctx, workflows.LocalRef{Resource: store.ResEcsSecurityGroup, UUID: p.UUID})
	if err != nil {
		return activities.Result{}, err
	}
	c, err := a.connFor(ctx, p.AccountUUID, ref.Region)
	if err != nil {
		return activities.Result{}, wrap(err)
	}
	cl, err := c.ecs()
	if err != nil {
		return activities.Result{}, err
	}
	req := ecs.CreateDescribeSecurityGroupAttributeRequest()
	req.RegionId, req.SecurityGroupId, req.Direction = c.region, ref.ID, "all"
	var resp *ecs.DescribeSecurityGroupAttributeResponse
	if err := c.call(ctx, "DescribeSecurityGroupAttribute", func() (err error) { resp, err = cl.DescribeSecurityGroupAttribute(req); return }); err != nil {
		return activities.Result{}, err
	}
	var local []models.EcsSecurityGroupRule
	if err := a.store.DB().SelectContext(ctx, &local, "SELECT * FROM ecs_security_group_rules WHERE ecs_security_group_uuid = ?", p.UUID); err != nil {
		return activities.Result{}, err
	}
	key := func(dir, proto, ports, cidr, policy, nic string) string {
		return strings.ToLower(strings.Join([]string{dir, proto, ports, cidr, policy, nic}, "|"))
	}
	have := map[string]string{}
	for _, r := range local {
		have[key(r.Direction, r.Protocol, r.PortRange, r.CidrIP, r.Policy, r.NicType)] = r.UUID
	}
	var keep []string
	for _, perm := range resp.Permissions.Permission {
		cidr := perm.SourceCidrIp
		if perm.Direction == "egress" {
			cidr = perm.DestCidrIp
		}
		k := key(perm.Direction, perm.IpProtocol, perm.PortRange, cidr, perm.Policy, perm.NicType)
		if u, ok := have[k]; ok {
			keep = append(keep, u)
			continue
		}
		now := models.Now()
		r := models.EcsSecurityGroupRule{UUID: models.NameUUID("EcsSecurityGroupRule", p.UUID, k), EcsSecurityGroupUUID: p.UUID,
			Protocol: strings.ToLower(perm.IpProtocol), PortRange: perm.PortRange, CidrIP: cidr, Priority: perm.Priority, Direction: perm.Direction,
			NicType: perm.NicType, Policy: strings.ToLower(perm.Policy), Description: models.Ref(perm.Description), CreateDate: now, LastOpDate: now}
		if err := a.store.Create(ctx, store.ResEcsSecurityGroupRule, &r, r.UUID, p.AccountUUID); err != nil && models.AsError(err).Kind != models.KindConflict {
			return activities.Result{}, wrap(err)
		}
		keep = append(keep, r.UUID)
	}
	if _, err := a.store.DeleteStale(ctx, store.ResEcsSecurityGroupRule, "uuid", keep, "ecs_security_group_uuid = ?", p.UUID); err != nil {
		return activities.Result{}, err
	}
	return a.list(ctx, store.ResEcsSecurityGroupRule, "ecsSecurityGroupUuid", p.UUID)
}

func (a *Activities) syncImages(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	c, dc, err := a.connDC(ctx, p.AccountUUID, str(p.Args, "dataCenterUuid"))
	if err != nil {
		return activities.Result{}, err
	}
	cl, err := c.ecs()
	if err != nil {
		return activities.Result{}, err
	}
	types := []string{"system", "self"}
	if t := str(p.Args, "type"); t != "" {
		types = []string{t}
	}
	for _, typ := range types {
		var seen []string
		if err := forPages(func(number, size requests.Integer) (int, error) {
			req := ecs.CreateDescribeImagesRequest()
			req.RegionId, req.ImageOwnerAlias, req.PageNumber, req.PageSize = dc.RegionID, typ, number, size
			var resp *ecs.DescribeImagesResponse
			if err := c.call(ctx, "DescribeImages", func() (err error) { resp, err = cl.DescribeImages(req); return }); err != nil {
				return 0, err
			}
			for _, im := range resp.Images.Image {
				now := models.Now()
				e := models.EcsImage{EcsImageID: im.ImageId, Name: im.ImageName, EcsImageSize: int64(im.Size) << 30, Description: models.Ref(im.Description),
					DataCenterUUID: dc.UUID, Platform: im.Platform, Type: typ, Format: "raw", OSName: im.OSName, CreateDate: now, LastOpDate: now}
				if _, err := a.store.UpsertRemote(ctx, store.ResEcsImage, "data_center_uuid", dc.UUID, "ecs_image_id", e.EcsImageID,
					models.NameUUID("EcsImage", dc.UUID, e.EcsImageID), &e, p.AccountUUID); err != nil {
					return 0, wrap(err)
				}
				seen = append(seen, im.ImageId)
			}
			return len(resp.Images.Image), nil
		}); err != nil {
			return activities.Result{}, err
		}
		if _, err := a.store.DeleteStale(ctx, store.ResEcsImage, "ecs_image_id", seen, "data_center_uuid = ? AND type = ?", dc.UUID, typ); err != nil {
			return activities.Result{}, err
		}
	}
	return a.list(ctx, store.ResEcsImage, "dataCenterUuid", dc.UUID)
}

func (a *Activities) syncInstances(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	c, dc, err := a.connDC(ctx, p.AccountUUID, str(p.Args, "dataCenterUuid"))
	if err != nil {
		return activities.Result{}, err
	}
	cl, err := c.ecs()
	if err != nil {
		return activities.Result{}, err
	}
	onlyKnown := str(p.Args, "onlyZstack") == "true"
	f := &remoteFinder{a: a, ctx: ctx}
	find := f.find
	var seen []string
	if err := forPages(func(number, size requests.Integer) (int, error) {
		req := ecs.CreateDescribeInstancesRequest()
		req.RegionId, req.PageNumber, req.PageSize = dc.RegionID, number, size
		var resp *ecs.DescribeInstancesResponse
		if err := c.call(ctx, "DescribeInstances", func() (err error) { resp, err = cl.DescribeInstances(req); return }); err != nil {
			return 0, err
		}
		for i := range resp.Instances.Instance {
			in := &resp.Instances.Instance[i]
			seen = append(seen, in.InstanceId)
			existing := find(store.ResEcsInstance, "data_center_uuid", dc.UUID, "ecs_instance_id", in.InstanceId)
			if f.err != nil {
				return 0, f.err
			}
			if existing != "" {
				if err := a.store.Update(ctx, store.ResEcsInstance, existing, instanceFields(in)); err != nil {
					return 0, wrap(err)
				}
				continue
			}
			if onlyKnown {
				continue
			}
			vpcUUID := find(store.ResEcsVpc, "data_center_uuid", dc.UUID, "ecs_vpc_id", in.VpcAttributes.VpcId)
			now := models.Now()
			e := models.EcsInstance{EcsInstanceID: in.InstanceId, DataCenterUUID: dc.UUID, Description: models.Ref(in.Description),
				IdentityZoneUUID: find(store.ResIdentityZone, "data_center_uuid", dc.UUID, "zone_id", in.ZoneId),
				EcsImageUUID:     find(store.ResEcsImage, "data_center_uuid", dc.UUID, "ecs_image_id", in.ImageId),
				EcsVSwitchUUID:   find(store.ResEcsVSwitch, "ecs_vpc_uuid", vpcUUID, "v_switch_id", in.VpcAttributes.VSwitchId),
				CreateDate:       now, LastOpDate: now}
			if ids := in.SecurityGroupIds.SecurityGroupId; len(ids) > 0 {
				e.EcsSecurityGroupUUID = find(store.ResEcsSecurityGroup, "ecs_vpc_uuid", vpcUUID, "security_group_id", ids[0])
			}
			if f.err != nil {
				return 0, f.err
			}
			uuid, err := a.store.UpsertRemote(ctx, store.ResEcsInstance, "data_center_uuid", dc.UUID, "ecs_instance_id", in.InstanceId,
				models.NameUUID("EcsInstance", dc.UUID, in.InstanceId), &e, p.AccountUUID)
			if err != nil {
				return 0, wrap(err)
			}
			if err := a.store.Update(ctx, store.ResEcsInstance, uuid, instanceFields(in)); err != nil {
				return 0, wrap(err)
			}
		}
		return len(resp.Instances.Instance), nil
	}); err != nil {
		return activities.Result{}, err
	}
	// Rows still being created (no remote id yet) are their workflow's.
	if _, err := a.store.DeleteStale(ctx, store.ResEcsInstance, "ecs_instance_id", seen, "data_center_uuid = ? AND ecs_instance_id <> ''", dc.UUID); err != nil {
		return activities.Result{}, err
	}
	// The data center is no field of ZStack's EcsInstanceInventory: the
	// reply lists this data center's instances by UUID.
	var uuids []string
	if err := a.store.DB().SelectContext(ctx, &uuids, "SELECT uuid FROM ecs_instances WHERE data_center_uuid = ?", dc.UUID); err != nil {
		return activities.Result{}, err
	}
	if len(uuids) == 0 {
		return result("inventories", []any{})
	}
	items, _, err := a.store.Query(ctx, store.ResEcsInstance, query.Query{Limit: 10000,
		Conditions: []query.Condition{{Path: []string{"uuid"}, Op: query.OpIn, Value: strings.Join(uuids, ","), Values: uuids}}})
	if err != nil {
		return activities.Result{}, err
	}
	return result("inventories", items)
}

func (a *Activities) syncEips(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	c, dc, err := a.connDC(ctx, p.AccountUUID, str(p.Args, "dataCenterUuid"))
	if err != nil {
		return activities.Result{}, err
	}
	cl, err := c.vpc()
	if err != nil {
		return activities.Result{}, err
	}
	var seen []string
	if err := forPages(func(number, size requests.Integer) (int, error) {
		req := vpc.CreateDescribeEipAddressesRequest()
		req.RegionId, req.PageNumber, req.PageSize = dc.RegionID, number, size
		var resp *vpc.DescribeEipAddressesResponse
		if err := c.call(ctx, "DescribeEipAddresses", func() (err error) { resp, err = cl.DescribeEipAddresses(req); return }); err != nil {
			return 0, err
		}
		for i := range resp.EipAddresses.EipAddress {
			re := &resp.EipAddresses.EipAddress[i]
			var ecsUUID string
			if re.InstanceId != "" {
				var err error
				if ecsUUID, err = a.store.FindRemote(ctx, store.ResEcsInstance, "data_center_uuid", dc.UUID, "ecs_instance_id", re.InstanceId); err != nil {
					return 0, wrap(err)
				}
			}
			e := eipEntity(re, dc.UUID, ecsUUID)
			if _, err := a.store.UpsertRemote(ctx, store.ResHybridEip, "data_center_uuid", dc.UUID, "eip_id", e.EipID,
				models.NameUUID("HybridEip", dc.UUID, e.EipID), &e, p.AccountUUID); err != nil {
				return 0, wrap(err)
			}
			seen = append(seen, re.AllocationId)
		}
		return len(resp.EipAddresses.EipAddress), nil
	}); err != nil {
		return activities.Result{}, err
	}
	if _, err := a.store.DeleteStale(ctx, store.ResHybridEip, "eip_id", seen, "data_center_uuid = ?", dc.UUID); err != nil {
		return activities.Result{}, err
	}
	return a.list(ctx, store.ResHybridEip, "dataCenterUuid", dc.UUID)
}

// remoteFinder resolves remote IDs to local rows during a sync. The first
// store error is kept, and must be checked before what was found is
// written: a failed lookup must not blank a good link.
type remoteFinder struct {
	a   *Activities
	ctx context.Context
	err error
}

func (f *remoteFinder) find(res, scopeCol, scope, idCol, id string) string {
	if id == "" || f.err != nil {
		return ""
	}
	u, err := f.a.store.FindRemote(f.ctx, res, scopeCol, scope, idCol, id)
	if err != nil {
		f.err = wrap(err)
	}
	return u
}
