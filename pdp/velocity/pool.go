package velocity

import "math/bits"

// pool is a slab of T addressed by 1-based int32 indexes, so that 0 can mean
// "none" in the zero value of the structs that point into it. Elements live
// in chunks of 1<<shift that never move, so a *T stays valid while other
// elements are allocated. Released elements are zeroed and reused; chunks
// are never returned to the runtime (the high-water mark stays allocated).
//
// T is pointer-free everywhere it is used, so the chunks are invisible to the
// garbage collector's mark phase whatever their number. Chunk lengths are
// chosen so that a chunk fills its size class (see shard.initPools): a
// 64 × 680-byte chunk, say, would be rounded up from 43520 to 49152 bytes.
type pool[T any] struct {
	chunks [][]T
	free   []int32
	n      int32 // high-water mark: indexes 1..n have been handed out
	shift  uint8 // log2 of the chunk length
}

// init sets the chunk length to 1<<shift, or less when the pool will never
// hold more than limit elements. It must be called before alloc.
func (p *pool[T]) init(shift uint8, limit int) {
	*p = pool[T]{shift: min(shift, uint8(bits.Len(uint(max(limit, 1)-1))))}
}

// alloc returns the index of a zeroed element.
func (p *pool[T]) alloc() int32 {
	if k := len(p.free); k > 0 {
		i := p.free[k-1]
		p.free = p.free[:k-1]
		return i
	}
	if int(p.n>>p.shift) == len(p.chunks) {
		p.chunks = append(p.chunks, make([]T, 1<<p.shift))
	}
	p.n++
	return p.n
}

// at returns element i (1-based). i must come from alloc.
func (p *pool[T]) at(i int32) *T {
	i--
	return &p.chunks[i>>p.shift][i&(1<<p.shift-1)]
}

// release zeroes element i and makes it available to alloc.
func (p *pool[T]) release(i int32) {
	var zero T
	*p.at(i) = zero
	p.free = append(p.free, i)
}

// live is the number of elements handed out and not released.
func (p *pool[T]) live() int { return int(p.n) - len(p.free) }
