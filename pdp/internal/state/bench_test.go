package state

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/benchutil"
)

// benchStore holds one subject of each kind on a list, an account with a
// typical history and a verification.
func benchStore(b *testing.B, mods ...func(*Config)) (*Store, time.Time) {
	b.Helper()
	s, clk, _ := openTest(b, mods...)
	now := clk.Now()
	mustPut(b, s, block(pdp.SubjectDevice, "d-bench", "farm"))
	mustPut(b, s, pdp.ListEntry{List: pdp.ListVIP, Subject: pdp.SubjectUID, Value: "u-bench"})
	if _, err := s.UpdateAccount(bg, "u-bench", Sync, nil, typicalAccount(now)); err != nil {
		b.Fatal(err)
	}
	if err := s.PutVerification(bg, pdp.Verification{UID: "u-bench", Subject: "t-bench", Methods: []string{"sms"},
		Results: map[string]pdp.VerificationResult{"sms": pdp.VerificationPassed}}); err != nil {
		b.Fatal(err)
	}
	return s, now
}

// typicalAccount: a few events and devices, one expired freeze.
func typicalAccount(now time.Time) func(*pdp.AccountState) error {
	return func(a *pdp.AccountState) error {
		for i := range 6 {
			a.Events = append(a.Events, pdp.AccountEvent{Kind: "login_failed", At: now.Add(-time.Duration(i) * time.Hour), DeviceID: "d-1"})
		}
		for i := range 3 {
			a.Devices = append(a.Devices, pdp.KnownDevice{ID: fmt.Sprint("d-", i), FirstSeen: now.Add(-720 * time.Hour), LastSeen: now})
		}
		a.Flags = append(a.Flags, pdp.CaseFlag{Kind: "follow_up", Reason: "large_amount", TxnID: "t-0", At: now})
		return nil
	}
}

func hotRead(b *testing.B, s *Store, now time.Time) {
	for _, k := range [...]struct {
		kind pdp.SubjectKind
		v    string
	}{{pdp.SubjectUID, "u-bench"}, {pdp.SubjectDevice, "d-bench"}, {pdp.SubjectIP, "10.0.0.1"}, {pdp.SubjectCardBIN, "411111"}} {
		if _, err := s.Reputation(k.kind, k.v, now); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.Account("u-bench", now); err != nil {
		b.Fatal(err)
	}
	if _, _, err := s.Verification("u-bench", "t-bench", now); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHotRead is what one decision reads: four reputations (the UID
// and the device on lists, cache hits; the IP and the BIN on none,
// answered by the lists' filter), the account and the verification (cache
// hits).
func BenchmarkHotRead(b *testing.B) {
	s, now := benchStore(b)
	hotRead(b, s, now)
	s.c.rc.Wait()
	hits := s.Stats().CacheHits
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		hotRead(b, s, now)
	}
	b.StopTimer()
	// All hits, give or take one iteration (ristretto applies the warm-up
	// fills asynchronously; a read or two may race them).
	if got := s.Stats().CacheHits - hits; got+4 < 4*uint64(b.N) {
		b.Fatalf("%d hits in %d ops: not all reads were hits", got, b.N)
	}
}

func BenchmarkHotReadParallel(b *testing.B) {
	s, now := benchStore(b)
	hotRead(b, s, now)
	s.c.rc.Wait()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			hotRead(b, s, now)
		}
	})
}

// BenchmarkVerificationAbsent is a decision's verification read for an
// account that never verified (most of them), beside 1 000 that did: the
// filter of UIDs with verifications answers without a read transaction.
func BenchmarkVerificationAbsent(b *testing.B) {
	s, now := benchStore(b)
	for i := range 1000 {
		if err := s.PutVerification(bg, pdp.Verification{UID: fmt.Sprint("u-", i), Subject: "t-1", Methods: []string{"sms"}}); err != nil {
			b.Fatal(err)
		}
	}
	h := s.c.key(nsVerification, "u-honest", "t-1")
	b.ReportAllocs()
	benchutil.CPUTime(b)
	for b.Loop() {
		s.c.bump(h)
		if _, ok, err := s.Verification("u-honest", "t-1", now); err != nil || ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkReputationMiss reads a blocklisted subject whose cache entry was
// just invalidated: three list keys from bbolt, one JSON decode, one Set.
// BenchmarkReputationAbsent is a cache miss for a subject on no list (most
// lookups: an ordinary customer's UID, device, IP or BIN), among 10 000
// listed ones: the lists' key filter answers without a read transaction.
func BenchmarkReputationAbsent(b *testing.B) {
	s, now := benchStore(b)
	entries := make([]pdp.ListEntry, 10_000)
	for i := range entries {
		entries[i] = block(pdp.SubjectDevice, fmt.Sprint("d-listed-", i), "farm")
	}
	if err := s.PutListEntries(bg, entries, pdp.AuditRecord{}); err != nil {
		b.Fatal(err)
	}
	h := s.c.key(uint8(pdp.SubjectDevice), "d-honest", "")
	b.ReportAllocs()
	benchutil.CPUTime(b)
	for b.Loop() {
		s.c.bump(h)
		if r, err := s.Reputation(pdp.SubjectDevice, "d-honest", now); err != nil || r.Blocked {
			b.Fatal(r, err)
		}
	}
}

func BenchmarkReputationMiss(b *testing.B) {
	s, now := benchStore(b)
	h := s.c.key(uint8(pdp.SubjectDevice), "d-bench", "")
	b.ReportAllocs()
	for b.Loop() {
		s.c.bump(h)
		if r, err := s.Reputation(pdp.SubjectDevice, "d-bench", now); err != nil || !r.Blocked {
			b.Fatal(r, err)
		}
	}
}

// BenchmarkAccountMiss reads the typical account from bbolt.
func BenchmarkAccountMiss(b *testing.B) {
	s, now := benchStore(b)
	h := s.c.key(nsAccount, "u-bench", "")
	b.ReportAllocs()
	for b.Loop() {
		s.c.bump(h)
		if _, err := s.Account("u-bench", now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutListEntrySync is an operator's list change: one fsynced
// transaction with its audit record.
func BenchmarkPutListEntrySync(b *testing.B) {
	s, _ := benchStore(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.PutListEntry(bg, block(pdp.SubjectIP, fmt.Sprint("10.1.", i/256%256, ".", i%256), "feed"), pdp.AuditRecord{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkUpdateAccountAsync applies a freeze obligation asynchronously
// to an account with a typical history, as the decision path does after
// reading it:
//
//   - warm: the account the decision just read (in CPU cache);
//   - cold: one of 1000 accounts in turn (memory-bound copy);
//   - audited: warm, with an audit record, committer running (every 10 ms
//     it encodes and journals what accumulated; on 2 cores it competes
//     with the caller, so this is throughput, not latency).
//
// Except "audited" the committer does not run during the loop.
func BenchmarkUpdateAccountAsync(b *testing.B) {
	freeze := func(now time.Time) func(a *pdp.AccountState) error {
		return func(a *pdp.AccountState) error {
			a.Freezes = append(a.Freezes[:0], pdp.Freeze{Kind: pdp.FreezeTemporary, Since: now, Until: now.Add(30 * time.Minute), Rule: "burst"})
			return nil
		}
	}
	idle := func(c *Config) { c.FlushInterval = time.Hour; c.FlushMaxPending = 1 << 30 }
	b.Run("warm", func(b *testing.B) {
		s, now := benchStore(b, idle)
		fn := freeze(now)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.UpdateAccount(bg, "u-bench", Async, nil, fn); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cold", func(b *testing.B) {
		s, now := benchStore(b, idle)
		uids := make([]string, 1000)
		for i := range uids {
			uids[i] = fmt.Sprint("u-", i)
			if _, err := s.UpdateAccount(bg, uids[i], Async, nil, typicalAccount(now)); err != nil {
				b.Fatal(err)
			}
		}
		fn := freeze(now)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.UpdateAccount(bg, uids[i%len(uids)], Async, nil, fn); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("audited", func(b *testing.B) {
		s, now := benchStore(b)
		fn := freeze(now)
		audit := &pdp.AuditRecord{Action: "freeze", Actor: pdp.Actor{Operator: "pdp"}, Detail: `{"rule":"burst"}`}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.UpdateAccount(bg, "u-bench", Async, audit, fn); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// rangeBench loads n IP ranges (three in four IPv4) on the block list
// and returns 4096 addresses to look up: half inside a range (when there
// are ranges), half random (mostly outside every range).
func rangeBench(b *testing.B, n int) (*Store, time.Time, []netip.Addr, []string) {
	b.Helper()
	s, clk, _ := openTest(b)
	var ranges []netip.Prefix
	if n > 0 {
		ranges = loadRanges(b, s, n)
	}
	if got := s.Stats().IPRanges; got != n {
		b.Fatalf("%d ranges in the index", got)
	}
	r := rand.New(rand.NewPCG(5, 6))
	addrs := make([]netip.Addr, 4096)
	for i := range addrs {
		var raw [16]byte
		for j := range raw {
			raw[j] = byte(r.Uint32())
		}
		switch {
		case i%2 == 0 && n > 0: // inside a range: its prefix, random host bits
			p := ranges[r.IntN(len(ranges))]
			a := p.Addr().As16()
			off := 0
			if p.Addr().Is4() {
				off = 96
			}
			for bit := off + p.Bits(); bit < 128; bit++ {
				a[bit/8] = a[bit/8]&^(0x80>>(bit%8)) | raw[bit/8]&(0x80>>(bit%8))
			}
			addrs[i] = netip.AddrFrom16(a).Unmap()
		case i%4 < 3:
			addrs[i] = netip.AddrFrom4([4]byte(raw[:4]))
		default:
			raw[0], raw[1] = 0x20, 0x01
			addrs[i] = netip.AddrFrom16(raw)
		}
	}
	ips := make([]string, len(addrs))
	for i, a := range addrs {
		ips[i] = a.String()
	}
	return s, clk.Now(), addrs, ips
}

// BenchmarkIPRangeIndex100k is the range lookup alone: every active range
// covering an address, in an index of 100 000 ranges.
func BenchmarkIPRangeIndex100k(b *testing.B) {
	s, now, addrs, _ := rangeBench(b, 100_000)
	n := now.UnixNano()
	hits := 0
	b.ReportAllocs()
	benchutil.CPUTime(b)
	for i := 0; b.Loop(); i++ {
		if s.ranges.lookup(addrs[i&4095], n).on[0] {
			hits++
		}
	}
	if hits < b.N/3 {
		b.Fatalf("%d of %d lookups blocked: the addresses inside ranges are not found", hits, b.N)
	}
}

// BenchmarkReputationIP is Reputation for request IPs (4096 addresses in
// turn, each address's own entry a cache hit) with no ranges and with
// 100 000 ranges on the list: the difference is what the ranges cost the
// decision path.
func BenchmarkReputationIP(b *testing.B) {
	for _, n := range []int{0, 100_000} {
		b.Run(fmt.Sprint("ranges=", n), func(b *testing.B) {
			s, now, _, ips := rangeBench(b, n)
			for range 3 { // ristretto may drop a Set under a burst
				for _, ip := range ips {
					mustRep(b, s, pdp.SubjectIP, ip, now)
				}
				s.c.rc.Wait()
			}
			st := s.Stats()
			b.ReportAllocs()
			benchutil.CPUTime(b)
			for i := 0; b.Loop(); i++ {
				if _, err := s.Reputation(pdp.SubjectIP, ips[i&4095], now); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			hits, misses := s.Stats().CacheHits-st.CacheHits, s.Stats().CacheMisses-st.CacheMisses
			b.ReportMetric(float64(hits)/float64(hits+misses), "hit-ratio")
		})
	}
}

// storedAccounts writes n accounts with a typical history, "u-0" to
// "u-<n-1>", to s's file and returns their UIDs.
func storedAccounts(b *testing.B, s *Store, now time.Time, n int) []string {
	b.Helper()
	uids := make([]string, n)
	for i := range uids {
		uids[i] = fmt.Sprint("u-", i)
		if _, err := s.UpdateAccount(bg, uids[i], Async, nil, typicalAccount(now)); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Flush(bg); err != nil {
		b.Fatal(err)
	}
	return uids
}

// BenchmarkCommitSerial is one durable commit at a time, nothing to group
// it with (a side call on a quiet sidecar): a 300-byte put written to the
// write-ahead log and fdatasynced. With the segment allocated ahead
// (walPrealloc) 95-101 µs wall and 44-48 µs CPU per commit here, against
// 126-147 µs and 62-68 µs appended to its end (-count 4 each).
func BenchmarkCommitSerial(b *testing.B) {
	be, err := OpenBolt(filepath.Join(b.TempDir(), "state.db"), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	val := make([]byte, 300)
	b.ReportAllocs()
	benchutil.CPUTime(b)
	i := 0
	for b.Loop() {
		var bt Batch
		bt.put(BucketAccounts, fmt.Appendf(nil, "k-%d", i%20000), val)
		if _, err := be.Commit(&bt); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkUpdateAccountSync is what outcome reports, account events and
// verifications cost the committer: sync writes of accounts with a
// typical history, each acknowledged once durable (fsynced), from 8
// concurrent callers spread over 20 000 accounts (as a sidecar's side
// calls arrive), with four async changes of other accounts (what
// decisions leave) for every sync write.
func BenchmarkUpdateAccountSync(b *testing.B) {
	s, now := benchStore(b)
	const accounts = 20000
	uids := storedAccounts(b, s, now, accounts)
	event := func(a *pdp.AccountState) error {
		a.Events = append(a.Events, pdp.AccountEvent{Kind: "password_reset", At: now})
		return nil
	}
	var seq atomic.Uint64
	b.SetParallelism(4) // 8 callers on 2 cores
	b.ReportAllocs()
	benchutil.CPUTime(b)
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(seq.Add(1), 7))
		for pb.Next() {
			if _, err := s.UpdateAccount(bg, uids[r.IntN(accounts)], Sync, nil, event); err != nil {
				b.Error(err)
				return
			}
			for range 4 {
				if _, err := s.UpdateAccount(bg, uids[r.IntN(accounts)], Async, nil, event); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
}

// BenchmarkDecisionAccount is what a decision does with the account of a
// customer the sidecar has not read since it started (a cold population,
// one of 100 000 accounts with a typical history in the file, each read
// once): the account read (a miss, from bbolt), then the async update of
// it the decision implies (remembering the payment). The committer does
// not run during the loop (BenchmarkUpdateAccountSync has its cost).
func BenchmarkDecisionAccount(b *testing.B) {
	s, now := benchStore(b, func(c *Config) { c.FlushInterval = time.Hour; c.FlushMaxPending = 1 << 30 })
	const accounts = 100_000
	uids := storedAccounts(b, s, now, accounts)
	s.c.rc.Clear()
	for i := range s.c.recent {
		s.c.recent[i].Store(nil)
	}
	paid := func(a *pdp.AccountState) error {
		a.Payments = append(a.Payments, pdp.Payment{TxnID: "t-1", Stage: pdp.StagePayment, Amount: 80, Currency: "CNY", At: now})
		return nil
	}
	b.ReportAllocs()
	benchutil.CPUTime(b)
	i := 0
	for b.Loop() {
		if i == accounts {
			b.StopTimer()
			s.c.rc.Clear()
			for i := range s.c.recent {
				s.c.recent[i].Store(nil)
			}
			i = 0
			b.StartTimer()
		}
		uid := uids[i]
		if _, err := s.Account(uid, now); err != nil {
			b.Fatal(err)
		}
		if _, err := s.UpdateAccount(bg, uid, Async, nil, paid); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAsyncBesideSync is a decision's account update (async) while 8
// callers make sync writes of other accounts (outcome reports waiting for
// their fsync): besides ns/op it reports the 99th and 99.9th percentile
// of the update's latency, which a sync writer holding the lock of the
// decision's account's stripe through its commit would stretch to the
// length of an fsync.
func BenchmarkAsyncBesideSync(b *testing.B) {
	s, now := benchStore(b)
	const accounts = 20000
	uids := make([]string, accounts)
	for i := range uids {
		uids[i] = fmt.Sprint("u-", i)
	}
	event := func(a *pdp.AccountState) error {
		a.Events = append(a.Events, pdp.AccountEvent{Kind: "password_reset", At: now})
		return nil
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.UpdateAccount(bg, uids[r.IntN(accounts)], Sync, nil, event); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	r := rand.New(rand.NewPCG(99, 9))
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		t := time.Now()
		if _, err := s.UpdateAccount(bg, uids[r.IntN(accounts)], Async, nil, event); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
	b.ReportMetric(float64(lat[len(lat)*999/1000].Microseconds()), "p99.9-us")
}
