package velocity

import "math/bits"

// pool is a slab of T addressed by 1-based int32 indexes, so that 0 can mean
// "none" in the zero value of the structs that point into it. Elements live
// in chunks that never move, so a *T stays valid while other elements are
// allocated. Released elements are zeroed and reused; chunks are never
// returned to the runtime (the high-water mark stays allocated).
//
// T is pointer-free everywhere it is used, so the chunks are invisible to the
// garbage collector's mark phase whatever their number. Chunk lengths are
// chosen so that a chunk fills its allocation size class (see
// shard.initPools), which is why they need not be powers of two.
type pool[T any] struct {
	chunks [][]T
	free   []int32
	n      int32  // high-water mark: indexes 1..n have been handed out
	size   uint64 // elements per chunk, at least 2
	magic  uint64 // ⌈2⁶⁴/size⌉, so that j/size is the high word of j·magic
}

// init empties p and sets its chunk length to size, or to limit when the
// pool will never hold more than limit elements.
//
// The division by multiplication is exact: j·magic/2⁶⁴ = j/size + j·ε/2⁶⁴
// with ε < size, and the error stays below 1/size while j·size² < 2⁶⁴,
// which holds for every int32 j and size < 2¹⁶.
func (p *pool[T]) init(size, limit int) {
	d := uint64(max(2, min(size, limit, 1<<15)))
	*p = pool[T]{size: d, magic: ^uint64(0)/d + 1}
}

// alloc returns the index of a zeroed element.
func (p *pool[T]) alloc() int32 {
	if k := len(p.free); k > 0 {
		i := p.free[k-1]
		p.free = p.free[:k-1]
		return i
	}
	if uint64(p.n) == uint64(len(p.chunks))*p.size {
		p.chunks = append(p.chunks, make([]T, p.size))
	}
	p.n++
	return p.n
}

// at returns element i (1-based). i must come from alloc.
func (p *pool[T]) at(i int32) *T {
	j := uint64(i - 1)
	c, _ := bits.Mul64(j, p.magic)
	return &p.chunks[c][j-c*p.size]
}

// release zeroes element i and makes it available to alloc.
func (p *pool[T]) release(i int32) {
	var zero T
	*p.at(i) = zero
	p.free = append(p.free, i)
}

// live is the number of elements handed out and not released.
func (p *pool[T]) live() int { return int(p.n) - len(p.free) }
