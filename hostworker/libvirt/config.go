//go:build libvirt

package libvirt

import (
	"fmt"
	"slices"
	"time"
)

// Option keys that ParseConfig reads, the driver options of the agent's
// command line.
const (
	OptURI          = "uri"
	OptStorageDir   = "storage-dir"
	OptImageCache   = "image-cache-dir"
	OptDomainType   = "domain-type"
	OptGrace        = "grace"
	OptProbeTimeout = "probe-timeout"
	OptVNCListen    = "vnc-listen"
)

// ParseConfig builds a Config from driver options; durations are Go
// durations ("90s"). Unknown keys are an error so that a typo does not go
// unnoticed. New checks the values.
func ParseConfig(options map[string]string) (Config, error) {
	var c Config
	duration := func(k, v string) (time.Duration, error) {
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("option %s: %w", k, err)
		}
		return d, nil
	}
	for k, v := range options {
		var err error
		switch k {
		case OptURI:
			c.URI = v
		case OptStorageDir:
			c.StorageDir = v
		case OptImageCache:
			c.ImageCacheDir = v
		case OptDomainType:
			c.DomainType = v
		case OptGrace:
			c.Grace, err = duration(k, v)
		case OptProbeTimeout:
			c.ProbeTimeout, err = duration(k, v)
		case OptVNCListen:
			c.VNCListen = v
		default:
			known := []string{OptURI, OptStorageDir, OptImageCache, OptDomainType, OptGrace, OptProbeTimeout, OptVNCListen}
			slices.Sort(known)
			return Config{}, fmt.Errorf("unknown libvirt option %q (known: %v)", k, known)
		}
		if err != nil {
			return Config{}, err
		}
	}
	return c, nil
}
