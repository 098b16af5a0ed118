package aliyunsim

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// region is one entry of the fixed region catalog. Like Alibaba's own catalog it is data.
type region struct {
	ID        string
	LocalName string
	Zones     []string // zone suffixes, e.g. "h" for cn-hangzhou-h
}

var regions = []region{
	{"cn-hangzhou", "华东1（杭州）", []string{"h", "i", "j", "k"}},
	{"cn-shanghai", "华东2（上海）", []string{"b", "e", "l"}},
	{"cn-beijing", "华北2（北京）", []string{"g", "h", "i"}},
	{"cn-shenzhen", "华南1（深圳）", []string{"d", "e"}},
	{"ap-southeast-1", "新加坡", []string{"a", "b", "c"}},
	{"us-west-1", "美国（硅谷）", []string{"a", "b"}},
	{"eu-central-1", "德国（法兰克福）", []string{"a", "b"}},
}

func findRegion(id string) (region, bool) {
	for _, r := range regions {
		if r.ID == id {
			return r, true
		}
	}
	return region{}, false
}

func zoneIDs(r region) []string {
	out := make([]string, len(r.Zones))
	for i, z := range r.Zones {
		out[i] = r.ID + "-" + z
	}
	return out
}

func (x *rpcCtx) checkRegion() (region, error) {
	r, ok := findRegion(x.region)
	if !ok {
		return region{}, errf(http.StatusNotFound, "InvalidRegionId.NotFound", "The specified RegionId %q does not exist.", x.region)
	}
	return r, nil
}

func (x *rpcCtx) checkZone(zoneID string) error {
	r, err := x.checkRegion()
	if err != nil {
		return err
	}
	if !slices.Contains(zoneIDs(r), zoneID) {
		return errf(http.StatusNotFound, "InvalidZoneId.NotFound", "The specified zone %q does not exist in region %s.", zoneID, r.ID)
	}
	return nil
}

// instanceType is one entry of the fixed instance type catalog.
type instanceType struct {
	ID       string
	Family   string
	CPU      int
	MemoryGB float64
}

var instanceTypes = []instanceType{
	{"ecs.t5-lc1m1.small", "ecs.t5", 1, 1},
	{"ecs.t5-lc1m2.small", "ecs.t5", 1, 2},
	{"ecs.c7.large", "ecs.c7", 2, 4},
	{"ecs.c7.xlarge", "ecs.c7", 4, 8},
	{"ecs.g7.large", "ecs.g7", 2, 8},
	{"ecs.g7.xlarge", "ecs.g7", 4, 16},
	{"ecs.g7.2xlarge", "ecs.g7", 8, 32},
	{"ecs.r7.large", "ecs.r7", 2, 16},
	{"ecs.g6.large", "ecs.g6", 2, 8},
}

func findInstanceType(id string) (instanceType, bool) {
	for _, t := range instanceTypes {
		if t.ID == id {
			return t, true
		}
	}
	return instanceType{}, false
}

// publicImage is one entry of the fixed public (system) image catalog, available in every region.
type publicImage struct {
	ID, Name, OSName, OSType, Platform, Arch string
	SizeGB                                   int
}

var publicImages = []publicImage{
	{"ubuntu_22_04_x64_20G_alibase_20240101.vhd", "Ubuntu 22.04 64位", "Ubuntu  22.04 64位", "linux", "Ubuntu", "x86_64", 20},
	{"ubuntu_24_04_x64_20G_alibase_20240812.vhd", "Ubuntu 24.04 64位", "Ubuntu  24.04 64位", "linux", "Ubuntu", "x86_64", 20},
	{"debian_12_7_x64_20G_alibase_20240927.vhd", "Debian 12.7 64位", "Debian  12.7 64位", "linux", "Debian", "x86_64", 20},
	{"centos_7_9_x64_20G_alibase_20240628.vhd", "CentOS 7.9 64位", "CentOS  7.9 64位", "linux", "CentOS", "x86_64", 20},
	{"aliyun_3_x64_20G_alibase_20240819.vhd", "Alibaba Cloud Linux 3", "Alibaba Cloud Linux  3.2104 LTS 64位", "linux", "Aliyun", "x86_64", 20},
	{"win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd", "Windows Server 2022 数据中心版 64位英文版", "Windows Server  2022 数据中心版 64位英文版", "windows", "Windows Server 2022", "x86_64", 40},
}

func describeRegions(_ *rpcCtx) (obj, error) {
	var out []obj
	for _, r := range regions {
		out = append(out, obj{
			"RegionId": r.ID, "LocalName": r.LocalName, "Status": "available",
			"RegionEndpoint": "ecs." + r.ID + ".aliyuncs.com",
		})
	}
	return obj{"Regions": obj{"Region": out}}, nil
}

func instanceTypeIDs() []string {
	out := make([]string, len(instanceTypes))
	for i, t := range instanceTypes {
		out[i] = t.ID
	}
	return out
}

func describeZones(x *rpcCtx) (obj, error) {
	r, err := x.checkRegion()
	if err != nil {
		return nil, err
	}
	var out []obj
	for i, z := range zoneIDs(r) {
		out = append(out, obj{
			"ZoneId":                    z,
			"LocalName":                 r.LocalName + " 可用区 " + strings.ToUpper(r.Zones[i]),
			"AvailableResourceCreation": obj{"ResourceTypes": []string{"Instance", "Disk", "VSwitch"}},
			"AvailableInstanceTypes":    obj{"InstanceTypes": instanceTypeIDs()},
			"AvailableDiskCategories":   obj{"DiskCategories": []string{"cloud_essd", "cloud_efficiency", "cloud_ssd"}},
			"AvailableVolumeCategories": obj{"VolumeCategories": []string{"cloud_essd", "cloud_efficiency", "cloud_ssd"}},
		})
	}
	return obj{"Zones": obj{"Zone": out}}, nil
}

func describeInstanceTypes(x *rpcCtx) (obj, error) {
	want := x.list("InstanceTypes", "")
	family := x.str("InstanceTypeFamily")
	var out []obj
	for _, t := range instanceTypes {
		if len(want) > 0 && !slices.Contains(want, t.ID) {
			continue
		}
		if family != "" && family != t.Family {
			continue
		}
		out = append(out, obj{
			"InstanceTypeId": t.ID, "InstanceTypeFamily": t.Family, "CpuCoreCount": t.CPU,
			"MemorySize": t.MemoryGB, "GPUAmount": 0, "GPUSpec": "", "EniQuantity": 2,
			"InstanceCategory": "General-purpose", "CpuArchitecture": "X86",
		})
	}
	return obj{"InstanceTypes": obj{"InstanceType": out}, "NextToken": ""}, nil
}

// Image is an ECS custom image (imported from OSS).
type Image struct {
	Lifecycle
	ImageID      string    `json:"imageId"`
	RegionID     string    `json:"regionId"`
	ImageName    string    `json:"imageName"`
	Description  string    `json:"description"`
	OSType       string    `json:"osType"`
	Platform     string    `json:"platform"`
	Architecture string    `json:"architecture"`
	SizeGB       int       `json:"sizeGb"`
	OSSBucket    string    `json:"ossBucket"`
	OSSObject    string    `json:"ossObject"`
	Format       string    `json:"format"`
	CreationTime time.Time `json:"creationTime"`
}

// findImage reports whether id is a public image or an Available custom image of the account.
func (x *rpcCtx) imageOS(id string) (osName, osType string, err error) {
	for _, p := range publicImages {
		if p.ID == id {
			return p.OSName, p.OSType, nil
		}
	}
	im, ok := x.c.Images[id]
	if !ok || im.RegionID != x.region {
		return "", "", notFound("InvalidImageId.NotFound", "image", id)
	}
	if im.Status != "Available" {
		return "", "", errf(http.StatusForbidden, "IncorrectImageStatus", "The image %q is %s, not Available.", id, im.Status)
	}
	return im.Platform, im.OSType, nil
}

func describeImages(x *rpcCtx) (obj, error) {
	if _, err := x.checkRegion(); err != nil {
		return nil, err
	}
	ids, _ := x.ids("ImageId")
	owner := x.str("ImageOwnerAlias")
	statuses := []string{"Available"}
	if st := x.str("Status"); st != "" {
		statuses = strings.Split(st, ",")
	}
	osType, name, arch := x.str("OSType"), x.str("ImageName"), x.str("Architecture")
	var all []obj
	keep := func(id, st, ot, nm, ar string) bool {
		return (len(ids) == 0 || slices.Contains(ids, id)) && slices.Contains(statuses, st) &&
			(osType == "" || osType == ot) && (name == "" || name == nm) && (arch == "" || arch == ar)
	}
	if owner == "" || owner == "system" {
		for _, p := range publicImages {
			if keep(p.ID, "Available", p.OSType, p.Name, p.Arch) {
				all = append(all, obj{
					"ImageId": p.ID, "ImageName": p.Name, "OSName": p.OSName, "OSNameEn": p.OSName,
					"OSType": p.OSType, "Platform": p.Platform, "Architecture": p.Arch, "Size": p.SizeGB,
					"Status": "Available", "Progress": "100%", "IsPublic": true, "ImageOwnerAlias": "system",
					"CreationTime": "2024-01-01T00:00:00Z", "Usage": "instance",
				})
			}
		}
	}
	if owner == "" || owner == "self" {
		var mine []*Image
		for _, im := range x.c.Images {
			if im.RegionID == x.region && keep(im.ImageID, im.Status, im.OSType, im.ImageName, im.Architecture) {
				mine = append(mine, im)
			}
		}
		sort.Slice(mine, func(i, j int) bool { return mine[i].ImageID < mine[j].ImageID })
		for _, im := range mine {
			progress := "100%"
			if im.Status != "Available" {
				progress = "50%"
			}
			all = append(all, obj{
				"ImageId": im.ImageID, "ImageName": im.ImageName, "Description": im.Description,
				"OSName": im.Platform, "OSType": im.OSType, "Platform": im.Platform, "Architecture": im.Architecture,
				"Size": im.SizeGB, "Status": im.Status, "Progress": progress, "IsPublic": false,
				"ImageOwnerAlias": "self", "CreationTime": isoTimeSec(im.CreationTime), "Usage": "none",
			})
		}
	}
	num, size, from, to, err := x.page(len(all))
	if err != nil {
		return nil, err
	}
	return obj{"Images": obj{"Image": all[from:to]}, "TotalCount": len(all), "PageNumber": num,
		"PageSize": size, "RegionId": x.region}, nil
}

func importImage(x *rpcCtx) (obj, error) {
	if _, err := x.checkRegion(); err != nil {
		return nil, err
	}
	bucket := x.str("DiskDeviceMapping.1.OSSBucket")
	object := x.str("DiskDeviceMapping.1.OSSObject")
	if bucket == "" {
		return nil, missing("DiskDeviceMapping.1.OSSBucket")
	}
	if object == "" {
		return nil, missing("DiskDeviceMapping.1.OSSObject")
	}
	b, ok := x.s.st.Buckets[bucket]
	if !ok || b.Owner != x.key.AccountID {
		return nil, errf(http.StatusNotFound, "InvalidOSSBucket.NotFound", "The specified OSS bucket %q does not exist.", bucket)
	}
	o, ok := b.Objects[object]
	if !ok {
		return nil, errf(http.StatusNotFound, "InvalidOSSObject.NotFound", "The specified OSS object %q does not exist.", object)
	}
	size, err := x.integer("DiskDeviceMapping.1.DiskImageSize", 0)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		size = max(1, int((int64(len(o.Data))+(1<<30)-1)>>30))
	}
	name := x.str("ImageName")
	if name == "" {
		name = object
	}
	for _, im := range x.c.Images {
		if im.RegionID == x.region && im.ImageName == name {
			return nil, errf(http.StatusBadRequest, "InvalidImageName.Duplicated", "The specified ImageName %q already exists.", name)
		}
	}
	im := &Image{
		ImageID: newID("m-"), RegionID: x.region, ImageName: name, Description: x.str("Description"),
		OSType: strings.ToLower(x.str("OSType")), Platform: x.str("Platform"), Architecture: x.str("Architecture"),
		SizeGB: size, OSSBucket: bucket, OSSObject: object, Format: x.str("DiskDeviceMapping.1.Format"),
		CreationTime: x.now,
	}
	if im.OSType == "" {
		im.OSType = "linux"
	}
	if im.Architecture == "" {
		im.Architecture = "x86_64"
	}
	im.move(x.now, x.s.delay, "Creating", "Available")
	x.c.Images[im.ImageID] = im
	return obj{"ImageId": im.ImageID, "TaskId": newID("t-"), "RegionId": x.region}, nil
}

func deleteImage(x *rpcCtx) (obj, error) {
	id, err := x.req("ImageId")
	if err != nil {
		return nil, err
	}
	im, ok := x.c.Images[id]
	if !ok || im.RegionID != x.region {
		return nil, notFound("InvalidImageId.NotFound", "image", id)
	}
	if im.Status == "Creating" {
		return nil, errf(http.StatusForbidden, "IncorrectImageStatus", "The image %q is still Creating.", id)
	}
	if !x.boolean("Force") {
		for _, in := range x.c.Instances {
			if in.ImageID == id {
				return nil, errf(http.StatusForbidden, "IncorrectImageStatus",
					"The image %q is used by instance %s; set Force to delete it.", id, in.InstanceID)
			}
		}
	}
	delete(x.c.Images, id)
	return obj{}, nil
}
