package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsPath is where the named namespace lives for this host.
func (h *Host) nsPath(name string) string { return filepath.Join(h.netnsDir, name) }

// isNSMount reports whether path is a bind-mounted network namespace.
func isNSMount(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// ensureNamedNS creates the named namespace (bind-mounted like `ip netns add`) unless it exists,
// and returns an open handle on it.
func (h *Host) ensureNamedNS(name string) (netns.NsHandle, error) {
	path := h.nsPath(name)
	if !isNSMount(path) {
		if err := createNSAt(path); err != nil {
			return -1, fmt.Errorf("create namespace %s: %w", name, err)
		}
		h.log.Info("created network namespace", "netns", path)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return -1, fmt.Errorf("open namespace %s: %w", name, err)
	}
	return ns, nil
}

// createNSAt makes a fresh network namespace on a locked thread and bind-mounts it at path.
func createNSAt(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o444)
	if err != nil {
		return err
	}
	f.Close()

	runtime.LockOSThread()
	origin, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer origin.Close()
	fresh, err := netns.New() // unshare(CLONE_NEWNET): this thread is now in the new namespace
	if err != nil {
		runtime.UnlockOSThread()
		_ = os.Remove(path)
		return err
	}
	src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
	mountErr := unix.Mount(src, path, "none", unix.MS_BIND, "")
	fresh.Close()
	if err := netns.Set(origin); err != nil {
		return errors.Join(mountErr, fmt.Errorf("restore network namespace: %w", err))
	}
	runtime.UnlockOSThread()
	if mountErr != nil {
		_ = os.Remove(path)
		return fmt.Errorf("bind-mount namespace: %w", mountErr)
	}
	return nil
}

// deleteNamedNS unmounts and removes the named namespace; the kernel frees it once no process
// or open handle refers to it. A missing namespace is not an error.
func (h *Host) deleteNamedNS(name string) error {
	path := h.nsPath(name)
	if isNSMount(path) {
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmount namespace %s: %w", name, err)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove namespace file %s: %w", name, err)
	}
	return nil
}
