package cli

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestSetGCPercent: pdp serve runs the collector at serveGCPercent unless
// GOGC is set, and then leaves Go's reading of GOGC alone.
func TestSetGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "") // restored after the test
	if err := os.Unsetenv("GOGC"); err != nil {
		t.Fatal(err)
	}
	setGCPercent()
	if got := debug.SetGCPercent(100); got != serveGCPercent {
		t.Errorf("GOGC unset: GC percent %d, want %d", got, serveGCPercent)
	}
	t.Setenv("GOGC", "50")
	setGCPercent()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set: GC percent changed to %d, want it left as it was (100)", got)
	}
}
