package node_test

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities/sshdeploy"
	"github.com/zcloud/zcloud/hostworker/testhost"
	"github.com/zcloud/zcloud/models/secret"
)

// sftpCase is what checkSftpBackupStorage needs of the bed's inventory.
type sftpCase struct {
	zone, l3, offering, imageURL string
	// root is the root volume of a running guest.
	root string
}

// checkSftpBackupStorage proves Sftp backup storage on a KVM bed: bad
// credentials or a bad url are refused and store nothing; an added one
// has its own key in the user's authorized_keys and its directory made;
// an image fetched into it boots a VM on a real host, which fetched it
// over SFTP (its HTTP origin is gone by then); a template of a running
// guest goes onto it (checkSftpTemplate); reconnect and update check
// SSH (a wrong password changes nothing); expunging the image removes its
// file, and deleting the backup storage removes its key and agent.
func checkSftpBackupStorage(t *testing.T, b *kvmBed, sc sftpCase) {
	c := b.c
	start := time.Now()
	defer func() { t.Logf("Sftp backup storage checks: %s", time.Since(start).Round(time.Millisecond)) }()
	h := testhost.New(t, "sftp", testhost.Options{Lab: b.lab})
	h.StartSSHD()
	const dir = "/var/lib/zcloud-sftp"
	add := func(password, url string) (map[string]any, error) {
		return c.Create("backup-storage/sftp", map[string]any{"name": "sftp", "hostname": h.IP().String(), "username": "root",
			"password": password, "sshPort": 22, "url": url})
	}
	before, err := c.ListAll("backup-storage")
	require.NoError(t, err)
	keys := h.Path("/root/.ssh/authorized_keys")
	for _, bad := range []struct{ password, url, want string }{
		{"wrong", dir, "refused"},
		{h.RootPassword(), "relative/dir", "absolute directory"},
		{h.RootPassword(), "/etc/hostname", "not a directory"},
	} {
		_, err := add(bad.password, bad.url)
		require.ErrorContains(t, err, bad.want)
		after, err := c.ListAll("backup-storage")
		require.NoError(t, err)
		require.Len(t, after, len(before), "a failed add stores nothing")
		data, _ := os.ReadFile(keys)
		require.NotContains(t, string(data), "zcloud-sftp-bs-", "a failed add leaves no key")
	}

	t0 := time.Now()
	bs, err := add(h.RootPassword(), dir)
	require.NoError(t, err)
	t.Logf("AddSftpBackupStorage: %s", time.Since(t0).Round(time.Millisecond))
	bsUUID := bs["uuid"].(string)
	require.Equal(t, "SftpBackupStorage", bs["type"])
	require.Equal(t, "Connected", bs["status"])
	require.Greater(t, bs["totalCapacity"].(float64), float64(0))
	require.NotContains(t, bs, "password")
	require.DirExists(t, h.Path(dir))
	data, err := os.ReadFile(keys)
	require.NoError(t, err)
	require.Contains(t, string(data), "restrict ssh-ed25519 ")
	require.Contains(t, string(data), "zcloud-sftp-bs-"+bsUUID)
	listed, err := c.ListAll("backup-storage/sftp")
	require.NoError(t, err)
	require.Len(t, listed, 1, "QuerySftpBackupStorage lists only Sftp backup storage")
	_, err = c.Call("POST", "v1/zones/"+sc.zone+"/backup-storage/"+bsUUID, nil)
	require.NoError(t, err)

	// The image's origin serves only while the backup storage fetches it.
	origin := proxyOnce(t, b, sc.imageURL)
	img := b.mustCreate("images", map[string]any{"name": "sftp-guest", "url": origin.url, "format": "qcow2", "platform": "Linux",
		"backupStorageUuids": []string{bsUUID}})
	origin.close()
	require.Equal(t, "Ready", img["status"])
	imgUUID := img["uuid"].(string)
	refs := img["backupStorageRefs"].([]any)
	require.Len(t, refs, 1)
	installPath := refs[0].(map[string]any)["installPath"].(string)
	require.True(t, strings.HasPrefix(installPath, dir+"/"), "the copy is a file of the directory: %s", installPath)
	require.FileExists(t, h.Path(installPath))

	t0 = time.Now()
	vm := b.mustCreate("vm-instances", map[string]any{"name": "sftp-guest", "instanceOfferingUuid": sc.offering, "imageUuid": imgUUID,
		"l3NetworkUuids": []string{sc.l3}})
	t.Logf("CreateVmInstance from an Sftp image: %s", time.Since(t0).Round(time.Millisecond))
	vmUUID := vm["uuid"].(string)
	require.Equal(t, "Running", vm["state"])
	b.console(vmUUID, "zcloud-guest-boot", 2*time.Minute)
	require.FileExists(t, filepath.Join(b.shared, "imagecache", imgUUID+".image"), "the host cached the image it fetched over SFTP")
	require.NoError(t, c.Delete("vm-instances", vmUUID))
	_, err = c.Action("vm-instances", vmUUID, "expungeVmInstance", map[string]any{})
	require.NoError(t, err)
	checkSftpTemplate(t, b, h, dir, bsUUID, sc)

	// Reconnect and update go over SSH; a wrong password changes nothing.
	got, err := c.Action("backup-storage/sftp", bsUUID, "reconnectSftpBackupStorage", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "Connected", got["status"])
	_, err = c.Action("backup-storage/sftp", bsUUID, "updateSftpBackupStorage", map[string]any{"password": "wrong", "name": "renamed"})
	require.ErrorContains(t, err, "refused")
	got, err = c.Get("backup-storage", bsUUID)
	require.NoError(t, err)
	require.Equal(t, "sftp", got["name"], "a failed update changes nothing")
	_, err = c.Action("backup-storage/sftp", bsUUID, "reconnectSftpBackupStorage", map[string]any{})
	require.NoError(t, err, "the old password still works")
	got, err = c.Action("backup-storage/sftp", bsUUID, "updateSftpBackupStorage", map[string]any{"password": h.RootPassword(), "name": "renamed"})
	require.NoError(t, err)
	require.Equal(t, "renamed", got["name"])

	// Expunging the image removes its file; deleting the backup storage
	// removes its key and its agent.
	require.NoError(t, c.Delete("images", imgUUID))
	_, err = c.Action("images", imgUUID, "expungeImage", map[string]any{})
	require.NoError(t, err)
	_, err = os.Stat(h.Path(installPath))
	require.ErrorIs(t, err, os.ErrNotExist, "the image left the Sftp backup storage")
	require.NoError(t, c.Delete("backup-storage", bsUUID))
	data, err = os.ReadFile(keys)
	require.NoError(t, err)
	require.NotContains(t, string(data), "zcloud-sftp-bs-"+bsUUID, "the key is removed")
	require.NoFileExists(t, h.Path(sshdeploy.BinPath), "the agent is removed")
}

// checkSftpTemplate proves images of volumes on an Sftp backup storage:
// a failure injected into the host's upload leaves the directory byte for
// byte as it was; a root volume template of the running guest is written
// by its host over SFTP and taken in by the agent (a standalone qcow2 in
// the directory, with the size and MD5 the image records); a new VM boots
// from it on the real host; expunging it removes the file.
func checkSftpTemplate(t *testing.T, b *kvmBed, h *testhost.Host, dir, bsUUID string, sc sftpCase) {
	c := b.c
	start := time.Now()
	defer func() { t.Logf("Sftp template checks: %s", time.Since(start).Round(time.Millisecond)) }()
	tree := func() map[string]string {
		t.Helper()
		files := map[string]string{}
		require.NoError(t, filepath.WalkDir(h.Path(dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			files[strings.TrimPrefix(path, h.Path(dir))] = fmt.Sprintf("%x", md5.Sum(data))
			return err
		}))
		return files
	}
	template := func(name string) (map[string]any, error) {
		return c.Create("images/root-volume-templates/from/volumes/"+sc.root, map[string]any{"name": name, "backupStorageUuids": []string{bsUUID}})
	}
	images, err := c.ListAll("images")
	require.NoError(t, err)
	before := tree()
	b.setFaults("host.UploadVolumeImage=fail:injected into the upload")
	_, err = template("bad")
	require.ErrorContains(t, err, "injected into the upload")
	b.setFaults("")
	t.Logf("failed upload with agent restarts: %s", time.Since(start).Round(time.Millisecond))
	require.Equal(t, before, tree(), "a failed upload leaves the directory as it was")
	after, err := c.ListAll("images")
	require.NoError(t, err)
	require.Len(t, after, len(images), "a failed upload leaves no image")

	t0 := time.Now()
	tmpl, err := template("sftp-tmpl")
	require.NoError(t, err)
	t.Logf("CreateRootVolumeTemplateFromRootVolume (live) onto Sftp: %s", time.Since(t0).Round(time.Millisecond))
	tmplUUID := tmpl["uuid"].(string)
	require.Equal(t, "Ready", tmpl["status"])
	require.Equal(t, "qcow2", tmpl["format"])
	refs := tmpl["backupStorageRefs"].([]any)
	require.Len(t, refs, 1)
	installPath := refs[0].(map[string]any)["installPath"].(string)
	require.Equal(t, dir+"/images/"+tmplUUID+".qcow2", installPath)
	data, err := os.ReadFile(h.Path(installPath))
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("%x", md5.Sum(data)), tmpl["md5Sum"], "the image records its file's md5")
	require.EqualValues(t, len(data), tmpl["actualSize"], "the image records its file's bytes")
	out, err := exec.Command("qemu-img", "info", "-U", "--output=json", h.Path(installPath)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	var info struct {
		VirtualSize int64  `json:"virtual-size"`
		Backing     string `json:"backing-filename"`
	}
	require.NoError(t, json.Unmarshal(out, &info))
	require.Empty(t, info.Backing, "a standalone image")
	require.EqualValues(t, info.VirtualSize, tmpl["size"], "the image records its virtual size")
	added := tree()
	for name, sum := range before {
		require.Equal(t, sum, added[name], "%s is unchanged", name)
		delete(added, name)
	}
	require.ElementsMatch(t, []string{"/images/" + tmplUUID + ".qcow2", "/meta/" + tmplUUID + ".json"}, slices.Collect(maps.Keys(added)),
		"the image and its metadata are added, nothing is left over")

	vm := b.mustCreate("vm-instances", map[string]any{"name": "sftp-tmpl", "instanceOfferingUuid": sc.offering, "imageUuid": tmplUUID,
		"l3NetworkUuids": []string{sc.l3}})
	b.console(vm["uuid"].(string), "zcloud-guest-boot", 2*time.Minute)
	require.NoError(t, c.Delete("vm-instances", vm["uuid"].(string)))
	_, err = c.Action("vm-instances", vm["uuid"].(string), "expungeVmInstance", map[string]any{})
	require.NoError(t, err)
	require.NoError(t, c.Delete("images", tmplUUID))
	_, err = c.Action("images", tmplUUID, "expungeImage", map[string]any{})
	require.NoError(t, err)
	require.NoFileExists(t, h.Path(installPath), "the template left the Sftp backup storage")
}

// onceOrigin serves an image URL from the lab's root address until closed.
type onceOrigin struct {
	url   string
	close func()
}

// proxyOnce serves target's content at a new URL on the lab's root address,
// so that closing it proves nobody fetches from the origin afterwards.
func proxyOnce(t *testing.T, b *kvmBed, target string) onceOrigin {
	l, err := net.Listen("tcp", b.lab.RootIP().String()+":0")
	require.NoError(t, err)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		resp, err := http.Get(target)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})}
	go func() { _ = srv.Serve(l) }()
	closed := func() { _ = srv.Close() }
	t.Cleanup(closed)
	return onceOrigin{url: "http://" + l.Addr().String() + "/sftp-guest.qcow2", close: closed}
}

// secretKey is a random control-plane secret key.
func secretKey(t testing.TB) []byte {
	k := make([]byte, secret.KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}
