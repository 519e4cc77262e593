package sim

import (
	"os"
	"syscall"
)

// minShmFree is the free space /dev/shm must have to hold the state file
// (a container's default /dev/shm is 64 MiB).
const minShmFree = 1 << 30

// stateTemp is where the temporary state file goes: /dev/shm, a memory
// file system, when it is writable and has room (the state's durable
// writes, events and verifications, fsync every time, which a simulation
// does not need), else the system's temporary directory.
func stateTemp() string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil || int64(st.Bavail)*int64(st.Bsize) < minShmFree {
		return os.TempDir()
	}
	f, err := os.CreateTemp("/dev/shm", "pdp-sim-probe-")
	if err != nil {
		return os.TempDir()
	}
	f.Close()
	os.Remove(f.Name())
	return "/dev/shm"
}
