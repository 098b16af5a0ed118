package aliyunsim

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/stretchr/testify/require"
)

func ossClient(t *testing.T, s *sim, ak, sk string, opts ...oss.ClientOption) *oss.Client {
	t.Helper()
	c, err := oss.New(s.URL(), ak, sk, opts...)
	require.NoError(t, err)
	return c
}

func requireOSSCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	require.Error(t, err)
	var se oss.ServiceError
	require.True(t, errors.As(err, &se), "want oss.ServiceError, got %T: %v", err, err)
	require.Equal(t, code, se.Code, "message: %s", se.Message)
	require.Equal(t, status, se.StatusCode)
}

func TestOSSBucketsAndObjects(t *testing.T) {
	s := startSim(t, Options{})
	s.AddAccessKey("LTAI5tOtherAccount", "other-secret", "999")
	c := ossClient(t, s, testAK, testSK)

	require.NoError(t, c.CreateBucket("zs-images"))
	require.NoError(t, c.CreateBucket("zs-images"), "the owner re-creating its bucket succeeds")
	other := ossClient(t, s, "LTAI5tOtherAccount", "other-secret")
	requireOSSCode(t, other.CreateBucket("zs-images"), "BucketAlreadyExists", 409)

	lb, err := c.ListBuckets()
	require.NoError(t, err)
	require.Len(t, lb.Buckets, 1)
	require.Equal(t, "zs-images", lb.Buckets[0].Name)
	lb, err = other.ListBuckets()
	require.NoError(t, err)
	require.Empty(t, lb.Buckets)
	info, err := c.GetBucketInfo("zs-images")
	require.NoError(t, err)
	require.Equal(t, "oss-"+DefaultRegion, info.BucketInfo.Location)
	require.Equal(t, "private", info.BucketInfo.ACL)

	b, err := c.Bucket("zs-images")
	require.NoError(t, err)
	odd := "dir/a b+c~*(ü).txt"
	require.NoError(t, b.PutObject(odd, strings.NewReader("hello"), oss.Meta("owner", "zcloud"), oss.ContentType("text/plain")))
	require.NoError(t, b.PutObject("dir/x", strings.NewReader("x")))
	require.NoError(t, b.PutObject("dir/sub/y", strings.NewReader("y")))
	require.NoError(t, b.PutObject("top", strings.NewReader("t")))

	r, err := b.GetObject(odd)
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	r.Close()
	require.NoError(t, err)
	require.Equal(t, "hello", string(got))
	meta, err := b.GetObjectDetailedMeta(odd)
	require.NoError(t, err)
	require.Equal(t, "zcloud", meta.Get("X-Oss-Meta-Owner"))
	require.Equal(t, "text/plain", meta.Get("Content-Type"))
	require.Equal(t, "5", meta.Get("Content-Length"))
	r, err = b.GetObject(odd, oss.Range(1, 3))
	require.NoError(t, err)
	got, _ = io.ReadAll(r)
	r.Close()
	require.Equal(t, "ell", string(got))

	_, err = b.GetObject("nope")
	requireOSSCode(t, err, "NoSuchKey", 404)
	_, err = b.GetObjectDetailedMeta("nope")
	requireOSSCode(t, err, "NoSuchKey", 404)
	ok, err := b.IsObjectExist("nope")
	require.NoError(t, err)
	require.False(t, ok)

	lo, err := b.ListObjects(oss.Prefix("dir/"), oss.Delimiter("/"))
	require.NoError(t, err)
	var keys []string
	for _, o := range lo.Objects {
		keys = append(keys, o.Key)
	}
	require.Equal(t, []string{odd, "dir/x"}, keys)
	require.Equal(t, []string{"dir/sub/"}, lo.CommonPrefixes)
	lo, err = b.ListObjects(oss.MaxKeys(2))
	require.NoError(t, err)
	require.True(t, lo.IsTruncated)
	require.Len(t, lo.Objects, 2)
	lo, err = b.ListObjects(oss.Marker(lo.NextMarker))
	require.NoError(t, err)
	require.Len(t, lo.Objects, 2)
	require.False(t, lo.IsTruncated)
	v2, err := b.ListObjectsV2(oss.Prefix("dir/sub/"))
	require.NoError(t, err)
	require.Len(t, v2.Objects, 1)

	otherBucket, err := other.Bucket("zs-images")
	require.NoError(t, err)
	_, err = otherBucket.GetObject("top")
	requireOSSCode(t, err, "AccessDenied", 403)

	requireOSSCode(t, c.DeleteBucket("zs-images"), "BucketNotEmpty", 409)
	del, err := b.DeleteObjects([]string{odd, "dir/x"})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{odd, "dir/x"}, del.DeletedObjects)
	for _, k := range []string{"dir/sub/y", "top"} {
		require.NoError(t, b.DeleteObject(k))
	}
	require.NoError(t, b.DeleteObject("top"), "deleting a missing object succeeds")
	require.NoError(t, c.DeleteBucket("zs-images"))
	requireOSSCode(t, c.DeleteBucket("zs-images"), "NoSuchBucket", 404)
	require.Empty(t, s.Buckets())
}

func TestOSSAuth(t *testing.T) {
	s := startSim(t, Options{})
	require.NoError(t, ossClient(t, s, testAK, testSK).CreateBucket("zs-auth"))

	requireOSSCode(t, ossClient(t, s, testAK, "wrong").CreateBucket("zs-x"), "SignatureDoesNotMatch", 403)
	requireOSSCode(t, ossClient(t, s, "LTAI5tNoSuch", testSK).CreateBucket("zs-x"), "InvalidAccessKeyId", 403)
	v4opts := []oss.ClientOption{oss.AuthVersion(oss.AuthV4), oss.Region("cn-shanghai")}
	requireOSSCode(t, ossClient(t, s, testAK, "wrong", v4opts...).CreateBucket("zs-x"), "SignatureDoesNotMatch", 403)

	// V4 signing works for buckets, objects with odd keys, listing and multipart.
	c4 := ossClient(t, s, testAK, testSK, v4opts...)
	require.NoError(t, c4.CreateBucket("zs-v4"))
	info, err := c4.GetBucketInfo("zs-v4")
	require.NoError(t, err)
	require.Equal(t, "oss-cn-shanghai", info.BucketInfo.Location)
	b, err := c4.Bucket("zs-v4")
	require.NoError(t, err)
	key := "a/b c+d=e&f.txt"
	require.NoError(t, b.PutObject(key, strings.NewReader("v4 body")))
	r, err := b.GetObject(key)
	require.NoError(t, err)
	got, _ := io.ReadAll(r)
	r.Close()
	require.Equal(t, "v4 body", string(got))
	lo, err := b.ListObjects(oss.Prefix("a/"))
	require.NoError(t, err)
	require.Len(t, lo.Objects, 1)
	require.Equal(t, key, lo.Objects[0].Key)
	data := bytes.Repeat([]byte("z"), 300*1024)
	imur, err := b.InitiateMultipartUpload("mp")
	require.NoError(t, err)
	p1, err := b.UploadPart(imur, bytes.NewReader(data), int64(len(data)), 1)
	require.NoError(t, err)
	p2, err := b.UploadPart(imur, strings.NewReader("tail"), 4, 2)
	require.NoError(t, err)
	_, err = b.CompleteMultipartUpload(imur, []oss.UploadPart{p1, p2})
	require.NoError(t, err)
	obj, ok := s.Object("zs-v4", "mp")
	require.True(t, ok)
	require.Equal(t, append(data, "tail"...), obj)
	imur, err = b.InitiateMultipartUpload("aborted")
	require.NoError(t, err)
	require.NoError(t, b.AbortMultipartUpload(imur))
	_, err = b.UploadPart(imur, strings.NewReader("x"), 1, 1)
	requireOSSCode(t, err, "NoSuchUpload", 404)
}

// TestOSSUploadFileAndImportImage uploads a few MB with the SDK's multipart UploadFile, then
// imports the object as a custom ECS image and boots an instance from it.
func TestOSSUploadFileAndImportImage(t *testing.T) {
	s := startSim(t, Options{})
	c := ossClient(t, s, testAK, testSK)
	require.NoError(t, c.CreateBucket("zs-upload"))
	b, err := c.Bucket("zs-upload")
	require.NoError(t, err)

	data := make([]byte, 5<<20+12345)
	_, err = rand.Read(data)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "disk.qcow2")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	require.NoError(t, b.UploadFile("images/disk.qcow2", path, 1<<20, oss.Routines(3)))
	require.Equal(t, 6, s.Calls("UploadPart"))
	meta, err := b.GetObjectDetailedMeta("images/disk.qcow2")
	require.NoError(t, err)
	require.Equal(t, "Multipart", meta.Get("X-Oss-Object-Type"))
	require.True(t, strings.HasSuffix(meta.Get("ETag"), `-6"`), meta.Get("ETag"))
	down := filepath.Join(t.TempDir(), "down")
	require.NoError(t, b.DownloadFile("images/disk.qcow2", down, 1<<20, oss.Routines(2)))
	back, err := os.ReadFile(down)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, back), "downloaded content differs")

	ec, vc := ecsClient(t, s, testAK, testSK), vpcClient(t, s)
	n := newNetwork(t, s, ec, vc)
	imp := ecs.CreateImportImageRequest()
	imp.ImageName, imp.OSType, imp.Platform, imp.Architecture = "zcloud-disk", "linux", "Ubuntu", "x86_64"
	imp.DiskDeviceMapping = &[]ecs.ImportImageDiskDeviceMapping{{OSSBucket: "zs-upload", OSSObject: "images/missing", Format: "QCOW2"}}
	_, err = ec.ImportImage(imp)
	requireCode(t, err, "InvalidOSSObject.NotFound", 404)
	imp.DiskDeviceMapping = &[]ecs.ImportImageDiskDeviceMapping{{OSSBucket: "zs-upload", OSSObject: "images/disk.qcow2", Format: "QCOW2"}}
	im, err := ec.ImportImage(imp)
	require.NoError(t, err)
	imageStatus := func() string {
		d := ecs.CreateDescribeImagesRequest()
		d.ImageId, d.ImageOwnerAlias, d.Status = im.ImageId, "self", "Creating,Available"
		r, err := ec.DescribeImages(d)
		require.NoError(t, err)
		require.Len(t, r.Images.Image, 1)
		return r.Images.Image[0].Status
	}
	require.Equal(t, "Creating", imageStatus())
	fromImage := createReq(n, "")
	fromImage.ImageId = im.ImageId
	_, err = ec.CreateInstance(fromImage)
	requireCode(t, err, "IncorrectImageStatus", 403)
	eventually(t, s, "image Available", func() bool { return imageStatus() == "Available" })
	inst, err := ec.CreateInstance(fromImage)
	require.NoError(t, err)
	require.Equal(t, im.ImageId, describeOne(t, ec, inst.InstanceId).ImageId)

	del := ecs.CreateDeleteImageRequest()
	del.ImageId = im.ImageId
	_, err = ec.DeleteImage(del)
	requireCode(t, err, "IncorrectImageStatus", 403)
	del.Force = "true"
	_, err = ec.DeleteImage(del)
	require.NoError(t, err)
	require.Empty(t, s.Images())
}
