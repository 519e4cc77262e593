package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
)

// Host owns the current plugin set and replaces it atomically on reload.
type Host struct {
	cfg   Config
	cache wazero.CompilationCache
	cur   atomic.Pointer[Set]

	mu     sync.Mutex // serializes Load, Reload and Close
	dir    string
	ctrs   map[string]*counters
	closed bool
}

// ErrClosed is returned by Load and Reload after Close.
var ErrClosed = errors.New("plugin host closed")

// New validates cfg (after WithDefaults) and returns a host with no set
// loaded; call Load. It creates the compilation cache directory.
func New(cfg Config) (*Host, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Host{cfg: cfg, ctrs: map[string]*counters{}}
	if cfg.CacheDir != CacheOff {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("plugin compilation cache: %w", err)
		}
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("plugin compilation cache: %w", err)
		}
		h.cache = c
	} else {
		h.cache = wazero.NewCompilationCache()
	}
	return h, nil
}

// Config returns the host's configuration with defaults filled in.
func (h *Host) Config() Config { return h.cfg }

// Load compiles, instantiates and smoke-tests the plugins of dir and, when
// all of them pass, makes them the current set. On error the current set,
// if any, keeps serving. The set being replaced is closed once the last
// call using it has finished.
func (h *Host) Load(ctx context.Context, dir string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, err := h.prepare(ctx, dir)
	if err != nil {
		return err
	}
	h.activate(s, dir)
	return nil
}

// Prepare compiles, instantiates and smoke-tests the plugins of dir like
// Load, but does not make them current: Activate does, Set.Release
// discards them. It lets a caller validate plugins together with something
// else (a policy bundle) before switching either. An empty directory yields
// an empty set.
func (h *Host) Prepare(ctx context.Context, dir string) (*Set, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.prepare(ctx, dir)
}

// Activate makes s, obtained from Prepare, the current set and dir the
// directory of later Reloads. It takes over the caller's reference to s.
// After Close it releases s instead.
func (h *Host) Activate(s *Set, dir string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.Release()
		return
	}
	h.activate(s, dir)
}

func (h *Host) prepare(ctx context.Context, dir string) (*Set, error) {
	if h.closed {
		return nil, ErrClosed
	}
	start := time.Now()
	manifests, err := listManifests(dir)
	if err != nil {
		return nil, err
	}
	s, err := buildSet(ctx, &h.cfg, h.cache, manifests, h.counters)
	if err != nil {
		h.cfg.Logger.Error("plugin set refused", "dir", dir, "err", err)
		return nil, err
	}
	s.built = time.Since(start)
	return s, nil
}

func (h *Host) activate(s *Set, dir string) {
	h.dir = dir
	if old := h.cur.Swap(s); old != nil {
		old.Release()
	}
	h.cfg.Logger.Info("plugin set loaded", "dir", dir, "plugins", s.Len(), "revision", s.revision,
		"took", s.built)
}

// Reload loads the directory of the last successful Load again (or
// Config.Dir when nothing was loaded yet).
func (h *Host) Reload(ctx context.Context) error {
	h.mu.Lock()
	dir := h.dir
	h.mu.Unlock()
	if dir == "" {
		dir = h.cfg.Dir
	}
	if dir == "" {
		return errors.New("plugin reload: no plugin directory configured")
	}
	return h.Load(ctx, dir)
}

// counters returns the counters of a plugin name, creating them; they
// outlive sets so that a reload does not reset them. h.mu is held.
func (h *Host) counters(name string) *counters {
	c, ok := h.ctrs[name]
	if !ok {
		c = &counters{}
		h.ctrs[name] = c
	}
	return c
}

// Acquire returns the current set with a reference the caller must give
// back with Release, or nil when no set is loaded. A set acquired before a
// reload keeps working until released.
func (h *Host) Acquire() *Set {
	for {
		s := h.cur.Load()
		if s == nil {
			return nil
		}
		s.refs.Add(1)
		if h.cur.Load() == s {
			return s
		}
		s.Release() // replaced meanwhile: retry on the new set
	}
}

// Score is Acquire, Set.Score and Release in one call; with no set loaded
// it returns out unchanged.
func (h *Host) Score(f *Features, src Source, out []Result) []Result {
	s := h.Acquire()
	if s == nil {
		return out
	}
	out = s.Score(f, src, out)
	s.Release()
	return out
}

// Stats returns the counters of the current set's plugins.
func (h *Host) Stats() []Stats {
	s := h.Acquire()
	if s == nil {
		return nil
	}
	defer s.Release()
	return s.Stats()
}

// Close closes the current set once in-flight calls finish, and the
// compilation cache. Sets still acquired close on their last Release.
func (h *Host) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	if old := h.cur.Swap(nil); old != nil {
		old.Release()
	}
	return nil
}
