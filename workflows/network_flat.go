package workflows

import (
	"net/netip"
	"slices"

	"go.temporal.io/sdk/workflow"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/netapi"
	"github.com/zcloud/zcloud/models"
)

// Flat networking workflows (FEATURES.md items 49, 51, 52, 57): the L2 and
// security group APIs that change what hosts run, and the steps VM
// workflows take to give a host the DHCP leases and firewalls of the VMs it
// runs. The database computes the desired state (netapi.Net* local
// activities); the hosts converge to it (netapi.Act* on host queues).
const (
	AttachL2        = "zcloud.AttachL2NetworkToCluster"
	DetachL2        = "zcloud.DetachL2NetworkFromCluster"
	CreateVxlan     = "zcloud.CreateL2VxlanNetwork"
	DeleteL2Network = "zcloud.DeleteL2Network"
	SecurityGroupOp = "zcloud.SecurityGroupOp"
)

// flatNetChange gates the flat-network steps added to released workflows
// (VM lifecycle, host connect).
const flatNetChange = "2026-11-25-flat-network"

func flatNetOn(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, flatNetChange, workflow.DefaultVersion, 1) == 1
}

// L2OpParams runs an L2 API: its database operation and the L2 network
// (and cluster) it is about, read from the params by the API so that the
// workflow parses no JSON.
type L2OpParams struct {
	Op          activities.OpParams `json:"op"`
	L2UUID      string              `json:"l2NetworkUuid"`
	ClusterUUID string              `json:"clusterUuid,omitempty"`
}

// AttachL2Workflow attaches an L2 network (a VXLAN pool with its networks)
// to a cluster and realises its bridges on every connected host of the
// cluster. Any failure deletes the bridges made and detaches it again; a
// VLAN network fails on kernels without 802.1Q with "not supported".
func AttachL2Workflow(ctx workflow.Context, p L2OpParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	if err = local(ctx, activities.RunOp, p.Op, &res); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		return local(ctx, activities.RunOp, activities.OpParams{Op: "DetachL2NetworkFromCluster", Args: p.Op.Args, AccountUUID: p.Op.AccountUUID}, nil)
	})
	var plan netapi.ClusterL2sResult
	if err = local(ctx, netapi.NetClusterL2s, netapi.ClusterL2sParams{ClusterUUID: p.ClusterUUID, L2UUIDs: []string{p.L2UUID}, Attached: true}, &plan); err != nil {
		return res, err
	}
	if err = realizeL2s(ctx, &s, plan); err != nil {
		return res, err
	}
	return res, nil
}

// DetachL2Workflow detaches an L2 network from a cluster, then deletes its
// bridges on the cluster's hosts. A bridge still in use (a VM's tap on it)
// is kept and logged; the detach stands.
func DetachL2Workflow(ctx workflow.Context, p L2OpParams) (res activities.Result, err error) {
	var plan netapi.ClusterL2sResult
	if err = local(ctx, netapi.NetClusterL2s, netapi.ClusterL2sParams{ClusterUUID: p.ClusterUUID, L2UUIDs: []string{p.L2UUID}, Attached: true}, &plan); err != nil {
		return res, err
	}
	if err = local(ctx, activities.RunOp, p.Op, &res); err != nil {
		return res, err
	}
	unrealizeL2s(ctx, plan)
	return res, nil
}

// CreateVxlanWorkflow creates a VXLAN network in a pool and realises it in
// every cluster the pool is attached to; a failure deletes both.
func CreateVxlanWorkflow(ctx workflow.Context, p L2OpParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	uuid := p.L2UUID
	if err = local(ctx, activities.RunOp, p.Op, &res); err != nil {
		return res, err
	}
	del := activities.OpParams{Op: "DeleteL2Network", Args: []byte(`{"uuid":"` + uuid + `"}`), AccountUUID: p.Op.AccountUUID}
	s.add(func(ctx workflow.Context) error { return local(ctx, activities.RunOp, del, nil) })
	var clusters []string
	if err = local(ctx, netapi.NetL2Clusters, uuid, &clusters); err != nil {
		return res, err
	}
	for _, c := range clusters {
		var plan netapi.ClusterL2sResult
		if err = local(ctx, netapi.NetClusterL2s, netapi.ClusterL2sParams{ClusterUUID: c, L2UUIDs: []string{uuid}, Attached: true}, &plan); err != nil {
			return res, err
		}
		if err = realizeL2s(ctx, &s, plan); err != nil {
			return res, err
		}
	}
	return res, nil
}

// DeleteL2NetworkWorkflow deletes an L2 network record, then its bridges on
// the hosts of the clusters it was attached to.
func DeleteL2NetworkWorkflow(ctx workflow.Context, p L2OpParams) (res activities.Result, err error) {
	uuid := p.L2UUID
	var clusters []string
	if err = local(ctx, netapi.NetL2Clusters, uuid, &clusters); err != nil {
		return res, err
	}
	var plans []netapi.ClusterL2sResult
	for _, c := range clusters {
		var plan netapi.ClusterL2sResult
		if err = local(ctx, netapi.NetClusterL2s, netapi.ClusterL2sParams{ClusterUUID: c, L2UUIDs: []string{uuid}, Attached: true}, &plan); err != nil {
			return res, err
		}
		plans = append(plans, plan)
	}
	if err = local(ctx, activities.RunOp, p.Op, &res); err != nil {
		return res, err
	}
	for _, plan := range plans {
		unrealizeL2s(ctx, plan)
	}
	return res, nil
}

// realizeL2s makes every L2 of the plan on every host of it. VXLAN networks
// need each host's VTEP (its address inside the pool's VTEP CIDR for the
// cluster) and the others' as peers, so the hosts report their addresses
// first. With s, each bridge's deletion is registered before it is made.
func realizeL2s(ctx workflow.Context, s *saga, plan netapi.ClusterL2sResult) error {
	if len(plan.Hosts) == 0 || len(plan.L2s) == 0 {
		return nil
	}
	addrs := make([][]netip.Prefix, len(plan.Hosts))
	if slices.ContainsFunc(plan.L2s, func(l netapi.ClusterL2) bool { return l.Spec.Type == netapi.L2VXLAN }) {
		for i, h := range plan.Hosts {
			var r netapi.HostAddressesResult
			if err := onHost(ctx, h, netapi.ActHostAddresses, netapi.HostAddressesParams{HostUUID: h}, &r); err != nil {
				return err
			}
			addrs[i] = r.Addresses
		}
	}
	for _, l := range plan.L2s {
		vteps := make([]netip.Addr, len(plan.Hosts))
		// Hosts that do not answer stay peers with the VTEP they had: a
		// lost agent does not mean a lost data plane.
		var lost []netip.Addr
		if l.Spec.Type == netapi.L2VXLAN {
			for i, h := range plan.Hosts {
				v, ok := netapi.PickVTEP(addrs[i], l.VTEPCIDR)
				if !ok {
					return businessError(models.Invalid("host[uuid:%s] has no address in the vtep cidr %s of l2 network[uuid:%s]", h, l.VTEPCIDR, l.Spec.UUID))
				}
				vteps[i] = v
			}
			for _, h := range plan.Lost {
				if v, ok := netapi.PickVTEP(h.Addresses, l.VTEPCIDR); ok {
					lost = append(lost, v)
				}
			}
		}
		for i, h := range plan.Hosts {
			spec := l.Spec
			if spec.Type == netapi.L2VXLAN {
				spec.VTEPIP = vteps[i]
				spec.Peers = slices.Concat(vteps[:i], vteps[i+1:], lost)
			}
			if s != nil {
				s.add(func(ctx workflow.Context) error {
					return onHost(ctx, h, netapi.ActDeleteL2, netapi.DeleteL2Params{HostUUID: h, L2: spec}, nil)
				})
			}
			var out netapi.EnsureL2Result
			if err := onHost(ctx, h, netapi.ActEnsureL2, netapi.EnsureL2Params{HostUUID: h, L2: spec}, &out); err != nil {
				return err
			}
		}
	}
	return nil
}

// unrealizeL2s deletes the plan's bridges. It runs after the database
// change, so it only logs what it cannot do: a bridge still in use, or a
// host that does not answer (left to the garbage collector).
func unrealizeL2s(ctx workflow.Context, plan netapi.ClusterL2sResult) {
	log := workflow.GetLogger(ctx)
	for _, l := range plan.L2s {
		for _, h := range plan.Hosts {
			var out netapi.DeleteL2Result
			if err := onHost(ctx, h, netapi.ActDeleteL2, netapi.DeleteL2Params{HostUUID: h, L2: l.Spec}, &out); err != nil {
				log.Warn("bridge not deleted", "host_uuid", h, "l2_uuid", l.Spec.UUID, "error", err)
			} else if out.InUse != "" {
				log.Warn("bridge kept: in use", "host_uuid", h, "l2_uuid", l.Spec.UUID, "reason", out.InUse)
			}
		}
	}
}

// connectNetwork realises every L2 of a connecting host's cluster on all
// its hosts (the newcomer's VTEP joins the others' flood lists). A failure
// is logged, not fatal: the host is usable for everything else, and a VM's
// start on it fails clearly if its bridge is missing.
func connectNetwork(ctx workflow.Context, hostUUID string) {
	if !flatNetOn(ctx) {
		return
	}
	var plan netapi.ClusterL2sResult
	err := local(ctx, netapi.NetClusterL2s, netapi.ClusterL2sParams{HostUUID: hostUUID, Attached: true}, &plan)
	if err == nil {
		err = realizeL2s(ctx, nil, plan)
	}
	if err != nil {
		workflow.GetLogger(ctx).Warn("l2 networks not realised on connect", "host_uuid", hostUUID, "error", err)
	}
}

// hostCluster is the cluster of a networked host ("" otherwise), read
// before the host goes.
func hostCluster(ctx workflow.Context, hostUUID string) string {
	if !flatNetOn(ctx) {
		return ""
	}
	var plan netapi.ClusterL2sResult
	if err := local(ctx, netapi.NetClusterL2s, netapi.ClusterL2sParams{HostUUID: hostUUID, Attached: true}, &plan); err != nil || len(plan.L2s) == 0 {
		return ""
	}
	return plan.ClusterUUID
}

// leaveNetwork realises a cluster's L2s again on its remaining hosts after
// one left, which drops the leaver's VTEP from their flood lists. A
// failure is logged: the host is gone whatever the others do.
func leaveNetwork(ctx workflow.Context, clusterUUID string) {
	if clusterUUID == "" {
		return
	}
	var plan netapi.ClusterL2sResult
	err := local(ctx, netapi.NetClusterL2s, netapi.ClusterL2sParams{ClusterUUID: clusterUUID, Attached: true}, &plan)
	if err == nil {
		err = realizeL2s(ctx, nil, plan)
	}
	if err != nil {
		workflow.GetLogger(ctx).Warn("vxlan peers not updated after a host left", "cluster_uuid", clusterUUID, "error", err)
	}
}

// flatEIPChange gates the flat EIP steps added to released workflows
// (router changes; VM lifecycle steps only when a VM has a flat EIP).
const flatEIPChange = "2026-11-25-flat-eip"

func flatEIPOn(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, flatEIPChange, workflow.DefaultVersion, 1) == 1
}

// placeFlatEIPs plans the flat EIPs of p and converges the hosts: removals
// first (an EIP leaving a host), then ensures. The plan is stored in out
// (when not nil) as soon as it is known, so that a compensation can plan
// the same EIPs again.
func placeFlatEIPs(ctx workflow.Context, p netapi.EIPPlanParams, out *netapi.EIPPlan) error {
	var plan netapi.EIPPlan
	if err := local(ctx, netapi.NetEIPPlan, p, &plan); err != nil {
		return err
	}
	if out != nil {
		*out = plan
	}
	for _, d := range plan.Delete {
		if err := onHost(ctx, d.HostUUID, netapi.ActDeleteEIP, d, nil); err != nil {
			return err
		}
	}
	for _, e := range plan.Ensure {
		if err := onHost(ctx, e.HostUUID, netapi.ActEnsureEIP, e, nil); err != nil {
			return err
		}
	}
	return nil
}

// applyHostPlan converges a host to a plan: DHCP servers first (so a guest
// booting finds its lease), then firewalls.
func applyHostPlan(ctx workflow.Context, hostUUID string, p netapi.HostPlan) error {
	if !p.Networked {
		return nil
	}
	for _, d := range p.DHCP {
		if err := onHost(ctx, hostUUID, netapi.ActSetDHCP, netapi.SetDHCPParams{HostUUID: hostUUID, DHCP: d}, nil); err != nil {
			return err
		}
	}
	for _, l3 := range p.DeleteDHCP {
		if err := onHost(ctx, hostUUID, netapi.ActDeleteDHCP, netapi.DeleteDHCPParams{HostUUID: hostUUID, L3UUID: l3}, nil); err != nil {
			return err
		}
	}
	for _, f := range p.Firewalls {
		if err := onHost(ctx, f.HostUUID, netapi.ActApplySecurityGroups, f, nil); err != nil {
			return err
		}
	}
	for _, r := range p.Remove {
		if err := onHost(ctx, r.HostUUID, netapi.ActRemoveNIC, r, nil); err != nil {
			return err
		}
	}
	if len(p.EIPs)+len(p.DeleteEIPs) == 0 || !flatEIPOn(ctx) {
		return nil
	}
	for _, d := range p.DeleteEIPs {
		if err := onHost(ctx, d.HostUUID, netapi.ActDeleteEIP, d, nil); err != nil {
			return err
		}
	}
	for _, e := range p.EIPs {
		if err := onHost(ctx, e.HostUUID, netapi.ActEnsureEIP, e, nil); err != nil {
			return err
		}
	}
	return nil
}

// hostNetwork converges a host's DHCP and firewalls for a VM counted on
// (include) or off it.
func hostNetwork(ctx workflow.Context, hostUUID, vmUUID string, include bool) error {
	var plan netapi.HostPlan
	if err := local(ctx, netapi.NetHostPlan, netapi.HostPlanParams{HostUUID: hostUUID, VMUUID: vmUUID, Include: include}, &plan); err != nil {
		return err
	}
	return applyHostPlan(ctx, hostUUID, plan)
}

// ensureVMNetwork gives a host what a VM about to run there needs: its
// NICs' DHCP leases and firewalls. Its compensation, registered first,
// takes them away again.
func ensureVMNetwork(ctx workflow.Context, s *saga, vmUUID, hostUUID string) error {
	if !flatNetOn(ctx) {
		return nil
	}
	s.add(func(ctx workflow.Context) error { return hostNetwork(ctx, hostUUID, vmUUID, false) })
	return hostNetwork(ctx, hostUUID, vmUUID, true)
}

// releaseVMNetwork takes a VM's leases and firewalls off a host it left.
// The VM is off the host already, so a failure is logged, not undone.
func releaseVMNetwork(ctx workflow.Context, vmUUID, hostUUID string) {
	if hostUUID == "" || !flatNetOn(ctx) {
		return
	}
	if err := hostNetwork(ctx, hostUUID, vmUUID, false); err != nil {
		workflow.GetLogger(ctx).Warn("vm network not released", "vm_uuid", vmUUID, "host_uuid", hostUUID, "error", err)
	}
}

// reconcileNICs applies the current firewalls of NICs on their hosts.
func reconcileNICs(ctx workflow.Context, nics []string, excludeGroup string) error {
	if len(nics) == 0 {
		return nil
	}
	var plan netapi.HostPlan
	if err := local(ctx, netapi.NetNICsPlan, netapi.NICsPlanParams{NICUUIDs: nics, ExcludeGroup: excludeGroup}, &plan); err != nil {
		return err
	}
	return applyHostPlan(ctx, "", plan)
}

// SecurityGroupOpWorkflow runs a security group API (rules, members, L3
// attachments, state, deletion) and re-applies the firewalls of every NIC
// that depends on the groups it touches. If the hosts fail, the database
// change is undone and the hosts reconciled with it again. A group's
// deletion goes the other way round: the firewalls are first rebuilt as if
// the group were gone, then its rows are deleted.
func SecurityGroupOpWorkflow(ctx workflow.Context, p activities.OpParams) (res activities.Result, err error) {
	var s saga
	defer finish(ctx, &s, &err)
	var before netapi.SGPrepareResult
	if err = local(ctx, netapi.NetSGPrepare, p, &before); err != nil {
		return res, err
	}
	if p.Op == "DeleteSecurityGroup" {
		s.add(func(ctx workflow.Context) error { return reconcileNICs(ctx, before.NICs, "") })
		if len(before.Groups) > 0 {
			if err = reconcileNICs(ctx, before.NICs, before.Groups[0]); err != nil {
				return res, err
			}
		}
		err = local(ctx, activities.RunOp, p, &res)
		return res, err
	}
	if err = local(ctx, activities.RunOp, p, &res); err != nil {
		return res, err
	}
	s.add(func(ctx workflow.Context) error {
		if err := local(ctx, netapi.NetSGRestore, before.Snapshot, nil); err != nil {
			return err
		}
		return reconcileNICs(ctx, before.NICs, "")
	})
	var after netapi.SGPrepareResult
	if err = local(ctx, netapi.NetSGPrepare, p, &after); err != nil {
		return res, err
	}
	nics := slices.Clone(before.NICs)
	for _, n := range after.NICs {
		if !slices.Contains(nics, n) {
			nics = append(nics, n)
		}
	}
	before.NICs = nics // the compensation re-applies them all
	err = reconcileNICs(ctx, nics, "")
	return res, err
}
