package domainxml

import "fmt"

// CheckIOTune checks disk limits as Build does, for a driver that changes
// the limits of a running domain's disk without building its XML.
func CheckIOTune(t *IOTune) error {
	if _, err := diskIOTune(t); err != nil {
		return fmt.Errorf("domain xml: %w", err)
	}
	return nil
}
