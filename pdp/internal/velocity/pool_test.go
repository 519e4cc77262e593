package velocity

import "testing"

func TestPoolIndexing(t *testing.T) {
	for _, size := range []int{1, 2, 3, 34, 35, 64, 66, 128, 1000} {
		var p pool[int32]
		p.init(size, 1<<20)
		for i := range int32(5000) {
			if got := p.alloc(); got != i+1 {
				t.Fatalf("size %d: alloc %d, want %d", size, got, i+1)
			}
			*p.at(i + 1) = i
		}
		for i := range int32(5000) {
			if got := *p.at(i + 1); got != i {
				t.Fatalf("size %d: element %d holds %d", size, i+1, got)
			}
		}
		p.release(77)
		if got := p.alloc(); got != 77 || *p.at(77) != 0 || p.live() != 5000 {
			t.Fatalf("size %d: reuse got %d value %d live %d", size, got, *p.at(77), p.live())
		}
	}
}

// TestPoolDivision checks the multiply-high division against the real one
// at the edges of every chunk length the pools may use.
func TestPoolDivision(t *testing.T) {
	for size := 2; size < 1<<15; size += 1 + size/64 {
		var p pool[byte]
		p.init(size, size)
		for _, j := range []uint64{0, 1, p.size - 1, p.size, p.size + 1, 1<<31 - 2, 1<<31 - 1, 1<<31 - 1 - p.size} {
			c, _ := mulHi(j, p.magic)
			if c != j/p.size {
				t.Fatalf("size %d: %d/%d = %d, want %d", size, j, p.size, c, j/p.size)
			}
		}
	}
}
