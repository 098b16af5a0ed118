package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
)

// ErrTypeAliyunRetry mirrors activities/aliyun.ErrTypeRetry: throttling and
// transient Alibaba failures, retried with backoff.
const ErrTypeAliyunRetry = "AliyunRetryable"

// remoteCtx runs an Alibaba call as a regular activity on the control
// plane's queue: remote calls are slow and may be throttled, so they get
// Temporal's retry with exponential backoff (business errors are final).
// One such activity makes a few calls of at most the client timeout (10 s)
// each, so 30 s bounds it: a worker that dies mid-call is noticed then, and
// the activity runs again with the same ClientToken (no second resource).
func remoteCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           activities.TaskQueue,
		StartToCloseTimeout: remoteTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        200 * time.Millisecond,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Second,
			MaximumAttempts:        10,
			NonRetryableErrorTypes: []string{activities.ErrType},
		},
	})
}

// remoteTimeout bounds one remote (non-heartbeating) Alibaba activity.
const remoteTimeout = 30 * time.Second

// waitCtx runs a long wait for an asynchronous Alibaba state: it
// heartbeats every poll, so a dead worker is noticed in 30 s.
func waitCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           activities.TaskQueue,
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        200 * time.Millisecond,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Second,
			MaximumAttempts:        10,
			NonRetryableErrorTypes: []string{activities.ErrType},
		},
	})
}

func remote(ctx workflow.Context, name string, arg any, result any) error {
	return workflow.ExecuteActivity(remoteCtx(ctx), name, arg).Get(ctx, result)
}

func wait(ctx workflow.Context, p WaitParams) error {
	return workflow.ExecuteActivity(waitCtx(ctx), ActAliyunWait, p).Get(ctx, nil)
}

// HybridAddKeyWorkflow validates an AccessKey with Alibaba and records it.
func HybridAddKeyWorkflow(ctx workflow.Context, p AddKeyParams) (HybridResult, error) {
	var r HybridResult
	err := remote(ctx, ActAliyunAddKey, p, &r)
	return r, err
}

// HybridReadWorkflow answers a synchronous Get*FromRemote API.
func HybridReadWorkflow(ctx workflow.Context, p HybridParams) (HybridResult, error) {
	var r HybridResult
	err := remote(ctx, ActAliyunRead, p, &r)
	return r, err
}

// HybridSyncWorkflow mirrors a scope of Alibaba resources in the inventory.
func HybridSyncWorkflow(ctx workflow.Context, p HybridParams) (HybridResult, error) {
	var r HybridResult
	err := workflow.ExecuteActivity(waitCtx(ctx), ActAliyunSync, p).Get(ctx, &r)
	return r, err
}

// HybridAddDataCenterWorkflow adds a region and starts its periodic sync
// (HybridSyncLoopWorkflow); a failure removes the data center again.
func HybridAddDataCenterWorkflow(ctx workflow.Context, p HybridParams) (res HybridResult, err error) {
	var s saga
	defer func() {
		if err != nil {
			s.compensate(ctx)
		}
	}()
	if err = remote(ctx, ActAliyunAddDataCenter, p, &res); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, ActHybridDeleteLocal, LocalRef{Resource: "DataCenter", UUID: p.UUID}, nil)
	})
	if workflow.GetVersion(ctx, "2026-11-25-hybrid-sync-loop", workflow.DefaultVersion, 1) != workflow.DefaultVersion {
		startSyncLoop(ctx, p.UUID)
	}
	return res, nil
}

// HybridAddIdentityZoneWorkflow adds one zone of a data center.
func HybridAddIdentityZoneWorkflow(ctx workflow.Context, p HybridParams) (HybridResult, error) {
	var r HybridResult
	err := remote(ctx, ActAliyunAddIdentityZone, p, &r)
	return r, err
}

// readyStates are the states a new resource of each kind is waited into.
var readyStates = map[string][]string{
	KindVpc:        {"Available"},
	KindVSwitch:    {"Available"},
	KindEip:        {"Available"},
	KindRouteEntry: {"Available", "Created"},
	// A new router interface is Idle until StartConnection pairs it.
	KindRouterInterface: {"Idle"},
}

// HybridCreateWorkflow creates one remote resource (VPC, VSwitch, security
// group, rule, EIP) as a saga: create → wait until ready → record. A
// failure after the create deletes the remote resource again.
func HybridCreateWorkflow(ctx workflow.Context, p HybridParams) (res HybridResult, err error) {
	var s saga
	defer func() {
		if err != nil {
			s.compensate(ctx)
		}
	}()
	var ref RemoteRef
	if err = remote(ctx, ActAliyunCreate, p, &ref); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return workflow.ExecuteActivity(waitCtx(ctx), ActAliyunDelete, ref).Get(ctx, nil)
	})
	if want, ok := readyStates[p.What]; ok {
		if err = wait(ctx, WaitParams{Ref: ref, Want: want}); err != nil {
			return res, err
		}
	}
	if p.What == KindVpnConnection {
		// A new connection puts its VPN gateway into "updating".
		gw := RemoteRef{Kind: KindVpnGateway, ID: ref.Extra["vpnGatewayId"], Region: ref.Region, AccountUUID: ref.AccountUUID}
		if err = wait(ctx, WaitParams{Ref: gw, Want: []string{"active"}}); err != nil {
			return res, err
		}
	}
	if err = remote(ctx, ActAliyunRecord, RecordParams{Ref: ref, Args: p.Args, SystemTags: p.SystemTags, UserTags: p.UserTags}, &res); err != nil {
		return res, err
	}
	return res, nil
}

// HybridDeleteRemoteWorkflow deletes a remote resource (p.What names its
// store resource) and then its row. An instance is first moved to
// Deleting, so no other operation runs on it meanwhile; a failed delete
// puts its status back.
func HybridDeleteRemoteWorkflow(ctx workflow.Context, p HybridParams) (res HybridResult, err error) {
	var s saga
	defer func() {
		if err != nil {
			s.compensate(ctx)
		}
	}()
	lr := LocalRef{Resource: p.What, UUID: p.UUID, Optional: true}
	var ref RemoteRef
	if err = remote(ctx, ActAliyunLookup, lr, &ref); err != nil {
		return res, err
	}
	if ref.Kind == "" {
		return res, nil // the row is gone already
	}
	ref.AccountUUID = p.AccountUUID
	if ref.Kind == KindInstance {
		var prev string
		if err = local(ctx, ActHybridEcsTransition, EcsTransitionParams{UUID: p.UUID, From: []string{models.EcsRunning, models.EcsStopped}, To: models.EcsDeleting}, &prev); err != nil {
			return res, err
		}
		s.add(func(ctx workflow.Context) error {
			return local(ctx, ActHybridEcsTransition, EcsTransitionParams{UUID: p.UUID, To: prev}, nil)
		})
	}
	if ref.ID != "" {
		if err = workflow.ExecuteActivity(waitCtx(ctx), ActAliyunDelete, ref).Get(ctx, nil); err != nil {
			return res, err
		}
	}
	err = local(ctx, ActHybridDeleteLocal, lr, nil)
	return res, err
}

// RegisterHybrid registers the hybrid cloud's workflows under their names.
func RegisterHybrid(w workflowRegistry) {
	for name, fn := range map[string]any{
		HybridAddKey:             HybridAddKeyWorkflow,
		HybridRead:               HybridReadWorkflow,
		HybridSync:               HybridSyncWorkflow,
		HybridAddDataCenter:      HybridAddDataCenterWorkflow,
		HybridAddIdentityZone:    HybridAddIdentityZoneWorkflow,
		HybridCreate:             HybridCreateWorkflow,
		HybridDeleteRemote:       HybridDeleteRemoteWorkflow,
		HybridCreateEcs:          HybridCreateEcsWorkflow,
		HybridEcsOp:              HybridEcsOpWorkflow,
		HybridEipOp:              HybridEipOpWorkflow,
		HybridCreateEcsImage:     HybridCreateEcsImageWorkflow,
		HybridRecord:             HybridRecordWorkflow,
		HybridAddVpnConfig:       HybridAddVpnConfigWorkflow,
		HybridUpdateRemote:       HybridUpdateRemoteWorkflow,
		HybridConnectInterfaces:  HybridConnectInterfacesWorkflow,
		HybridInterconnect:       HybridInterconnectWorkflow,
		HybridDeleteInterconnect: HybridDeleteInterconnectWorkflow,
		HybridSyncLoop:           HybridSyncLoopWorkflow,
	} {
		w.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
}

// workflowRegistry is the part of a Temporal worker that registers workflows.
type workflowRegistry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// HybridAddVpnConfig is the workflow recording an IKE or IPsec configuration.
const HybridAddVpnConfig = "zcloud.HybridAddVpnConfig"

// HybridAddVpnConfigWorkflow records an IKE configuration (its pre-shared
// key arrives sealed and is stored encrypted) or an IPsec configuration.
func HybridAddVpnConfigWorkflow(ctx workflow.Context, p HybridParams) (HybridResult, error) {
	var r HybridResult
	err := local(ctx, ActHybridAddVpnConfig, p, &r)
	return r, err
}
