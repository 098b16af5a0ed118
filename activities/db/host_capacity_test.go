package db

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/models/store/storetest"
)

// TestKVMHostCapacity: a KVM host offers what its agent reports less
// kvm.reservedMemory; every connect recomputes the totals and, from the VMs
// placed there, what is available; a reserve that is not a size is refused.
func TestKVMHostCapacity(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testKVMHostCapacity(t, "sqlite::memory:") })
	t.Run("mysql", func(t *testing.T) {
		dsn := storetest.MySQLDSN(t)
		if dsn == "" {
			t.Skip("no test MariaDB (ZCLOUD_TEST_MYSQL_DSN)")
		}
		testKVMHostCapacity(t, dsn)
	})
}

func testKVMHostCapacity(t *testing.T, dsn string) {
	ctx := t.Context()
	st, err := store.Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	a := &Activities{Store: st}
	require.NoError(t, a.EnsureGlobalConfigs(ctx))

	hostUUID := models.NewUUID()
	h := models.Host{Base: models.Base{UUID: hostUUID, Name: "kvm"}, ZoneUUID: models.NewUUID(), ClusterUUID: models.NewUUID(),
		ManagementIP: "10.0.0.1", HypervisorType: HypervisorKVM, State: models.StateEnabled, Status: models.StatusConnecting}
	require.NoError(t, st.Create(ctx, store.ResHost, &h, hostUUID, ""))
	connect := func(cpu int, memory int64) models.Host {
		t.Helper()
		require.NoError(t, a.HostRecordConnect(ctx, activities.HostConnectParams{HostUUID: hostUUID,
			Facts: hostapi.HostFacts{HostUUID: hostUUID, AgentVersion: hostapi.AgentVersion, CPUNum: cpu, MemoryBytes: memory}}))
		var got models.Host
		require.NoError(t, st.Get(ctx, store.ResHost, hostUUID, &got))
		return got
	}
	got := connect(4, 8<<30)
	require.Equal(t, []int64{4, 4, 7 << 30, 7 << 30},
		[]int64{got.TotalCPUCapacity, got.AvailableCPUCapacity, got.TotalMemoryCapacity, got.AvailableMemoryCapacity}, "1G reserved by default")

	require.NoError(t, st.ReserveHostForVM(ctx, models.NewUUID(), hostUUID, models.NewUUID(), 3, 2<<30))
	require.NoError(t, ValidateGlobalConfig(reservedMemoryCategory, reservedMemoryConfig, "2G"))
	require.NoError(t, st.SetGlobalConfig(ctx, reservedMemoryCategory, reservedMemoryConfig, "2G"))
	got = connect(2, 8<<30)
	require.Equal(t, []int64{2, 0, 6 << 30, 4 << 30},
		[]int64{got.TotalCPUCapacity, got.AvailableCPUCapacity, got.TotalMemoryCapacity, got.AvailableMemoryCapacity},
		"a host with fewer CPUs than its VMs use shows none available; memory keeps the VM's share")

	require.NoError(t, st.SetGlobalConfig(ctx, reservedMemoryCategory, reservedMemoryConfig, "16G"))
	got = connect(4, 8<<30)
	require.Equal(t, []int64{0, 0}, []int64{got.TotalMemoryCapacity, got.AvailableMemoryCapacity}, "a reserve above the memory leaves none")

	for _, bad := range []string{"lots", "-1G", "1.5G", ""} {
		require.Error(t, ValidateGlobalConfig(reservedMemoryCategory, reservedMemoryConfig, bad), bad)
	}
	for in, want := range map[string]int64{"512M": 512 << 20, "1g": 1 << 30, "1073741824": 1 << 30, "2GB": 2 << 30, "0": 0} {
		n, ok := parseSize(in)
		require.True(t, ok, in)
		require.Equal(t, want, n, in)
	}
}
