package sim

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/zcloud/zcloud/activities/hostapi"
)

// Option keys that ParseConfig reads: the driver options of the agent's
// command line (--sim-cpu, --sim-memory, --sim-faults).
const (
	OptCPU    = "cpu"
	OptMemory = "memory"
	OptFaults = "faults"
)

// AnyOp keys a latency or a failure that applies to every operation that has
// none of its own.
const AnyOp = "*"

// The simulated host's size when Config leaves it zero.
const (
	DefaultCPUNum      = 32
	DefaultMemoryBytes = int64(128) << 30
)

// Config sizes a simulated host and sets its faults. Latency and Failures are
// keyed by hostapi.Act* names (Facts answers host.Connect, ListVMs answers
// host.Ping) or AnyOp; a failure's value is its message.
type Config struct {
	CPUNum      int
	MemoryBytes int64
	Latency     map[string]time.Duration
	Failures    map[string]string
}

// Validate reports the first setting that makes no sense, such as a
// misspelt operation name, which would otherwise silently inject nothing.
func (c Config) Validate() error {
	if c.CPUNum < 0 {
		return fmt.Errorf("cpu number %d is negative", c.CPUNum)
	}
	if c.MemoryBytes < 0 {
		return fmt.Errorf("memory size %d is negative", c.MemoryBytes)
	}
	for op, d := range c.Latency {
		if !knownOp(op) {
			return fmt.Errorf("latency of unknown operation %q", op)
		}
		if d < 0 {
			return fmt.Errorf("latency of %s is negative", op)
		}
	}
	for op := range c.Failures {
		if !knownOp(op) {
			return fmt.Errorf("failure of unknown operation %q", op)
		}
	}
	return nil
}

// knownOp reports whether op names an operation the sim can delay or fail.
func knownOp(op string) bool {
	switch op {
	case AnyOp, hostapi.ActConnect, hostapi.ActPing,
		hostapi.ActInstantiateVolume, hostapi.ActDeleteVolume,
		hostapi.ActCreateVM, hostapi.ActStartVM, hostapi.ActStopVM,
		hostapi.ActRebootVM, hostapi.ActDestroyVM,
		hostapi.ActPauseVM, hostapi.ActResumeVM, hostapi.ActMigrateVM,
		hostapi.ActAttachVolume, hostapi.ActDetachVolume, hostapi.ActResizeVolume,
		hostapi.ActCreateVolumeSnapshot, hostapi.ActRevertVolumeSnapshot,
		hostapi.ActDeleteVolumeSnapshot, hostapi.ActCreateVolumeFromSnapshot,
		hostapi.ActUploadVolumeImage,
		hostapi.ActCloneVolume, hostapi.ActReimageVolume,
		hostapi.ActSetVolumeQoS, hostapi.ActGetVolumeQoS:
		return true
	}
	return false
}

// ParseConfig builds a Config from driver options: OptCPU (a count),
// OptMemory (bytes, see ParseBytes) and OptFaults (see ParseFaults). Unknown
// keys are an error so that a typo does not go unnoticed.
func ParseConfig(options map[string]string) (Config, error) {
	var c Config
	for k, v := range options {
		switch k {
		case OptCPU:
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return Config{}, fmt.Errorf("sim option %s: %w", k, err)
			}
			c.CPUNum = n
		case OptMemory:
			n, err := ParseBytes(v)
			if err != nil {
				return Config{}, fmt.Errorf("sim option %s: %w", k, err)
			}
			c.MemoryBytes = n
		case OptFaults:
			lat, fail, err := ParseFaults(v)
			if err != nil {
				return Config{}, fmt.Errorf("sim option %s: %w", k, err)
			}
			c.Latency, c.Failures = lat, fail
		default:
			return Config{}, fmt.Errorf("unknown sim option %q", k)
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("sim options: %w", err)
	}
	return c, nil
}

// ParseFaults reads latencies and failures written as comma-separated
// op=action pairs, for the command line and ZCLOUD_SIM_FAULTS:
//
//	host.CreateVM=fail:boom,host.StartVM=delay:2s,*=delay:100ms
//
// op is a hostapi.Act* name or AnyOp. action is "delay:<duration>" (Go
// duration syntax) or "fail" with an optional ":<message>"; a message cannot
// contain a comma. One op may have both a delay and a failure, not two of
// either. An empty string means no faults.
func ParseFaults(s string) (latency map[string]time.Duration, failures map[string]string, err error) {
	latency, failures = map[string]time.Duration{}, map[string]string{}
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		op, action, ok := strings.Cut(entry, "=")
		op = strings.TrimSpace(op)
		if !ok || op == "" {
			return nil, nil, fmt.Errorf("fault %q: want op=action", entry)
		}
		if !knownOp(op) {
			return nil, nil, fmt.Errorf("fault %q: unknown operation %q", entry, op)
		}
		kind, arg, _ := strings.Cut(strings.TrimSpace(action), ":")
		switch kind {
		case "delay":
			if _, dup := latency[op]; dup {
				return nil, nil, fmt.Errorf("fault %q: second delay for %s", entry, op)
			}
			d, err := time.ParseDuration(strings.TrimSpace(arg))
			if err != nil {
				return nil, nil, fmt.Errorf("fault %q: %w", entry, err)
			}
			if d < 0 {
				return nil, nil, fmt.Errorf("fault %q: negative delay", entry)
			}
			latency[op] = d
		case "fail":
			if _, dup := failures[op]; dup {
				return nil, nil, fmt.Errorf("fault %q: second failure for %s", entry, op)
			}
			failures[op] = strings.TrimSpace(arg)
		default:
			return nil, nil, fmt.Errorf("fault %q: unknown action %q, want delay:<duration> or fail[:<message>]", entry, kind)
		}
	}
	return latency, failures, nil
}

// ParseBytes reads a size such as "68719476736", "64G", "64GiB" or "64GB".
// A bare K, M, G or T is binary (64G is 64 GiB), as in qemu's -m and ZStack;
// KB, MB, GB and TB are decimal.
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty size")
	}
	if last := s[len(s)-1]; strings.ContainsRune("kKmMgGtTpP", rune(last)) {
		s += "i"
	}
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("parse size: %w", err)
	}
	if n > math.MaxInt64 {
		return 0, fmt.Errorf("size %s is too large", s)
	}
	return int64(n), nil
}
