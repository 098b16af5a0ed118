package store

import (
	"context"
	"fmt"
)

// HostCandidate is a host that passed the allocator's filters, with what the
// sorters need.
type HostCandidate struct {
	HostUUID    string `db:"uuid"`
	ClusterUUID string `db:"cluster_uuid"`
	ZoneUUID    string `db:"zone_uuid"`
	PSUUID      string `db:"ps_uuid"`
	VMCount     int    `db:"vm_count"`
}

// AllocationRequest is what a VM needs from a host and a primary storage.
type AllocationRequest struct {
	CPU, Memory    int64
	DiskSize       int64
	HypervisorType string
	ZoneUUID       string
	ClusterUUID    string
	HostUUID       string
	PSUUID         string
	L3UUIDs        []string
	BSUUID         string // the backup storage holding the image: its zone must be the host's
	AvoidHosts     []string
	// ExistingVolumes says the VM's volumes are on PSUUID already (a
	// start): a Disabled storage, which takes no new volumes, is fine.
	ExistingVolumes bool
}

// HostCandidates runs the host allocator's filters in one query: host
// Enabled and Connected; cluster Enabled and of the hypervisor type;
// capacity; every L3's L2 attached to the host's cluster; an Enabled
// (or, for ExistingVolumes, Disabled), Connected primary storage attached
// to the cluster with room for the disks;
// the image's backup storage attached to the zone. Sorted least VMs first
// (LeastVmPreferred), then by UUID for stability.
func (s *Store) HostCandidates(ctx context.Context, r AllocationRequest, limit int) ([]HostCandidate, error) {
	q := `SELECT h.uuid, h.cluster_uuid, h.zone_uuid, ps.uuid AS ps_uuid,
	  (SELECT COUNT(*) FROM vm_instances v WHERE v.host_uuid = h.uuid) AS vm_count
	FROM hosts h
	JOIN clusters c ON c.uuid = h.cluster_uuid
	JOIN primary_storage_cluster_refs pr ON pr.cluster_uuid = h.cluster_uuid
	JOIN primary_storages ps ON ps.uuid = pr.primary_storage_uuid
	WHERE h.state = 'Enabled' AND h.status = 'Connected' AND c.state = 'Enabled'
	  AND h.available_cpu_capacity >= ? AND h.available_memory_capacity >= ?
	  AND (ps.state = 'Enabled' OR (ps.state = 'Disabled' AND ? = 1)) AND ps.status = 'Connected' AND ps.available_capacity >= ?`
	// A local storage needs the room on the host itself.
	q += ` AND (ps.type <> 'LocalStorage' OR EXISTS (SELECT 1 FROM local_storage_host_refs lr
	  WHERE lr.primary_storage_uuid = ps.uuid AND lr.host_uuid = h.uuid AND lr.available_capacity >= ?))`
	existing := 0
	if r.ExistingVolumes {
		existing = 1
	}
	args := []any{r.CPU, r.Memory, existing, r.DiskSize, r.DiskSize}
	if r.HypervisorType != "" {
		q += ` AND h.hypervisor_type = ?`
		args = append(args, r.HypervisorType)
	}
	for _, f := range []struct{ col, v string }{{"h.zone_uuid", r.ZoneUUID}, {"h.cluster_uuid", r.ClusterUUID}, {"h.uuid", r.HostUUID}, {"ps.uuid", r.PSUUID}} {
		if f.v != "" {
			q += ` AND ` + f.col + ` = ?`
			args = append(args, f.v)
		}
	}
	for _, l3 := range r.L3UUIDs {
		q += ` AND EXISTS (SELECT 1 FROM l3_networks l3 JOIN l2_network_cluster_refs lr ON lr.l2_network_uuid = l3.l2_network_uuid
		  WHERE l3.uuid = ? AND lr.cluster_uuid = h.cluster_uuid)`
		args = append(args, l3)
	}
	if r.BSUUID != "" {
		q += ` AND EXISTS (SELECT 1 FROM backup_storage_zone_refs br WHERE br.backup_storage_uuid = ? AND br.zone_uuid = h.zone_uuid)`
		args = append(args, r.BSUUID)
	}
	for _, h := range r.AvoidHosts {
		q += ` AND h.uuid <> ?`
		args = append(args, h)
	}
	q += ` ORDER BY vm_count, h.uuid LIMIT ?`
	args = append(args, limit)
	var out []HostCandidate
	if err := s.db.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("host candidates: %w", err)
	}
	return out, nil
}
