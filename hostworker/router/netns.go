package router

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// netnsDir is where iproute2 and netns.NewNamed keep named network namespaces.
const netnsDir = "/run/netns"

// inNetNS runs fn on an OS thread switched into the namespace ns and switches back afterwards.
// Sockets and /proc/sys/net files opened by fn belong to ns. If switching back fails the thread
// stays locked, so the Go runtime discards it instead of reusing a thread in the wrong namespace.
func inNetNS(ns netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	origin, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get current netns: %w", err)
	}
	defer origin.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns: %w", err)
	}
	fnErr := fn()
	if err := netns.Set(origin); err != nil {
		return errors.Join(fnErr, fmt.Errorf("return to original netns: %w", err))
	}
	runtime.UnlockOSThread()
	return fnErr
}

// ensureNamedNetNS returns a handle to the named namespace, creating it when missing. The
// calling thread's namespace is left unchanged.
func ensureNamedNetNS(name string) (netns.NsHandle, error) {
	if ns, err := netns.GetFromName(name); err == nil {
		return ns, nil
	}
	runtime.LockOSThread()
	origin, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return netns.None(), fmt.Errorf("get current netns: %w", err)
	}
	defer origin.Close()
	ns, err := netns.NewNamed(name)
	// NewNamed switches the thread into the new namespace, even on some failures.
	if setErr := netns.Set(origin); setErr != nil {
		if err == nil {
			ns.Close()
		}
		return netns.None(), fmt.Errorf("return to original netns: %w", setErr)
	}
	runtime.UnlockOSThread()
	if err != nil {
		return netns.None(), fmt.Errorf("create netns %s: %w", name, err)
	}
	return ns, nil
}

// deleteNamedNetNS removes a named namespace; a missing one is not an error.
func deleteNamedNetNS(name string) error {
	path := filepath.Join(netnsDir, name)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete netns %s: %w", name, err)
	}
	return nil
}

// namedNetNSExists reports whether a named namespace is present.
func namedNetNSExists(name string) bool {
	_, err := os.Stat(filepath.Join(netnsDir, name))
	return err == nil
}

// openNetNS opens the namespace at path, or the calling thread's namespace when path is empty.
func openNetNS(path string) (netns.NsHandle, error) {
	if path == "" {
		return netns.Get()
	}
	return netns.GetFromPath(path)
}

// handleAt returns a netlink handle bound to ns.
func handleAt(ns netns.NsHandle) (*netlink.Handle, error) {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink handle: %w", err)
	}
	return h, nil
}

// isLinkNotFound reports whether err means that a link does not exist.
func isLinkNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}
