package node_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/hostapi"
)

// imageRows counts image records and their backup storage references.
func (e *env) imageRows() (images, refs int) {
	e.t.Helper()
	var err error
	images, err = e.n.Store.Count(context.Background(), "images", "1 = 1")
	require.NoError(e.t, err)
	refs, err = e.n.Store.Count(context.Background(), "image_backup_storage_refs", "1 = 1")
	require.NoError(e.t, err)
	return images, refs
}

// TestImagesFromVolumesSim drives images made of volumes and snapshots,
// volumes made of data volume templates and the image delete, recover,
// expunge lifecycle through the REST API on simulated hosts: the control
// plane's side (records, statuses, capacity, refusals, rollback); the
// real-host side is TestKVMImages.
func TestImagesFromVolumesSim(t *testing.T) {
	e := newEnv(t)
	in := e.buildInfra(1)
	c := e.c
	drv, ok := e.n.Fleet.Driver(in.hosts[0])
	require.True(t, ok)
	vm, err := c.Create("vm-instances", e.vmParams(in, "vm"))
	require.NoError(t, err)
	vmUUID, root := vm["uuid"].(string), vm["rootVolumeUuid"].(string)

	// A root volume template of the running VM, live.
	tmpl, err := c.Create("images/root-volume-templates/from/volumes/"+root, map[string]any{"name": "tmpl", "backupStorageUuids": []string{in.bs}})
	require.NoError(t, err)
	require.Equal(t, "Ready", tmpl["status"])
	require.Equal(t, "RootVolumeTemplate", tmpl["mediaType"])
	require.Equal(t, "Linux", tmpl["platform"], "copied from the vm")
	require.Equal(t, "volume://"+root, tmpl["url"])
	require.EqualValues(t, int64(1)<<30, tmpl["size"])
	require.Len(t, tmpl["backupStorageRefs"], 1)
	vm2, err := c.Create("vm-instances", map[string]any{"name": "from-tmpl", "instanceOfferingUuid": in.offering, "imageUuid": tmpl["uuid"],
		"l3NetworkUuids": []string{in.l3}})
	require.NoError(t, err)
	require.Equal(t, "Running", vm2["state"])

	// Refusals change nothing: a data volume for a root template, a volume
	// never instantiated, a simulated host's image on no backup storage.
	images, refs := e.imageRows()
	offering := e.mustCreate("disk-offerings", map[string]any{"name": "2G", "diskSize": int64(2) << 30})
	vol := e.mustCreate("volumes/data", map[string]any{"name": "data", "diskOfferingUuid": offering})
	_, err = c.Create("images/data-volume-templates/from/volumes/"+vol, map[string]any{"name": "bad"})
	require.ErrorContains(t, err, "NotInstantiated")
	_, err = c.Create("images/root-volume-templates/from/volumes/"+vol, map[string]any{"name": "bad"})
	require.ErrorContains(t, err, "takes a Root volume")
	_, err = c.Create("images/data-volume-templates/from/volumes/"+root, map[string]any{"name": "bad"})
	require.ErrorContains(t, err, "takes a Data volume")
	_, err = c.Create("images/root-volume-templates/from/volumes/"+root, map[string]any{"name": "bad", "backupStorageUuids": []string{"0123456789abcdef0123456789abcdef"}})
	require.ErrorContains(t, err, "SYS.1003")
	// A failure of the host step removes the image record.
	drv.InjectFailure(hostapi.ActUploadVolumeImage, "boom")
	_, err = c.Create("images/root-volume-templates/from/volumes/"+root, map[string]any{"name": "bad"})
	require.ErrorContains(t, err, "boom")
	drv.ClearFailures()
	gotImages, gotRefs := e.imageRows()
	require.Equal(t, []int{images, refs}, []int{gotImages, gotRefs}, "no image record left")

	// A data volume template of an attached data volume (the backup storage
	// picked from the zone), a volume made of it, and one of a snapshot.
	_, err = c.Call("POST", "v1/volumes/"+vol+"/vm-instances/"+vmUUID, map[string]any{"params": map[string]any{}})
	require.NoError(t, err)
	dtmpl, err := c.Create("images/data-volume-templates/from/volumes/"+vol, map[string]any{"name": "dtmpl"})
	require.NoError(t, err)
	require.Equal(t, "DataVolumeTemplate", dtmpl["mediaType"])
	require.EqualValues(t, int64(2)<<30, dtmpl["size"])
	_, err = c.Create("vm-instances", map[string]any{"name": "x", "instanceOfferingUuid": in.offering, "imageUuid": dtmpl["uuid"], "l3NetworkUuids": []string{in.l3}})
	require.ErrorContains(t, err, "is a DataVolumeTemplate")
	ps, err := c.Get("primary-storage", in.ps)
	require.NoError(t, err)
	_, err = c.Create("volumes/data/from/data-volume-templates/"+tmpl["uuid"].(string), map[string]any{"name": "bad", "primaryStorageUuid": in.ps})
	require.ErrorContains(t, err, "made of a DataVolumeTemplate")
	made, err := c.Create("volumes/data/from/data-volume-templates/"+dtmpl["uuid"].(string), map[string]any{"name": "made", "primaryStorageUuid": in.ps})
	require.NoError(t, err)
	require.Equal(t, "Ready", made["status"])
	require.EqualValues(t, int64(2)<<30, made["size"])
	require.Contains(t, drv.Volumes(), made["uuid"], "instantiated on the host")
	after, err := c.Get("primary-storage", in.ps)
	require.NoError(t, err)
	require.EqualValues(t, ps["availableCapacity"].(float64)-float64(int64(2)<<30), after["availableCapacity"])
	snap := e.mustCreate("volumes/"+vol+"/volume-snapshots", map[string]any{"name": "s"})
	_, err = c.Create("images/data-volume-templates/from/volume-snapshots/"+snap, map[string]any{"name": "bad", "backupStorageUuids": []string{}})
	require.Error(t, err, "backupStorageUuids is required for a snapshot")
	stmpl, err := c.Create("images/root-volume-templates/from/volume-snapshots/"+snap, map[string]any{"name": "stmpl", "backupStorageUuids": []string{in.bs}})
	require.NoError(t, err)
	require.Equal(t, "volumeSnapshot://"+snap, stmpl["url"])

	// Delete (Delay): Deleted and refused to new VMs; recover; expunge.
	img := tmpl["uuid"].(string)
	_, err = c.Action("images", img, "expungeImage", map[string]any{})
	require.ErrorContains(t, err, "not deleted")
	require.NoError(t, c.Delete("images", img))
	got, err := c.Get("images", img)
	require.NoError(t, err)
	require.Equal(t, "Deleted", got["status"])
	require.Equal(t, "Deleted", got["backupStorageRefs"].([]any)[0].(map[string]any)["status"])
	_, err = c.Create("vm-instances", map[string]any{"name": "x", "instanceOfferingUuid": in.offering, "imageUuid": img, "l3NetworkUuids": []string{in.l3}})
	require.ErrorContains(t, err, "not Ready")
	got, err = c.Action("images", img, "recoverImage", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "Ready", got["status"])
	_, err = c.Action("images", img, "recoverImage", map[string]any{})
	require.ErrorContains(t, err, "not deleted")
	require.NoError(t, c.Delete("images", img))
	_, err = c.Action("images", img, "expungeImage", map[string]any{})
	require.NoError(t, err)
	_, err = c.Get("images", img)
	require.ErrorContains(t, err, "0 inventories", "the image is gone")
	require.NoError(t, c.Delete("images", img), "deleting a missing image succeeds")

	// Direct: a delete expunges at once.
	_, err = c.Call(http.MethodPut, "v1/global-configurations/image/deletionPolicy/actions",
		map[string]any{"updateGlobalConfig": map[string]any{"value": "Direct"}})
	require.NoError(t, err)
	require.NoError(t, c.Delete("images", stmpl["uuid"].(string)))
	_, err = c.Get("images", stmpl["uuid"].(string))
	require.ErrorContains(t, err, "0 inventories", "the image is gone")
}
