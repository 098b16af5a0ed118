package db

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// registerVMDevices registers the VM device activities.
func (a *Activities) registerVMDevices(w worker.Registry) {
	for name, fn := range map[string]any{
		activities.VMConsolePasswordSet: a.VMConsolePasswordSet,
		activities.VMConsoleTarget:      a.VMConsoleTarget,
		activities.VMISOSet:             a.VMISOSet,
		activities.VMBootOrderSet:       a.VMBootOrderSet,
		activities.VMComputeSet:         a.VMComputeSet,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// ConsolePassword reads a VM's console password from its system tag; none
// is "".
func ConsolePassword(ctx context.Context, st *store.Store, vmUUID string) (string, error) {
	return tagValue(ctx, st, vmUUID, activities.ConsolePasswordTag)
}

// tagValue reads the value of a VM's system tag prefix::value; none is "".
func tagValue(ctx context.Context, st *store.Store, vmUUID, prefix string) (string, error) {
	var tag string
	err := st.DB().GetContext(ctx, &tag, `SELECT tag FROM system_tags WHERE resource_uuid = ? AND tag LIKE ? ORDER BY create_date LIMIT 1`,
		vmUUID, prefix+"%")
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(tag, prefix), nil
}

// setTagValue replaces a VM's prefix::value system tag; an empty value
// removes it. A replaced tag keeps its UUID (UpdateSystemTag's reply and
// later DeleteTag calls name it).
func (a *Activities) setTagValue(ctx context.Context, vmUUID, prefix, value string) error {
	var keep string
	err := a.Store.DB().GetContext(ctx, &keep, `SELECT uuid FROM system_tags WHERE resource_uuid = ? AND tag LIKE ? ORDER BY create_date LIMIT 1`,
		vmUUID, prefix+"%")
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if value != "" && keep != "" {
		if _, err := a.Store.DB().ExecContext(ctx, `UPDATE system_tags SET tag = ?, last_op_date = ? WHERE uuid = ?`,
			prefix+value, models.Now(), keep); err != nil {
			return err
		}
	}
	if _, err := a.Store.DB().ExecContext(ctx, `DELETE FROM system_tags WHERE resource_uuid = ? AND tag LIKE ? AND uuid <> ?`,
		vmUUID, prefix+"%", keep); err != nil {
		return err
	}
	if value == "" {
		_, err := a.Store.DB().ExecContext(ctx, `DELETE FROM system_tags WHERE uuid = ?`, keep)
		return err
	}
	if keep != "" {
		return nil
	}
	return wrap(a.Store.AddTags(ctx, vmUUID, store.ResVMInstance, []string{prefix + value}, nil))
}

// deviceSpec adds to a VM's host spec what its device tags say: the
// console password, the ISO in its CD-ROM (fetched by hostUUID) and its
// boot order.
func (a *Activities) deviceSpec(ctx context.Context, spec *hostapi.VMSpec, hostUUID string) error {
	pw, err := ConsolePassword(ctx, a.Store, spec.UUID)
	if err != nil {
		return err
	}
	spec.ConsolePassword = pw
	iso, err := tagValue(ctx, a.Store, spec.UUID, activities.ISOTag)
	if err != nil {
		return err
	}
	if iso != "" {
		if spec.ISO, err = a.isoSpec(ctx, iso, hostUUID); err != nil {
			return err
		}
	}
	order, err := tagValue(ctx, a.Store, spec.UUID, activities.BootOrderTag)
	if err != nil {
		return err
	}
	if order != "" {
		spec.BootOrder = strings.Split(order, ",")
	}
	return nil
}

// isoSpec is where hostUUID fetches an ISO image: a backup storage's copy
// when there is one, else the image's URL.
func (a *Activities) isoSpec(ctx context.Context, imageUUID, hostUUID string) (*hostapi.ISOSpec, error) {
	var img models.Image
	if err := a.Store.Get(ctx, store.ResImage, imageUUID, &img); err != nil {
		return nil, wrap(err)
	}
	url, err := a.imageURL(ctx, img, hostUUID)
	if err != nil {
		return nil, err
	}
	return &hostapi.ISOSpec{ImageUUID: img.UUID, URL: url}, nil
}

// consoleClosedStates are the VM states whose console password cannot
// change: the VM is going or gone.
var consoleClosedStates = []string{models.VMDestroying, models.VMDestroyed, models.VMExpunging}

// VMConsolePasswordSet replaces the console password tag of a VM (none
// when p.Password is empty) and returns the one it had. Setting the same
// password twice leaves one tag.
func (a *Activities) VMConsolePasswordSet(ctx context.Context, p activities.ConsolePasswordParams) (activities.ConsolePasswordResult, error) {
	if err := hostapi.ValidateConsolePassword(p.Password); err != nil {
		return activities.ConsolePasswordResult{}, wrap(models.AsError(err).WithCode(models.CodeInvalidArgument))
	}
	var vm models.VMInstance
	if err := a.Store.Get(ctx, store.ResVMInstance, p.VMUUID, &vm); err != nil {
		return activities.ConsolePasswordResult{}, wrap(err)
	}
	for _, s := range consoleClosedStates {
		if vm.State == s {
			return activities.ConsolePasswordResult{}, wrap(models.Conflict("the vm[uuid:%s] is in state [%s], which does not allow changing its console password",
				vm.UUID, vm.State).WithCode(models.CodeVMState))
		}
	}
	prev, err := ConsolePassword(ctx, a.Store, vm.UUID)
	if err != nil {
		return activities.ConsolePasswordResult{}, err
	}
	out := activities.ConsolePasswordResult{Prev: prev, State: vm.State, HostUUID: string(vm.HostUUID)}
	if prev == p.Password {
		return out, nil
	}
	return out, a.setTagValue(ctx, vm.UUID, activities.ConsolePasswordTag, p.Password)
}

// deviceVM reads a VM whose devices may change: not one going or gone.
func (a *Activities) deviceVM(ctx context.Context, vmUUID, what string) (models.VMInstance, error) {
	var vm models.VMInstance
	if err := a.Store.Get(ctx, store.ResVMInstance, vmUUID, &vm); err != nil {
		return vm, wrap(err)
	}
	for _, s := range consoleClosedStates {
		if vm.State == s {
			return vm, wrap(models.Conflict("the vm[uuid:%s] is in state [%s], which does not allow changing its %s",
				vm.UUID, vm.State, what).WithCode(models.CodeVMState))
		}
	}
	return vm, nil
}

// VMISOSet records the ISO in a VM's CD-ROM drive: an ISO image (media
// type ISO, ready) or none. A detach that names an ISO other than the one
// in is refused.
func (a *Activities) VMISOSet(ctx context.Context, p activities.ISOParams) (activities.ISOResult, error) {
	vm, err := a.deviceVM(ctx, p.VMUUID, "cd-rom")
	if err != nil {
		return activities.ISOResult{}, err
	}
	prev, err := tagValue(ctx, a.Store, vm.UUID, activities.ISOTag)
	if err != nil {
		return activities.ISOResult{}, err
	}
	out := activities.ISOResult{Prev: prev, State: vm.State, HostUUID: string(vm.HostUUID)}
	if p.ExpectUUID != "" && p.ExpectUUID != prev {
		return out, wrap(models.Invalid("iso[uuid:%s] is not attached to vm[uuid:%s]", p.ExpectUUID, vm.UUID))
	}
	if prev != "" {
		if out.PrevISO, err = a.isoSpec(ctx, prev, out.HostUUID); err != nil {
			return out, err
		}
	}
	if p.ISOUUID != "" {
		var img models.Image
		if err := a.Store.Get(ctx, store.ResImage, p.ISOUUID, &img); err != nil {
			return out, wrap(err)
		}
		switch {
		case img.MediaType != "ISO":
			return out, wrap(models.Invalid("image[uuid:%s] is a %s, not an ISO", img.UUID, img.MediaType))
		case img.Status != models.ImageReady:
			return out, wrap(models.Conflict("image[uuid:%s] is %s, not %s", img.UUID, img.Status, models.ImageReady))
		}
		if out.ISO, err = a.isoSpec(ctx, img.UUID, out.HostUUID); err != nil {
			return out, err
		}
	}
	if prev == p.ISOUUID {
		return out, nil
	}
	return out, a.setTagValue(ctx, vm.UUID, activities.ISOTag, p.ISOUUID)
}

// VMBootOrderSet records a VM's boot order (CdRom, HardDisk, Network, each
// at most once); it takes effect when the VM next starts, as in ZStack.
func (a *Activities) VMBootOrderSet(ctx context.Context, p activities.BootOrderParams) ([]string, error) {
	vm, err := a.deviceVM(ctx, p.VMUUID, "boot order")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, d := range p.Order {
		switch {
		case d != hostapi.BootCdRom && d != hostapi.BootHardDisk && d != hostapi.BootNetwork:
			return nil, wrap(models.Invalid("boot device %q is not %s, %s or %s", d, hostapi.BootCdRom, hostapi.BootHardDisk, hostapi.BootNetwork))
		case seen[d]:
			return nil, wrap(models.Invalid("boot device %s is listed twice", d))
		}
		seen[d] = true
	}
	prev, err := tagValue(ctx, a.Store, vm.UUID, activities.BootOrderTag)
	if err != nil {
		return nil, err
	}
	var out []string
	if prev != "" {
		out = strings.Split(prev, ",")
	}
	return out, a.setTagValue(ctx, vm.UUID, activities.BootOrderTag, strings.Join(p.Order, ","))
}

// VMConsoleTarget finds the host of a running (or paused) VM and its
// management address.
func (a *Activities) VMConsoleTarget(ctx context.Context, p activities.VMRef) (activities.ConsoleTargetResult, error) {
	var vm models.VMInstance
	if err := a.Store.Get(ctx, store.ResVMInstance, p.VMUUID, &vm); err != nil {
		return activities.ConsoleTargetResult{}, wrap(err)
	}
	if (vm.State != models.VMRunning && vm.State != models.VMPaused) || vm.HostUUID == "" {
		return activities.ConsoleTargetResult{}, wrap(models.Conflict("the vm[uuid:%s] is in state [%s]: only a running vm has a console",
			vm.UUID, vm.State).WithCode(models.CodeVMState))
	}
	var h models.Host
	if err := a.Store.Get(ctx, store.ResHost, string(vm.HostUUID), &h); err != nil {
		return activities.ConsoleTargetResult{}, wrap(err)
	}
	return activities.ConsoleTargetResult{HostUUID: h.UUID, ManagementIP: h.ManagementIP}, nil
}

// computeStates are the VM states whose CPUs and memory may change.
var computeStates = []string{models.VMRunning, models.VMPaused, models.VMStopped}

// VMComputeSet changes a VM's CPUs and memory, and the capacity it holds on
// its host by the difference, in one transaction: a host without the
// capacity refuses (HOST.1007) and nothing changes. Applying the same
// change twice changes nothing more.
func (a *Activities) VMComputeSet(ctx context.Context, p activities.ComputeParams) (activities.ComputeResult, error) {
	var out activities.ComputeResult
	if p.OfferingUUID != "" && p.CPUNum == 0 && p.MemorySize == 0 {
		var o models.InstanceOffering
		if err := a.Store.Get(ctx, store.ResInstanceOffering, p.OfferingUUID, &o); err != nil {
			return out, wrap(err)
		}
		p.CPUNum, p.MemorySize = o.CPUNum, o.MemorySize
	}
	if p.CPUNum < 0 || p.MemorySize < 0 || p.MemorySize%(1<<20) != 0 {
		return out, wrap(models.Invalid("cpuNum %d and memorySize %d must be positive, memory a whole number of MiB", p.CPUNum, p.MemorySize))
	}
	err := a.Store.Tx(ctx, func(tx *sqlx.Tx) error {
		var vm struct {
			State       string `db:"state"`
			HostUUID    string `db:"host_uuid"`
			CPUNum      int    `db:"cpu_num"`
			MemorySize  int64  `db:"memory_size"`
			Offering    string `db:"instance_offering_uuid"`
			Name        string `db:"name"`
			Description string `db:"description"`
		}
		err := tx.GetContext(ctx, &vm, `SELECT state, COALESCE(host_uuid, '') AS host_uuid, cpu_num, memory_size,
			COALESCE(instance_offering_uuid, '') AS instance_offering_uuid, name, COALESCE(description, '') AS description
			FROM vm_instances WHERE uuid = ?`, p.VMUUID)
		if errors.Is(err, sql.ErrNoRows) {
			return models.NotFound("cannot find VmInstance[uuid:%s]", p.VMUUID)
		}
		if err != nil {
			return err
		}
		if !slices.Contains(computeStates, vm.State) {
			return models.Conflict("the vm[uuid:%s] is in state [%s], which does not allow changing its cpu or memory", p.VMUUID, vm.State).WithCode(models.CodeVMState)
		}
		out.State, out.HostUUID = vm.State, vm.HostUUID
		out.Prev = activities.ComputeParams{VMUUID: p.VMUUID, CPUNum: vm.CPUNum, MemorySize: vm.MemorySize, OfferingUUID: vm.Offering,
			Name: vm.Name, Description: vm.Description}
		n := out.Prev
		if p.CPUNum > 0 {
			n.CPUNum = p.CPUNum
		}
		if p.MemorySize > 0 {
			n.MemorySize = p.MemorySize
		}
		if p.OfferingUUID != "" {
			n.OfferingUUID = p.OfferingUUID
		}
		if p.Name != "" {
			n.Name = p.Name
		}
		if p.Description != "" {
			n.Description = p.Description
		}
		out.New = n
		var held struct {
			HostUUID string `db:"host_uuid"`
			CPU      int64  `db:"cpu"`
			Memory   int64  `db:"memory"`
		}
		err = tx.GetContext(ctx, &held, `SELECT host_uuid, cpu, memory FROM vm_host_allocations WHERE vm_uuid = ?`, p.VMUUID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			dc, dm := int64(n.CPUNum)-held.CPU, n.MemorySize-held.Memory
			if dc != 0 || dm != 0 {
				res, err := tx.ExecContext(ctx, `UPDATE hosts SET available_cpu_capacity = available_cpu_capacity - ?,
					available_memory_capacity = available_memory_capacity - ?
					WHERE uuid = ? AND available_cpu_capacity >= ? AND available_memory_capacity >= ?`,
					dc, dm, held.HostUUID, max(dc, 0), max(dm, 0))
				if err != nil {
					return err
				}
				if k, _ := res.RowsAffected(); k == 0 {
					return models.Unavailable("host[uuid:%s] has not enough capacity for %d more cpus and %d more bytes of memory",
						held.HostUUID, dc, dm).WithCode(models.CodeAllocation)
				}
				if _, err := tx.ExecContext(ctx, `UPDATE vm_host_allocations SET cpu = ?, memory = ? WHERE vm_uuid = ?`,
					n.CPUNum, n.MemorySize, p.VMUUID); err != nil {
					return err
				}
			}
		}
		var offering any
		if n.OfferingUUID != "" {
			offering = n.OfferingUUID
		}
		_, err = tx.ExecContext(ctx, `UPDATE vm_instances SET cpu_num = ?, memory_size = ?, instance_offering_uuid = ?, name = ?,
			description = ?, last_op_date = ? WHERE uuid = ?`, n.CPUNum, n.MemorySize, offering, n.Name, n.Description, models.Now(), p.VMUUID)
		return err
	})
	return out, wrap(err)
}
