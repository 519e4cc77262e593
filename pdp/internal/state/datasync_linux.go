package state

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data and the metadata needed to read it back.
func fdatasync(f *os.File) error {
	return onFD(f, func(fd int) error { return syscall.Fdatasync(fd) })
}

// fallocate allocates f up to size bytes (mode 0: the file's size becomes
// size, the new blocks read as zeros until written).
func fallocate(f *os.File, size int64) error {
	return onFD(f, func(fd int) error { return syscall.Fallocate(fd, 0, 0, size) })
}

// onFD runs call on f's descriptor, again while it is interrupted.
func onFD(f *os.File, call func(fd int) error) error {
	c, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := c.Control(func(fd uintptr) {
		for {
			if serr = call(int(fd)); serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}
