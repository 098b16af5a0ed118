package hostworker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/driver"
	"github.com/zcloud/zcloud/hostworker/sim"
	"github.com/zcloud/zcloud/models"
)

// StorageCapacity is hostapi.ActStorageCapacity: it makes a primary
// storage's directory if missing and reports the capacity of the file
// system holding it. Simulated hosts have no directories.
func (a *Agent) StorageCapacity(ctx context.Context, p hostapi.StorageCapacityParams) (hostapi.StorageCapacityResult, error) {
	return call(ctx, a, hostapi.ActStorageCapacity, "", func(context.Context) (hostapi.StorageCapacityResult, error) {
		d := a.driver
		if w, ok := d.(interface{ Unwrap() driver.Driver }); ok {
			d = w.Unwrap() // the router manager's wrapper (WithRouters)
		}
		if _, ok := d.(*sim.Driver); ok {
			return hostapi.StorageCapacityResult{}, fmt.Errorf("primary storage directories on simulated hosts: %w", errors.ErrUnsupported)
		}
		if !filepath.IsAbs(p.Path) || filepath.Clean(p.Path) != p.Path || p.Path == "/" {
			return hostapi.StorageCapacityResult{}, models.Invalid("primary storage path %q must be a clean absolute directory other than /", p.Path)
		}
		if err := os.MkdirAll(p.Path, 0o755); err != nil {
			return hostapi.StorageCapacityResult{}, fmt.Errorf("make %s: %w", p.Path, err)
		}
		var st unix.Statfs_t
		if err := unix.Statfs(p.Path, &st); err != nil {
			return hostapi.StorageCapacityResult{}, fmt.Errorf("statfs %s: %w", p.Path, err)
		}
		bs := int64(st.Bsize)
		return hostapi.StorageCapacityResult{TotalBytes: int64(st.Blocks) * bs, AvailableBytes: int64(st.Bavail) * bs}, nil
	})
}
