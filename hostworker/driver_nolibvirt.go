//go:build !libvirt

package hostworker

import (
	"errors"
	"fmt"

	"github.com/zcloud/zcloud/hostworker/driver"
)

// libvirtBuilt tells tests which newLibvirt this build has.
const libvirtBuilt = false

// newLibvirt stands for the libvirt driver in builds without the libvirt
// tag, so that asking for it says how to get it.
func newLibvirt(map[string]string) (driver.Driver, error) {
	return nil, fmt.Errorf("this binary was built without the libvirt tag (go build -tags libvirt, needs libvirt-dev): %w", errors.ErrUnsupported)
}
