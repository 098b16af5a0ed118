package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/models"
)

// ActHybridEcsCreateRecord inserts the local row of an instance being
// created (status Creating) with its resolved references.
const ActHybridEcsCreateRecord = "aliyun.EcsCreateRecord"

// HybridCreateEcsWorkflow creates an ECS instance as a saga: local row →
// CreateInstance (with a ClientToken, so a retry after a crash makes no
// second instance) → wait Stopped → StartInstance → wait Running → record.
// A failure at any step deletes the remote instance and the row.
func HybridCreateEcsWorkflow(ctx workflow.Context, p HybridParams) (res HybridResult, err error) {
	var s saga
	defer func() {
		if err != nil {
			s.compensate(ctx)
		}
	}()
	lr := LocalRef{Resource: "EcsInstance", UUID: p.UUID}
	if err = local(ctx, ActHybridEcsCreateRecord, p, nil); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error { return local(ctx, ActHybridDeleteLocal, lr, nil) })

	var ref RemoteRef
	if err = remote(ctx, ActAliyunCreate, HybridParams{What: KindInstance, UUID: p.UUID, AccountUUID: p.AccountUUID, Args: p.Args}, &ref); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return workflow.ExecuteActivity(waitCtx(ctx), ActAliyunDelete, ref).Get(ctx, nil)
	})

	if err = wait(ctx, WaitParams{Ref: ref, Want: []string{models.EcsStopped, models.EcsRunning}}); err != nil {
		return res, err
	}
	if err = remote(ctx, ActAliyunAction, ActionParams{Ref: ref, Action: ActionStart}, nil); err != nil {
		return res, err
	}
	if err = wait(ctx, WaitParams{Ref: ref, Want: []string{models.EcsRunning}}); err != nil {
		return res, err
	}
	err = remote(ctx, ActAliyunRecord, RecordParams{Ref: ref, Args: p.Args, SystemTags: p.SystemTags, UserTags: p.UserTags}, &res)
	return res, err
}

// ecsOps are the lifecycle operations: the states they start from, the
// transitional state they hold meanwhile, the remote action and the state
// they end in.
var ecsOps = map[string]struct {
	from      []string
	via, want string
}{
	ActionStart:  {[]string{models.EcsStopped}, models.EcsStarting, models.EcsRunning},
	ActionStop:   {[]string{models.EcsRunning}, models.EcsStopping, models.EcsStopped},
	ActionReboot: {[]string{models.EcsRunning}, models.EcsStarting, models.EcsRunning},
}

// HybridEcsOpWorkflow starts, stops, reboots or modifies an instance. The
// local status moves first with one conditional update (a wrong state
// fails at once and changes nothing); a failure puts it back.
func HybridEcsOpWorkflow(ctx workflow.Context, p EcsOpParams) (res HybridResult, err error) {
	var s saga
	defer func() {
		if err != nil {
			s.compensate(ctx)
		}
	}()
	op, lifecycle := ecsOps[p.Op]
	if lifecycle {
		var prev string
		if err = local(ctx, ActHybridEcsTransition, EcsTransitionParams{UUID: p.UUID, From: op.from, To: op.via}, &prev); err != nil {
			return res, err
		}
		s.add(func(ctx workflow.Context) error {
			return local(ctx, ActHybridEcsTransition, EcsTransitionParams{UUID: p.UUID, To: prev}, nil)
		})
	}
	var ref RemoteRef
	if err = remote(ctx, ActAliyunLookup, LocalRef{Resource: "EcsInstance", UUID: p.UUID}, &ref); err != nil {
		return res, err
	}
	ref.AccountUUID = p.AccountUUID
	if err = remote(ctx, ActAliyunAction, ActionParams{Ref: ref, Action: p.Op, Args: p.Args}, nil); err != nil {
		return res, err
	}
	if lifecycle {
		if err = wait(ctx, WaitParams{Ref: ref, Want: []string{op.want}}); err != nil {
			return res, err
		}
	}
	err = remote(ctx, ActAliyunRecord, RecordParams{Ref: ref}, &res)
	return res, err
}

// HybridEipOpWorkflow attaches an EIP to an instance (compensated by a
// detach) or detaches it, waiting for Alibaba's InUse/Available.
func HybridEipOpWorkflow(ctx workflow.Context, p EipOpParams) (res HybridResult, err error) {
	var s saga
	defer func() {
		if err != nil {
			s.compensate(ctx)
		}
	}()
	var eip, ecs RemoteRef
	if err = remote(ctx, ActAliyunLookup, LocalRef{Resource: "HybridEipAddress", UUID: p.EipUUID}, &eip); err != nil {
		return res, err
	}
	eip.AccountUUID = p.AccountUUID
	ecsUUID := p.EcsUUID
	if !p.Attach {
		ecsUUID = eip.Extra["allocateResourceUuid"]
		if ecsUUID == "" {
			return inventory(ctx, "HybridEipAddress", p.EipUUID, "inventory") // not attached: nothing to do
		}
	}
	if err = remote(ctx, ActAliyunLookup, LocalRef{Resource: "EcsInstance", UUID: ecsUUID}, &ecs); err != nil {
		return res, err
	}
	args := map[string]any{"instanceId": ecs.ID}
	if p.Attach {
		if err = remote(ctx, ActAliyunAction, ActionParams{Ref: eip, Action: ActionAssociate, Args: args}, nil); err != nil {
			return res, err
		}
		s.add(func(ctx workflow.Context) error {
			return remote(ctx, ActAliyunAction, ActionParams{Ref: eip, Action: ActionUnassociate, Args: args}, nil)
		})
		if err = wait(ctx, WaitParams{Ref: eip, Want: []string{"InUse"}}); err != nil {
			return res, err
		}
	} else {
		if err = remote(ctx, ActAliyunAction, ActionParams{Ref: eip, Action: ActionUnassociate, Args: args}, nil); err != nil {
			return res, err
		}
		if err = wait(ctx, WaitParams{Ref: eip, Want: []string{"Available"}}); err != nil {
			return res, err
		}
	}
	err = remote(ctx, ActAliyunRecord, RecordParams{Ref: eip}, &res)
	return res, err
}
