package velocity

// chunkBits sets the pool chunk size: 64 elements per chunk.
const (
	chunkBits = 6
	chunkLen  = 1 << chunkBits
	chunkMask = chunkLen - 1
)

// pool is a slab of T addressed by 1-based int32 indexes, so that 0 can mean
// "none" in the zero value of the structs that point into it. Elements live
// in fixed chunks that never move, so a *T stays valid while other elements
// are allocated. Released elements are zeroed and reused; chunks are never
// returned to the runtime (the high-water mark stays allocated).
//
// T is pointer-free everywhere it is used, so the chunks are invisible to the
// garbage collector's mark phase whatever their number.
type pool[T any] struct {
	chunks []*[chunkLen]T
	free   []int32
	n      int32 // high-water mark: indexes 1..n have been handed out
}

// alloc returns the index of a zeroed element.
func (p *pool[T]) alloc() int32 {
	if k := len(p.free); k > 0 {
		i := p.free[k-1]
		p.free = p.free[:k-1]
		return i
	}
	if int(p.n>>chunkBits) == len(p.chunks) {
		p.chunks = append(p.chunks, new([chunkLen]T))
	}
	p.n++
	return p.n
}

// at returns element i (1-based). i must come from alloc.
func (p *pool[T]) at(i int32) *T {
	i--
	return &p.chunks[i>>chunkBits][i&chunkMask]
}

// release zeroes element i and makes it available to alloc.
func (p *pool[T]) release(i int32) {
	var zero T
	*p.at(i) = zero
	p.free = append(p.free, i)
}

// live is the number of elements handed out and not released.
func (p *pool[T]) live() int { return int(p.n) - len(p.free) }
