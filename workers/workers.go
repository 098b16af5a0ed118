// Package workers wires ZCloud's Temporal workers: the control plane's
// (workflows and database activities) and the in-process fleet of
// simulated host agents.
package workers

import (
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/db"
	"github.com/zcloud/zcloud/workflows"
)

// RegisterControlPlane registers every workflow and control-plane activity.
func RegisterControlPlane(w worker.Registry, acts *db.Activities) {
	for name, fn := range map[string]any{
		workflows.Op:                   workflows.OpWorkflow,
		workflows.CreateVM:             workflows.CreateVMWorkflow,
		workflows.StartVM:              workflows.StartVMWorkflow,
		workflows.StopVM:               workflows.StopVMWorkflow,
		workflows.RebootVM:             workflows.RebootVMWorkflow,
		workflows.DestroyVM:            workflows.DestroyVMWorkflow,
		workflows.RecoverVM:            workflows.RecoverVMWorkflow,
		workflows.ExpungeVM:            workflows.ExpungeVMWorkflow,
		workflows.AddSimHost:           workflows.AddSimulatorHostWorkflow,
		workflows.AddHost:              workflows.AddSimulatorHostWorkflow,
		workflows.AddBackupStorage:     workflows.AddBackupStorageWorkflow,
		workflows.DeleteBackupStorage:  workflows.DeleteBackupStorageWorkflow,
		workflows.ReconnectBS:          workflows.ReconnectBackupStorageWorkflow,
		workflows.AddImage:             workflows.AddImageWorkflow,
		workflows.AttachPS:             workflows.AttachPrimaryStorageWorkflow,
		workflows.ChangeHostState:      workflows.ChangeHostStateWorkflow,
		workflows.BatchAddHosts:        workflows.BatchAddHostsWorkflow,
		workflows.VolumeFromSnapshot:   workflows.CreateDataVolumeFromVolumeSnapshotWorkflow,
		workflows.PauseVM:              workflows.PauseVMWorkflow,
		workflows.ResumeVM:             workflows.ResumeVMWorkflow,
		workflows.MigrateVM:            workflows.MigrateVMWorkflow,
		workflows.AttachVolume:         workflows.AttachDataVolumeWorkflow,
		workflows.DetachVolume:         workflows.DetachDataVolumeWorkflow,
		workflows.DeleteVolume:         workflows.DeleteDataVolumeWorkflow,
		workflows.RecoverVolume:        workflows.RecoverDataVolumeWorkflow,
		workflows.ExpungeVolume:        workflows.ExpungeDataVolumeWorkflow,
		workflows.ResizeVolume:         workflows.ResizeVolumeWorkflow,
		workflows.CreateSnapshot:       workflows.CreateVolumeSnapshotWorkflow,
		workflows.RevertSnapshot:       workflows.RevertVolumeFromSnapshotWorkflow,
		workflows.DeleteSnapshot:       workflows.DeleteVolumeSnapshotWorkflow,
		workflows.Reconnect:            workflows.ReconnectHostWorkflow,
		workflows.HostPing:             workflows.HostPingWorkflow,
		workflows.DeleteHost:           workflows.DeleteHostWorkflow,
		workflows.AttachL2:             workflows.AttachL2Workflow,
		workflows.DetachL2:             workflows.DetachL2Workflow,
		workflows.CreateVxlan:          workflows.CreateVxlanWorkflow,
		workflows.DeleteL2Network:      workflows.DeleteL2NetworkWorkflow,
		workflows.SecurityGroupOp:      workflows.SecurityGroupOpWorkflow,
		workflows.SetVMConsolePassword: workflows.SetVMConsolePasswordWorkflow,
		workflows.VMConsoleAddress:     workflows.VMConsoleAddressWorkflow,
		workflows.SetVMISO:             workflows.SetVMISOWorkflow,
		workflows.SetVMBootOrder:       workflows.SetVMBootOrderWorkflow,
		workflows.ChangeVMCompute:      workflows.ChangeVMComputeWorkflow,
		workflows.AttachVMNIC:          workflows.AttachVMNICWorkflow,
		workflows.DetachVMNIC:          workflows.DetachVMNICWorkflow,
		workflows.GC:                   workflows.GCWorkflow,
	} {
		w.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
	acts.Register(w)
	workflows.RegisterHybrid(w)
	workflows.RegisterRouter(w)
	workflows.RegisterVMClone(w)
	workflows.RegisterVMGuest(w)
	workflows.RegisterVolumeQoS(w)
	workflows.RegisterImages(w)
	workflows.RegisterStorageLifecycle(w)
	workflows.RegisterSftp(w)
	workflows.RegisterVRouter(w)
	workflows.RegisterTags(w)
}

// NewControlPlane returns the control plane's worker on activities.TaskQueue.
// Workflow tasks are short (local activities do the DB work), so many run at
// once; sticky caching keeps replays rare.
func NewControlPlane(c client.Client, acts *db.Activities) worker.Worker {
	w := worker.New(c, activities.TaskQueue, worker.Options{
		MaxConcurrentWorkflowTaskExecutionSize:  256,
		MaxConcurrentLocalActivityExecutionSize: 256,
		MaxConcurrentActivityExecutionSize:      64,
		MaxConcurrentWorkflowTaskPollers:        8,
		MaxConcurrentActivityTaskPollers:        2,
		StickyScheduleToStartTimeout:            0,
	})
	RegisterControlPlane(w, acts)
	return w
}
