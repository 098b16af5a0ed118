package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// TestLocalStorageCapacity checks that a local storage is the sum of its
// hosts' shares, that volumes take room on their own host only, and that
// moving a VM between hosts moves its CPU and memory.
func TestLocalStorageCapacity(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			ps := models.PrimaryStorage{Base: models.Base{UUID: models.NewUUID(), Name: "local", CreateDate: now(), LastOpDate: now()},
				ZoneUUID: "z", URL: "/var/lib/zcloud/local", Type: store.PSLocalStorage, State: models.StateEnabled, Status: models.StatusConnected}
			require.NoError(t, s.Create(ctx, store.ResPrimaryStorage, &ps, ps.UUID, "owner"))
			h1, h2 := models.NewUUID(), models.NewUUID()
			require.NoError(t, s.RecordStorageCapacity(ctx, ps.UUID, h1, 1000, 600))
			require.NoError(t, s.RecordStorageCapacity(ctx, ps.UUID, h2, 1000, 300))
			require.NoError(t, s.RecordStorageCapacity(ctx, ps.UUID, h2, 1000, 250), "a later report updates physical numbers only")
			var got models.PrimaryStorage
			require.NoError(t, s.Get(ctx, store.ResPrimaryStorage, ps.UUID, &got))
			require.EqualValues(t, 900, got.TotalCapacity, "the sum of what each host had free when it joined")
			require.EqualValues(t, 900, got.AvailableCapacity)
			require.EqualValues(t, 2000, got.TotalPhysicalCapacity)
			require.EqualValues(t, 850, got.AvailablePhysicalCapacity)

			vol := models.Volume{Base: models.Base{UUID: models.NewUUID(), Name: "v", CreateDate: now(), LastOpDate: now()},
				PrimaryStorageUUID: models.Ref(ps.UUID), HostUUID: models.Ref(h2), Type: "Root", Format: "qcow2", Size: 400,
				State: models.StateEnabled, Status: models.VolumeReady}
			err := s.CreateVolume(ctx, &vol, "owner")
			require.ErrorIs(t, err, models.ErrUnavailable, "host 2 has 300 bytes although the storage has 900")
			vol.HostUUID = models.Ref(h1)
			require.NoError(t, s.CreateVolume(ctx, &vol, "owner"))
			shares, err := s.LocalStorageHosts(ctx, ps.UUID, h1)
			require.NoError(t, err)
			require.EqualValues(t, 200, shares[0].AvailableCapacity)

			data := models.Volume{Base: models.Base{UUID: models.NewUUID(), Name: "d", CreateDate: now(), LastOpDate: now()},
				Type: "Data", Format: "qcow2", Size: 100, DeviceID: -1, State: models.StateEnabled, Status: models.VolumeNotInstantiated}
			require.NoError(t, s.CreateVolume(ctx, &data, "owner"))
			require.NoError(t, s.PlaceVolume(ctx, data.UUID, ps.UUID, h2))
			require.NoError(t, s.ResizeVolume(ctx, data.UUID, 150))
			shares, err = s.LocalStorageHosts(ctx, ps.UUID, h2)
			require.NoError(t, err)
			require.EqualValues(t, 150, shares[0].AvailableCapacity)
			require.ErrorIs(t, s.ResizeVolume(ctx, data.UUID, 500), models.ErrUnavailable)
			require.NoError(t, s.UnplaceVolume(ctx, data.UUID))
			require.NoError(t, s.DeleteVolume(ctx, vol.UUID))
			require.NoError(t, s.Get(ctx, store.ResPrimaryStorage, ps.UUID, &got))
			require.EqualValues(t, 900, got.AvailableCapacity, "everything given back")

			require.NoError(t, s.ForgetLocalStorageHost(ctx, h2))
			require.NoError(t, s.Get(ctx, store.ResPrimaryStorage, ps.UUID, &got))
			require.EqualValues(t, 600, got.TotalCapacity)
		})
	}
}
