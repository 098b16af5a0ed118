package hostworker

import (
	"context"
	"fmt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// SetGuestPassword is hostapi.ActSetGuestPassword: it opens the password
// the control plane sealed to this agent's key and has the driver set it
// in the guest.
func (a *Agent) SetGuestPassword(ctx context.Context, p hostapi.SetGuestPasswordParams) error {
	const op = hostapi.ActSetGuestPassword
	if p.VMUUID == "" || p.Account == "" || p.SealedPassword == "" {
		return a.fail(op, models.Invalid("vm uuid, account and password are required"))
	}
	rd, ok := a.driver.(routedDriver)
	if !ok || rd.net == nil {
		return a.fail(op, models.Invalid("this agent has no sealing key: it cannot receive a password"))
	}
	password, err := rd.net.open(p.SealedPassword)
	if err != nil {
		return a.fail(op, models.Invalid("cannot open the sealed password (sealed to another key?): %v", err))
	}
	_, err = call(ctx, a, op, p.VMUUID, func(ctx context.Context) (struct{}, error) {
		if err := a.driver.SetGuestPassword(ctx, p.VMUUID, p.Account, password); err != nil {
			return struct{}{}, fmt.Errorf("set the password of %s: %w", p.Account, err)
		}
		return struct{}{}, nil
	})
	return err
}
