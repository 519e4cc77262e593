// Package state keeps the sidecar's risk state durable: list entries (block,
// allow, VIP by UID, device, IP, card BIN), account state (freezes,
// probation, limits, events, known devices, follow-up flags),
// verification results, named secrets, and the audit journal.
// The decision path reads it on every decision and, through policy
// obligations, writes to it; the operator API changes lists and accounts.
//
// # Layers
//
// A Store is three layers, read in this order:
//
//	cache    ristretto, bounded by Config.CacheMaxCost bytes, behind a
//	         direct-mapped table of the 4096 latest fills and hits (a
//	         ristretto Set is applied later: a decision's update of the
//	         account it has just read finds it there); holds decoded
//	         reputations, account snapshots and verifications. A subject
//	         on no list, and the verification of an account that never
//	         verified, are answered by the bbolt backend's filters (of the
//	         lists' keys, of the UIDs with verifications) and kept in the
//	         table of latest fills only, not in ristretto.
//	overlay  account changes made in Async mode and not yet persisted; the
//	         truth for its UIDs until the committer has written them
//	backend  the durable copy: one bbolt file by default (OpenBolt), with
//	         its write-ahead log (wal.go: a commit is one record, written
//	         into a segment allocated ahead and fdatasynced, applied to
//	         the file by a checkpoint every quarter of a second), behind
//	         the Backend interface (get, scan by
//	         prefix, atomic commit of a batch with its journal records,
//	         close) that a shared backend such as Redis can implement
//
// Beside them, the IP range index (ranges.go): the list entries that name a
// range ("10.0.0.0/8") in a bart trie in memory, so that Reputation finds
// every range covering a request's address in a fraction of a microsecond.
// It is built from the backend at Open and changed by every commit that
// writes a range, before the writer is released; like the cache it is
// never the only copy.
//
// A shared backend (Shared: Redis, pdp/internal/fleet) serves several sidecars: the
// decision path's cache misses are read within the backend's budget
// (ErrUnavailable past it: the state is unknown, not absent), and the
// backend reports keys other sidecars changed, whose cache entries are
// then dropped (shared.go). Its account writes are compare-and-set: a
// change is applied again to the stored value when another sidecar
// changed the account meanwhile, so no sidecar's change is lost
// (rebase.go).
//
// # List values
//
// A list entry whose value no request can carry would block nothing,
// silently. PutListEntry, PutListEntries and DeleteListEntry therefore take
// a value only in a form a request can match, and store it in the one
// spelling the request decoder gives the request's (CanonicalListValue,
// listvalue.go): uid and device as the decoder's identifier rule; an IP
// address parsed, v4-mapped unmapped, IPv6 in RFC 5952 form, no zone; an
// IP range masked (host bits set is refused, not widened) and no wider
// than /8 (IPv6 /16) on the block list, /16 (/48) on the allow and VIP
// lists; a card_bin 6 to 8 digits, never a card number. Anything else is
// ErrInvalid, with a *pdp.Error naming the field, and nothing of it is
// written. Reputation matches an IP against its own entries and every
// active range covering it (each list apart: a block anywhere on the path
// blocks), and a BIN against its own entries and the shorter BINs it
// begins (411111 blocks 41111111); the block reason is the most specific
// one. A state written before these rules is put right once at Open
// (legacy.go): IP and card_bin entries move to their canonical spelling
// or, when they have none (a card number on the card_bin list), are
// deleted, with one audit record that counts them
// (TestOpenNormalizesLegacyListValues).
//
// The cache is never the only copy of anything: an entry that is evicted,
// rejected by ristretto's admission policy, expired or invalidated is read
// again from the overlay or the backend. The range index is rebuilt from the backend
// at Open (TestRangeExpiresAndSurvivesRestart) and, with a Shared
// backend, whenever invalidations may have been lost and every CacheTTL. A blocklisted subject is found
// whatever the cache size (TestEvictionKeepsBlocklist reads 3000 entries
// through a 4 KiB cache).
//
// A BIN entry shorter than 8 digits is part of the reputation of every
// longer BIN it begins: its writes (and those other sidecars report)
// move the generations of all of them (111 keys for a 6-digit entry), so
// a cached "41111111: not blocked" is not served after 411111 is blocked
// (TestBINPrefixMatching). IP ranges are not cached per address: the
// index answers every call, so a range write is in force at once.
//
// # Writes
//
// Every write reaches the backend through one goroutine, the committer.
//
// Sync writes (PutListEntry, PutListEntries, DeleteListEntry, PutVerification,
// Secret, UpdateAccount in Sync mode) hand their change, with its audit
// record, to the committer and wait: the change and the record commit
// atomically and durably before the call returns (with the bbolt backend:
// one record of the write-ahead log, fdatasynced), and a failure is
// returned, never swallowed; on error nothing of the change is applied.
// Concurrent sync writes share transactions (group commit), and a group
// whose transaction fails is retried request by request, so a write that
// cannot commit fails alone. The journal is a bbolt bucket keyed by a
// sequence number that the commit assigns (monotonic, never reused, also
// across a crash: the log records the sequence with the writes),
// indexed by UID. The decision records the decision path adds for case
// trails (pdp.ActionDecision) are pruned by the sweeper once they are
// further back than Config.DecisionTrailMax records or older than
// Config.DecisionTrailRetention, so the file stops growing under steady
// traffic. Every other record (operator actions, freezes, releases,
// limits, verifications, outcomes) is kept for Config.AuditRetention
// (five years) and hash-chained by the commit that appends it: each
// carries SHA-256 of the link before it, its seq and its bytes, so
// VerifyChain finds a record altered, removed, reordered or inserted
// (chain.go); past the retention they are pruned oldest first behind a
// checkpoint the chain is verified from.
//
// Async writes (UpdateAccount in Async mode: what the decision path does on
// a policy's behalf — apply a freeze, probation, limit or flag, remember a
// device) put the new state, with its audit record, in the overlay and
// return: the change is visible to every following read at once, and the
// caller never waits for an fsync. The committer writes the overlay in one
// transaction every Config.FlushInterval (10 ms), as soon as
// Config.FlushMaxPending UIDs (1024) are pending, and along with every sync
// commit. A failed flush keeps the changes in the overlay (still served to
// reads), counts the failure and its message in Stats, and is retried at
// the next tick. Close flushes everything pending and returns that flush's
// error. Should the committer fall behind by more than 16 × FlushMaxPending
// records, async writers wait for its next flush (backpressure, at most a
// second, not while flushes fail).
//
// The crash window: on SIGKILL or power loss, what can be lost is async
// changes (and their audit records) made less than FlushInterval plus one
// commit before the crash — or since the last successful flush, while
// flushes fail. Nothing acknowledged by a sync write is lost
// (TestKill9KeepsAcknowledgedWrites kills a writer mid-stream, three times,
// and finds every acknowledged write and its audit record).
//
// Account writes are read-modify-write: UpdateAccount serializes the
// writes of one UID (a stripe of 65536 locks), hands fn a private deep copy,
// and publishes the result as a new immutable snapshot, so readers never
// see a half-made change and no update is lost (TestNoLostUpdates: 800
// concurrent increments, sync and async mixed, in memory and after a
// restart). It then bounds the account: expired freezes, limits and
// probation are dropped; at most 32 freezes (the oldest non-permanent go
// first), 16 limits, the newest 64 events of each kind younger than 90
// days (a flood of one kind never pushes out another), the 32
// devices seen last and the newest 100 flags are kept (MaxFreezes and the
// following constants).
//
// List entries and verifications expire by time, which is not an audited
// action: reads ignore an expired entry at once, and the sweeper (in the
// committer, every Config.SweepInterval, 1 minute) deletes expired list
// entries and verifications older than VerificationRetention past their
// challenge's expiry, through an expiry index, so a sweep reads only what
// is due.
//
// # Cache rules
//
// A write must never be hidden by a stale cache entry, and ristretto makes
// that subtle: Set is asynchronous and may be dropped, and a Set that fills
// the cache from a read made just before a write can land after the write
// and its Del. Entries are therefore validated on every hit instead of
// deleted on write: each key hashes to one of 65536 generation counters; a
// reader loads its counter before it reads the overlay or the backend and
// stores the value in the entry; a writer increments the counter after its
// change is visible. A hit whose generation is no longer the counter's is a
// miss; entries of the table of latest fills are validated the same way.
// The test that runs writers against readers filling the cache from
// a slowed-down backend (TestNoStaleReadAfterWrite) passes with this rule
// and fails with delete-on-write. A write invalidates the other keys of its
// stripe too: one extra miss per 65536 cached keys.
//
// An entry is served until the earliest of: CacheTTL after it was read (1
// minute; NegativeTTL, 10 seconds, when nothing was known), the expiry of
// any list entry it was computed from (a block expiring in 10 s is not
// served from the cache after 10 s), and the next write of its key through
// this Store. Times are those the caller passes (Reputation, Account and
// Verification take the decision's time), so tests use an injected clock.
// With the bbolt backend no one else can write the file (it is locked), so
// the TTLs only bound staleness against a shared backend written by
// another replica. Expired entries stay in the cache until replaced or
// evicted (ristretto's own TTL is not used: it reads the wall clock on
// every Get, a third of the cost of a hit here).
//
// States that a flush or a sync account write committed are put in the
// cache by the committer; reads served from the overlay are not cached
// (the overlay is as fast). Keys are copied before they are kept: callers
// may pass strings that alias reused request buffers.
//
// # Failure modes
//
// Open refuses, with an error that names the file and the cause, a file it
// cannot vouch for, rather than start empty: empty (0 bytes), not a bbolt
// file, failing its checksums, truncated (pages past its end: a read fault
// in bbolt is turned into an error, not a crash), another application's
// bbolt file, another format version, unreadable, read-only, or locked by
// another process past Config.LockTimeout; a new file is built under a
// temporary name and renamed, so a crash while creating never leaves an
// empty file behind. The write-ahead log is replayed into the file at
// Open; a segment of another state file (also a newest one holding only
// its header: only a header cut short is taken for an empty segment), a
// record damaged anywhere but at
// the very end of the newest segment (where a crash cuts an append that
// was never acknowledged short; damage followed by an intact record is
// not that) or a missing segment, also the first after the file's last
// checkpoint, refuses the file; records the file already holds are not
// replayed again (TestWALTornTail, TestWALDamageRefused,
// TestWALDamagedLengthInNewestSegmentRefused,
// TestWALMissingOldestSegmentRefused, TestWALNewestSegmentHeader,
// TestWALReplaySkipsRecordsTheFileHolds). A write bbolt would refuse (an
// empty key, a key past 32 KiB) fails its Commit before it is logged.
// A failed append is cut off the
// log and returned as the commit's error; a failed checkpoint leaves its
// writes in the log and in memory, counted in Stats and retried, and past
// four times the checkpoint's bounds (2^14 keys or 256 MiB of log) writers
// wait for a checkpoint and fail when it fails. At run time a damaged record is an ErrCorrupt error
// for the read (the decision path falls back), a bbolt panic on a damaged
// page is an error, and every method fails with ErrClosed after Close.
//
// # Format
//
// One bbolt file with the buckets of backend.go and the keys of keys.go,
// and beside it the write-ahead log's segments, <file>.wal-<16 hex
// digits>, which belong to the file (a copy of the state is the file and
// its segments, or the file after a clean stop, which leaves none)
// (IP ranges under the kind byte 0x83, a block of their own, so the index
// is built without reading the single addresses);
// format "riskpdp-state/1" in the meta bucket. The records the decision
// path reads (list entries, accounts, verifications) use the versioned
// binary encoding of codec.go, decoded only on cache misses; audit records
// are versioned JSON (record.go), because operators read the journal and
// keep it for years. Golden files in testdata/format1 pin both.
//
// # Cost
//
// The benchmarks (bench_test.go) measure the hot read (four reputations, an
// account and a verification, all cache hits: no allocation), misses from
// bbolt, UpdateAccount in Async mode, PutListEntry and UpdateAccount in
// Sync mode (one fdatasynced log record each), the IP range index and a
// million block entries; the
// figures of one machine are in README.md, "Measured costs of the
// components".
//
// Two thirds of a cache hit is ristretto's Get (its access buffer and shard
// lock). An async write does no I/O and takes only the UID's lock and an
// overlay shard's; two thirds of its cost is the deep copy that makes fn
// safe (see RATIONALE), most of that allocation and GC. The committer then
// encodes and writes each change and audit record in the background.
//
// The range index (BenchmarkIPRangeIndex100k, BenchmarkReputationIP) is
// memory-bound: a lookup walks a few trie nodes, one or two cache misses
// each; looked up alone it stays in the CPU caches, between reputations of
// many addresses (each a ristretto hit that evicts it) it costs more. A
// write copies the trie path it changes, a batch of more than 64 range
// writes clones the trie.
//
// One million block entries (BenchmarkMillionEntries) make a file of about
// 205 bytes per entry; with the store open and the cache cold the heap
// holds nothing per entry (bbolt maps the file).
//
// # RATIONALE
//
// One committer. Sync and async writes of one account interleave (an
// operator releases a freeze while the decision path adds a flag); with
// one goroutine writing in queue order, and a sync account write queued
// after the async writes it read (both hold the UID's lock), a flush can
// never write an older state over a newer one. It also gives group commit
// for free and keeps the Backend interface to four methods.
//
// Generations over delete-on-write: see Cache rules. A hit costs one more
// atomic load.
//
// Deep copy in UpdateAccount. Handing fn the published snapshot's slices
// with copy-on-append semantics would make an async write about three
// times cheaper, but any in-place edit in fn (touching a device's
// LastSeen, slices.DeleteFunc on freezes) would then silently corrupt a
// snapshot that readers hold. Obligations are a fraction of decisions, so
// the safe contract wins.
//
// A write-ahead log in front of bbolt. A bbolt commit copies and rewrites
// every page from the root to each leaf it touches and fsyncs twice: with
// accounts spread over a large file that was some hundred microseconds of
// CPU per commit, and at a sidecar's everyday rates (a few hundred
// decisions a second, each outcome report and verification a sync write)
// most commits carry one or two accounts. A record written into a segment
// allocated ahead and one fdatasync cost a fraction of that (44-48 µs of
// CPU, BenchmarkCommitSerial; 62-68 µs appended to the segment's end);
// the checkpoint pays bbolt's page rewrites once per quarter of a second
// of writes, for accounts written
// several times within it (an order and its payment) once. Checkpoints of
// two seconds amortized more (BenchmarkUpdateAccountSync: 172–190 against
// 224–232 µs of CPU per sync write) but each took a processor for up to
// 400 ms, and the decisions around it waited: in the harness at 1 600–1 800
// decisions/s the sidecar's took_us p99 was 1.8–2.0 ms and the client's
// p99 16–25 ms (2.0× OPA's) with them, 0.6–0.7 ms and 6–9 ms (0.7–0.95×
// OPA's) with a quarter of a second, at the same throughput and CPU per
// decision within the runs' spread. The price: a second copy
// of recent writes in memory (bounded by the checkpoint's triggers), reads
// that look there first (one map lookup under a read lock), and a replay
// at Open of at most the log since the last checkpoint.
//
// Binary records for the decision path. encoding/json decoded a typical
// account about an order of magnitude slower than the binary decoder, and the
// file is smaller. The journal stays JSON: it is read rarely and by people.
//
// No ristretto TTL and no ristretto Metrics: the TTL reads the clock on
// every Get, and Metrics keeps a map of up to 100k admission times. The
// Store keeps its own expiry in each entry and its own striped counters.
package state
