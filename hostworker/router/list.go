package router

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
)

// List returns the UUIDs of the routers this host keeps state for: every
// router Ensure built and Delete did not remove.
func (m *Manager) List() ([]string, error) {
	entries, err := os.ReadDir(m.cfg.StateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list routers: %w", err)
	}
	out := []string{}
	for _, e := range entries {
		if e.IsDir() && len(e.Name()) == 32 && isUUID(e.Name()) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}
