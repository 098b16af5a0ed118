//go:build libvirt

package libvirt

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	virt "libvirt.org/go/libvirt"

	"github.com/zcloud/zcloud/models"
)

// TestGuestOnlineCompute grows a running real QEMU guest from 1 to 2 vCPUs
// and from 256 to 512 MiB (one hot-plugged DIMM, seen by QEMU), repeats the
// call (no change), and refuses to shrink online or to pass the maximums.
// The guest is resized once it is up (its first heartbeat), as an operator
// resizes a running system: a CPU and a DIMM plugged while the firmware or
// an early kernel runs under TCG once left a guest that never reached /init
// (CI, 2026-11-25). The guest must go on beating after the resize.
func TestGuestOnlineCompute(t *testing.T) {
	needSystemLibvirt(t)
	url := imageURL(t, "")
	d := newGuestDriver(t, systemURI, "")
	ctx := t.Context()
	vm := guestVM(t, url)
	_, err := d.InstantiateVolume(ctx, vm.RootVolume)
	require.NoError(t, err)
	t.Cleanup(func() { removeGuest(t, d, vm) })
	_, err = d.CreateVM(ctx, vm, true)
	require.NoError(t, err)

	waitConsole(t, d, vm.UUID, firstHeartbeat, 1)

	x := liveDomain(t, systemURI, vm.UUID, 0)
	require.EqualValues(t, MaxCPUNum, x.VCPU.Value)
	require.EqualValues(t, 1, x.VCPU.Current)
	require.EqualValues(t, MaxMemoryFactor*256<<10, x.MaximumMemory.Value)

	require.NoError(t, d.SetVMCompute(ctx, vm.UUID, 2, 512<<20))
	require.NoError(t, d.SetVMCompute(ctx, vm.UUID, 2, 512<<20), "the same size again changes nothing")
	var vcpus int
	var dimms int
	_, err = d.onDomain(vm.UUID, func(dom *virt.Domain) (string, error) {
		n, err := dom.GetVcpusFlags(virt.DOMAIN_VCPU_LIVE)
		if err != nil {
			return "", err
		}
		vcpus = int(n)
		out, err := qmp(dom, "query-memory-devices", map[string]any{})
		if err != nil {
			return "", err
		}
		var devs []struct {
			Type string `json:"type"`
			Data struct {
				Size int64 `json:"size"`
			} `json:"data"`
		}
		if err := json.Unmarshal(out, &devs); err != nil {
			return "", err
		}
		for _, dev := range devs {
			if dev.Type == "dimm" && dev.Data.Size == 256<<20 {
				dimms++
			}
		}
		return "", nil
	})
	require.NoError(t, err)
	require.Equal(t, 2, vcpus, "qemu runs two vcpus")
	require.Equal(t, 1, dimms, "qemu has one 256 MiB dimm")
	x = liveDomain(t, systemURI, vm.UUID, 0)
	require.EqualValues(t, 512<<10, x.Memory.Value)
	def := liveDomain(t, systemURI, vm.UUID, virt.DOMAIN_XML_INACTIVE)
	require.EqualValues(t, 2, def.VCPU.Current, "the definition follows")
	require.Len(t, def.Devices.Memorydevs, 1)

	err = d.SetVMCompute(ctx, vm.UUID, 1, 512<<20)
	require.True(t, errors.Is(err, errors.ErrUnsupported), "online shrink: %v", err)
	require.ErrorIs(t, d.SetVMCompute(ctx, vm.UUID, MaxCPUNum+1, 512<<20), models.ErrInvalid)
	require.ErrorIs(t, d.SetVMCompute(ctx, vm.UUID, 2, 2<<30), models.ErrInvalid)
	path := d.consolePath(vm.UUID)
	waitHeartbeatAfter(t, path, lastHeartbeat(t, path))
}
