// Package db implements the control plane's activities: database steps,
// allocation and IPAM. Workflows run most of them as local activities.
package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/secret"
	"github.com/zcloud/zcloud/models/store"
)

// Activities holds the dependencies of the control plane's activities.
type Activities struct {
	Store  *store.Store
	Logger *slog.Logger
	Faults *Faults
	// Agents deploys the agents of KVM hosts; nil when this control plane
	// has no agent binary.
	Agents *AgentDeployment
	// Secrets is the control plane's secret key: it keeps IPsec
	// pre-shared keys encrypted at rest. Nil: none can be kept.
	Secrets *secret.ControlPlane
	// Temporal starts the workflows steps join (a vRouter network's
	// EnsureVRouter); nil: routers cannot be created on demand.
	Temporal client.Client
}

// Register registers every control-plane activity under its contract name.
func (a *Activities) Register(w worker.Registry) {
	for name, fn := range map[string]any{
		activities.RunOp:                  a.RunOp,
		activities.Inventory:              a.Inventory,
		activities.VMCreateRecord:         a.VMCreateRecord,
		activities.VMDeleteRecord:         a.VMDeleteRecord,
		activities.VMAllocateHost:         a.VMAllocateHost,
		activities.VMAllocateHostForStart: a.VMAllocateHostForStart,
		activities.VMReleaseHost:          a.VMReleaseHost,
		activities.VMAllocateVolumes:      a.VMAllocateVolumes,
		activities.VMReleaseVolumes:       a.VMReleaseVolumes,
		activities.VMAllocateNICs:         a.VMAllocateNICs,
		activities.VMReleaseNICs:          a.VMReleaseNICs,
		activities.VMAllocateIPs:          a.VMAllocateIPs,
		activities.VMReleaseIPs:           a.VMReleaseIPs,
		activities.VMSpec:                 a.VMSpec,
		activities.VMSetState:             a.VMSetState,
		activities.VMTransition:           a.VMTransition,
		activities.VMExpungeRecord:        a.VMExpungeRecord,
		activities.VolumeSetHost:          a.VolumeSetHost,
		activities.DeletePolicy:           a.DeletePolicy,
		activities.HostInfo:               a.HostInfo,
		activities.HostRecordConnect:      a.HostRecordConnect,
		activities.HostRecordPing:         a.HostRecordPing,
		activities.KVMDeployAgent:         a.KVMDeployAgent,
		activities.KVMUndeployAgent:       a.KVMUndeployAgent,
		activities.BSDeployAgent:          a.BSDeployAgent,
		activities.BSUndeployAgent:        a.BSUndeployAgent,
		activities.BSRecordConnect:        a.BSRecordConnect,
		activities.ImageAddRecord:         a.ImageAddRecord,
		activities.ImageRecordDownloaded:  a.ImageRecordDownloaded,
		activities.ImageDeleteRecord:      a.ImageDeleteRecord,
		activities.VolumeInfo:             a.VolumeInfo,
		activities.VolumePlace:            a.VolumePlace,
		activities.VolumeUnplace:          a.VolumeUnplace,
		activities.VolumeSetAttachment:    a.VolumeSetAttachment,
		activities.VolumeSetSize:          a.VolumeSetSize,
		activities.VolumeNextDevice:       a.VolumeNextDevice,
		activities.VolumeSetStatus:        a.VolumeSetStatus,
		activities.VolumeDeleteRecord:     a.VolumeDeleteRecord,
		activities.SnapshotInfo:           a.SnapshotInfo,
		activities.SnapshotRecord:         a.SnapshotRecord,
		activities.SnapshotDeleteRec:      a.SnapshotDeleteRecord,
		activities.VMMigrationTarget:      a.VMMigrationTarget,
		activities.VMMoveHost:             a.VMMoveHost,
		activities.HostStorages:           a.HostStorages,
		activities.ClusterHosts:           a.ClusterHosts,
		activities.PSRecordCapacity:       a.PSRecordCapacity,
		activities.HostVMs:                a.HostVMs,
		activities.Render:                 a.Render,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	a.registerRouter(w)
	a.registerNetworkHost(w)
	a.registerVMDevices(w)
	a.registerVMNICs(w)
	a.registerVMClone(w)
	a.registerVMGuest(w)
	a.registerVolumeQoS(w)
	a.registerImages(w)
	a.registerSftp(w)
	a.registerStorageLifecycle(w)
	a.registerVRouter(w)
	a.registerTags(w)
	a.registerGC(w)
}

// wrap turns a ZCloud error into a non-retryable ApplicationError carrying
// the models.Error, so that the API can answer with its ZStack code; other
// errors stay retryable.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	var me *models.Error
	if errors.As(err, &me) && me.Kind != models.KindInternal {
		return temporal.NewNonRetryableApplicationError(me.Error(), activities.ErrType, nil, *me)
	}
	return err
}

// Faults injects failures into named steps, for the proofs that every
// step rolls back. Steps are activity names; it is empty in production.
type Faults struct {
	mu    sync.Mutex
	fails map[string]string
}

// NewFaultsFromEnv reads ZCLOUD_FAULTS ("db.VMAllocateIPs=boom,...").
func NewFaultsFromEnv() *Faults {
	f := &Faults{}
	for _, kv := range strings.Split(os.Getenv("ZCLOUD_FAULTS"), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			f.Set(k, v)
		}
	}
	return f
}

// Set makes step fail with msg; an empty msg clears it.
func (f *Faults) Set(step, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails == nil {
		f.fails = map[string]string{}
	}
	if msg == "" {
		delete(f.fails, step)
		return
	}
	f.fails[step] = msg
}

// check returns the injected failure of a step, if any.
func (f *Faults) check(step string) error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if msg, ok := f.fails[step]; ok {
		return (&models.Error{Kind: models.KindUnavailable, Code: models.CodeOperation,
			Message: fmt.Sprintf("injected failure at %s", step), Details: msg})
	}
	return nil
}

// result renders a value under a reply key.
func result(key string, v any) (activities.Result, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return activities.Result{}, fmt.Errorf("render %s: %w", key, err)
	}
	return activities.Result{Key: key, Value: b}, nil
}

// Inventory renders one resource as a job result.
func (a *Activities) Inventory(ctx context.Context, p activities.InventoryParams) (activities.Result, error) {
	inv, err := a.Store.Inventory(ctx, p.Resource, p.UUID)
	if err != nil {
		return activities.Result{}, wrap(err)
	}
	return result(p.Key, inv)
}

// Render renders a value as a job's result.
func (a *Activities) Render(_ context.Context, p activities.RenderParams) (activities.Result, error) {
	return result(p.Key, p.Value)
}
