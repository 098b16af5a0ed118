package hostworker

import (
	"context"
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
// storage's directory if missing, checks that it can write there, and
// reports the capacity of the file system holding it. Simulated hosts
// report their simulated disk.
func (a *Agent) StorageCapacity(ctx context.Context, p hostapi.StorageCapacityParams) (hostapi.StorageCapacityResult, error) {
	return call(ctx, a, hostapi.ActStorageCapacity, "", func(ctx context.Context) (hostapi.StorageCapacityResult, error) {
		d := a.driver
		if w, ok := d.(interface{ Unwrap() driver.Driver }); ok {
			d = w.Unwrap() // the router manager's wrapper (WithRouters)
		}
		if !filepath.IsAbs(p.Path) || filepath.Clean(p.Path) != p.Path || p.Path == "/" {
			return hostapi.StorageCapacityResult{}, models.Invalid("primary storage path %q must be a clean absolute directory other than /", p.Path)
		}
		if sd, ok := d.(*sim.Driver); ok {
			return sd.StorageCapacity(ctx) // simulated hosts have no directories
		}
		if err := os.MkdirAll(p.Path, 0o755); err != nil {
			return hostapi.StorageCapacityResult{}, fmt.Errorf("make %s: %w", p.Path, err)
		}
		if err := checkWritable(p.Path); err != nil {
			return hostapi.StorageCapacityResult{}, err
		}
		var st unix.Statfs_t
		if err := unix.Statfs(p.Path, &st); err != nil {
			return hostapi.StorageCapacityResult{}, fmt.Errorf("statfs %s: %w", p.Path, err)
		}
		bs := int64(st.Bsize)
		return hostapi.StorageCapacityResult{TotalBytes: int64(st.Blocks) * bs, AvailableBytes: int64(st.Bavail) * bs}, nil
	})
}

// checkWritable creates and removes a file in dir: a read-only or full
// file system, or a directory the agent may not write, fails here rather
// than at the next volume.
func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".zcloud-check-*")
	if err != nil {
		return fmt.Errorf("primary storage directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	_, err = f.WriteString("zcloud\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("primary storage directory %s is not writable: %w", dir, err)
	}
	return nil
}
