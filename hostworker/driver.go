package hostworker

import (
	"fmt"
	"maps"
	"slices"

	"github.com/zcloud/zcloud/hostworker/driver"
	"github.com/zcloud/zcloud/hostworker/sim"
)

// Constructor builds a driver from its options, the key=value settings that
// each driver names and checks itself (sim.OptCPU, ...).
type Constructor func(options map[string]string) (driver.Driver, error)

// drivers maps each driver name to its constructor, Incus style: one literal
// map, no registration at init. The contract lives in package driver so that
// driver packages do not import this one.
var drivers = map[string]Constructor{
	sim.Name:  newSim,
	"libvirt": newLibvirt,
}

func newSim(options map[string]string) (driver.Driver, error) {
	cfg, err := sim.ParseConfig(options)
	if err != nil {
		return nil, err
	}
	d, err := sim.New(cfg)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// NewDriver builds the driver registered as name.
func NewDriver(name string, options map[string]string) (driver.Driver, error) {
	newDriver, ok := drivers[name]
	if !ok {
		return nil, fmt.Errorf("unknown driver %q (known: %v)", name, DriverNames())
	}
	d, err := newDriver(options)
	if err != nil {
		return nil, fmt.Errorf("driver %s: %w", name, err)
	}
	return d, nil
}

// DriverNames lists the registered drivers, sorted, for help and errors.
func DriverNames() []string {
	return slices.Sorted(maps.Keys(drivers))
}
