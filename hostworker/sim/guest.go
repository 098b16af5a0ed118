package sim

import (
	"context"
	"fmt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// SetGuestPassword answers as a real guest without a guest agent does: a
// simulated guest runs no qemu-guest-agent, so no password changes.
func (d *Driver) SetGuestPassword(ctx context.Context, vmUUID, account, password string) error {
	if vmUUID == "" || account == "" || password == "" {
		return fmt.Errorf("sim: %w", models.Invalid("vm uuid, account and password are required"))
	}
	if err := d.begin(ctx, hostapi.ActSetGuestPassword); err != nil {
		return err
	}
	defer d.mu.Unlock()
	vm, ok := d.domains[vmUUID]
	switch {
	case !ok:
		return fmt.Errorf("sim: %w", models.NotFound("vm %s is not defined on this host", vmUUID))
	case vm.State != hostapi.PowerRunning:
		return fmt.Errorf("sim: %w", models.Conflict("vm %s is not running: its guest agent cannot change a password", vmUUID))
	}
	return fmt.Errorf("sim: %w", models.Conflict("the guest agent of vm %s is not connected: simulated guests run none", vmUUID))
}
