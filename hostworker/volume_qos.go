package hostworker

import (
	"context"

	"github.com/zcloud/zcloud/activities/hostapi"
)

// SetVolumeQoS is hostapi.ActSetVolumeQoS.
func (a *Agent) SetVolumeQoS(ctx context.Context, p hostapi.SetVolumeQoSParams) error {
	const op = hostapi.ActSetVolumeQoS
	if err := a.checkVolume(op, p.Volume); err != nil {
		return err
	}
	_, err := call(ctx, a, op, p.VMUUID, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, a.driver.SetVolumeQoS(ctx, p.VMUUID, p.Volume)
	})
	return err
}

// GetVolumeQoS is hostapi.ActGetVolumeQoS.
func (a *Agent) GetVolumeQoS(ctx context.Context, p hostapi.GetVolumeQoSParams) (hostapi.VolumeQoS, error) {
	const op = hostapi.ActGetVolumeQoS
	if err := a.checkVolume(op, p.Volume); err != nil {
		return hostapi.VolumeQoS{}, err
	}
	return call(ctx, a, op, p.VMUUID, func(ctx context.Context) (hostapi.VolumeQoS, error) {
		return a.driver.VolumeQoS(ctx, p.VMUUID, p.Volume)
	})
}
