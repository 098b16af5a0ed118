package store

import (
	"context"

	"github.com/zcloud/zcloud/models"
)

// vRouter networks: an L3BasicNetwork with services of a router provider
// is served by a router created on demand (FEATURES.md items 51, 53, 54).

// routerOfL3SQL lists the routers whose guest NIC serves an L3 (a router's
// public network is not one it serves).
const routerOfL3SQL = `SELECT n.vm_instance_uuid FROM virtual_router_nics n JOIN virtual_routers r ON r.uuid = n.vm_instance_uuid
	WHERE n.l3_network_uuid = ? AND r.public_network_uuid <> n.l3_network_uuid ORDER BY n.create_date, n.uuid`

// vrouterAppliances maps the providers whose services make an L3 a vRouter
// network to the appliance type of the router created for it.
var vrouterAppliances = map[string]string{
	vrouterProvider(models.ProviderVirtualRouter): models.ApplianceVirtualRouter,
	vrouterProvider(models.ProviderVrouter):       models.ApplianceVrouter,
}

// RouterOfL3 returns the router serving an L3 ("" for none).
func (s *Store) RouterOfL3(ctx context.Context, l3UUID string) (string, error) {
	var out []string
	if err := s.db.SelectContext(ctx, &out, routerOfL3SQL, l3UUID); err != nil || len(out) == 0 {
		return "", err
	}
	return out[0], nil
}

// VMVRouterL3s lists the vRouter networks among a VM's NICs' L3s with the
// routers serving them.
func (s *Store) VMVRouterL3s(ctx context.Context, vmUUID string) ([]models.VRouterL3, error) {
	var l3s []string
	err := s.db.SelectContext(ctx, &l3s, `SELECT DISTINCT l.uuid FROM vm_nics n JOIN l3_networks l ON l.uuid = n.l3_network_uuid
		WHERE n.vm_instance_uuid = ? AND l.type <> ? AND l.uuid IN (SELECT l3_network_uuid FROM network_service_l3_refs WHERE provider_uuid IN (?, ?))
		ORDER BY l.uuid`, vmUUID, models.L3VpcNetwork, vrouterProvider(models.ProviderVirtualRouter), vrouterProvider(models.ProviderVrouter))
	if err != nil {
		return nil, err
	}
	out := make([]models.VRouterL3, 0, len(l3s))
	for _, l3 := range l3s {
		r, err := s.RouterOfL3(ctx, l3)
		if err != nil {
			return nil, err
		}
		out = append(out, models.VRouterL3{L3UUID: l3, RouterUUID: r})
	}
	return out, nil
}

func vrouterProvider(typ string) string { return models.NameUUID("NetworkServiceProvider", typ) }

// PlanVRouter decides how a vRouter network gets its router: the one
// serving it, else one made from the zone's offering for that L3 (system
// tag guestL3Network::<uuid>) or its default offering, placed in a cluster
// that has both the L3's L2 and the offering's public network. No offering
// is a clear operation error, as in ZStack.
func (s *Store) PlanVRouter(ctx context.Context, l3UUID string) (models.VRouterPlan, error) {
	var l3 models.L3Network
	if err := s.Get(ctx, ResL3Network, l3UUID, &l3); err != nil {
		return models.VRouterPlan{}, err
	}
	r, err := s.RouterOfL3(ctx, l3UUID)
	if err != nil || r != "" {
		return models.VRouterPlan{RouterUUID: r}, err
	}
	var providers []string
	if err := s.db.SelectContext(ctx, &providers, `SELECT DISTINCT provider_uuid FROM network_service_l3_refs WHERE l3_network_uuid = ? ORDER BY provider_uuid`, l3UUID); err != nil {
		return models.VRouterPlan{}, err
	}
	plan := models.VRouterPlan{Name: "virtualRouter.l3." + l3UUID, ZoneUUID: l3.ZoneUUID}
	for _, p := range providers {
		if t, ok := vrouterAppliances[p]; ok && l3.Type != models.L3VpcNetwork {
			plan.ApplianceVMType = t
			break
		}
	}
	if plan.ApplianceVMType == "" {
		return models.VRouterPlan{}, nil
	}
	o, err := s.vrouterOffering(ctx, l3)
	if err != nil {
		return models.VRouterPlan{}, err
	}
	plan.OfferingUUID = o.UUID
	if plan.AccountUUID, err = s.Owner(ctx, o.UUID); err != nil {
		return models.VRouterPlan{}, err
	}
	var clusters []string
	if err := s.db.SelectContext(ctx, &clusters, `SELECT cluster_uuid FROM l2_network_cluster_refs WHERE l2_network_uuid = ? ORDER BY cluster_uuid`, l3.L2NetworkUUID); err != nil {
		return models.VRouterPlan{}, err
	}
	for _, c := range clusters {
		if place, err := s.PickRouterHost(ctx, l3.ZoneUUID, c, "", o.PublicNetworkUUID); err == nil {
			plan.ClusterUUID = place.ClusterUUID
			return plan, nil
		}
	}
	return models.VRouterPlan{}, models.Unavailable("no Connected, Enabled host in zone[uuid:%s] has both l2 network[uuid:%s] of l3 network[uuid:%s] and the public network[uuid:%s] of virtual router offering[uuid:%s]",
		l3.ZoneUUID, l3.L2NetworkUUID, l3UUID, o.PublicNetworkUUID, o.UUID).WithCode(models.CodeAllocation)
}

// vrouterOffering picks the enabled offering of an L3's zone for its
// router: the one tagged for the L3, else the zone's default (the oldest
// when several are).
func (s *Store) vrouterOffering(ctx context.Context, l3 models.L3Network) (models.VirtualRouterOffering, error) {
	for _, q := range []struct {
		where string
		arg   any
	}{
		{`uuid IN (SELECT resource_uuid FROM system_tags WHERE tag = ?)`, "guestL3Network::" + l3.UUID},
		{`is_default = ?`, true},
	} {
		var offers []models.VirtualRouterOffering
		if err := s.db.SelectContext(ctx, &offers, `SELECT * FROM virtual_router_offerings WHERE zone_uuid = ? AND state = ? AND `+q.where+` ORDER BY create_date, uuid`,
			l3.ZoneUUID, models.StateEnabled, q.arg); err != nil {
			return models.VirtualRouterOffering{}, err
		}
		if len(offers) > 0 {
			return offers[0], nil
		}
	}
	return models.VirtualRouterOffering{}, models.Invalid("unable to find a virtual router offering for l3Network[uuid:%s] in zone[uuid:%s], please at least create a default virtual router offering in that zone",
		l3.UUID, l3.ZoneUUID).WithCode(models.CodeOperation)
}
