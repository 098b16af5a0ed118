package store_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/query"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/models/store/storetest"
)

// stores opens a fresh store on every dialect this machine offers: SQLite
// always, MariaDB/MySQL when ZCLOUD_TEST_MYSQL_DSN names a server (make test
// starts a private one), in a database of its own dropped afterwards.
func stores(t *testing.T) map[string]*store.Store {
	t.Helper()
	ctx := context.Background()
	out := map[string]*store.Store{}
	s, err := store.Open(ctx, "sqlite:"+t.TempDir()+"/zcloud.db")
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	out["sqlite"] = s
	dsn := storetest.MySQLDSN(t)
	if dsn == "" {
		t.Log("ZCLOUD_TEST_MYSQL_DSN not set: MariaDB half of the store suite skipped (make test sets it)")
		return out
	}
	m, err := store.Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	out["mariadb"] = m
	return out
}

func now() models.Time { return models.Now() }

func TestStoreSuite(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			t.Run("admin and sessions", func(t *testing.T) {
				_, err := s.EnsureAdmin(ctx, "admin", "password")
				require.NoError(t, err)
				_, err = s.Login(ctx, "admin", store.SHA512Hex("wrong"), time.Hour)
				require.Error(t, err)
				sess, err := s.Login(ctx, "admin", store.SHA512Hex("password"), time.Hour)
				require.NoError(t, err)
				_, err = s.Session(ctx, sess.UUID)
				require.NoError(t, err)
				require.NoError(t, s.Logout(ctx, sess.UUID))
				_, err = s.Session(ctx, sess.UUID)
				require.Error(t, err)
			})
			t.Run("create query update delete", func(t *testing.T) {
				for i := 0; i < 5; i++ {
					z := models.Zone{Base: models.Base{UUID: models.NewUUID(), Name: fmt.Sprintf("zone-%d", i), CreateDate: now() + models.Time(i), LastOpDate: now()},
						State: models.StateEnabled, Type: "zstack", IsDefault: i == 0}
					require.NoError(t, s.Create(ctx, store.ResZone, &z, z.UUID, "owner"))
				}
				items, total, err := s.Query(ctx, store.ResZone, query.Query{Limit: 2, Start: 1, ReplyWithCount: true,
					Conditions: []query.Condition{{Path: []string{"name"}, Op: query.OpLike, Value: "zone-%"}}})
				require.NoError(t, err)
				require.Equal(t, 5, total)
				require.Len(t, items, 2)
				require.Equal(t, "zone-1", items[0].(*models.Zone).Name)
				z := items[0].(*models.Zone)
				require.NoError(t, s.Update(ctx, store.ResZone, z.UUID, map[string]any{"name": "renamed"}))
				require.Error(t, s.Update(ctx, store.ResZone, z.UUID, map[string]any{"nope": 1}))
				got, err := s.Inventory(ctx, store.ResZone, z.UUID)
				require.NoError(t, err)
				require.Equal(t, "renamed", got.(*models.Zone).Name)
				require.NoError(t, s.Delete(ctx, store.ResZone, z.UUID))
				_, err = s.Inventory(ctx, store.ResZone, z.UUID)
				require.ErrorIs(t, err, models.ErrNotFound)
				// Malicious values match nothing; they are bound, never SQL.
				items, _, err = s.Query(ctx, store.ResZone, query.Query{Limit: 10,
					Conditions: []query.Condition{{Path: []string{"name"}, Op: query.OpEq, Value: "x' OR '1'='1"}}})
				require.NoError(t, err)
				require.Empty(t, items)
			})
			t.Run("host capacity never overcommits", func(t *testing.T) {
				h := models.Host{Base: models.Base{UUID: models.NewUUID(), Name: "h", CreateDate: now(), LastOpDate: now()},
					ZoneUUID: "z", ClusterUUID: "c", ManagementIP: models.NewUUID(), HypervisorType: "Simulator", State: models.StateEnabled,
					Status: models.StatusConnected, TotalCPUCapacity: 10, AvailableCPUCapacity: 10, TotalMemoryCapacity: 100, AvailableMemoryCapacity: 100, Driver: "sim"}
				require.NoError(t, s.Create(ctx, store.ResHost, &h, h.UUID, "owner"))
				var wg sync.WaitGroup
				var mu sync.Mutex
				var won []string
				for i := 0; i < 40; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						vm := models.NewUUID()
						if s.ReserveHostForVM(ctx, vm, h.UUID, "ps", 1, 5) == nil {
							mu.Lock()
							won = append(won, vm)
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				require.Len(t, won, 10)
				var got models.Host
				require.NoError(t, s.Get(ctx, store.ResHost, h.UUID, &got))
				require.Zero(t, got.AvailableCPUCapacity)
				require.EqualValues(t, 50, got.AvailableMemoryCapacity)
				for _, vm := range won {
					require.NoError(t, s.ReleaseHostOfVM(ctx, vm))
				}
				require.NoError(t, s.Get(ctx, store.ResHost, h.UUID, &got))
				require.EqualValues(t, 10, got.AvailableCPUCapacity)
				require.EqualValues(t, 100, got.AvailableMemoryCapacity)
			})
			t.Run("vm allocations are idempotent", func(t *testing.T) {
				h := models.Host{Base: models.Base{UUID: models.NewUUID(), Name: "h2", CreateDate: now(), LastOpDate: now()},
					ZoneUUID: "z", ClusterUUID: "c", ManagementIP: models.NewUUID(), HypervisorType: "Simulator", State: models.StateEnabled,
					Status: models.StatusConnected, TotalCPUCapacity: 4, AvailableCPUCapacity: 4, TotalMemoryCapacity: 8, AvailableMemoryCapacity: 8, Driver: "sim"}
				require.NoError(t, s.Create(ctx, store.ResHost, &h, h.UUID, "owner"))
				ps := models.PrimaryStorage{Base: models.Base{UUID: models.NewUUID(), Name: "ps", CreateDate: now(), LastOpDate: now()},
					ZoneUUID: "z", URL: "/", Type: "Sim", State: models.StateEnabled, Status: models.StatusConnected, TotalCapacity: 100, AvailableCapacity: 100}
				require.NoError(t, s.Create(ctx, store.ResPrimaryStorage, &ps, ps.UUID, "owner"))
				vm := models.NewUUID()
				for i := 0; i < 2; i++ { // a retried step reserves once
					require.NoError(t, s.ReserveHostForVM(ctx, vm, h.UUID, ps.UUID, 2, 4))
				}
				require.ErrorIs(t, s.ReserveHostForVM(ctx, vm, "other-host", ps.UUID, 2, 4), models.ErrConflict)
				vol := models.Volume{Base: models.Base{UUID: models.NewUUID(), Name: "v", CreateDate: now(), LastOpDate: now()},
					PrimaryStorageUUID: models.Ref(ps.UUID), Type: "Root", Format: "qcow2", Size: 30, State: models.StateEnabled, Status: models.VolumeReady}
				for i := 0; i < 2; i++ {
					require.NoError(t, s.CreateVolume(ctx, &vol, "owner"))
				}
				var gotH models.Host
				var gotPS models.PrimaryStorage
				require.NoError(t, s.Get(ctx, store.ResHost, h.UUID, &gotH))
				require.NoError(t, s.Get(ctx, store.ResPrimaryStorage, ps.UUID, &gotPS))
				require.EqualValues(t, 2, gotH.AvailableCPUCapacity)
				require.EqualValues(t, 70, gotPS.AvailableCapacity)
				for i := 0; i < 2; i++ { // and a retried release releases once
					require.NoError(t, s.ReleaseHostOfVM(ctx, vm))
					require.NoError(t, s.DeleteVolume(ctx, vol.UUID))
				}
				require.NoError(t, s.ReserveHostForVM(ctx, models.NewUUID(), h.UUID, ps.UUID, 1, 1)) // another VM's
				require.NoError(t, s.ReleaseHostOfVM(ctx, vm))
				require.NoError(t, s.Get(ctx, store.ResHost, h.UUID, &gotH))
				require.NoError(t, s.Get(ctx, store.ResPrimaryStorage, ps.UUID, &gotPS))
				require.EqualValues(t, 3, gotH.AvailableCPUCapacity)
				require.EqualValues(t, 100, gotPS.AvailableCapacity)
			})
			t.Run("ip allocation is race free", func(t *testing.T) {
				l3 := models.NewUUID()
				r := models.IPRange{Base: models.Base{UUID: models.NewUUID(), Name: "r", CreateDate: now(), LastOpDate: now()},
					L3NetworkUUID: l3, StartIP: "10.1.0.1", EndIP: "10.1.0.14", Netmask: "255.255.255.240", Gateway: "10.1.0.1",
					NetworkCIDR: "10.1.0.0/28", IPVersion: 4, PrefixLen: 28, IPRangeType: "Normal"}
				require.NoError(t, s.Create(ctx, store.ResIPRange, &r, r.UUID, "owner"))
				var wg sync.WaitGroup
				var mu sync.Mutex
				ips := map[string]string{} // ip -> nic
				dup := ""
				for i := 0; i < 30; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						nic := models.NewUUID()
						u, err := s.AllocateIP(ctx, l3, nic, "")
						if err == nil {
							mu.Lock()
							if ips[u.IP] != "" {
								dup = u.IP
							}
							ips[u.IP] = nic
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				require.Empty(t, dup, "an ip was given twice")
				require.Len(t, ips, 13, "14 addresses minus the gateway")
				require.Empty(t, ips["10.1.0.1"], "the gateway is never allocated")
				free, err := s.FreeIPs(ctx, l3, "", "", 10)
				require.NoError(t, err)
				require.Empty(t, free)
				// Free one; a retried allocation for one NIC gets one address.
				require.NoError(t, s.ReleaseIPsOfNIC(ctx, ips["10.1.0.7"]))
				nic := models.NewUUID()
				first, err := s.AllocateIP(ctx, l3, nic, "")
				require.NoError(t, err)
				again, err := s.AllocateIP(ctx, l3, nic, "")
				require.NoError(t, err)
				require.Equal(t, "10.1.0.7", first.IP)
				require.Equal(t, first.IP, again.IP)
				_, err = s.AllocateIP(ctx, l3, models.NewUUID(), "")
				require.Error(t, err, "the range is full again")
			})
			t.Run("migrations are recorded once", func(t *testing.T) {
				n, err := s.Count(ctx, "schema_migrations", "1 = 1")
				require.NoError(t, err)
				files, err := os.ReadDir("migrations")
				require.NoError(t, err)
				require.Equal(t, len(files), n)
			})
		})
	}
}

// TestReopenKeepsData opens a store file twice: migrations are not applied
// again and the data is still there.
func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := "sqlite:" + t.TempDir() + "/z.db"
	s, err := store.Open(ctx, path)
	require.NoError(t, err)
	_, err = s.EnsureAdmin(ctx, "admin", "password")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s, err = store.Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Login(ctx, "admin", store.SHA512Hex("password"), time.Minute)
	require.NoError(t, err)
}
