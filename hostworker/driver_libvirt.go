//go:build libvirt

package hostworker

import (
	"github.com/zcloud/zcloud/hostworker/driver"
	"github.com/zcloud/zcloud/hostworker/libvirt"
)

// libvirtBuilt tells tests which newLibvirt this build has.
const libvirtBuilt = true

// newLibvirt builds the libvirt driver (real KVM/QEMU); it exists only in
// builds with the libvirt tag, which need libvirt-dev.
func newLibvirt(options map[string]string) (driver.Driver, error) {
	cfg, err := libvirt.ParseConfig(options)
	if err != nil {
		return nil, err
	}
	d, err := libvirt.New(cfg)
	if err != nil {
		return nil, err // not a typed nil inside the interface
	}
	return d, nil
}
