// Package fleet makes a fleet of sidecars behave as one decision point:
// the durable risk state on Redis (a state.Backend and state.Shared, with
// github.com/redis/go-redis/v9, single Redis or Redis Cluster), cache
// invalidation across the fleet, and fleet-wide velocity counts. It is on
// with `pdp serve --redis-addr HOST:PORT` or the redis section of the
// config file.
//
// # Reads: the cache first, Redis within a budget
//
// The Store's ristretto cache stays the hot path: a hit never touches
// Redis (BenchmarkDecideL1Hit, BenchmarkStateHit: same allocations as
// the embedded file). A miss of the decision path (Reputation, Account,
// Verification) goes to Redis through GetFast, bounded by
// Config.ReadBudget (default 2 ms): past it, or at once while Redis is
// known to be down, the read fails with state.ErrUnavailable and that
// part of the state is unknown: the decision path names it in
// input.state_unknown and the policy decides with what is known (the
// reference policy steps up with reason state_unavailable; a block still
// cached denies, and so does a cached block or freeze past the cache TTL:
// the Store serves those stale when Redis cannot answer, until their own
// expiry, TestStaleBlocksDuringOutage). The keys of one read share a hash tag and are read
// in one MULTI/EXEC (one snapshot).
//
// # Writes: Redis first, then the cache
//
// Commit writes a batch with one Lua script (commitScript): values under
// prefix:{tag}:bucket:key, a sorted set per scanned bucket (lists, expiry
// index, journal, journal by UID) that Scan walks in key order with
// ZRANGEBYLEX, and the audit records under sequence numbers reserved with
// INCRBY (a failed commit leaves a gap, never a reused number). Only
// after Redis acknowledged does the Store update its cache. A write that
// cannot reach Redis fails: operator writes return the error (the admin
// API answers 5xx), async changes from decisions stay in the Store's
// overlay and are retried. Secrets (the challenge signing key) are
// written with SET NX and read back, so sidecars starting together agree
// on one key. Durability is Redis's: run it with appendonly yes and
// appendfsync always for the guarantee of the embedded file (the tests
// do).
//
// Account writes are conditional (state.Write.If): the script compares the
// SHA-1 of each such key's stored value with the digest the Store read
// before it writes anything, and refuses the whole batch otherwise (a
// *state.ConflictError); the Store then applies its change again to the
// newer value (state's rebase.go). Two sidecars changing one account at
// once therefore both take effect (TestConcurrentAccountWrites).
//
// # Redis Cluster
//
// Config.Cluster with the seed nodes. Keys carry a hash tag, the FNV-1a
// hash of their owner (state.Owner): an account, its UID list entries,
// its verifications and its journal index share a slot; other list
// entries are tagged by subject; global keys (secrets, journal records,
// sequence) by "g"; each bucket index has its own tag. A commit is then
// one script per tag, atomic per account but not across accounts
// (the journal record and the change it records can be split by a
// failure between them). TestCluster runs the state, invalidation and
// velocity on a real three-master cluster (redis-server, redis-cli).
//
// # Invalidation across the fleet
//
// After a commit the writer publishes the changed keys on the channel
// prefix:invalidate: origin (16 random bytes, so a sidecar skips its
// own), the commit's wall time (8 bytes, Unix ns, big-endian), then per
// key bucket(1) uvarint(len) key. Every sidecar subscribes and drops the
// cache entries computed from those keys (their generation moves on);
// the risk platform writing Redis directly publishes the same message.
// A lost subscription (Redis restart, network) is re-established by
// go-redis, and every (re)subscription drops the whole cache, since what
// was published meanwhile is gone; so does the health checker when Redis
// comes back, before it reports Redis up again. The cache TTLs
// (state.Config CacheTTL, NegativeTTL) remain the backstop for a lost
// message.
//
// IP range entries (10.0.0.0/8 on a list) are not cached per address but
// held in each Store's range index: a reported range key is read again
// from Redis by the Store's range refresher and applied to the index; a
// (re)subscription rebuilds the index from Redis, and so does every
// CacheTTL (at least a second) as the backstop. TestRangesAcrossSidecars
// (a range through A blocks on B, then its delete; a later sidecar and a
// Redis restart keep it) and TestRangesWithLostInvalidations (a sidecar
// that heard nothing catches up on a reported loss and on the timer).
//
// TestInvalidation and TestThreeSidecars measure how long after A's commit
// call sidecar B sees a block made through sidecar A (the figures of one
// machine are in README.md, "A fleet on Redis"). In production
// Stats.LastDelay and MaxDelay and the metric
// pdp_redis_invalidation_delay_seconds report the publish-to-receipt delay.
//
// # Fleet-wide velocity
//
// Velocity counts money movements per UID, device and IP in Redis
// buckets: 10-second slots for the 1-minute window, 1-minute slots for
// the 1-hour window, each a key incremented with INCRBY and expiring
// after its window. The decision path only adds its observation to a
// local map and reads the fleet counts as of the last sync (no network,
// BenchmarkFleetVelocityObserve); count_1m and count_1h become the
// larger of the local window and the fleet's. A background loop, every
// VelocityConfig.Interval (default 100 ms, and at once when a new subject
// appears), pushes the local increments and reads back the buckets of the
// subjects seen here in the last 2 minutes, in one pipeline.
//
// Staleness bound: a decision on sidecar X is counted by sidecar Y at the
// latest 2 × Interval plus two Redis round trips after it (X's next push,
// then Y's next pull), provided Y has seen the subject before
// (TestVelocityStaleness measures it with a 50 ms interval).
// A subject Y has never seen counts locally on its first decision there.
// Amounts, logins, failures and distinct-device counts stay local. While
// Redis is down the counts are local and the increments are kept and sent
// on recovery (a failed push is sent again: it can over-count, never
// under-count). The 1-minute window sums six 10-second slots, so it spans
// 50 to 60 seconds.
//
// # Degraded modes
//
// A health check pings Redis every HealthInterval (250 ms); a refused
// connection or two slow pings in a row mark it down: misses then fail at
// once (no time spent), decisions flow from the cache and the fallback,
// the outage is logged once, pdp_redis_up is 0, and /health/ready reports
// it as degraded (or fails, with redis.fail_readiness). Operator writes
// fail with state.ErrUnavailable. When Redis answers again everything
// resumes by itself: the cache is dropped once, before Backend.Up (and
// pdp_redis_up) reports Redis up, so no entry cached before the outage is
// served once it does; pending async changes are flushed, the velocity
// increments are sent (TestRedisOutage kills Redis under traffic and
// starts it again). A sidecar that cannot reach Redis at start refuses to
// start.
package fleet
