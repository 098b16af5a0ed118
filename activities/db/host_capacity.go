package db

import (
	"context"
	"strconv"
	"strings"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// Host capacity: what a KVM host offers its VMs is what its agent reports
// less the memory ZStack keeps for the host itself (kvm.reservedMemory,
// 1G by default), recomputed on every connect from the VMs placed there.
const (
	reservedMemoryCategory = "kvm"
	reservedMemoryConfig   = "reservedMemory"
	defaultReservedMemory  = "1G"
)

var capacityConfigs = []models.GlobalConfig{
	{Category: reservedMemoryCategory, Name: reservedMemoryConfig, DefaultValue: defaultReservedMemory,
		Description: "memory of every KVM host kept for the host itself, not given to VMs (a size: 512M, 1G, 1073741824)"},
}

// parseSize reads ZStack's sizes: bytes, or a number with a K, M, G or T
// suffix (binary units; a trailing B is allowed).
func parseSize(s string) (int64, bool) {
	s = strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B")
	shift := 0
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K':
			shift = 10
		case 'M':
			shift = 20
		case 'G':
			shift = 30
		case 'T':
			shift = 40
		}
		if shift > 0 {
			s = s[:n-1]
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > (1<<62)>>shift {
		return 0, false
	}
	return v << shift, true
}

// validateCapacityConfig refuses a reserved memory that is not a size.
func validateCapacityConfig(category, name, value string) error {
	if category != reservedMemoryCategory || name != reservedMemoryConfig {
		return nil
	}
	if _, ok := parseSize(value); !ok {
		return models.Invalid("global config %s.%s: value [%s] is not a size (e.g. 512M, 1G)", category, name, value).
			WithCode(models.CodeInvalidArgument)
	}
	return nil
}

// recordKVMCapacity sets a KVM host's totals from what its agent reported,
// less the reserved memory, and what is available from its VMs.
func (a *Activities) recordKVMCapacity(ctx context.Context, hostUUID string, facts hostapi.HostFacts) error {
	reserved, ok := parseSize(a.Store.GlobalConfigValue(ctx, reservedMemoryCategory, reservedMemoryConfig, defaultReservedMemory))
	if !ok {
		reserved, _ = parseSize(defaultReservedMemory)
	}
	memory := max(facts.MemoryBytes-reserved, 0)
	return a.Store.SetHostTotals(ctx, hostUUID, int64(facts.CPUNum), memory)
}
