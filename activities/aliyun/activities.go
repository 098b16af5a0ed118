package aliyun

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"go.temporal.io/sdk/activity"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// Argument helpers: params arrive as JSON values.
func str(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatInt(int64(v), 10)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

func num(m map[string]any, k string) int64 {
	switch v := m[k].(type) {
	case float64:
		return int64(v)
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

func result(key string, v any) (activities.Result, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return activities.Result{}, fmt.Errorf("render %s: %w", key, err)
	}
	return activities.Result{Key: key, Value: b}, nil
}

func (a *Activities) render(ctx context.Context, res, uuid string) (activities.Result, error) {
	inv, err := a.store.Inventory(ctx, res, uuid)
	if err != nil {
		return activities.Result{}, wrap(err)
	}
	return result("inventory", inv)
}

// AddKey validates an AccessKey with STS GetCallerIdentity and records it
// with its secret encrypted. A key Alibaba refuses is not stored.
func (a *Activities) AddKey(ctx context.Context, p workflows.AddKeyParams) (activities.Result, error) {
	if a.secrets == nil {
		return activities.Result{}, wrap(errNoSecrets())
	}
	if ok, err := a.store.Exists(ctx, store.ResHybridAccount, p.UUID); err != nil || ok {
		if err != nil {
			return activities.Result{}, err
		}
		return a.render(ctx, store.ResHybridAccount, p.UUID) // a retried step
	}
	secret, err := a.secrets.open(p.SealedSecret)
	if err != nil {
		return activities.Result{}, wrap(models.Invalid("cannot open the AccessKey secret: %v", err))
	}
	c := a.connWith(p.AKey, secret, "")
	cl, err := c.sts()
	if err != nil {
		return activities.Result{}, err
	}
	var id *sts.GetCallerIdentityResponse
	if err := c.call(ctx, "GetCallerIdentity", func() (err error) { id, err = cl.GetCallerIdentity(sts.CreateGetCallerIdentityRequest()); return }); err != nil {
		return activities.Result{}, err
	}
	enc, err := a.secrets.encrypt(secret)
	if err != nil {
		return activities.Result{}, err
	}
	current := "false"
	if n, err := a.store.Count(ctx, "hybrid_accounts", "account_uuid = ?", p.AccountUUID); err != nil {
		return activities.Result{}, err
	} else if n == 0 {
		current = "true" // an account's first key is its current one
	}
	now := models.Now()
	k := models.HybridAccount{UUID: p.UUID, Name: p.Name, Description: models.Ref(p.Description), AccountUUID: p.AccountUUID,
		Type: orDefault(p.Type, models.HybridTypeAliyun), AKey: p.AKey, Secret: enc, HybridAcctID: id.AccountId, HybridUserID: id.UserId,
		HybridUserName: id.Arn, Current: current, CreateDate: now, LastOpDate: now}
	if err := a.store.Create(ctx, store.ResHybridAccount, &k, k.UUID, p.AccountUUID); err != nil && models.AsError(err).Kind != models.KindConflict {
		return activities.Result{}, wrap(err)
	}
	if err := a.store.AddTags(ctx, k.UUID, store.ResHybridAccount, p.SystemTags, p.UserTags); err != nil {
		return activities.Result{}, err
	}
	a.log.Info("aliyun accesskey added", "key_uuid", k.UUID, "akey", k.AKey, "aliyun_account", id.AccountId)
	return a.render(ctx, store.ResHybridAccount, k.UUID)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// dataCenter reads a data center.
func (a *Activities) dataCenter(ctx context.Context, uuid string) (models.DataCenter, error) {
	var dc models.DataCenter
	if uuid == "" {
		return dc, models.Invalid("dataCenterUuid is required")
	}
	return dc, a.store.Get(ctx, store.ResDataCenter, uuid, &dc)
}

// connDC opens the account's current key in a data center's region.
func (a *Activities) connDC(ctx context.Context, accountUUID, dcUUID string) (*conn, models.DataCenter, error) {
	dc, err := a.dataCenter(ctx, dcUUID)
	if err != nil {
		return nil, dc, wrap(err)
	}
	c, err := a.connFor(ctx, accountUUID, dc.RegionID)
	return c, dc, wrap(err)
}

// regions lists Alibaba's regions.
func (c *conn) regions(ctx context.Context) ([]ecs.Region, error) {
	cl, err := c.ecs()
	if err != nil {
		return nil, err
	}
	var resp *ecs.DescribeRegionsResponse
	if err := c.call(ctx, "DescribeRegions", func() (err error) { resp, err = cl.DescribeRegions(ecs.CreateDescribeRegionsRequest()); return }); err != nil {
		return nil, err
	}
	return resp.Regions.Region, nil
}

// zones lists the zones of the conn's region.
func (c *conn) zones(ctx context.Context) ([]ecs.Zone, error) {
	cl, err := c.ecs()
	if err != nil {
		return nil, err
	}
	req := ecs.CreateDescribeZonesRequest()
	req.RegionId = c.region
	var resp *ecs.DescribeZonesResponse
	if err := c.call(ctx, "DescribeZones", func() (err error) { resp, err = cl.DescribeZones(req); return }); err != nil {
		return nil, err
	}
	return resp.Zones.Zone, nil
}

// Read answers the synchronous Get*FromRemote APIs.
func (a *Activities) Read(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	switch p.What {
	case workflows.ReadRegions:
		c, err := a.connFor(ctx, p.AccountUUID, "")
		if err != nil {
			return activities.Result{}, wrap(err)
		}
		regions, err := c.regions(ctx)
		if err != nil {
			return activities.Result{}, err
		}
		out := []map[string]any{}
		for _, r := range regions {
			out = append(out, map[string]any{"regionId": r.RegionId, "regionName": r.LocalName, "endpoint": r.RegionEndpoint, "dcType": models.HybridTypeAliyun})
		}
		return result("inventories", out)
	case workflows.ReadZones:
		c, dc, err := a.connDC(ctx, p.AccountUUID, str(p.Args, "dataCenterUuid"))
		if err != nil {
			return activities.Result{}, err
		}
		zones, err := c.zones(ctx)
		if err != nil {
			return activities.Result{}, err
		}
		out := []map[string]any{}
		for _, z := range zones {
			out = append(out, map[string]any{"zoneId": z.ZoneId, "zoneName": z.LocalName, "dataCenterUuid": dc.UUID, "regionId": dc.RegionID, "type": models.HybridTypeAliyun})
		}
		return result("inventories", out)
	case workflows.ReadInstanceType:
		var z models.IdentityZone
		if err := a.store.Get(ctx, store.ResIdentityZone, str(p.Args, "identityZoneUuid"), &z); err != nil {
			return activities.Result{}, wrap(err)
		}
		c, _, err := a.connDC(ctx, p.AccountUUID, z.DataCenterUUID)
		if err != nil {
			return activities.Result{}, err
		}
		cl, err := c.ecs()
		if err != nil {
			return activities.Result{}, err
		}
		avail := map[string]bool{}
		zones, err := c.zones(ctx)
		if err != nil {
			return activities.Result{}, err
		}
		for _, rz := range zones {
			if rz.ZoneId == z.ZoneID {
				for _, t := range rz.AvailableInstanceTypes.InstanceTypes {
					avail[t] = true
				}
			}
		}
		out := []map[string]any{}
		req := ecs.CreateDescribeInstanceTypesRequest()
		for {
			var resp *ecs.DescribeInstanceTypesResponse
			if err := c.call(ctx, "DescribeInstanceTypes", func() (err error) { resp, err = cl.DescribeInstanceTypes(req); return }); err != nil {
				return activities.Result{}, err
			}
			for _, t := range resp.InstanceTypes.InstanceType {
				if len(avail) == 0 || avail[t.InstanceTypeId] {
					out = append(out, map[string]any{"typeId": t.InstanceTypeId, "family": t.InstanceTypeFamily, "cpuCore": t.CpuCoreCount,
						"memorySize": int64(t.MemorySize * 1024 * 1024 * 1024)})
				}
			}
			if resp.NextToken == "" {
				break
			}
			req.NextToken = resp.NextToken
		}
		return result("types", out)
	case workflows.ReadVpnConfiguration:
		var vc models.VpcVpnConnection
		if err := a.store.Get(ctx, store.ResVpnConnection, p.UUID, &vc); err != nil {
			return activities.Result{}, wrap(err)
		}
		c, _, err := a.connDC(ctx, p.AccountUUID, vc.DataCenterUUID)
		if err != nil {
			return activities.Result{}, err
		}
		cl, err := c.vpc()
		if err != nil {
			return activities.Result{}, err
		}
		req := vpc.CreateDownloadVpnConnectionConfigRequest()
		req.VpnConnectionId = vc.ConnectionID
		var resp *vpc.DownloadVpnConnectionConfigResponse
		if err := c.call(ctx, "DownloadVpnConnectionConfig", func() (err error) { resp, err = cl.DownloadVpnConnectionConfig(req); return }); err != nil {
			return activities.Result{}, err
		}
		cfg := resp.VpnConnectionConfig
		// What the peer device needs, but the pre-shared key: secrets are
		// never returned (it is in the IKE config the operator created).
		return result("configuration", map[string]any{"vpnConnectionUuid": vc.UUID, "connectionId": vc.ConnectionID,
			"localSubnet": cfg.LocalSubnet, "remoteSubnet": cfg.RemoteSubnet, "local": cfg.Local, "remote": cfg.Remote,
			"ikeConfig": map[string]any{"version": cfg.IkeConfig.IkeVersion, "mode": cfg.IkeConfig.IkeMode,
				"encAlg": cfg.IkeConfig.IkeEncAlg, "authAlg": cfg.IkeConfig.IkeAuthAlg, "pfs": cfg.IkeConfig.IkePfs,
				"lifetime": cfg.IkeConfig.IkeLifetime, "localId": cfg.IkeConfig.LocalId, "remoteId": cfg.IkeConfig.RemoteId},
			"ipsecConfig": map[string]any{"encAlg": cfg.IpsecConfig.IpsecEncAlg, "authAlg": cfg.IpsecConfig.IpsecAuthAlg,
				"pfs": cfg.IpsecConfig.IpsecPfs, "lifetime": cfg.IpsecConfig.IpsecLifetime}})
	case workflows.ReadOssBuckets:
		c, dc, err := a.connDC(ctx, p.AccountUUID, str(p.Args, "dataCenterUuid"))
		if err != nil {
			return activities.Result{}, err
		}
		cl, err := c.oss()
		if err != nil {
			return activities.Result{}, err
		}
		var names []map[string]any
		err = c.ossCall(ctx, "ListBuckets", func() error {
			lr, err := cl.ListBuckets()
			for _, b := range lr.Buckets {
				names = append(names, map[string]any{"bucketName": b.Name, "regionName": b.Location, "dataCenterUuid": dc.UUID})
			}
			return err
		})
		if err != nil {
			return activities.Result{}, err
		}
		return result("inventories", names)
	case workflows.ReadVncURL:
		ref, err := a.Lookup(ctx, workflows.LocalRef{Resource: store.ResEcsInstance, UUID: p.UUID})
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
		req := ecs.CreateDescribeInstanceVncUrlRequest()
		req.RegionId, req.InstanceId = c.region, ref.ID
		var resp *ecs.DescribeInstanceVncUrlResponse
		if err := c.call(ctx, "DescribeInstanceVncUrl", func() (err error) { resp, err = cl.DescribeInstanceVncUrl(req); return }); err != nil {
			return activities.Result{}, err
		}
		return result("vncUrl", resp.VncUrl)
	}
	return activities.Result{}, wrap(models.Invalid("unknown read %s", p.What))
}

// AddDataCenter adds an Alibaba region as a data center (checked against
// DescribeRegions).
func (a *Activities) AddDataCenter(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	regionID := str(p.Args, "regionId")
	c, err := a.connFor(ctx, p.AccountUUID, regionID)
	if err != nil {
		return activities.Result{}, wrap(err)
	}
	regions, err := c.regions(ctx)
	if err != nil {
		return activities.Result{}, err
	}
	for _, r := range regions {
		if r.RegionId != regionID {
			continue
		}
		now := models.Now()
		dc := models.DataCenter{Deleted: "false", RegionName: r.LocalName, DCType: models.HybridTypeAliyun, RegionID: r.RegionId,
			Description: models.Ref(str(p.Args, "description")), Endpoint: orDefault(str(p.Args, "endpoint"), r.RegionEndpoint), CreateDate: now, LastOpDate: now}
		uuid, err := a.store.UpsertRemote(ctx, store.ResDataCenter, "dc_type", dc.DCType, "region_id", dc.RegionID, p.UUID, &dc, p.AccountUUID)
		if err != nil {
			return activities.Result{}, wrap(err)
		}
		if uuid != p.UUID {
			return activities.Result{}, wrap(models.Conflict("region %s is data center[uuid:%s] already", regionID, uuid))
		}
		if err := a.store.AddTags(ctx, uuid, store.ResDataCenter, p.SystemTags, p.UserTags); err != nil {
			return activities.Result{}, err
		}
		return a.render(ctx, store.ResDataCenter, uuid)
	}
	return activities.Result{}, wrap(models.NotFound("Alibaba Cloud has no region %s", regionID))
}

// AddIdentityZone adds one zone of a data center (checked against
// DescribeZones).
func (a *Activities) AddIdentityZone(ctx context.Context, p workflows.HybridParams) (activities.Result, error) {
	c, dc, err := a.connDC(ctx, p.AccountUUID, str(p.Args, "dataCenterUuid"))
	if err != nil {
		return activities.Result{}, err
	}
	zones, err := c.zones(ctx)
	if err != nil {
		return activities.Result{}, err
	}
	zoneID := str(p.Args, "zoneId")
	for _, z := range zones {
		if z.ZoneId != zoneID {
			continue
		}
		now := models.Now()
		iz := models.IdentityZone{Closed: "false", DataCenterUUID: dc.UUID, ZoneID: z.ZoneId, Type: models.HybridTypeAliyun, ZoneName: z.LocalName,
			Description: models.Ref(str(p.Args, "description")), CreateDate: now, LastOpDate: now}
		uuid, err := a.store.UpsertRemote(ctx, store.ResIdentityZone, "data_center_uuid", dc.UUID, "zone_id", zoneID, p.UUID, &iz, p.AccountUUID)
		if err != nil {
			return activities.Result{}, wrap(err)
		}
		if uuid != p.UUID {
			return activities.Result{}, wrap(models.Conflict("zone %s is identity zone[uuid:%s] already", zoneID, uuid))
		}
		if err := a.store.AddTags(ctx, uuid, store.ResIdentityZone, p.SystemTags, p.UserTags); err != nil {
			return activities.Result{}, err
		}
		return a.render(ctx, store.ResIdentityZone, uuid)
	}
	return activities.Result{}, wrap(models.NotFound("region %s has no zone %s", dc.RegionID, zoneID))
}

// Create makes one remote resource and returns its reference. Every create
// carries a ClientToken, so a retried attempt returns the first one's
// resource.
func (a *Activities) Create(ctx context.Context, p workflows.HybridParams) (workflows.RemoteRef, error) {
	ref := workflows.RemoteRef{Kind: p.What, UUID: p.UUID, AccountUUID: p.AccountUUID}
	token := clientToken(ctx, p.What)
	switch p.What {
	case workflows.KindVpc:
		c, dc, err := a.connDC(ctx, p.AccountUUID, str(p.Args, "dataCenterUuid"))
		if err != nil {
			return ref, err
		}
		cl, err := c.vpc()
		if err != nil {
			return ref, err
		}
		req := vpc.CreateCreateVpcRequest()
		req.RegionId, req.CidrBlock, req.VpcName, req.Description, req.ClientToken = dc.RegionID, str(p.Args, "cidrBlock"), str(p.Args, "name"), str(p.Args, "description"), token
		var resp *vpc.CreateVpcResponse
		if err := c.call(ctx, "CreateVpc", func() (err error) { resp, err = cl.CreateVpc(req); return }); err != nil {
			return ref, err
		}
		ref.ID, ref.Region = resp.VpcId, dc.RegionID
	case workflows.KindVSwitch:
		var v models.EcsVpc
		var z models.IdentityZone
		if err := a.store.Get(ctx, store.ResEcsVpc, str(p.Args, "vpcUuid"), &v); err != nil {
			return ref, wrap(err)
		}
		if err := a.store.Get(ctx, store.ResIdentityZone, str(p.Args, "identityZoneUuid"), &z); err != nil {
			return ref, wrap(err)
		}
		if z.DataCenterUUID != v.DataCenterUUID {
			return ref, wrap(models.Invalid("identity zone[uuid:%s] and vpc[uuid:%s] are in different data centers", z.UUID, v.UUID))
		}
		c, dc, err := a.connDC(ctx, p.AccountUUID, v.DataCenterUUID)
		if err != nil {
			return ref, err
		}
		cl, err := c.vpc()
		if err != nil {
			return ref, err
		}
		req := vpc.CreateCreateVSwitchRequest()
		req.RegionId, req.VpcId, req.ZoneId, req.CidrBlock = dc.RegionID, v.EcsVpcID, z.ZoneID, str(p.Args, "cidrBlock")
		req.VSwitchName, req.Description, req.ClientToken = str(p.Args, "name"), str(p.Args, "description"), token
		var resp *vpc.CreateVSwitchResponse
		if err := c.call(ctx, "CreateVSwitch", func() (err error) { resp, err = cl.CreateVSwitch(req); return }); err != nil {
			return ref, err
		}
		ref.ID, ref.Region = resp.VSwitchId, dc.RegionID
	case workflows.KindSecurityGroup:
		var v models.EcsVpc
		if err := a.store.Get(ctx, store.ResEcsVpc, str(p.Args, "vpcUuid"), &v); err != nil {
			return ref, wrap(err)
		}
		c, dc, err := a.connDC(ctx, p.AccountUUID, v.DataCenterUUID)
		if err != nil {
			return ref, err
		}
		cl, err := c.ecs()
		if err != nil {
			return ref, err
		}
		req := ecs.CreateCreateSecurityGroupRequest()
		req.RegionId, req.VpcId, req.SecurityGroupName, req.Description, req.ClientToken = dc.RegionID, v.EcsVpcID, str(p.Args, "name"), str(p.Args, "description"), token
		var resp *ecs.CreateSecurityGroupResponse
		if err := c.call(ctx, "CreateSecurityGroup", func() (err error) { resp, err = cl.CreateSecurityGroup(req); return }); err != nil {
			return ref, err
		}
		ref.ID, ref.Region = resp.SecurityGroupId, dc.RegionID
	case workflows.KindSecurityGroupRule:
		var g models.EcsSecurityGroup
		var v models.EcsVpc
		if err := a.store.Get(ctx, store.ResEcsSecurityGroup, str(p.Args, "groupUuid"), &g); err != nil {
			return ref, wrap(err)
		}
		if err := a.store.Get(ctx, store.ResEcsVpc, g.EcsVpcUUID, &v); err != nil {
			return ref, wrap(err)
		}
		c, dc, err := a.connDC(ctx, p.AccountUUID, v.DataCenterUUID)
		if err != nil {
			return ref, err
		}
		r := ruleArgs(p.Args)
		r["securityGroupId"] = g.SecurityGroupID
		if err := c.authorizeRule(ctx, r); err != nil {
			return ref, err
		}
		ref.ID, ref.Region, ref.Extra = p.UUID, dc.RegionID, r
	case workflows.KindEip:
		c, dc, err := a.connDC(ctx, p.AccountUUID, str(p.Args, "dataCenterUuid"))
		if err != nil {
			return ref, err
		}
		cl, err := c.vpc()
		if err != nil {
			return ref, err
		}
		req := vpc.CreateAllocateEipAddressRequest()
		req.RegionId, req.Bandwidth, req.InternetChargeType = dc.RegionID, str(p.Args, "bandWidthMb"), orDefault(str(p.Args, "chargeType"), "PayByTraffic")
		req.Name, req.Description, req.ClientToken = str(p.Args, "name"), str(p.Args, "description"), token
		var resp *vpc.AllocateEipAddressResponse
		if err := c.call(ctx, "AllocateEipAddress", func() (err error) { resp, err = cl.AllocateEipAddress(req); return }); err != nil {
			return ref, err
		}
		ref.ID, ref.Region = resp.AllocationId, dc.RegionID
	case workflows.KindInstance:
		return a.createInstance(ctx, p, token)
	case workflows.KindOssBucket:
		c, dc, err := a.connDC(ctx, p.AccountUUID, str(p.Args, "dataCenterUuid"))
		if err != nil {
			return ref, err
		}
		name := str(p.Args, "bucketName")
		// A bucket that exists already is refused, never adopted: the
		// compensation of a create deletes what it made, and must not
		// delete a bucket someone else filled (AddOssBucketFromRemote adds
		// existing ones).
		if ok, err := c.bucketExists(ctx, name); err != nil {
			return ref, err
		} else if ok {
			return ref, wrap(models.Conflict("OSS bucket %s exists already; add it with AddOssBucketFromRemote", name))
		}
		cl, err := c.oss()
		if err != nil {
			return ref, err
		}
		if err := c.ossCall(ctx, "PutBucket", func() error { return cl.CreateBucket(name) }); err != nil {
			return ref, err
		}
		ref.ID, ref.Region = name, dc.RegionID
	case workflows.KindImage:
		return a.importImage(ctx, p, token)
	case workflows.KindUserGateway:
		return a.createUserGateway(ctx, p, token)
	case workflows.KindVpnConnection:
		return a.createVpnConnection(ctx, p, token)
	case workflows.KindRouteEntry:
		return a.createRouteEntry(ctx, p, token)
	case workflows.KindRouterInterface:
		return a.createRouterInterface(ctx, p, token)
	default:
		return ref, wrap(models.Invalid("cannot create %s", p.What))
	}
	a.log.Info("aliyun resource created", "kind", p.What, "id", ref.ID, "region", ref.Region, "uuid", p.UUID)
	return ref, nil
}

// createInstance creates an ECS instance (it starts Stopped) and binds its
// id to the local row at once, so that a sync running meanwhile finds the
// row instead of importing a twin.
func (a *Activities) createInstance(ctx context.Context, p workflows.HybridParams, token string) (workflows.RemoteRef, error) {
	ref := workflows.RemoteRef{Kind: workflows.KindInstance, UUID: p.UUID, AccountUUID: p.AccountUUID}
	var inst models.EcsInstance
	var img models.EcsImage
	var vsw models.EcsVSwitch
	var sg models.EcsSecurityGroup
	var zone models.IdentityZone
	if err := a.store.Get(ctx, store.ResEcsInstance, p.UUID, &inst); err != nil {
		return ref, wrap(err)
	}
	for _, g := range []struct {
		res, uuid string
		dst       any
	}{{store.ResEcsImage, inst.EcsImageUUID, &img}, {store.ResEcsVSwitch, inst.EcsVSwitchUUID, &vsw},
		{store.ResEcsSecurityGroup, inst.EcsSecurityGroupUUID, &sg}, {store.ResIdentityZone, inst.IdentityZoneUUID, &zone}} {
		if err := a.store.Get(ctx, g.res, g.uuid, g.dst); err != nil {
			return ref, wrap(err)
		}
	}
	c, dc, err := a.connDC(ctx, p.AccountUUID, inst.DataCenterUUID)
	if err != nil {
		return ref, err
	}
	cl, err := c.ecs()
	if err != nil {
		return ref, err
	}
	req := ecs.CreateCreateInstanceRequest()
	req.RegionId, req.ZoneId, req.ImageId, req.InstanceType = dc.RegionID, zone.ZoneID, img.EcsImageID, inst.EcsInstanceType
	req.SecurityGroupId, req.VSwitchId, req.InstanceName, req.Description = sg.SecurityGroupID, vsw.VSwitchID, inst.Name, inst.Description.String()
	password, err := a.openArg(p.Args, "ecsRootPassword")
	if err != nil {
		return ref, err
	}
	req.Password, req.PrivateIpAddress, req.ClientToken = password, inst.PrivateIPAddress, token
	if inst.EcsBandWidth > 0 {
		req.InternetMaxBandwidthOut = requests.NewInteger(int(inst.EcsBandWidth))
	}
	if inst.EcsRootVolumeSize > 0 {
		req.SystemDiskSize = requests.NewInteger(int(inst.EcsRootVolumeSize))
	}
	req.SystemDiskCategory = inst.EcsRootVolumeCategory
	var resp *ecs.CreateInstanceResponse
	if err := c.call(ctx, "CreateInstance", func() (err error) { resp, err = cl.CreateInstance(req); return }); err != nil {
		return ref, err
	}
	if err := a.store.Update(ctx, store.ResEcsInstance, p.UUID, map[string]any{"ecsInstanceId": resp.InstanceId}); err != nil {
		return ref, wrap(err)
	}
	ref.ID, ref.Region = resp.InstanceId, dc.RegionID
	a.log.Info("aliyun instance created", "id", ref.ID, "region", ref.Region, "ecs_uuid", p.UUID)
	return ref, nil
}

// Delete deletes a remote resource and waits until it is gone; a resource
// already gone is fine.
func (a *Activities) Delete(ctx context.Context, ref workflows.RemoteRef) error {
	c, err := a.connFor(ctx, ref.AccountUUID, ref.Region)
	if err != nil {
		return wrap(err)
	}
	// Alibaba refuses to delete an instance or image in a transitional
	// state (Pending, Starting, Creating...): wait until it settles.
	settled := map[string][]string{workflows.KindInstance: {models.EcsRunning, models.EcsStopped},
		workflows.KindImage: {"Available", "CreateFailed", "UnAvailable"}}
	if want, ok := settled[ref.Kind]; ok {
		if err := c.waitFor(ctx, ref, want, false); err != nil && !isNotFound(err) {
			return err
		}
	}
	if err := c.deleteRemote(ctx, ref); err != nil {
		return err
	}
	switch ref.Kind {
	case workflows.KindVpc, workflows.KindVSwitch, workflows.KindSecurityGroup, workflows.KindInstance, workflows.KindEip,
		workflows.KindImage, workflows.KindOssBucket, workflows.KindUserGateway, workflows.KindVpnConnection, workflows.KindRouteEntry,
		workflows.KindVbr, workflows.KindRouterInterface:
		return c.waitFor(ctx, ref, nil, true)
	}
	return nil
}

// Wait waits, heartbeating, until a remote resource reaches one of the
// wanted states (or is gone, when asked).
func (a *Activities) Wait(ctx context.Context, p workflows.WaitParams) (string, error) {
	c, err := a.connFor(ctx, p.Ref.AccountUUID, p.Ref.Region)
	if err != nil {
		return "", wrap(err)
	}
	var status string
	err = c.waitForStatus(ctx, p.Ref, p.Want, p.Gone, &status)
	return status, err
}

func (c *conn) waitFor(ctx context.Context, ref workflows.RemoteRef, want []string, gone bool) error {
	var s string
	return c.waitForStatus(ctx, ref, want, gone, &s)
}

func (c *conn) waitForStatus(ctx context.Context, ref workflows.RemoteRef, want []string, gone bool, status *string) error {
	t := time.NewTicker(c.a.cfg.PollInterval)
	defer t.Stop()
	for {
		r, found, err := c.describeRef(ctx, ref)
		if err != nil {
			return err
		}
		*status = r.Status
		if activity.IsActivity(ctx) {
			progress := r.Status
			if r.Img != nil && r.Img.Progress != "" {
				progress += " " + r.Img.Progress
			}
			activity.RecordHeartbeat(ctx, progress)
		}
		switch {
		case gone && !found:
			return nil
		case !gone && !found:
			return wrap(models.NotFound("%s %s is gone from Alibaba Cloud", ref.Kind, ref.ID))
		case !gone:
			for _, w := range want {
				if r.Status == w {
					return nil
				}
			}
			if r.Status == "CreateFailed" || r.Status == "UnAvailable" {
				return wrap(models.Unavailable("%s %s failed at Alibaba Cloud: status %s", ref.Kind, ref.ID, r.Status))
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Action runs one remote action on an instance or an EIP.
func (a *Activities) Action(ctx context.Context, p workflows.ActionParams) error {
	c, err := a.connFor(ctx, p.Ref.AccountUUID, p.Ref.Region)
	if err != nil {
		return wrap(err)
	}
	switch p.Ref.Kind {
	case workflows.KindVbr, workflows.KindRouterInterface, workflows.KindVpnConnection:
		return a.actionExpress(ctx, c, p)
	}
	if p.Ref.Kind == workflows.KindEip {
		cl, err := c.vpc()
		if err != nil {
			return err
		}
		switch p.Action {
		case workflows.ActionAssociate:
			req := vpc.CreateAssociateEipAddressRequest()
			req.RegionId, req.AllocationId, req.InstanceId, req.InstanceType = c.region, p.Ref.ID, str(p.Args, "instanceId"), "EcsInstance"
			return c.call(ctx, "AssociateEipAddress", func() error { _, err := cl.AssociateEipAddress(req); return err })
		case workflows.ActionUnassociate:
			req := vpc.CreateUnassociateEipAddressRequest()
			req.RegionId, req.AllocationId, req.InstanceId = c.region, p.Ref.ID, str(p.Args, "instanceId")
			err := c.call(ctx, "UnassociateEipAddress", func() error { _, err := cl.UnassociateEipAddress(req); return err })
			if isNotFound(err) {
				return nil
			}
			return err
		}
		return wrap(models.Invalid("unknown eip action %s", p.Action))
	}
	cl, err := c.ecs()
	if err != nil {
		return err
	}
	switch p.Action {
	case workflows.ActionStart:
		req := ecs.CreateStartInstanceRequest()
		req.InstanceId = p.Ref.ID
		return c.call(ctx, "StartInstance", func() error { _, err := cl.StartInstance(req); return err })
	case workflows.ActionStop:
		req := ecs.CreateStopInstanceRequest()
		req.InstanceId, req.ForceStop = p.Ref.ID, requests.NewBoolean(str(p.Args, "type") == "cold")
		return c.call(ctx, "StopInstance", func() error { _, err := cl.StopInstance(req); return err })
	case workflows.ActionReboot:
		req := ecs.CreateRebootInstanceRequest()
		req.InstanceId = p.Ref.ID
		return c.call(ctx, "RebootInstance", func() error { _, err := cl.RebootInstance(req); return err })
	case workflows.ActionModify:
		req := ecs.CreateModifyInstanceAttributeRequest()
		password, err := a.openArg(p.Args, "password")
		if err != nil {
			return err
		}
		req.InstanceId, req.InstanceName, req.Description, req.Password = p.Ref.ID, str(p.Args, "name"), str(p.Args, "description"), password
		return c.call(ctx, "ModifyInstanceAttribute", func() error { _, err := cl.ModifyInstanceAttribute(req); return err })
	}
	return wrap(models.Invalid("unknown instance action %s", p.Action))
}

// Lookup resolves a local hybrid row to its remote reference.
func (a *Activities) Lookup(ctx context.Context, p workflows.LocalRef) (workflows.RemoteRef, error) {
	ref := workflows.RemoteRef{UUID: p.UUID}
	if p.Optional {
		if ok, err := a.store.Exists(ctx, p.Resource, p.UUID); err != nil || !ok {
			return ref, err
		}
	}
	dcOf := func(dcUUID string) error {
		dc, err := a.dataCenter(ctx, dcUUID)
		ref.Region = dc.RegionID
		return wrap(err)
	}
	vpcDC := func(vpcUUID string) error {
		var v models.EcsVpc
		if err := a.store.Get(ctx, store.ResEcsVpc, vpcUUID, &v); err != nil {
			return wrap(err)
		}
		return dcOf(v.DataCenterUUID)
	}
	switch p.Resource {
	case store.ResEcsVpc:
		var v models.EcsVpc
		if err := a.store.Get(ctx, p.Resource, p.UUID, &v); err != nil {
			return ref, wrap(err)
		}
		ref.Kind, ref.ID = workflows.KindVpc, v.EcsVpcID
		derr := dcOf(v.DataCenterUUID) // sets ref.Region: call before returning ref
		return ref, derr
	case store.ResEcsVSwitch:
		var v models.EcsVSwitch
		if err := a.store.Get(ctx, p.Resource, p.UUID, &v); err != nil {
			return ref, wrap(err)
		}
		ref.Kind, ref.ID = workflows.KindVSwitch, v.VSwitchID
		derr := vpcDC(v.EcsVpcUUID) // sets ref.Region: call before returning ref
		return ref, derr
	case store.ResEcsSecurityGroup:
		var g models.EcsSecurityGroup
		if err := a.store.Get(ctx, p.Resource, p.UUID, &g); err != nil {
			return ref, wrap(err)
		}
		ref.Kind, ref.ID = workflows.KindSecurityGroup, g.SecurityGroupID
		derr := vpcDC(g.EcsVpcUUID) // sets ref.Region: call before returning ref
		return ref, derr
	case store.ResEcsSecurityGroupRule:
		var r models.EcsSecurityGroupRule
		var g models.EcsSecurityGroup
		if err := a.store.Get(ctx, p.Resource, p.UUID, &r); err != nil {
			return ref, wrap(err)
		}
		if err := a.store.Get(ctx, store.ResEcsSecurityGroup, r.EcsSecurityGroupUUID, &g); err != nil {
			return ref, wrap(err)
		}
		ref.Kind, ref.ID = workflows.KindSecurityGroupRule, r.UUID
		ref.Extra = map[string]string{"securityGroupId": g.SecurityGroupID, "direction": r.Direction, "protocol": r.Protocol,
			"portRange": r.PortRange, "cidr": r.CidrIP, "policy": r.Policy, "nictype": r.NicType, "priority": r.Priority}
		derr := vpcDC(g.EcsVpcUUID) // sets ref.Region: call before returning ref
		return ref, derr
	case store.ResEcsInstance:
		var in models.EcsInstance
		if err := a.store.Get(ctx, p.Resource, p.UUID, &in); err != nil {
			return ref, wrap(err)
		}
		ref.Kind, ref.ID = workflows.KindInstance, in.EcsInstanceID
		derr := dcOf(in.DataCenterUUID) // sets ref.Region: call before returning ref
		return ref, derr
	case store.ResHybridEip:
		var e models.HybridEip
		if err := a.store.Get(ctx, p.Resource, p.UUID, &e); err != nil {
			return ref, wrap(err)
		}
		ref.Kind, ref.ID = workflows.KindEip, e.EipID
		ref.Extra = map[string]string{"allocateResourceUuid": e.AllocateResourceUUID.String()}
		derr := dcOf(e.DataCenterUUID) // sets ref.Region: call before returning ref
		return ref, derr
	case store.ResAliyunRouteEntry:
		var e models.VpcVirtualRouteEntry
		if err := a.store.Get(ctx, p.Resource, p.UUID, &e); err != nil {
			return ref, wrap(err)
		}
		tableID, dc, err := a.routeTableOf(ctx, e.VRouterType, e.VirtualRouterUUID)
		if err != nil {
			return ref, err
		}
		ref.Kind, ref.ID, ref.Region = workflows.KindRouteEntry, e.RouteEntryID, dc.RegionID
		ref.Extra = map[string]string{"routeTableId": tableID, "vRouterUuid": e.VirtualRouterUUID, "vRouterType": e.VRouterType}
		return ref, nil
	case store.ResUserVpnGateway:
		var g models.VpcUserVpnGateway
		if err := a.store.Get(ctx, p.Resource, p.UUID, &g); err != nil {
			return ref, wrap(err)
		}
		ref.Kind, ref.ID = workflows.KindUserGateway, g.GatewayID
		derr := dcOf(g.DataCenterUUID) // sets ref.Region: call before returning ref
		return ref, derr
	case store.ResVpnConnection:
		var v models.VpcVpnConnection
		var gw models.VpcVpnGateway
		if err := a.store.Get(ctx, p.Resource, p.UUID, &v); err != nil {
			return ref, wrap(err)
		}
		if err := a.store.Get(ctx, store.ResVpnGateway, v.VpnGatewayUUID.String(), &gw); err != nil {
			return ref, wrap(err)
		}
		ref.Kind, ref.ID = workflows.KindVpnConnection, v.ConnectionID
		ref.Extra = map[string]string{"vpnGatewayId": gw.GatewayID, "dataCenterUuid": v.DataCenterUUID}
		derr := dcOf(v.DataCenterUUID) // sets ref.Region: call before returning ref
		return ref, derr
	case store.ResOssBucket:
		var b models.OssBucket
		if err := a.store.Get(ctx, p.Resource, p.UUID, &b); err != nil {
			return ref, wrap(err)
		}
		ref.Kind, ref.ID = workflows.KindOssBucket, b.BucketName
		derr := dcOf(b.DataCenterUUID) // sets ref.Region: call before returning ref
		return ref, derr
	case store.ResVirtualBorderRouter, store.ResAliyunRouterIface:
		return a.lookupExpress(ctx, p, ref)
	case store.ResEcsImage:
		var im models.EcsImage
		if err := a.store.Get(ctx, p.Resource, p.UUID, &im); err != nil {
			return ref, wrap(err)
		}
		ref.Kind, ref.ID = workflows.KindImage, im.EcsImageID
		derr := dcOf(im.DataCenterUUID) // sets ref.Region: call before returning ref
		return ref, derr
	}
	return ref, wrap(models.Invalid("%s is not a remote resource", p.Resource))
}

// DeleteLocal removes a hybrid row (and a security group's rules); a
// missing row is fine.
func (a *Activities) DeleteLocal(ctx context.Context, p workflows.LocalRef) error {
	if p.Resource == store.ResEcsSecurityGroup {
		if _, err := a.store.DeleteStale(ctx, store.ResEcsSecurityGroupRule, "uuid", nil, "ecs_security_group_uuid = ?", p.UUID); err != nil {
			return err
		}
	}
	if p.Resource == store.ResDataCenter {
		if _, err := a.store.DeleteStale(ctx, store.ResIdentityZone, "uuid", nil, "data_center_uuid = ?", p.UUID); err != nil {
			return err
		}
	}
	return wrap(a.store.Delete(ctx, p.Resource, p.UUID))
}

// EcsTransition moves an instance's local status (per-resource
// serialization) and returns the previous one.
func (a *Activities) EcsTransition(ctx context.Context, p workflows.EcsTransitionParams) (string, error) {
	prev, err := a.store.TransitionEcs(ctx, p.UUID, p.From, p.To)
	return prev, wrap(err)
}

// EcsCreateRecord inserts the row of an instance being created (status
// Creating): the API's references resolved and checked to lie in one data
// center. A retried step finds its row.
func (a *Activities) EcsCreateRecord(ctx context.Context, p workflows.HybridParams) error {
	if ok, err := a.store.Exists(ctx, store.ResEcsInstance, p.UUID); err != nil || ok {
		return err
	}
	var img models.EcsImage
	var vsw models.EcsVSwitch
	var sg models.EcsSecurityGroup
	var v models.EcsVpc
	for _, g := range []struct {
		res, uuid string
		dst       any
	}{{store.ResEcsImage, str(p.Args, "ecsImageUuid"), &img}, {store.ResEcsVSwitch, str(p.Args, "ecsVSwitchUuid"), &vsw},
		{store.ResEcsSecurityGroup, str(p.Args, "ecsSecurityGroupUuid"), &sg}} {
		if err := a.store.Get(ctx, g.res, g.uuid, g.dst); err != nil {
			return wrap(err)
		}
	}
	if err := a.store.Get(ctx, store.ResEcsVpc, vsw.EcsVpcUUID, &v); err != nil {
		return wrap(err)
	}
	switch {
	case sg.EcsVpcUUID != vsw.EcsVpcUUID:
		return wrap(models.Invalid("security group[uuid:%s] and vswitch[uuid:%s] are in different VPCs", sg.UUID, vsw.UUID))
	case img.DataCenterUUID != v.DataCenterUUID:
		return wrap(models.Invalid("ecs image[uuid:%s] is not in the data center of vswitch[uuid:%s]", img.UUID, vsw.UUID))
	case str(p.Args, "instanceType") == "":
		return wrap(models.Invalid("instanceType is required (instance offerings are not mapped to ECS types)"))
	}
	now := models.Now()
	in := models.EcsInstance{UUID: p.UUID, Name: str(p.Args, "name"), EcsStatus: models.EcsCreating, EcsInstanceType: str(p.Args, "instanceType"),
		EcsBandWidth: num(p.Args, "ecsBandWidth"), EcsRootVolumeCategory: orDefault(str(p.Args, "ecsRootVolumeType"), "cloud_efficiency"),
		EcsRootVolumeSize: num(p.Args, "ecsRootVolumeGBSize"), PrivateIPAddress: str(p.Args, "privateIpAddress"),
		EcsVSwitchUUID: vsw.UUID, EcsImageUUID: img.UUID, EcsSecurityGroupUUID: sg.UUID, IdentityZoneUUID: vsw.IdentityZoneUUID,
		DataCenterUUID: v.DataCenterUUID, ChargeType: "PostPaid", Description: models.Ref(str(p.Args, "description")), CreateDate: now, LastOpDate: now}
	if err := a.store.Create(ctx, store.ResEcsInstance, &in, in.UUID, p.AccountUUID); err != nil && models.AsError(err).Kind != models.KindConflict {
		return wrap(err)
	}
	return wrap(a.store.AddTags(ctx, in.UUID, store.ResEcsInstance, p.SystemTags, p.UserTags))
}

// openArg opens a sealed argument (a password the API sealed so that it is
// in no workflow history); empty stays empty.
func (a *Activities) openArg(args map[string]any, k string) (string, error) {
	sealed := str(args, k)
	if sealed == "" {
		return "", nil
	}
	if a.secrets == nil {
		return "", wrap(errNoSecrets())
	}
	v, err := a.secrets.open(sealed)
	if err != nil {
		return "", wrap(models.Invalid("cannot open %s: %v", k, err))
	}
	return v, nil
}
