package db

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// TestVMAllocateNICsMACConflict: a retried NIC allocation finds its own
// NICs, while a custom MAC another VM's NIC took meanwhile fails clearly
// instead of leaving the VM without that NIC.
func TestVMAllocateNICsMACConflict(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite::memory:")
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	a := &Activities{Store: st, Faults: &Faults{}}
	hostUUID, l3 := models.NewUUID(), models.NewUUID()
	h := models.Host{Base: models.Base{UUID: hostUUID, Name: "h"}, ZoneUUID: models.NewUUID(), ClusterUUID: models.NewUUID(),
		ManagementIP: "10.0.0.1", HypervisorType: HypervisorKVM, State: models.StateEnabled, Status: models.StatusConnected}
	require.NoError(t, st.Create(ctx, store.ResHost, &h, hostUUID, ""))
	alloc := func(vm string, tags ...string) error {
		return a.VMAllocateNICs(ctx, activities.VMAllocParams{P: activities.CreateVMParams{VMUUID: vm, L3NetworkUUIDs: []string{l3}, SystemTags: tags},
			Alloc: activities.HostAllocation{HostUUID: hostUUID}})
	}
	mac := "fa:16:3e:00:00:01"
	first, second := models.NewUUID(), models.NewUUID()
	require.NoError(t, alloc(first, activities.CustomMACTag+l3+"::"+mac))
	require.NoError(t, alloc(first, activities.CustomMACTag+l3+"::"+mac), "a retry finds its NIC")
	err = alloc(second, activities.CustomMACTag+l3+"::"+mac)
	require.Error(t, err)
	require.Contains(t, err.Error(), "already used by another nic")
	nics, err := st.VMNics(ctx, second)
	require.NoError(t, err)
	require.Empty(t, nics)
}
