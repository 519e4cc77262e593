// Package velocity counts requests per UID, device and IP over sliding
// windows, in process, for pdp.Velocity: the sidecar updates and reads it on
// every decision.
//
// # Use
//
// Tracker.Observe records one request (a money movement of some amount, or a
// login) on its UID, device and IP keys and returns their counts including
// that request; Tracker.Read returns the counts without recording.
// RecordFailure counts payment, PIN and login failures of a UID, and
// RecordSpend the amounts a UID was allowed to move (Spent24h). Each method
// takes the time explicitly; the tracker never reads the wall clock.
// ObserveWithReceipt and RecordSpendWithReceipt also note what they wrote
// in a Receipt, and Undo takes it back (a decision that did not take
// effect; receipt.go says what is restored).
//
// # Windows and precision
//
// Every window is a ring of buckets aligned to the Unix epoch (UTC):
//
//	window   bucket width B   buckets   used by
//	1m       5 s              12 + 1    Count1m, Amount1m
//	1h       5 min            12 + 1    Count1h, Amount1h, Logins1h, failures 1h,
//	                                    UIDDevices1h, DeviceUIDs1h
//	24h      1 h              24 + 1    Count24h, Amount24h, failures 24h, Spent24h
//
// The rule, exact and tested: an event at second t counts in a window of
// length W = N·B at time now if and only if ⌊t/B⌋ ≥ ⌊now/B⌋ − N. So a window
// counts every event of the last W (now−W ≤ t ≤ now) and possibly events up
// to B older than that, never older: an event stays counted for more than W
// and at most W+B after it happened (1m: at most 65 s; 1h: 65 min; 24h: 25 h).
// Times are whole Unix seconds; every B is a whole number of seconds, so the
// flooring changes nothing. The distinct counts apply the 1h rule to the time
// each id was last seen with the key.
//
// Time never goes backwards per key: a write at a time before the key's
// latest write is recorded at that latest time (a clock stepped back a few
// seconds loses nothing and corrupts nothing), and a read before it reads at
// it. A gap of any length (days, years) just empties the rings. Two
// consequences: after a clock steps back by D, a key written meanwhile keeps
// its time until D has passed, so its latest bucket collects the requests
// and reads high (never low) for up to D; and Sweep and Restore drop what
// has expired at the time they are given, which a later call with an
// earlier time does not bring back.
//
// Amounts are float64 sums; a non-finite or negative amount counts as a
// request of amount 0. Bucket counts are uint32 and do not saturate (4·10⁹
// requests of one key in one bucket).
//
// UIDDevices1h and DeviceUIDs1h saturate at SetCap (64): a value of 64 means
// 64 or more. Each key keeps at most 64 distinct ids (the low 32 bits of the
// other key's hash) with the second each was last seen; an id that left the
// window frees its slot, and a full set replaces its least recently seen id.
//
// # Keys and hashing
//
// Keys are identified by a 64-bit SipHash-2-4 of the string under a random
// per-tracker 128-bit key, separate per kind (a device id never meets a UID
// of the same spelling). Two different keys of one kind with equal hashes
// share their counts: with n keys tracked the chance that any two collide is
// about n²/2⁶⁵ (3·10⁻⁸ for a million keys), accepted. Ids in the distinct
// sets are 32 bits: two ids within one key's set of at most 64 collide with
// probability below 10⁻⁶, which would undercount by one, also accepted. The
// hash key is secret, so callers cannot aim for collisions; it is written into
// snapshots, which must be protected like the data they hold.
//
// # Memory
//
// The key space is split into Config.Shards shards, each a map from hash to
// an index in slabs of pointer-free entries (invisible to the GC mark phase;
// slabs grow in chunks, reuse freed elements and never shrink). A key pays
// only for what it uses:
//
//	entry (any key)                       112 bytes, plus ~28 in the map
//	rings, once a key had > 4 live        720 bytes
//	requests in 24 h
//	distinct ids beyond 4                 512 bytes
//	failure rings (UIDs with failures)    464 bytes
//	spending ring (UIDs with spend)       216 bytes
//
// A key starts in small mode: its first 4 requests are kept as raw (second,
// amount) events and counted by the same bucket rule at read time; a request
// that finds 4 events still counted moves the key to rings. Measured
// (TestBytesPerKey, 100k keys, heap delta after GC): 141 bytes per key seen
// once, 872 per key with rings. A key that no window counts any more (idle
// 24 to 25 h) expires: the sweeper removes it, or eviction finds it first;
// parts that expire earlier (ids after 1 h, failures, spending) are released
// by the sweeper.
//
// Config.MaxKeys bounds the keys (default 1,000,000, split evenly over the
// shards). A full shard evicts with CLOCK (second chance): the hand skips,
// and clears, keys used since it last passed; a new key has no second chance
// until it is used again, so a scan of one-off keys does not flush hot ones.
//
// # Concurrency
//
// Every method is safe for concurrent use except Restore, which must run
// before serving. Observe locks each key's shard once, for its update and
// read together, and never holds two locks; the three keys of a request are
// therefore not a consistent cut (another request may land between them).
// Observe and Read are allocation-free for known keys; new keys allocate only
// when the slabs or maps grow. Each ring keeps its total at its newest
// bucket, so the read that follows a write costs no loop; a read at a later
// bucket sums at most 25 slots. Sweep and Snapshot hold a shard lock for at
// most a few hundred entries at a time.
//
// # Snapshots
//
// Snapshot writes a versioned binary image (format in snapshot.go, CRC-32C
// checked); Restore loads it into an empty tracker after a restart, drops
// what has expired meanwhile, and rejects unknown versions with
// ErrSnapshotVersion and damaged input with ErrSnapshotCorrupt. The image
// holds about 30 bytes per small-mode key and 700 per key with rings.
//
// # RATIONALE
//
// Buckets: twelve buckets per short window bound the overcount to a twelfth
// of the window (5 s of a minute, 5 minutes of an hour); the 24h window uses
// hours, which keeps daily caps to at most one extra hour. The ring holds one
// more slot than the window has buckets so that the window is never short:
// with exactly N slots the oldest bucket would be dropped while part of it is
// still inside the window, and a risk counter should err high ("stricter
// rather than bottomless"), not low. Aligning buckets to the epoch instead of
// to each key's first event makes the rule one formula, and lets the 1h ring
// serve logins and distinct ids alike.
//
// Small mode: most keys (one-off IPs, devices seen once) never need rings;
// four raw events cost 48 bytes against 720 for rings, and counting them by
// the ring's own rule keeps the precision identical in both modes.
//
// SipHash instead of hash/maphash: snapshots store keys by hash, so the hash
// key must survive a restart; maphash seeds cannot be exported. The cost is
// a sixth of a hot-key Observe for a 36-byte id (README.md, "Measured
// costs of the components").
//
// Running totals: summing seven rings per key on every read took more than
// half of a hot-key Observe (almost four times its cost with totals; README.md,
// "Measured costs of the components"). Totals that are only ever recomputed from the
// slots, never decremented, keep float sums free of drift.
package velocity
