package plugin

import (
	"context"
	"slices"
	"sync"
	"time"
)

// pool holds a plugin's instances. A call takes one instance for itself and
// gives it back; an instance that faulted is discarded and replaced in the
// background. When every instance is busy a call waits: holders return
// theirs within the time budget because the watchdog and the fuel stop
// runaway calls.
type pool struct {
	mu   sync.Mutex
	cond sync.Cond
	free []*instance
	all  []*instance // every instance, initializing or ready, for the watchdog
	size int         // the target number of instances
	// count is the number of instances ready or being instantiated;
	// pending the number being instantiated.
	count, pending int
	// retryAt is when a failed replacement may be tried again.
	retryAt time.Time
	closed  bool
}

func (pl *pool) init(size int) {
	pl.cond.L = &pl.mu
	pl.size = size
	pl.free = make([]*instance, 0, size)
	pl.all = make([]*instance, 0, size)
}

func (pl *pool) register(in *instance) {
	pl.mu.Lock()
	pl.all = append(pl.all, in)
	pl.mu.Unlock()
}

func (pl *pool) unregister(in *instance) {
	pl.mu.Lock()
	pl.all = slices.DeleteFunc(pl.all, func(x *instance) bool { return x == in })
	pl.mu.Unlock()
}

// acquire takes a free instance, waiting while all are busy. It returns
// nil when the pool is closed or has no instance and none is coming.
func (p *plugin) acquire() *instance {
	pl := &p.pool
	pl.mu.Lock()
	for {
		if pl.closed {
			pl.mu.Unlock()
			return nil
		}
		if n := len(pl.free); n > 0 {
			in := pl.free[n-1]
			pl.free = pl.free[:n-1]
			pl.mu.Unlock()
			return in
		}
		if pl.count < pl.size {
			p.replaceLocked()
		}
		if pl.count == 0 {
			pl.mu.Unlock()
			return nil
		}
		pl.cond.Wait()
	}
}

// release gives a healthy instance back.
func (p *plugin) release(in *instance) {
	pl := &p.pool
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		_ = in.mod.Close(context.Background())
		return
	}
	pl.free = append(pl.free, in)
	pl.mu.Unlock()
	pl.cond.Signal()
}

// discard closes a faulted instance and starts its replacement.
func (p *plugin) discard(in *instance) {
	pl := &p.pool
	pl.mu.Lock()
	pl.all = slices.DeleteFunc(pl.all, func(x *instance) bool { return x == in })
	pl.count--
	if !pl.closed {
		p.replaceLocked()
	}
	pl.mu.Unlock()
	_ = in.mod.Close(context.Background())
	p.ctr.replaced.Add(1)
}

// replaceLocked starts instantiating one instance in the background unless
// a recent attempt failed. pl.mu is held.
func (p *plugin) replaceLocked() {
	pl := &p.pool
	if pl.count >= pl.size || time.Now().Before(pl.retryAt) {
		return
	}
	pl.count++
	pl.pending++
	p.set.bg.Add(1)
	go func() {
		defer p.set.bg.Done()
		in, err := p.newInstance(p.set.ctx)
		pl.mu.Lock()
		pl.pending--
		switch {
		case err != nil:
			pl.count--
			pl.retryAt = time.Now().Add(time.Second)
			if !pl.closed {
				p.set.cfg.Logger.Error("plugin instance replacement failed", "plugin", p.name, "err", err)
			}
		case pl.closed:
			pl.count--
			pl.all = slices.DeleteFunc(pl.all, func(x *instance) bool { return x == in })
			_ = in.mod.Close(context.Background())
		default:
			pl.free = append(pl.free, in)
		}
		pl.mu.Unlock()
		pl.cond.Broadcast()
	}()
}

// closePool closes the free instances. In-flight calls must have finished
// (the set's reference count guarantees it); instances still being
// instantiated are closed by their own goroutine, which sees closed;
// waiters are woken and fail.
func (p *plugin) closePool(ctx context.Context) {
	pl := &p.pool
	pl.mu.Lock()
	pl.closed = true
	pl.count = pl.pending
	free := pl.free
	pl.free = nil
	pl.all = slices.DeleteFunc(pl.all, func(x *instance) bool { return slices.Contains(free, x) })
	pl.mu.Unlock()
	pl.cond.Broadcast()
	for _, in := range free {
		_ = in.mod.Close(ctx)
	}
}

// ready returns the number of instances ready for calls (free or busy).
func (pl *pool) ready() int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.count - pl.pending
}
