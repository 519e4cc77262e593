package velocity

import (
	"testing"
	"unsafe"
)

// TestSizes pins the sizes the package doc and the pool chunk lengths rely on.
func TestSizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"entry", unsafe.Sizeof(entry{}), 112},
		{"windows", unsafe.Sizeof(windows{}), 720},
		{"idSet", unsafe.Sizeof(idSet{}), 512},
		{"failures", unsafe.Sizeof(failures{}), 464},
		{"spending", unsafe.Sizeof(spending{}), 216},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d bytes, want %d", c.name, c.got, c.want)
		}
	}
}
