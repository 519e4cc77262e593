//go:build race

package cli

// raceEnabled: the race detector slows a request ~10×; the long tests
// scale down under it (the Makefile runs them full size without it).
const raceEnabled = true
