package state

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

func entry(list pdp.ListKind, kind pdp.SubjectKind, value, reason string) pdp.ListEntry {
	return pdp.ListEntry{List: list, Subject: kind, Value: value, Reason: reason, Actor: pdp.Actor{Operator: "op1"}}
}

// An address inside an active range of a list is on that list, IPv4 and
// IPv6, whatever the spelling of the address; one outside is not.
func TestIPRangeCoversAddressesInside(t *testing.T) {
	s, _, _ := openTest(t)
	mustPut(t, s, block(pdp.SubjectIP, "10.0.0.0/8", "botnet"))
	mustPut(t, s, block(pdp.SubjectIP, "2001:db8::/32", "hosting abuse"))
	mustPut(t, s, entry(pdp.ListAllow, pdp.SubjectIP, "192.168.10.0/24", "office"))
	mustPut(t, s, entry(pdp.ListVIP, pdp.SubjectIP, "2001:db8:5::/48", "partner"))
	for _, tt := range []struct {
		ip   string
		want pdp.Reputation
	}{
		{"10.0.0.0", pdp.Reputation{Blocked: true, BlockReason: "botnet"}},
		{"10.255.255.255", pdp.Reputation{Blocked: true, BlockReason: "botnet"}},
		{"10.1.2.3", pdp.Reputation{Blocked: true, BlockReason: "botnet"}},
		{"::ffff:10.1.2.3", pdp.Reputation{Blocked: true, BlockReason: "botnet"}},
		{"9.255.255.255", pdp.Reputation{}},
		{"11.0.0.0", pdp.Reputation{}},
		{"2001:db8::1", pdp.Reputation{Blocked: true, BlockReason: "hosting abuse"}},
		{"2001:DB8:ffff:ffff:ffff:ffff:ffff:ffff", pdp.Reputation{Blocked: true, BlockReason: "hosting abuse"}},
		{"2001:db8:5::9", pdp.Reputation{Blocked: true, BlockReason: "hosting abuse", VIP: true}},
		{"fe80::1%eth0", pdp.Reputation{}},
		{"2001:db9::1", pdp.Reputation{}},
		{"192.168.10.77", pdp.Reputation{Allowed: true}},
		{"192.168.11.1", pdp.Reputation{}},
		{"::a00:1", pdp.Reputation{}}, // an IPv6 address, not 10.0.0.1
	} {
		if got := mustRep(t, s, pdp.SubjectIP, tt.ip, t0); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.ip, got, tt.want)
		}
	}
	if n := s.Stats().IPRanges; n != 4 {
		t.Errorf("Stats.IPRanges %d, want 4", n)
	}
	if _, err := s.Reputation(pdp.SubjectIP, "999.1.1.1", t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("an unparsable request IP: %v", err)
	}
}

// Overlapping ranges: every active range covering the address counts, so
// a block anywhere on the path wins, and an expired range hides nothing
// wider or narrower.
func TestOverlappingRanges(t *testing.T) {
	s, _, _ := openTest(t)
	mustPut(t, s, block(pdp.SubjectIP, "10.0.0.0/8", "wide"))
	mustPut(t, s, entry(pdp.ListAllow, pdp.SubjectIP, "10.1.0.0/16", "office"))
	mustPut(t, s, entry(pdp.ListVIP, pdp.SubjectIP, "10.1.2.0/24", "desk"))
	if got := mustRep(t, s, pdp.SubjectIP, "10.1.2.3", t0); got != (pdp.Reputation{Blocked: true, BlockReason: "wide", Allowed: true, VIP: true}) {
		t.Fatalf("allow and vip inside a block: %+v", got)
	}
	// A narrower block that expired does not hide the wider one; a narrower
	// active block gives its reason (the most specific).
	e := block(pdp.SubjectIP, "172.16.0.0/12", "outer")
	mustPut(t, s, e)
	e = block(pdp.SubjectIP, "172.16.5.0/24", "inner expired")
	e.Expires = t0.Add(time.Minute)
	mustPut(t, s, e)
	if got := mustRep(t, s, pdp.SubjectIP, "172.16.5.1", t0.Add(time.Hour)); got.BlockReason != "outer" {
		t.Fatalf("expired inner block: %+v", got)
	}
	if got := mustRep(t, s, pdp.SubjectIP, "172.16.5.1", t0); got.BlockReason != "inner expired" {
		t.Fatalf("active inner block: %+v", got)
	}
	// A wider block that expired does not hide a narrower one, and blocks
	// nothing outside it.
	e = block(pdp.SubjectIP, "100.64.0.0/10", "cgnat")
	e.Expires = t0.Add(time.Minute)
	mustPut(t, s, e)
	mustPut(t, s, block(pdp.SubjectIP, "100.64.7.0/24", "narrow"))
	later := t0.Add(time.Hour)
	if !mustRep(t, s, pdp.SubjectIP, "100.64.7.9", later).Blocked || mustRep(t, s, pdp.SubjectIP, "100.64.8.9", later).Blocked {
		t.Fatal("expired wide block")
	}
	// An address entry and a range: both count; the address's reason first.
	mustPut(t, s, block(pdp.SubjectIP, "10.9.9.9", "single"))
	if got := mustRep(t, s, pdp.SubjectIP, "10.9.9.9", t0); got.BlockReason != "single" {
		t.Fatalf("single inside range: %+v", got)
	}
	mustPut(t, s, entry(pdp.ListAllow, pdp.SubjectIP, "10.1.9.9", "allowed single"))
	if got := mustRep(t, s, pdp.SubjectIP, "10.1.9.9", t0); !got.Blocked || !got.Allowed {
		t.Fatalf("an allowed address inside a blocked range: %+v", got)
	}
	// Deleting the range leaves the address entries; deleting an address
	// leaves the range.
	if found, err := s.DeleteListEntry(bg, pdp.ListBlock, pdp.SubjectIP, "10.9.9.9", pdp.AuditRecord{Actor: pdp.Actor{Operator: "op"}}); err != nil || !found {
		t.Fatal(found, err)
	}
	if got := mustRep(t, s, pdp.SubjectIP, "10.9.9.9", t0); got.BlockReason != "wide" {
		t.Fatalf("after deleting the address: %+v", got)
	}
	if found, err := s.DeleteListEntry(bg, pdp.ListBlock, pdp.SubjectIP, "10.0.0.0/8", pdp.AuditRecord{Actor: pdp.Actor{Operator: "op"}}); err != nil || !found {
		t.Fatal(found, err)
	}
	if got := mustRep(t, s, pdp.SubjectIP, "10.1.2.3", t0); got != (pdp.Reputation{Allowed: true, VIP: true}) {
		t.Fatalf("after deleting the range: %+v", got)
	}
}

// A range with a TTL stops blocking at its expiry, is swept from the
// backend and the index, and a range survives a restart (the index is
// rebuilt from the file).
func TestRangeExpiresAndSurvivesRestart(t *testing.T) {
	s, clk, path := openTest(t)
	e := block(pdp.SubjectIP, "198.51.100.0/24", "campaign")
	e.Expires = t0.Add(time.Hour)
	mustPut(t, s, e)
	mustPut(t, s, block(pdp.SubjectIP, "2001:db8:aa::/48", "for good"))
	if !mustRep(t, s, pdp.SubjectIP, "198.51.100.200", t0.Add(59*time.Minute)).Blocked {
		t.Fatal("not blocked before its expiry")
	}
	if mustRep(t, s, pdp.SubjectIP, "198.51.100.200", t0.Add(time.Hour)).Blocked {
		t.Fatal("blocked at its expiry")
	}
	clk.Add(2 * time.Hour)
	if n, err := s.Sweep(bg); err != nil || n != 1 {
		t.Fatalf("Sweep: %d %v", n, err)
	}
	if n := s.Stats().IPRanges; n != 1 {
		t.Fatalf("IPRanges after the sweep: %d", n)
	}
	if es, _ := s.ListEntries(bg, pdp.ListBlock, pdp.SubjectIP, "", 10); len(es) != 1 || es[0].Value != "2001:db8:aa::/48" {
		t.Fatalf("entries after the sweep: %+v", es)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := reopen(t, path, clk)
	if got := mustRep(t, s2, pdp.SubjectIP, "2001:db8:aa:1::1", clk.Now()); got.BlockReason != "for good" {
		t.Fatalf("after restart: %+v", got)
	}
	if mustRep(t, s2, pdp.SubjectIP, "198.51.100.200", clk.Now()).Blocked {
		t.Fatal("the swept range is back")
	}
	if n := s2.Stats().IPRanges; n != 1 {
		t.Fatalf("IPRanges after restart: %d", n)
	}
}

// A range write that fails to commit is not in the index (nothing of a
// failed write is applied); a delete that fails leaves the range.
func TestFailedRangeWriteChangesNothing(t *testing.T) {
	s, fb, _ := openFault(t)
	fb.failCommit.Store(true)
	if err := s.PutListEntry(bg, block(pdp.SubjectIP, "203.0.113.0/24", "x"), pdp.AuditRecord{}); err == nil {
		t.Fatal("commit failure not reported")
	}
	if mustRep(t, s, pdp.SubjectIP, "203.0.113.5", t0).Blocked {
		t.Fatal("a range that was not committed blocks")
	}
	fb.failCommit.Store(false)
	mustPut(t, s, block(pdp.SubjectIP, "203.0.113.0/24", "x"))
	fb.failCommit.Store(true)
	if _, err := s.DeleteListEntry(bg, pdp.ListBlock, pdp.SubjectIP, "203.0.113.0/24", pdp.AuditRecord{Actor: pdp.Actor{Operator: "op"}}); err == nil {
		t.Fatal("delete failure not reported")
	}
	if !mustRep(t, s, pdp.SubjectIP, "203.0.113.5", t0).Blocked {
		t.Fatal("a delete that failed unblocked the range")
	}
}

// A range record that cannot be decoded makes the reads of the addresses
// it covers fail (ErrCorrupt: the decision falls back), as a damaged
// address entry does; it can be deleted.
func TestCorruptRangeFailsTheRead(t *testing.T) {
	path := t.TempDir() + "/state.db"
	be, err := OpenBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := be.Commit(&Batch{Writes: []Write{{Bucket: BucketLists, Key: listKey(pdp.ListBlock, pdp.SubjectIP, "10.0.0.0/8"), Value: []byte("L\x01garbage")}}}); err != nil {
		t.Fatal(err)
	}
	be.Close()
	s := reopen(t, path, newClock())
	if _, err := s.Reputation(pdp.SubjectIP, "10.1.1.1", t0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("inside a corrupt range: %v", err)
	}
	if r := mustRep(t, s, pdp.SubjectIP, "11.1.1.1", t0); r.Blocked {
		t.Fatalf("outside: %+v", r)
	}
	if found, err := s.DeleteListEntry(bg, pdp.ListBlock, pdp.SubjectIP, "10.0.0.0/8", pdp.AuditRecord{Actor: pdp.Actor{Operator: "op"}}); err != nil || !found {
		t.Fatal(found, err)
	}
	if r := mustRep(t, s, pdp.SubjectIP, "10.1.1.1", t0); r.Blocked {
		t.Fatalf("after deleting the corrupt range: %+v", r)
	}
}

// A BIN entry blocks every request BIN it is a prefix of, and no shorter
// one; a change of a shorter entry is seen by a longer BIN's cached
// reputation at once.
func TestBINPrefixMatching(t *testing.T) {
	s, _, _ := openTest(t)
	s.absent = nil // negatives cached, as with a shared backend (TestAbsentSubjectsSkipCache)
	// Cached before the entry exists: the put must invalidate it.
	for _, bin := range []string{"41111111", "4111112", "411111"} {
		if mustRep(t, s, pdp.SubjectCardBIN, bin, t0).Blocked {
			t.Fatal(bin)
		}
	}
	s.c.rc.Wait() // the negative reads are in the cache
	for _, bin := range []string{"41111111", "4111112", "411111"} {
		mustRep(t, s, pdp.SubjectCardBIN, bin, t0)
	}
	if st := s.Stats(); st.CacheHits != 3 {
		t.Fatalf("the negative reads are not cached: %+v", st)
	}
	mustPut(t, s, block(pdp.SubjectCardBIN, "411111", "skimming"))
	mustPut(t, s, block(pdp.SubjectCardBIN, "52000001", "exact8"))
	mustPut(t, s, entry(pdp.ListAllow, pdp.SubjectCardBIN, "4111112", "corporate cards"))
	for _, tt := range []struct {
		bin  string
		want pdp.Reputation
	}{
		{"411111", pdp.Reputation{Blocked: true, BlockReason: "skimming"}},
		{"4111119", pdp.Reputation{Blocked: true, BlockReason: "skimming"}},
		{"41111111", pdp.Reputation{Blocked: true, BlockReason: "skimming"}},
		{"4111112", pdp.Reputation{Blocked: true, BlockReason: "skimming", Allowed: true}},
		{"41111123", pdp.Reputation{Blocked: true, BlockReason: "skimming", Allowed: true}},
		{"411112", pdp.Reputation{}},
		{"41111", pdp.Reputation{}}, // refused below
		{"52000001", pdp.Reputation{Blocked: true, BlockReason: "exact8"}},
		{"5200000", pdp.Reputation{}},
		{"520000", pdp.Reputation{}},
		{"52000002", pdp.Reputation{}},
	} {
		got, err := s.Reputation(pdp.SubjectCardBIN, tt.bin, t0)
		if len(tt.bin) < 6 {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %v", tt.bin, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v %v, want %+v", tt.bin, got, err, tt.want)
		}
	}
	// The most specific block gives the reason.
	mustPut(t, s, block(pdp.SubjectCardBIN, "41111111", "exact card range"))
	if got := mustRep(t, s, pdp.SubjectCardBIN, "41111111", t0); got.BlockReason != "exact card range" {
		t.Fatalf("%+v", got)
	}
	// Deleting or expiring the short entry reaches the longer BINs' cache.
	s.c.rc.Wait()
	if found, err := s.DeleteListEntry(bg, pdp.ListBlock, pdp.SubjectCardBIN, "411111", pdp.AuditRecord{Actor: pdp.Actor{Operator: "op"}}); err != nil || !found {
		t.Fatal(found, err)
	}
	if mustRep(t, s, pdp.SubjectCardBIN, "41111199", t0).Blocked || mustRep(t, s, pdp.SubjectCardBIN, "4111119", t0).Blocked {
		t.Fatal("still blocked after the delete")
	}
	e := block(pdp.SubjectCardBIN, "601100", "ttl")
	e.Expires = t0.Add(time.Minute)
	mustPut(t, s, e)
	if !mustRep(t, s, pdp.SubjectCardBIN, "60110099", t0).Blocked || mustRep(t, s, pdp.SubjectCardBIN, "60110099", t0.Add(time.Minute)).Blocked {
		t.Fatal("a BIN entry's expiry")
	}
}

// A value no request can carry is refused by the Store (ErrInvalid, and a
// *pdp.Error for the field "value"), and nothing of it is written: no
// entry, no journal record, not a byte of it in the file.
func TestStoreRefusesListValuesNoRequestCarries(t *testing.T) {
	s, _, path := openTest(t)
	for _, tt := range []struct {
		list  pdp.ListKind
		kind  pdp.SubjectKind
		value string
	}{
		{pdp.ListBlock, pdp.SubjectIP, "999.1.1.1"},
		{pdp.ListBlock, pdp.SubjectIP, "10.1.2.3/8"},
		{pdp.ListBlock, pdp.SubjectIP, "0.0.0.0/0"},
		{pdp.ListBlock, pdp.SubjectIP, "::/0"},
		{pdp.ListAllow, pdp.SubjectIP, "10.0.0.0/8"},
		{pdp.ListVIP, pdp.SubjectIP, "2001:db8::/32"},
		{pdp.ListBlock, pdp.SubjectIP, "fe80::1%eth0"},
		{pdp.ListBlock, pdp.SubjectCardBIN, "4111111111111111"},
		{pdp.ListBlock, pdp.SubjectCardBIN, "41111"},
		{pdp.ListBlock, pdp.SubjectCardBIN, "411111111"},
		{pdp.ListBlock, pdp.SubjectUID, "u-1\x00"},
		{pdp.ListBlock, pdp.SubjectDevice, "d-\ufffd"},
	} {
		err := s.PutListEntry(bg, entry(tt.list, tt.kind, tt.value, "r"), pdp.AuditRecord{})
		var e *pdp.Error
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &e) || e.Field != "value" || e.Code != pdp.CodeInvalidValue {
			t.Errorf("%s/%s/%q: %v", tt.list, tt.kind, tt.value, err)
		}
		// A bulk load with one such value stores none of it.
		err = s.PutListEntries(bg, []pdp.ListEntry{block(pdp.SubjectDevice, "d-good", "r"), entry(tt.list, tt.kind, tt.value, "r")}, pdp.AuditRecord{})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("bulk %s/%s/%q: %v", tt.list, tt.kind, tt.value, err)
		}
	}
	if j := journal(t, s, JournalFilter{}); len(j) != 0 {
		t.Fatalf("journaled: %+v", j)
	}
	if es, _ := s.ListEntries(bg, pdp.ListBlock, pdp.SubjectDevice, "", 10); len(es) != 0 {
		t.Fatalf("stored: %+v", es)
	}
	s.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"4111111111111111", "999.1.1.1", "d-good"} {
		if bytes.Contains(raw, []byte(v)) {
			t.Errorf("%q is in the state file", v)
		}
	}
}

// Values are stored in one spelling: v4-mapped IPv6 is IPv4, IPv6 is
// lower case and compressed, a /32 is its address; lookups, deletes and
// paging take any spelling.
func TestListValuesAreCanonical(t *testing.T) {
	s, _, _ := openTest(t)
	for _, tt := range []struct{ in, stored string }{
		{"::ffff:1.2.3.4", "1.2.3.4"},
		{"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
		{"::FFFF:10.0.0.0/104", "10.0.0.0/8"},
		{"192.0.2.7/32", "192.0.2.7"},
		{"2001:db8::5/128", "2001:db8::5"},
		{"2001:DB8:AB00::/40", "2001:db8:ab00::/40"},
	} {
		if err := s.PutListEntry(bg, block(pdp.SubjectIP, tt.in, "r"), pdp.AuditRecord{}); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		j := journal(t, s, JournalFilter{})
		if got := j[len(j)-1].Target; got != "block/ip/"+tt.stored {
			t.Errorf("%s: journal target %q", tt.in, got)
		}
	}
	if err := s.PutListEntry(bg, block(pdp.SubjectIP, "1.2.3.4", "again"), pdp.AuditRecord{}); err != nil {
		t.Fatal(err)
	}
	es, err := s.ListEntries(bg, pdp.ListBlock, pdp.SubjectIP, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Value)
	}
	// Addresses first, then ranges; one entry per address.
	if want := "[1.2.3.4 192.0.2.7 2001:db8::1 2001:db8::5 10.0.0.0/8 2001:db8:ab00::/40]"; fmt.Sprint(got) != want {
		t.Fatalf("entries %v, want %s", got, want)
	}
	// Paging across the two parts, with cursors in any spelling.
	page, _ := s.ListEntries(bg, pdp.ListBlock, pdp.SubjectIP, "2001:DB8::5", 1)
	if len(page) != 1 || page[0].Value != "10.0.0.0/8" {
		t.Fatalf("page after the last address: %+v", page)
	}
	page, _ = s.ListEntries(bg, pdp.ListBlock, pdp.SubjectIP, "::ffff:10.0.0.0/104", 5)
	if len(page) != 1 || page[0].Value != "2001:db8:ab00::/40" {
		t.Fatalf("page after a range: %+v", page)
	}
	if _, err := s.ListEntries(bg, pdp.ListBlock, pdp.SubjectIP, "not-an-ip", 5); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad cursor: %v", err)
	}
	if got := mustRep(t, s, pdp.SubjectIP, "::ffff:1.2.3.4", t0); got.BlockReason != "again" {
		t.Fatalf("mapped spelling: %+v", got)
	}
	if found, err := s.DeleteListEntry(bg, pdp.ListBlock, pdp.SubjectIP, "::FFFF:1.2.3.4", pdp.AuditRecord{Actor: pdp.Actor{Operator: "op"}}); err != nil || !found {
		t.Fatal(found, err)
	}
	if mustRep(t, s, pdp.SubjectIP, "1.2.3.4", t0).Blocked {
		t.Fatal("deleted through another spelling, still blocked")
	}
}

// Readers of the range index never see a torn table while writers add
// and remove ranges (run with -race).
func TestRangeIndexConcurrentReadsAndWrites(t *testing.T) {
	s, _, _ := openTest(t)
	mustPut(t, s, block(pdp.SubjectIP, "10.0.0.0/8", "fixed"))
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				ip := fmt.Sprintf("10.%d.%d.1", g, i%256)
				if r, err := s.Reputation(pdp.SubjectIP, ip, t0); err != nil || !r.Blocked {
					t.Errorf("%s: %+v %v", ip, r, err)
					return
				}
			}
		}()
	}
	for i := range 50 {
		v := fmt.Sprintf("172.%d.0.0/16", 16+i%16)
		mustPut(t, s, block(pdp.SubjectIP, v, "churn"))
		if _, err := s.DeleteListEntry(bg, pdp.ListBlock, pdp.SubjectIP, v, pdp.AuditRecord{Actor: pdp.Actor{Operator: "op"}}); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
}

// loadRanges puts n random ranges (IPv4 /16–/30 and IPv6 /32–/64, three
// in four IPv4) on the block list in batches, and returns them.
func loadRanges(tb testing.TB, s *Store, n int) []netip.Prefix {
	tb.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[netip.Prefix]bool{}
	var out []netip.Prefix
	var batch []pdp.ListEntry
	for len(out) < n {
		var p netip.Prefix
		if r.IntN(4) > 0 {
			u := r.Uint32()
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)}), 16+r.IntN(15)).Masked()
		} else {
			var a [16]byte
			a[0], a[1] = 0x20, 0x01
			for i := 2; i < 8; i++ {
				a[i] = byte(r.Uint32())
			}
			p = netip.PrefixFrom(netip.AddrFrom16(a), 32+r.IntN(33)).Masked()
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
		batch = append(batch, block(pdp.SubjectIP, p.String(), "feed"))
		if len(batch) == 10_000 || len(out) == n {
			if err := s.PutListEntries(bg, batch, pdp.AuditRecord{}); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return out
}

// The index agrees with a linear scan of the ranges, for addresses in and
// around them.
func TestRangeIndexAgreesWithLinearScan(t *testing.T) {
	s, _, _ := openTest(t)
	ranges := loadRanges(t, s, 2000)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		p := ranges[r.IntN(len(ranges))]
		a := p.Addr()
		if i%2 == 1 { // a random address near it, often outside
			b := a.As16()
			b[15] ^= byte(r.Uint32())
			b[r.IntN(4)+12] ^= byte(r.Uint32())
			if a.Is4() {
				a = netip.AddrFrom16(b).Unmap()
			} else {
				b[r.IntN(8)] ^= byte(r.Uint32())
				a = netip.AddrFrom16(b)
			}
		}
		want := false
		for _, q := range ranges {
			if q.Contains(a) {
				want = true
				break
			}
		}
		if got := mustRep(t, s, pdp.SubjectIP, a.String(), t0).Blocked; got != want {
			t.Fatalf("%s: blocked %v, linear scan %v", a, got, want)
		}
	}
}

// A state written before list values were checked is put right once, at
// Open: entries in another spelling move to the canonical one (a range
// stored as an address becomes a range), an existing canonical entry wins
// over a legacy spelling, entries no request can match (a card number on
// the card_bin list) are deleted, and one audit record counts it all
// without naming a value.
func TestOpenNormalizesLegacyListValues(t *testing.T) {
	path := t.TempDir() + "/state.db"
	be, err := OpenBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	legacy := func(l pdp.ListKind, k pdp.SubjectKind, value, reason string, exp time.Time) Write {
		e := pdp.ListEntry{List: l, Subject: k, Value: value, Reason: reason, Created: t0, Expires: exp}
		return Write{Bucket: BucketLists, Key: append([]byte{byte(l), byte(k)}, value...), Value: encodeListEntry(&e)}
	}
	writes := []Write{
		legacy(pdp.ListBlock, pdp.SubjectIP, "::ffff:1.2.3.4", "mapped", time.Time{}),
		legacy(pdp.ListBlock, pdp.SubjectIP, "2001:DB8::1", "upper", time.Time{}),
		legacy(pdp.ListBlock, pdp.SubjectIP, "10.0.0.0/8", "range as address", time.Time{}),
		legacy(pdp.ListBlock, pdp.SubjectIP, "::ffff:7.7.7.7", "expiring", t0.Add(time.Hour)),
		legacy(pdp.ListBlock, pdp.SubjectIP, "999.1.1.1", "garbage", time.Time{}),
		legacy(pdp.ListBlock, pdp.SubjectCardBIN, "4111111111111111", "card number", time.Time{}),
		legacy(pdp.ListBlock, pdp.SubjectCardBIN, "411111", "bin", time.Time{}),
		legacy(pdp.ListAllow, pdp.SubjectIP, "::ffff:5.5.5.5", "legacy", time.Time{}),
		legacy(pdp.ListAllow, pdp.SubjectIP, "5.5.5.5", "canonical", time.Time{}),
		legacy(pdp.ListBlock, pdp.SubjectDevice, "d-\x01", "left alone", time.Time{}),
	}
	if _, err := be.Commit(&Batch{Writes: writes}); err != nil {
		t.Fatal(err)
	}
	be.Close()
	clk := newClock()
	s := reopen(t, path, clk)
	for _, tt := range []struct {
		kind         pdp.SubjectKind
		value        string
		block, allow bool
		reason       string
	}{
		{pdp.SubjectIP, "1.2.3.4", true, false, "mapped"},
		{pdp.SubjectIP, "2001:db8::1", true, false, "upper"},
		{pdp.SubjectIP, "10.9.9.9", true, false, "range as address"},
		{pdp.SubjectIP, "7.7.7.7", true, false, "expiring"},
		{pdp.SubjectIP, "5.5.5.5", false, true, ""},
		{pdp.SubjectCardBIN, "41111111", true, false, "bin"},
	} {
		r := mustRep(t, s, tt.kind, tt.value, t0)
		if r.Blocked != tt.block || r.Allowed != tt.allow || r.BlockReason != tt.reason {
			t.Errorf("%s: %+v", tt.value, r)
		}
	}
	allow, _ := s.ListEntries(bg, pdp.ListAllow, pdp.SubjectIP, "", 10)
	if len(allow) != 1 || allow[0].Reason != "canonical" {
		t.Errorf("allow list: %+v", allow)
	}
	for _, kind := range []pdp.SubjectKind{pdp.SubjectIP, pdp.SubjectCardBIN} {
		es, _ := s.ListEntries(bg, pdp.ListBlock, kind, "", 100)
		for _, e := range es {
			if c, err := CanonicalListValue(pdp.ListBlock, kind, e.Value); err != nil || c != e.Value {
				t.Errorf("left: %+v", e)
			}
		}
	}
	j := journal(t, s, JournalFilter{})
	if len(j) != 1 || j[0].Action != "list.normalize" || j[0].Detail != `{"moved":4,"merged":1,"deleted":2}` {
		t.Fatalf("journal: %+v", j)
	}
	clk.Add(2 * time.Hour)
	if n, err := s.Sweep(bg); err != nil || n != 1 {
		t.Fatalf("the moved entry's expiry: swept %d %v", n, err)
	}
	s.Close()
	s2 := reopen(t, path, clk)
	if j := journal(t, s2, JournalFilter{}); len(j) != 1 {
		t.Fatalf("normalized again: %+v", j)
	}
	if !mustRep(t, s2, pdp.SubjectIP, "10.1.1.1", clk.Now()).Blocked {
		t.Fatal("the range is gone after a restart")
	}
}
