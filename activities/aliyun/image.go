package aliyun

import (
	"context"
	"strconv"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"go.temporal.io/sdk/activity"

	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// UploadImage streams a local image from its URL into the current OSS
// bucket of a data center (AttachOssBucketToEcsDataCenter chooses it),
// heartbeating the bytes sent. The object name derives from the workflow,
// so a retry overwrites its own upload.
func (a *Activities) UploadImage(ctx context.Context, p workflows.UploadParams) (workflows.ObjectRef, error) {
	var img models.Image
	if err := a.store.Get(ctx, store.ResImage, p.ImageUUID, &img); err != nil {
		return workflows.ObjectRef{}, wrap(err)
	}
	var buckets []models.OssBucket
	if err := a.store.DB().SelectContext(ctx, &buckets, "SELECT * FROM oss_buckets WHERE data_center_uuid = ? AND is_current = 'true'", p.DataCenterUUID); err != nil {
		return workflows.ObjectRef{}, err
	}
	if len(buckets) == 0 {
		return workflows.ObjectRef{}, wrap(models.Invalid("data center[uuid:%s] has no OSS bucket for uploads; add one and attach it (AttachOssBucketToEcsDataCenter)", p.DataCenterUUID))
	}
	c, dc, err := a.connDC(ctx, p.AccountUUID, p.DataCenterUUID)
	if err != nil {
		return workflows.ObjectRef{}, err
	}
	object := "zcloud-images/" + img.UUID + "-" + clientToken(ctx, "upload")[3:19] + "." + orDefault(img.Format, "qcow2")
	ref := workflows.ObjectRef{AccountUUID: p.AccountUUID, Region: dc.RegionID, Bucket: buckets[0].BucketName, Object: object,
		Format: orDefault(img.Format, "qcow2"), Platform: img.Platform, Arch: img.Architecture}
	if ref.Size, ref.MD5, err = c.uploadFromURL(ctx, img.URL, ref.Bucket, ref.Object); err != nil {
		return ref, err
	}
	a.log.Info("image uploaded to oss", "image_uuid", img.UUID, "bucket", ref.Bucket, "object", ref.Object, "size", ref.Size)
	return ref, nil
}

// DeleteObject deletes an uploaded object (compensation and cleanup).
func (a *Activities) DeleteObject(ctx context.Context, p workflows.ObjectRef) error {
	c, err := a.connFor(ctx, p.AccountUUID, p.Region)
	if err != nil {
		return wrap(err)
	}
	return c.deleteObject(ctx, p.Bucket, p.Object)
}

// importImage imports an uploaded object as a custom ECS image. Its
// ClientToken makes a retry return the first import's image; a name taken
// by that very import is found by name.
func (a *Activities) importImage(ctx context.Context, p workflows.HybridParams, token string) (workflows.RemoteRef, error) {
	ref := workflows.RemoteRef{Kind: workflows.KindImage, UUID: p.UUID, AccountUUID: p.AccountUUID}
	c, dc, err := a.connDC(ctx, p.AccountUUID, str(p.Args, "dataCenterUuid"))
	if err != nil {
		return ref, err
	}
	cl, err := c.ecs()
	if err != nil {
		return ref, err
	}
	size := (num(p.Args, "size") + (1 << 30) - 1) >> 30
	req := ecs.CreateImportImageRequest()
	req.RegionId, req.ImageName, req.Description, req.ClientToken = dc.RegionID, str(p.Args, "name"), str(p.Args, "description"), token
	req.Platform, req.Architecture, req.OSType = str(p.Args, "platform"), orDefault(str(p.Args, "arch"), "x86_64"), "linux"
	if req.Platform == "Windows" {
		req.OSType = "windows"
	}
	req.DiskDeviceMapping = &[]ecs.ImportImageDiskDeviceMapping{{OSSBucket: str(p.Args, "bucket"), OSSObject: str(p.Args, "object"),
		Format: formatOf(str(p.Args, "format")), DiskImageSize: strconv.FormatInt(max(size, 1), 10)}}
	var resp *ecs.ImportImageResponse
	err = c.call(ctx, "ImportImage", func() (err error) { resp, err = cl.ImportImage(req); return })
	if err != nil {
		if activity.GetInfo(ctx).Attempt > 1 {
			// The first attempt may have imported it before its reply was lost.
			if id, ferr := c.imageByName(ctx, req.ImageName); ferr == nil && id != "" {
				ref.ID, ref.Region = id, dc.RegionID
				return ref, nil
			}
		}
		return ref, err
	}
	ref.ID, ref.Region = resp.ImageId, dc.RegionID
	return ref, nil
}

// formatOf maps ZStack image formats to ImportImage's.
func formatOf(f string) string {
	switch f {
	case "qcow2":
		return "QCOW2"
	case "vhd":
		return "VHD"
	}
	return "RAW"
}

func (c *conn) imageByName(ctx context.Context, name string) (string, error) {
	cl, err := c.ecs()
	if err != nil {
		return "", err
	}
	req := ecs.CreateDescribeImagesRequest()
	req.RegionId, req.ImageName, req.ImageOwnerAlias = c.region, name, "self"
	var resp *ecs.DescribeImagesResponse
	if err := c.call(ctx, "DescribeImages", func() (err error) { resp, err = cl.DescribeImages(req); return }); err != nil {
		return "", err
	}
	for _, im := range resp.Images.Image {
		if im.ImageName == name {
			return im.ImageId, nil
		}
	}
	return "", nil
}
