package sim

import (
	"context"
	"fmt"
	"slices"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// AttachNIC adds nic to the domain's spec; a NIC already there (same UUID)
// is replaced by nic, a MAC another NIC holds is a conflict.
func (d *Driver) AttachNIC(ctx context.Context, vmUUID string, nic hostapi.NICSpec) error {
	if vmUUID == "" || nic.UUID == "" || nic.MAC == "" {
		return fmt.Errorf("sim: %w", models.Invalid("vm uuid, nic uuid and mac are required"))
	}
	if err := d.begin(ctx, hostapi.ActAttachNIC); err != nil {
		return err
	}
	defer d.mu.Unlock()
	vm, ok := d.domains[vmUUID]
	if !ok {
		return fmt.Errorf("sim: %w", models.NotFound("vm %s is not defined on this host", vmUUID))
	}
	nics := slices.Clone(vm.Spec.NICs)
	i := slices.IndexFunc(nics, func(n hostapi.NICSpec) bool { return n.UUID == nic.UUID })
	for _, n := range nics {
		if n.UUID != nic.UUID && n.MAC == nic.MAC {
			return fmt.Errorf("sim: %w", models.Conflict("mac %s is on nic %s of vm %s", nic.MAC, n.UUID, vmUUID))
		}
	}
	if i >= 0 {
		nics[i] = nic
	} else {
		nics = append(nics, nic)
	}
	vm.Spec.NICs = nics
	d.domains[vmUUID] = vm
	return nil
}

// DetachNIC removes nic from the domain's spec; a NIC or domain that is
// gone is fine.
func (d *Driver) DetachNIC(ctx context.Context, vmUUID string, nic hostapi.NICSpec) error {
	if vmUUID == "" || nic.UUID == "" {
		return fmt.Errorf("sim: %w", models.Invalid("vm uuid and nic uuid are required"))
	}
	if err := d.begin(ctx, hostapi.ActDetachNIC); err != nil {
		return err
	}
	defer d.mu.Unlock()
	if vm, ok := d.domains[vmUUID]; ok {
		vm.Spec.NICs = slices.DeleteFunc(slices.Clone(vm.Spec.NICs), func(n hostapi.NICSpec) bool { return n.UUID == nic.UUID })
		d.domains[vmUUID] = vm
	}
	return nil
}
