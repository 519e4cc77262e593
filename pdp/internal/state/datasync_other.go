//go:build !linux

package state

import (
	"errors"
	"os"
)

// fdatasync flushes f (fsync where fdatasync is not available).
func fdatasync(f *os.File) error { return f.Sync() }

// fallocate is Linux's only: elsewhere records are appended.
func fallocate(*os.File, int64) error { return errors.ErrUnsupported }
