package fleet

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// Backend is the risk state on Redis: a state.Backend and state.Shared.
// All methods are safe for concurrent use.
type Backend struct {
	cfg     Config
	rdb     redis.UniversalClient
	cluster bool
	origin  [16]byte // this process, in invalidation messages
	log     *slog.Logger

	up      atomic.Bool
	closed  atomic.Bool
	quit    chan struct{}
	done    sync.WaitGroup
	watchMu sync.Mutex
	changed func(b state.Bucket, key []byte)
	lost    func()
	ps      *redis.PubSub
	head    atomic.Pointer[[]byte] // the journal chain's head as last known (see Commit)

	stats struct {
		budgetExceeded, unavailable atomic.Uint64
		outages, recoveries         atomic.Uint64
		invalReceived, invalSent    atomic.Uint64
		lastDelay, maxDelay         atomic.Int64 // ns, invalidation propagation
		downSince                   atomic.Int64 // unix ns, 0 while up
	}
}

var (
	_ state.Backend = (*Backend)(nil)
	_ state.Shared  = (*Backend)(nil)
)

// Open connects to Redis (cfg.Addrs), checks that it answers within
// cfg.DialTimeout, and starts the health checker and the invalidation
// subscriber. It fails when Redis cannot be reached at start: a sidecar
// configured for the fleet must not silently start alone.
func Open(cfg Config, log *slog.Logger) (*Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	opts := &redis.UniversalOptions{
		Addrs:                 cfg.Addrs,
		Username:              cfg.Username,
		Password:              cfg.Password,
		DB:                    cfg.DB,
		DialTimeout:           cfg.DialTimeout,
		ReadTimeout:           cfg.WriteTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		ContextTimeoutEnabled: true,
		PoolSize:              cfg.PoolSize,
		MinIdleConns:          cfg.PoolSize / 4,
		MaxRetries:            -1, // the Store and the committer retry; a budgeted read must not
		IsClusterMode:         cfg.Cluster,
		DisableIdentity:       true,
	}
	setLogger.Do(func() { redis.SetLogger(redisLog{log}) })
	b := &Backend{cfg: cfg, rdb: redis.NewUniversalClient(opts), cluster: cfg.Cluster, log: log, quit: make(chan struct{})}
	if _, err := rand.Read(b.origin[:]); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.DialTimeout)
	defer cancel()
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		_ = b.rdb.Close()
		return nil, fmt.Errorf("redis %v: %w", cfg.Addrs, err)
	}
	b.up.Store(true)
	b.ps = b.rdb.Subscribe(context.Background(), b.channel())
	b.done.Add(2)
	go b.health()
	go b.subscriber()
	return b, nil
}

var setLogger sync.Once

// redisLog sends go-redis's own messages (reconnect attempts, one a
// command during an outage) to debug level: the outage itself is logged
// once by the health checker.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client", "message", fmt.Sprintf(format, v...))
}

// Up reports whether Redis answered the last health check. When it turns
// true again after an outage, the Store's cache has already been dropped.
func (b *Backend) Up() bool { return b.up.Load() }

// DownSince is when the current outage began (zero while up).
func (b *Backend) DownSince() time.Time {
	if n := b.stats.downSince.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Client is the Redis client, shared with the fleet velocity counters.
func (b *Backend) Client() redis.UniversalClient { return b.rdb }

// Close stops the background work and closes the connections.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	close(b.quit)
	_ = b.ps.Close()
	b.done.Wait()
	return b.rdb.Close()
}

// health pings Redis every HealthInterval: a failed ping marks Redis down
// (budgeted reads then fail at once), a good one marks it up again.
func (b *Backend) health() {
	defer b.done.Done()
	t := time.NewTicker(b.cfg.HealthInterval)
	defer t.Stop()
	slow := 0
	for {
		select {
		case <-b.quit:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.HealthTimeout)
		err := b.rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			slow = 0
			b.setUp(true, nil)
			continue
		}
		// One slow ping on a busy host is not an outage; two in a row, or
		// a refused connection, is.
		var ne net.Error
		if slow++; slow >= 2 || !(errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()) {
			b.setUp(false, err)
		}
	}
}

// setUp records the outcome of a health check (up) or of a connection fault
// (down). Only the health checker marks Redis up, and it drops the cache
// first: invalidations published while this sidecar was away are lost, so
// entries cached before the outage may be stale, and none may be served
// once Up reports true (misses go to Redis again from then on).
func (b *Backend) setUp(up bool, err error) {
	if up {
		if b.up.Load() {
			return
		}
		b.resetCache()
		if b.up.Swap(true) {
			return
		}
		b.stats.recoveries.Add(1)
		b.log.Info("redis reachable again", "down_for", time.Since(b.DownSince()).Round(time.Millisecond))
		b.stats.downSince.Store(0)
		return
	}
	if !b.up.Swap(false) {
		return
	}
	b.stats.outages.Add(1)
	b.stats.downSince.Store(time.Now().UnixNano())
	b.log.Error("redis unreachable: decisions use the cache and the fallback; operator writes fail", "error", err)
}

// fail marks Redis down when err is a connection fault (not a timeout of
// a budgeted read, nor a Redis error reply).
func (b *Backend) fail(err error) {
	var re redis.Error
	var ne net.Error
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &re) || (errors.As(err, &ne) && ne.Timeout()) {
		return
	}
	b.setUp(false, err)
}

func (b *Backend) unavailable(ctx context.Context, op string, err error) error {
	if timedOut(ctx, err) {
		// Out of time, not necessarily down: the health check decides.
		return fmt.Errorf("%w: redis %s: %w", state.ErrUnavailable, op, err)
	}
	b.fail(err)
	return fmt.Errorf("%w: redis %s: %w", state.ErrUnavailable, op, err)
}

// Get reads keys of bucket bk (one transaction when they share a slot).
func (b *Backend) Get(bk state.Bucket, keys [][]byte, fn func(int, []byte) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.WriteTimeout)
	defer cancel()
	return b.get(ctx, "get", bk, keys, fn)
}

// GetFast is Get within the read budget; past it, or while Redis is known
// to be down, it fails with an error wrapping state.ErrUnavailable.
func (b *Backend) GetFast(bk state.Bucket, keys [][]byte, fn func(int, []byte) error) error {
	if !b.up.Load() {
		b.stats.unavailable.Add(1)
		return fmt.Errorf("%w: redis down", state.ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.ReadBudget)
	defer cancel()
	err := b.get(ctx, "read", bk, keys, fn)
	if err != nil && timedOut(ctx, err) {
		b.stats.budgetExceeded.Add(1)
	}
	return err
}

// timedOut reports whether err is ctx's deadline: ctx says so, or the
// socket's read deadline (set to ctx's) fired a moment before ctx did.
func timedOut(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (b *Backend) get(ctx context.Context, op string, bk state.Bucket, keys [][]byte, fn func(int, []byte) error) error {
	if b.closed.Load() {
		return state.ErrClosed
	}
	cmds := make([]*redis.StringCmd, len(keys))
	exec := func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, b.key(bk, k))
		}
		return nil
	}
	var err error
	if len(keys) > 1 && (!b.cluster || sameTag(bk, keys)) {
		_, err = b.rdb.TxPipelined(ctx, exec)
	} else {
		_, err = b.rdb.Pipelined(ctx, exec)
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return b.unavailable(ctx, op, err)
	}
	for i, c := range cmds {
		v, err := c.Bytes()
		switch {
		case errors.Is(err, redis.Nil):
			v = nil
		case err != nil:
			return b.unavailable(ctx, op, err)
		}
		if err := fn(i, v); err != nil {
			return err
		}
	}
	return nil
}

// scanPage is how many keys a Scan reads per round trip.
const scanPage = 256

// Scan walks the bucket's index (a sorted set ordered by key bytes).
func (b *Backend) Scan(bk state.Bucket, prefix, from []byte, fn func(key, value []byte) error) error {
	if b.closed.Load() {
		return state.ErrClosed
	}
	start := "[" + string(prefix)
	if len(from) > 0 && string(from) > string(prefix) {
		start = "[" + string(from)
	} else if len(prefix) == 0 {
		start = "-"
	}
	stop := "+"
	if end := prefixEnd(prefix); end != nil {
		stop = "(" + string(end)
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.WriteTimeout)
		members, err := b.rdb.ZRangeByLex(ctx, b.indexKey(bk), &redis.ZRangeBy{Min: start, Max: stop, Count: scanPage}).Result()
		if err != nil {
			cancel()
			return b.unavailable(ctx, "scan", err)
		}
		vals := make([][]byte, len(members))
		keys := make([][]byte, len(members))
		for i, m := range members {
			keys[i] = []byte(m)
		}
		err = b.get(ctx, "scan", bk, keys, func(i int, v []byte) error { vals[i] = v; return nil })
		cancel()
		if err != nil {
			return err
		}
		for i, k := range keys {
			if vals[i] == nil {
				continue // deleted between the index read and the value read
			}
			if err := fn(k, vals[i]); err != nil {
				if errors.Is(err, state.ErrStop) {
					return nil
				}
				return err
			}
		}
		if len(members) < scanPage {
			return nil
		}
		start = "(" + members[len(members)-1]
	}
}

// prefixEnd is the first key after every key with prefix (nil: none).
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for len(end) > 0 {
		if end[len(end)-1] < 0xff {
			end[len(end)-1]++
			return end
		}
		end = end[:len(end)-1]
	}
	return nil
}

// Commit applies the batch with one script per hash tag group (one group
// on a single Redis; one per slot with Redis Cluster), which checks the
// group's conditions (state.Write.If) before it writes anything, then
// publishes the changed keys to the other sidecars. Journal sequence
// numbers are reserved first with INCRBY: a failed commit leaves a gap,
// never a reused number. With Redis Cluster the groups are separate
// transactions: a failure or a conflict in one leaves the groups committed
// before it in place (the Store's retry is idempotent for accounts; the
// journal may then hold a record twice, never lose one).
//
// The journal's hash chain (state.ChainWrites): the journal records, their
// chain entries and the chain's head are global keys, in one group, so
// they commit together; the head is written under a condition on the head
// the links were computed from. When only that condition fails (another
// sidecar chained records meanwhile), nothing of the group was written:
// Commit reads the head again, computes the links anew and runs the group
// again. Sidecars chain in the order their commits reach Redis, which may
// differ from sequence order: each chain entry names the record before it.
func (b *Backend) Commit(batch *state.Batch) (uint64, error) {
	if b.closed.Load() {
		return 0, state.ErrClosed
	}
	if err := state.CheckWrites(batch); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.WriteTimeout)
	defer cancel()
	var first uint64
	chain := false
	if n := len(batch.Journal); n > 0 {
		last, err := b.rdb.IncrBy(ctx, b.prefixed("{g}:seq"), int64(n)).Result()
		if err != nil {
			return 0, b.unavailable(ctx, "commit", err)
		}
		first = uint64(last) - uint64(n) + 1
		for _, j := range batch.Journal {
			chain = chain || j.Chain
		}
	}
	headKey := state.ChainHeadKey()
	var msg []byte
	// build lays the batch out in groups; head is the chain's head it is
	// chained after. The groups and their order do not depend on head.
	build := func(head []byte) ([]*commitGroup, error) {
		groups := make(map[string]*commitGroup)
		var order []*commitGroup // deterministic, as the batch lists them
		group := func(bk state.Bucket, key []byte) *commitGroup {
			t := ""
			if b.cluster {
				t = tag(bk, key)
			}
			g := groups[t]
			if g == nil {
				g = &commitGroup{idx: make(map[string]int)}
				groups[t] = g
				order = append(order, g)
			}
			return g
		}
		put := func(w state.Write) {
			g := group(w.Bucket, w.Key)
			k := g.key(b.key(w.Bucket, w.Key), w)
			if w.If != nil {
				g.conds = append(g.conds, k, digestHex(*w.If))
			}
			switch {
			case w.Delete:
				g.ops = append(g.ops, "d", k)
			case w.Bucket == state.BucketSecrets:
				// The first sidecar to create a key wins; the Store reads
				// back the one kept (see state.Shared).
				g.ops = append(g.ops, "n", k, w.Value)
			default:
				g.ops = append(g.ops, "s", k, w.Value)
			}
			if indexed(w.Bucket) {
				ig := group(w.Bucket, nil)
				ik := ig.key(b.indexKey(w.Bucket), state.Write{})
				op := "z"
				if w.Delete {
					op = "r"
				}
				ig.ops = append(ig.ops, op, ik, string(w.Key))
			}
		}
		msg = b.newMessage()
		for _, w := range batch.Writes {
			put(w)
			msg = appendChange(msg, w.Bucket, w.Key)
		}
		for i, j := range batch.Journal {
			seq := first + uint64(i)
			put(state.Write{Bucket: state.BucketJournal, Key: state.SeqKey(seq), Value: j.Record})
			if j.UID != "" {
				put(state.Write{Bucket: state.BucketJournalByUID, Key: state.JournalUIDKey(j.UID, seq), Value: []byte{}})
			}
		}
		if chain {
			cw, err := state.ChainWrites(head, first, batch.Journal)
			if err != nil {
				return nil, err
			}
			was := state.ValueDigest(head)
			for _, w := range cw {
				if w.Bucket == state.BucketMeta {
					w.If = &was
				}
				put(w)
			}
		}
		return order, nil
	}
	readHead := func() (head []byte, err error) {
		err = b.get(ctx, "commit", state.BucketMeta, [][]byte{headKey}, func(_ int, v []byte) error {
			if v != nil {
				head = append([]byte{}, v...)
			}
			return nil
		})
		return head, err
	}
	// The head this process last wrote or read: right unless another
	// sidecar chained since (then the condition fails and it is read).
	var head []byte
	if chain {
		if h := b.head.Load(); h != nil {
			head = *h
		} else {
			var err error
			if head, err = readHead(); err != nil {
				return 0, err
			}
		}
	}
	order, err := build(head)
	if err != nil {
		return 0, err
	}
	var conflict *state.ConflictError
	for gi, tries := 0, 0; gi < len(order); gi++ {
		g := order[gi]
		args := make([]any, 0, 1+len(g.conds)+len(g.ops))
		args = append(append(append(args, len(g.conds)/2), g.conds...), g.ops...)
		bad, err := commitScript.Run(ctx, b.rdb, g.keys, args...).Int64Slice()
		if err != nil {
			return 0, b.unavailable(ctx, "commit", err)
		}
		for _, i := range bad {
			if i < 1 || int(i) > len(g.writes) {
				return 0, fmt.Errorf("redis commit: script reported key %d of %d", i, len(g.writes))
			}
		}
		if chain && len(bad) == 1 && g.writes[bad[0]-1].Bucket == state.BucketMeta && string(g.writes[bad[0]-1].Key) == string(headKey) {
			// Another sidecar moved the chain's head: chain after the new one.
			if tries++; tries > maxChainRetries {
				return 0, fmt.Errorf("redis commit: the journal's chain head kept moving (%d tries)", tries)
			}
			if head, err = readHead(); err != nil {
				b.head.Store(nil)
				return 0, err
			}
			if order, err = build(head); err != nil {
				return 0, err
			}
			gi--
			continue
		}
		if chain && len(bad) == 0 {
			if w, ok := g.idx[b.key(state.BucketMeta, headKey)]; ok {
				v := g.writes[w-1].Value // the head this group wrote
				b.head.Store(&v)
			}
		}
		for _, i := range bad {
			w := g.writes[i-1]
			if w.Bucket == state.BucketMeta && string(w.Key) == string(headKey) {
				continue // not the Store's: its retry chains anew
			}
			if conflict == nil {
				conflict = &state.ConflictError{}
			}
			conflict.Keys = append(conflict.Keys, state.BucketKey{Bucket: w.Bucket, Key: w.Key})
		}
	}
	if conflict != nil && len(order) == 1 {
		return 0, conflict // nothing written: nothing to announce
	}
	if len(batch.Writes) > 0 {
		// Best effort: should it fail, the subscribers lose their
		// connection too and drop their caches when they get it back.
		if err := b.rdb.Publish(ctx, b.channel(), msg).Err(); err != nil {
			b.fail(err)
			b.log.Warn("redis: invalidation not published", "error", err)
		} else {
			b.stats.invalSent.Add(1)
		}
	}
	if conflict != nil {
		return 0, conflict
	}
	return first, nil
}

// maxChainRetries bounds how often one commit chains again after another
// sidecar moved the head (each retry means another commit went through).
const maxChainRetries = 64

// commitGroup is what one script call commits: its keys (KEYS, each once),
// the write that named each key first, the conditions (key index, hex
// digest) and the operations (op, key index[, value]).
type commitGroup struct {
	keys   []string
	writes []state.Write
	idx    map[string]int
	conds  []any
	ops    []any
}

// key returns the 1-based index of k in the group's KEYS.
func (g *commitGroup) key(k string, w state.Write) int {
	if i, ok := g.idx[k]; ok {
		return i
	}
	g.keys = append(g.keys, k)
	g.writes = append(g.writes, w)
	g.idx[k] = len(g.keys)
	return len(g.keys)
}

// digestHex is a condition as the script compares it: the hex SHA-1 of
// the value, "" for absent.
func digestHex(d state.Digest) string {
	if d == (state.Digest{}) {
		return ""
	}
	return hex.EncodeToString(d[:])
}

// commitScript checks every condition of a group against the values before
// the group, then applies the group's writes, atomically. It returns the
// (1-based) KEYS indexes whose condition failed; then nothing was written.
var commitScript = redis.NewScript(`
local c = tonumber(ARGV[1])
local bad = {}
for i = 0, c - 1 do
  local ki = tonumber(ARGV[2 + 2 * i])
  local v = redis.call('GET', KEYS[ki])
  local d = ''
  if v then d = redis.sha1hex(v) end
  if d ~= ARGV[3 + 2 * i] then bad[#bad + 1] = ki end
end
if #bad > 0 then return bad end
local i = 2 + 2 * c
while i <= #ARGV do
  local op, k = ARGV[i], KEYS[tonumber(ARGV[i + 1])]
  if op == 'd' then
    redis.call('DEL', k)
    i = i + 2
  else
    local a = ARGV[i + 2]
    if op == 's' then redis.call('SET', k, a)
    elseif op == 'n' then redis.call('SET', k, a, 'NX')
    elseif op == 'z' then redis.call('ZADD', k, 0, a)
    elseif op == 'r' then redis.call('ZREM', k, a)
    else return redis.error_reply('commit script: unknown operation ' .. op) end
    i = i + 3
  end
end
return bad
`)

// indexed buckets are those the Store scans.
func indexed(bk state.Bucket) bool {
	switch bk {
	case state.BucketLists, state.BucketExpiry, state.BucketJournal, state.BucketJournalByUID, state.BucketQueue, state.BucketChain:
		return true
	}
	return false
}

func (b *Backend) prefixed(s string) string { return b.cfg.Prefix + ":" + s }

func (b *Backend) channel() string { return b.cfg.Prefix + ":invalidate" }

// key is where key of bucket bk lives:
// prefix:{tag}:bucket:key, the tag grouping one account's keys in a slot.
func (b *Backend) key(bk state.Bucket, key []byte) string {
	t := tag(bk, key)
	out := make([]byte, 0, len(b.cfg.Prefix)+len(t)+len(key)+20)
	out = append(out, b.cfg.Prefix...)
	out = append(out, ":{"...)
	out = append(out, t...)
	out = append(out, "}:"...)
	out = strconv.AppendUint(out, uint64(bk), 10)
	out = append(out, ':')
	return string(append(out, key...))
}

func (b *Backend) indexKey(bk state.Bucket) string {
	return b.cfg.Prefix + ":{i" + strconv.Itoa(int(bk)) + "}:index"
}

// tag is the hash tag of a key: the hex FNV-1a hash of the account (UID)
// the key belongs to, so that an account, its UID list entries, its
// verifications and its journal index share a Redis Cluster slot; of the
// subject for other list entries; "g" for global keys; the index of the
// bucket for an index (key nil).
func tag(bk state.Bucket, key []byte) string {
	if key == nil {
		return "i" + strconv.Itoa(int(bk))
	}
	id, ok := state.Owner(bk, key)
	if !ok {
		return "g"
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	var sum [8]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

func sameTag(bk state.Bucket, keys [][]byte) bool {
	for _, k := range keys[1:] {
		if tag(bk, k) != tag(bk, keys[0]) {
			return false
		}
	}
	return true
}

// Invalidation message: origin(16) sent(8, unix ns) then per change
// bucket(1) uvarint(len key) key.
func (b *Backend) newMessage() []byte {
	msg := make([]byte, 24, 64)
	copy(msg, b.origin[:])
	binary.BigEndian.PutUint64(msg[16:], uint64(time.Now().UnixNano()))
	return msg
}

func appendChange(msg []byte, bk state.Bucket, key []byte) []byte {
	msg = append(msg, byte(bk))
	msg = binary.AppendUvarint(msg, uint64(len(key)))
	return append(msg, key...)
}
