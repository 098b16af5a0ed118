//go:build libvirt

package libvirt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	virt "libvirt.org/go/libvirt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/domainxml"
	"github.com/zcloud/zcloud/models"
)

// Volume snapshots are qcow2 internal snapshots named by the snapshot UUID,
// inside the volume's own file: no file to track, nothing left behind when
// the volume is deleted, and the volume's path never changes (an external
// snapshot would move a running disk onto a new overlay file, which the
// control plane would have to learn). A volume no domain runs on is handled
// by qemu-img; one a running domain uses is snapshotted through QEMU's own
// blockdev-snapshot-internal-sync (libvirt marks the domain "tainted:
// custom-monitor" for it), since libvirt 9 takes internal snapshots only of
// the whole VM with its memory.

// snapshotInfo is one entry of `qemu-img info`'s snapshots.
type snapshotInfo struct {
	Name string `json:"name"`
}

// snapshotName checks a snapshot UUID and returns the name it has in the
// image.
func snapshotName(snapshotUUID string) (string, error) {
	if !models.IsUUID(snapshotUUID) {
		return "", models.Invalid("snapshot uuid %q is not 32 hex characters", snapshotUUID)
	}
	return strings.ToLower(snapshotUUID), nil
}

func hasSnapshot(info imageInfo, name string) bool {
	return slices.ContainsFunc(info.Snapshots, func(s snapshotInfo) bool { return s.Name == name })
}

// qmp runs a QMP command in a running domain's QEMU.
func qmp(dom *virt.Domain, command string, args map[string]any) (json.RawMessage, error) {
	doc, err := json.Marshal(map[string]any{"execute": command, "arguments": args})
	if err != nil {
		return nil, fmt.Errorf("qmp %s: %w", command, err)
	}
	out, err := dom.QemuMonitorCommand(string(doc), virt.DOMAIN_QEMU_MONITOR_COMMAND_DEFAULT)
	if err != nil {
		return nil, fmt.Errorf("qmp %s: %w", command, err)
	}
	var reply struct {
		Return json.RawMessage `json:"return"`
		Error  *struct {
			Class string `json:"class"`
			Desc  string `json:"desc"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &reply); err != nil {
		return nil, fmt.Errorf("qmp %s: reply %q: %w", command, out, err)
	}
	if reply.Error != nil {
		return nil, fmt.Errorf("qmp %s: %s: %s", command, reply.Error.Class, reply.Error.Desc)
	}
	return reply.Return, nil
}

// formatNode is the name of the qcow2 block node QEMU opened path with.
func formatNode(dom *virt.Domain, path string) (string, error) {
	out, err := qmp(dom, "query-named-block-nodes", map[string]any{"flat": true})
	if err != nil {
		return "", err
	}
	var nodes []struct {
		NodeName string `json:"node-name"`
		Drv      string `json:"drv"`
		File     string `json:"file"`
	}
	if err := json.Unmarshal(out, &nodes); err != nil {
		return "", fmt.Errorf("qmp query-named-block-nodes: %w", err)
	}
	for _, n := range nodes {
		if n.Drv == domainxml.FormatQCOW2 && n.File == path {
			return n.NodeName, nil
		}
	}
	return "", fmt.Errorf("qemu has no qcow2 node on %s", path)
}

// CreateVolumeSnapshot takes internal snapshot snapshotUUID of a qcow2
// volume, while a domain runs on it or not; one taken already is returned.
func (d *Driver) CreateVolumeSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string) (hostapi.VolumeSnapshotResult, error) {
	res, err := d.createSnapshot(ctx, vol, snapshotUUID)
	if err != nil {
		return hostapi.VolumeSnapshotResult{}, fail("create volume snapshot", err)
	}
	return res, nil
}

func (d *Driver) createSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string) (hostapi.VolumeSnapshotResult, error) {
	var none hostapi.VolumeSnapshotResult
	name, err := snapshotName(snapshotUUID)
	if err != nil {
		return none, err
	}
	path, err := d.volumePath(vol)
	if err != nil {
		return none, err
	}
	if err := statVolume(vol, path); err != nil {
		return none, err
	}
	_, err = with(d, func(c *virt.Connect) (struct{}, error) {
		info, err := inspect(ctx, path)
		if err != nil || hasSnapshot(info, name) {
			return struct{}{}, err
		}
		user, err := activeUser(c, path)
		if err != nil {
			return struct{}{}, err
		}
		if user == nil {
			_, err := qemuImg(ctx, "snapshot", "-q", "-c", name, path)
			return struct{}{}, err
		}
		defer func() { _ = user.dom.Free() }()
		node, err := formatNode(user.dom, path)
		if err != nil {
			return struct{}{}, err
		}
		_, err = qmp(user.dom, "blockdev-snapshot-internal-sync", map[string]any{"device": node, "name": name})
		return struct{}{}, err
	})
	if err != nil {
		return none, err
	}
	info, err := inspect(ctx, path)
	if err != nil {
		return none, err
	}
	if !hasSnapshot(info, name) {
		return none, fmt.Errorf("snapshot %s is not in %s after taking it", name, path)
	}
	return hostapi.VolumeSnapshotResult{SnapshotUUID: name, InstallPath: path, VirtualSize: info.VirtualSize}, nil
}

// RevertVolumeSnapshot applies the snapshot to the volume; a running domain
// on it is a conflict (stop the VM first).
func (d *Driver) RevertVolumeSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string) error {
	if err := d.revertSnapshot(ctx, vol, snapshotUUID); err != nil {
		return fail("revert volume snapshot", err)
	}
	return nil
}

func (d *Driver) revertSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string) error {
	name, err := snapshotName(snapshotUUID)
	if err != nil {
		return err
	}
	path, err := d.volumePath(vol)
	if err != nil {
		return err
	}
	if err := statVolume(vol, path); err != nil {
		return err
	}
	user, err := d.runningUser(path)
	if err != nil {
		return err
	}
	if user != "" {
		return models.Conflict("volume %s is in use by running domain %s: stop it first", vol.UUID, user)
	}
	info, err := inspect(ctx, path)
	if err != nil {
		return err
	}
	if !hasSnapshot(info, name) {
		return models.NotFound("volume %s has no snapshot %s", vol.UUID, name)
	}
	_, err = qemuImg(ctx, "snapshot", "-q", "-a", name, path)
	return err
}

// DeleteVolumeSnapshot removes the snapshot, while a domain runs on the
// volume or not; a missing snapshot or volume is fine.
func (d *Driver) DeleteVolumeSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string) error {
	if err := d.deleteSnapshot(ctx, vol, snapshotUUID); err != nil {
		return fail("delete volume snapshot", err)
	}
	return nil
}

func (d *Driver) deleteSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string) error {
	name, err := snapshotName(snapshotUUID)
	if err != nil {
		return err
	}
	path, err := d.volumePath(vol)
	if err != nil {
		return err
	}
	if err := statVolume(vol, path); errors.Is(err, models.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	_, err = with(d, func(c *virt.Connect) (struct{}, error) {
		info, err := inspect(ctx, path)
		if err != nil || !hasSnapshot(info, name) {
			return struct{}{}, err
		}
		user, err := activeUser(c, path)
		if err != nil {
			return struct{}{}, err
		}
		if user == nil {
			_, err := qemuImg(ctx, "snapshot", "-q", "-d", name, path)
			return struct{}{}, err
		}
		defer func() { _ = user.dom.Free() }()
		node, err := formatNode(user.dom, path)
		if err != nil {
			return struct{}{}, err
		}
		_, err = qmp(user.dom, "blockdev-snapshot-delete-internal-sync", map[string]any{"device": node, "name": name})
		return struct{}{}, err
	})
	return err
}

// CreateVolumeFromSnapshot writes target as a standalone qcow2 (no backing
// file) holding the volume as it was at the snapshot, or as it is when
// snapshotUUID is empty, which needs no running domain on the volume. A
// snapshot is read while a domain runs on the volume: its clusters never
// change. A target made already is returned.
func (d *Driver) CreateVolumeFromSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string, target hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	res, err := d.fromSnapshot(ctx, vol, snapshotUUID, target)
	if err != nil {
		return hostapi.InstantiateVolumeResult{}, fail("create volume from snapshot", err)
	}
	return res, nil
}

func (d *Driver) fromSnapshot(ctx context.Context, vol hostapi.VolumeSpec, snapshotUUID string, target hostapi.VolumeSpec) (hostapi.InstantiateVolumeResult, error) {
	var none hostapi.InstantiateVolumeResult
	path, err := d.volumePath(vol)
	if err != nil {
		return none, err
	}
	dst, err := d.volumePath(target)
	if err != nil {
		return none, err
	}
	if dst == path {
		return none, models.Invalid("target %s is the volume %s itself", target.UUID, vol.UUID)
	}
	if err := statVolume(vol, path); err != nil {
		return none, err
	}
	if _, err := os.Stat(dst); err == nil {
		info, err := inspect(ctx, dst)
		if err != nil {
			return none, err
		}
		if info.Format != domainxml.FormatQCOW2 || backingOf(info) != "" {
			return none, models.Conflict("volume %s exists with another spec: %s on backing %q", target.UUID, info.Format, backingOf(info))
		}
		return hostapi.InstantiateVolumeResult{InstallPath: dst, ActualSize: info.ActualSize}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return none, fmt.Errorf("volume %s: %w", target.UUID, err)
	}

	args := []string{"convert", "-q", "-U", "-f", domainxml.FormatQCOW2, "-O", domainxml.FormatQCOW2}
	if snapshotUUID != "" {
		name, err := snapshotName(snapshotUUID)
		if err != nil {
			return none, err
		}
		info, err := inspect(ctx, path)
		if err != nil {
			return none, err
		}
		if !hasSnapshot(info, name) {
			return none, models.NotFound("volume %s has no snapshot %s", vol.UUID, name)
		}
		args = append(args, "-l", "snapshot.name="+name)
	} else {
		user, err := d.runningUser(path)
		if err != nil {
			return none, err
		}
		if user != "" {
			return none, models.Conflict("volume %s is in use by running domain %s: copy a snapshot of it instead", vol.UUID, user)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), storageDirMode); err != nil {
		return none, fmt.Errorf("volume directory: %w", err)
	}
	tmp := tempName(dst)
	if _, err := qemuImg(ctx, append(args, path, tmp)...); err != nil {
		_ = os.Remove(tmp)
		return none, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Remove(tmp)
		return none, fmt.Errorf("volume %s: %w", target.UUID, err)
	}
	info, err := inspect(ctx, dst)
	if err != nil {
		return none, err
	}
	return hostapi.InstantiateVolumeResult{InstallPath: dst, ActualSize: info.ActualSize}, nil
}

// ResizeVolume grows a volume to size bytes: through the running domain
// (block_resize, so the guest sees it at once) when one uses it, else with
// qemu-img. Growing to the current size succeeds; shrinking is refused.
func (d *Driver) ResizeVolume(ctx context.Context, vol hostapi.VolumeSpec, size int64) (int64, error) {
	n, err := d.resize(ctx, vol, size)
	if err != nil {
		return 0, fail("resize volume", err)
	}
	return n, nil
}

func (d *Driver) resize(ctx context.Context, vol hostapi.VolumeSpec, size int64) (int64, error) {
	if size <= 0 || size%512 != 0 {
		return 0, models.Invalid("volume %s: size %d is not a positive multiple of 512", vol.UUID, size)
	}
	path, err := d.volumePath(vol)
	if err != nil {
		return 0, err
	}
	if err := statVolume(vol, path); err != nil {
		return 0, err
	}
	info, err := inspect(ctx, path)
	if err != nil {
		return 0, err
	}
	switch {
	case size == info.VirtualSize:
		return size, nil
	case size < info.VirtualSize:
		return 0, models.Invalid("volume %s: %d bytes is smaller than its %d bytes: shrinking is refused", vol.UUID, size, info.VirtualSize)
	}
	_, err = with(d, func(c *virt.Connect) (struct{}, error) {
		user, err := activeUser(c, path)
		if err != nil {
			return struct{}{}, err
		}
		if user == nil {
			_, err := qemuImg(ctx, "resize", "-q", "-f", domainxml.FormatQCOW2, path, strconv.FormatInt(size, 10))
			return struct{}{}, err
		}
		defer func() { _ = user.dom.Free() }()
		if err := user.dom.BlockResize(user.target, uint64(size), virt.DOMAIN_BLOCK_RESIZE_BYTES); err != nil {
			return struct{}{}, fmt.Errorf("block resize %s of domain %s: %w", user.target, user.name, err)
		}
		return struct{}{}, nil
	})
	if err != nil {
		return 0, err
	}
	info, err = inspect(ctx, path)
	if err != nil {
		return 0, err
	}
	return info.VirtualSize, nil
}
