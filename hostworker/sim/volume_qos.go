package sim

import (
	"context"
	"fmt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// SetVolumeQoS records vol.QoS on the volume's disk in the domain.
func (d *Driver) SetVolumeQoS(ctx context.Context, vmUUID string, vol hostapi.VolumeSpec) error {
	if vmUUID == "" || vol.UUID == "" {
		return fmt.Errorf("sim: %w", models.Invalid("vm uuid %q or volume uuid %q is empty", vmUUID, vol.UUID))
	}
	if err := d.begin(ctx, hostapi.ActSetVolumeQoS); err != nil {
		return err
	}
	defer d.mu.Unlock()
	vm, ok := d.domains[vmUUID]
	if !ok {
		return fmt.Errorf("sim: %w", models.NotFound("vm %s is not defined on this host", vmUUID))
	}
	var qos *hostapi.VolumeQoS
	if vol.QoS != nil && !vol.QoS.IsZero() {
		q := *vol.QoS
		qos = &q
	}
	vm.Spec = cloneVM(vm.Spec)
	disk := diskOf(&vm.Spec, vol.UUID)
	if disk == nil {
		return fmt.Errorf("sim: %w", models.Invalid("volume %s is not attached to vm %s", vol.UUID, vmUUID))
	}
	disk.QoS = qos
	d.domains[vmUUID] = vm
	return nil
}

// VolumeQoS reports the limits on the volume's disk in the running domain.
func (d *Driver) VolumeQoS(ctx context.Context, vmUUID string, vol hostapi.VolumeSpec) (hostapi.VolumeQoS, error) {
	if err := d.begin(ctx, hostapi.ActGetVolumeQoS); err != nil {
		return hostapi.VolumeQoS{}, err
	}
	defer d.mu.Unlock()
	vm, ok := d.domains[vmUUID]
	switch {
	case !ok:
		return hostapi.VolumeQoS{}, fmt.Errorf("sim: %w", models.NotFound("vm %s is not defined on this host", vmUUID))
	case vm.State == hostapi.PowerStopped:
		return hostapi.VolumeQoS{}, fmt.Errorf("sim: %w", models.Conflict("vm %s is stopped", vmUUID))
	}
	disk := diskOf(&vm.Spec, vol.UUID)
	if disk == nil {
		return hostapi.VolumeQoS{}, fmt.Errorf("sim: %w", models.Invalid("volume %s is not attached to vm %s", vol.UUID, vmUUID))
	}
	if disk.QoS == nil {
		return hostapi.VolumeQoS{}, nil
	}
	return *disk.QoS, nil
}

// diskOf is the spec of a VM's disk on a volume, or nil.
func diskOf(vm *hostapi.VMSpec, volUUID string) *hostapi.VolumeSpec {
	if vm.RootVolume.UUID == volUUID {
		return &vm.RootVolume
	}
	for i := range vm.DataVolumes {
		if vm.DataVolumes[i].UUID == volUUID {
			return &vm.DataVolumes[i]
		}
	}
	return nil
}
