package db

import (
	"context"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/sshdeploy"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// HypervisorKVM is ZStack's KVM hypervisor type.
const HypervisorKVM = "KVM"

// AgentDeployment is how this control plane deploys the agents of KVM
// hosts: the deployer, and the Temporal frontend as the hosts must dial it.
type AgentDeployment struct {
	Deployer          *sshdeploy.Activities
	TemporalAddress   string
	TemporalNamespace string
	// Config holds extra agent settings (flag name → value), e.g. the
	// libvirt URI or storage directories of a test bed.
	Config map[string]string
	// Driver is the KVM hosts' agent driver: libvirt (empty), or sim for
	// demos and tests of what does not need a hypervisor.
	Driver string
}

// addKVMHost records a KVM host as Connecting; its SSH password was stored
// by the API before the job started.
func addKVMHost(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	var c models.Cluster
	if err := mustExist(ctx, a, store.ResCluster, str(args, "clusterUuid"), &c); err != nil {
		return activities.Result{}, err
	}
	if c.HypervisorType != HypervisorKVM {
		return activities.Result{}, models.Invalid("cluster[uuid:%s] has hypervisorType %s; KVM hosts need a KVM cluster", c.UUID, c.HypervisorType)
	}
	n, err := a.Store.Count(ctx, "hosts", "management_ip = ? AND uuid <> ?", str(args, "managementIp"), str(args, "uuid"))
	if err != nil {
		return activities.Result{}, err
	}
	if n > 0 {
		return activities.Result{}, models.Conflict("a host with management ip %s exists already", str(args, "managementIp")).WithCode("HOST.1000")
	}
	port := int(num(args, "sshPort"))
	if port == 0 {
		port = sshdeploy.DefaultSSHPort
	}
	h := models.Host{Base: base(args), ZoneUUID: c.ZoneUUID, ClusterUUID: c.UUID, ManagementIP: str(args, "managementIp"),
		HypervisorType: HypervisorKVM, State: models.StateEnabled, Status: models.StatusConnecting, Driver: sshdeploy.DefaultDriver,
		Username: models.Ref(orDefault(str(args, "username"), sshdeploy.DefaultUsername)), SSHPort: port}
	return create(ctx, a, store.ResHost, h.UUID, &h, p)
}

// checkHostDeletable refuses to delete a host that VMs are on.
func checkHostDeletable(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	n, err := a.Store.Count(ctx, "vm_instances", "host_uuid = ?", str(args, "uuid"))
	if err != nil {
		return activities.Result{}, err
	}
	if n > 0 {
		return activities.Result{}, models.Conflict("cannot delete host[uuid:%s]: %d vm instances are on it; migrate or delete them first", str(args, "uuid"), n)
	}
	return activities.Result{}, nil
}

// forgetSSHPassword drops the SSH password kept for a resource.
func forgetSSHPassword(ctx context.Context, a *Activities, args map[string]any, _ activities.OpParams) (activities.Result, error) {
	return activities.Result{}, a.Store.DeleteSSHPassword(ctx, str(args, "uuid"))
}

// deleteHostRecord removes a host and its SSH credentials.
func deleteHostRecord(ctx context.Context, a *Activities, args map[string]any, p activities.OpParams) (activities.Result, error) {
	if _, err := deleteOp(store.ResHost, "vm_instances", "host_uuid")(ctx, a, args, p); err != nil {
		return activities.Result{}, err
	}
	return activities.Result{}, a.Store.DeleteSSHPassword(ctx, str(args, "uuid"))
}

func (a *Activities) sshTarget(ctx context.Context, hostUUID string) (sshdeploy.Target, error) {
	var h models.Host
	if err := a.Store.Get(ctx, store.ResHost, hostUUID, &h); err != nil {
		return sshdeploy.Target{}, err
	}
	pw, err := a.Store.SSHPassword(ctx, hostUUID)
	if err != nil {
		return sshdeploy.Target{}, err
	}
	return sshdeploy.Target{ManagementIP: h.ManagementIP, SSHPort: h.SSHPort, Username: string(h.Username), Password: pw}, nil
}

// KVMDeployAgent installs (or updates) and starts the agent of a KVM host
// over SSH; an agent already there with the same binary and configuration
// is left running.
func (a *Activities) KVMDeployAgent(ctx context.Context, p activities.HostRef) (sshdeploy.DeployResult, error) {
	if a.Agents == nil || a.Agents.Deployer == nil {
		return sshdeploy.DeployResult{}, wrap(models.Unavailable("this control plane has no agent binary to deploy to KVM hosts (zcloud server --agent-binary)"))
	}
	t, err := a.sshTarget(ctx, p.HostUUID)
	if err != nil {
		return sshdeploy.DeployResult{}, wrap(err)
	}
	return a.Agents.Deployer.DeployAgent(ctx, sshdeploy.DeployParams{Target: t, HostUUID: p.HostUUID,
		TemporalAddress: a.Agents.TemporalAddress, TemporalNamespace: a.Agents.TemporalNamespace, Config: a.Agents.Config,
		Driver: a.Agents.Driver})
}

// KVMUndeployAgent stops and removes the agent of a KVM host.
func (a *Activities) KVMUndeployAgent(ctx context.Context, p activities.HostRef) (sshdeploy.UndeployResult, error) {
	if a.Agents == nil || a.Agents.Deployer == nil {
		return sshdeploy.UndeployResult{}, wrap(models.Unavailable("this control plane cannot reach KVM hosts over SSH"))
	}
	t, err := a.sshTarget(ctx, p.HostUUID)
	if err != nil {
		if models.AsError(err).Kind == models.KindNotFound {
			return sshdeploy.UndeployResult{}, nil // no host or no credentials: nothing was deployed
		}
		return sshdeploy.UndeployResult{}, wrap(err)
	}
	return a.Agents.Deployer.UndeployAgent(ctx, sshdeploy.UndeployParams{Target: t, HostUUID: p.HostUUID})
}
