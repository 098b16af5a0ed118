package store

import (
	"context"
	"fmt"
)

// SetHostTotals sets a host's total CPU and memory and recomputes what is
// available from the VMs placed on it (vm_host_allocations), in one
// statement: a reconnect picks up a changed host or reserve without
// forgetting what runs there. Overcommitted hosts show 0 available.
func (s *Store) SetHostTotals(ctx context.Context, hostUUID string, cpu, memory int64) error {
	const used = `COALESCE((SELECT SUM(a.%[1]s) FROM vm_host_allocations a WHERE a.host_uuid = ?), 0)`
	cpuUsed, memUsed := fmt.Sprintf(used, "cpu"), fmt.Sprintf(used, "memory")
	_, err := s.db.ExecContext(ctx, `UPDATE hosts SET total_cpu_capacity = ?, total_memory_capacity = ?,
		available_cpu_capacity = CASE WHEN ? > `+cpuUsed+` THEN ? - `+cpuUsed+` ELSE 0 END,
		available_memory_capacity = CASE WHEN ? > `+memUsed+` THEN ? - `+memUsed+` ELSE 0 END
		WHERE uuid = ?`, cpu, memory, cpu, hostUUID, cpu, hostUUID, memory, hostUUID, memory, hostUUID, hostUUID)
	if err != nil {
		return fmt.Errorf("set capacity of host %s: %w", hostUUID, err)
	}
	return nil
}
