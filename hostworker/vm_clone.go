package hostworker

import (
	"context"

	"github.com/zcloud/zcloud/activities/hostapi"
)

// CloneVolume is hostapi.ActCloneVolume.
func (a *Agent) CloneVolume(ctx context.Context, p hostapi.CloneVolumeParams) (hostapi.InstantiateVolumeResult, error) {
	const op = hostapi.ActCloneVolume
	if err := a.checkVolume(op, p.Volume); err != nil {
		return hostapi.InstantiateVolumeResult{}, err
	}
	if err := a.checkVolume(op, p.Target); err != nil {
		return hostapi.InstantiateVolumeResult{}, err
	}
	return call(ctx, a, op, "", func(ctx context.Context) (hostapi.InstantiateVolumeResult, error) {
		return a.driver.CloneVolume(ctx, p.Volume, p.Target)
	})
}

// ReimageVolume is hostapi.ActReimageVolume.
func (a *Agent) ReimageVolume(ctx context.Context, p hostapi.ReimageVolumeParams) (hostapi.InstantiateVolumeResult, error) {
	const op = hostapi.ActReimageVolume
	if err := a.checkVolume(op, p.Volume); err != nil {
		return hostapi.InstantiateVolumeResult{}, err
	}
	return call(ctx, a, op, "", func(ctx context.Context) (hostapi.InstantiateVolumeResult, error) {
		return a.driver.ReimageVolume(ctx, p.Volume)
	})
}
