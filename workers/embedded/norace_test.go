//go:build !race

package embedded

// raceEnabled reports a -race build, which makes workflows ~10x slower.
const raceEnabled = false
