//go:build !linux

package sim

import "os"

// stateTemp is where the temporary state file goes: the system's
// temporary directory.
func stateTemp() string { return os.TempDir() }
