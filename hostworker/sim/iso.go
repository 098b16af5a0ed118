package sim

import (
	"context"
	"fmt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// AttachISO puts iso into the domain's CD-ROM drive (its spec's ISO).
func (d *Driver) AttachISO(ctx context.Context, vmUUID string, iso hostapi.ISOSpec) error {
	if vmUUID == "" || iso.ImageUUID == "" {
		return fmt.Errorf("sim: %w", models.Invalid("vm uuid and iso image uuid are required"))
	}
	if err := d.begin(ctx, hostapi.ActAttachISO); err != nil {
		return err
	}
	defer d.mu.Unlock()
	vm, ok := d.domains[vmUUID]
	if !ok {
		return fmt.Errorf("sim: %w", models.NotFound("vm %s is not defined on this host", vmUUID))
	}
	vm.Spec.ISO = &iso
	d.domains[vmUUID] = vm
	d.cacheImage(iso.ImageUUID)
	return nil
}

// DetachISO empties the domain's CD-ROM drive; a missing domain is fine.
func (d *Driver) DetachISO(ctx context.Context, vmUUID string) error {
	if vmUUID == "" {
		return fmt.Errorf("sim: %w", models.Invalid("vm uuid is empty"))
	}
	if err := d.begin(ctx, hostapi.ActDetachISO); err != nil {
		return err
	}
	defer d.mu.Unlock()
	if vm, ok := d.domains[vmUUID]; ok {
		vm.Spec.ISO = nil
		d.domains[vmUUID] = vm
	}
	return nil
}
