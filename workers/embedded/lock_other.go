//go:build !unix

package embedded

// lockDBFile does nothing where flock is unavailable.
func lockDBFile(string) (release func(), err error) { return func() {}, nil }
