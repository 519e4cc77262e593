//go:build !linux

package state

import "syscall"

// nobodyAttr: dropping privileges is only wired up on Linux.
func nobodyAttr() *syscall.SysProcAttr { return nil }
