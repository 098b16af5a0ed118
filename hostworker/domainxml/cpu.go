package domainxml

import (
	"regexp"

	"libvirt.org/go/libvirtxml"
)

// CPUMaximum gives the guest every CPU feature the hypervisor can offer:
// under TCG, QEMU's "max" model, the nearest thing to passing the host's
// CPU through, which TCG cannot do.
const CPUMaximum = "maximum"

// cpuModelPattern is what QEMU's CPU model names look like (Haswell-noTSX,
// Opteron_G4, EPYC-IBPB, ...).
var cpuModelPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$`)

// cpuModel checks the Spec's CPU mode or model and returns the <cpu> mode
// and model they give: a named model is mode custom, which must match
// exactly (no silent fallback to another model: libvirt refuses to start
// a domain whose model the host cannot run, and the driver says why).
func cpuModel(s Spec) (string, *libvirtxml.DomainCPUModel, error) {
	if s.CPUModel != "" {
		if s.CPUMode != "" {
			return "", nil, invalid("cpu model %q and cpu mode %q exclude each other", s.CPUModel, s.CPUMode)
		}
		if !cpuModelPattern.MatchString(s.CPUModel) {
			return "", nil, invalid("cpu model %q is not a cpu model name", s.CPUModel)
		}
		return "custom", &libvirtxml.DomainCPUModel{Fallback: "forbid", Value: s.CPUModel}, nil
	}
	switch s.CPUMode {
	case "", CPUHostModel, CPUMaximum:
	case CPUHostPassthrough:
		if s.DomainType != DomainKVM {
			return "", nil, invalid("cpu mode %s needs domain type %s, not %s", CPUHostPassthrough, DomainKVM, s.DomainType)
		}
	default:
		return "", nil, invalid("cpu mode %q is not %s, %s or %s", s.CPUMode, CPUHostPassthrough, CPUHostModel, CPUMaximum)
	}
	return s.CPUMode, nil, nil
}

// cpuMatch is the match policy of a custom model: exact.
func cpuMatch(model *libvirtxml.DomainCPUModel) string {
	if model == nil {
		return ""
	}
	return "exact"
}
