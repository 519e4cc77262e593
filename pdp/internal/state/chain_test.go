package state

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/riskpdp/riskpdp/pdp"
)

// chainedStore writes kept records (list entries, freezes) and decision
// records into a new state file, closes it and returns its path, the
// seqs of the kept records and the number of decision records.
func chainedStore(t *testing.T, mods ...func(*Config)) (path string, kept []uint64, clk *fakeClock) {
	t.Helper()
	s, clk, path := openTest(t, mods...)
	for i := range 5 {
		mustPut(t, s, block(pdp.SubjectDevice, fmt.Sprintf("d-%d", i), "ring"))
		kept = append(kept, lastSeq(t, s))
	}
	kept = append(kept, journalDecisions(t, s, clk, 300, "u-1", "u-2")...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, kept, clk
}

func verifyFile(t *testing.T, path string) *ChainReport {
	t.Helper()
	be, err := OpenBoltReadOnly(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	r, err := VerifyChain(bg, be)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tamper opens the closed state file with bbolt and lets fn change it.
func tamper(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func wantBreak(t *testing.T, r *ChainReport, seq uint64, problem string) {
	t.Helper()
	if r.OK() || r.Broken[0].Seq != seq || !strings.Contains(r.Broken[0].Problem, problem) {
		t.Fatalf("want the first break at seq %d (%s), got %+v", seq, problem, r.Broken)
	}
}

// TestChainVerifies: every kept record of a bbolt state is chained, in
// sequence order, and the chain verifies; decision records are not in it.
func TestChainVerifies(t *testing.T) {
	path, kept, _ := chainedStore(t)
	r := verifyFile(t, path)
	if !r.OK() || r.Checked != len(kept) || r.Head != kept[len(kept)-1] || r.Start != kept[0] || r.Unchained != 0 {
		t.Fatalf("kept %v: %+v", kept, r)
	}
	if r.Records <= len(kept) {
		t.Fatalf("%d records, %d kept: the decision records are missing", r.Records, len(kept))
	}
}

// TestChainDetectsTampering: a kept record altered, removed, swapped with
// another, added or turned into a decision record, or a chain entry
// removed, is named by its seq.
func TestChainDetectsTampering(t *testing.T) {
	cases := []struct {
		name    string
		change  func(tx *bolt.Tx, kept []uint64) (seq uint64)
		problem string
	}{
		{"altered", func(tx *bolt.Tx, kept []uint64) uint64 {
			j := tx.Bucket([]byte("journal"))
			v := bytes.Replace(bytes.Clone(j.Get(seqKey(kept[3]))), []byte("ring"), []byte("rinG"), 1)
			must(t, j.Put(seqKey(kept[3]), v))
			return kept[3]
		}, "altered"},
		{"removed", func(tx *bolt.Tx, kept []uint64) uint64 {
			must(t, tx.Bucket([]byte("journal")).Delete(seqKey(kept[4])))
			return kept[4]
		}, "missing"},
		{"removed with its chain entry", func(tx *bolt.Tx, kept []uint64) uint64 {
			must(t, tx.Bucket([]byte("journal")).Delete(seqKey(kept[4])))
			must(t, tx.Bucket([]byte("chain")).Delete(seqKey(kept[4])))
			return kept[4]
		}, "chain entry missing"},
		{"reordered", func(tx *bolt.Tx, kept []uint64) uint64 {
			j := tx.Bucket([]byte("journal"))
			a, b := bytes.Clone(j.Get(seqKey(kept[1]))), bytes.Clone(j.Get(seqKey(kept[2])))
			must(t, j.Put(seqKey(kept[1]), b))
			must(t, j.Put(seqKey(kept[2]), a))
			return kept[1]
		}, "altered"},
		{"inserted", func(tx *bolt.Tx, kept []uint64) uint64 {
			j := tx.Bucket([]byte("journal"))
			seq := kept[5] + 1 // a decision record's place
			must(t, j.Put(seqKey(seq), bytes.Clone(j.Get(seqKey(kept[5])))))
			return seq
		}, "not in the chain"},
		{"turned into a decision record", func(tx *bolt.Tx, kept []uint64) uint64 {
			j := tx.Bucket([]byte("journal"))
			v := bytes.Replace(bytes.Clone(j.Get(seqKey(kept[6]))), []byte(`"freeze"`), []byte(`"decision"`), 1)
			must(t, j.Put(seqKey(kept[6]), v))
			return kept[6]
		}, "altered"},
		{"head moved back", func(tx *bolt.Tx, kept []uint64) uint64 {
			c := tx.Bucket([]byte("chain"))
			last := kept[len(kept)-1]
			prev, l, _ := decodeChainEntry(c.Get(seqKey(last)))
			_ = l
			_, pl, _ := decodeChainEntry(c.Get(seqKey(prev)))
			must(t, tx.Bucket([]byte("meta")).Put(chainHeadKey, encodeChainEntry(prev, pl)))
			return last
		}, "not in the chain"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, kept, _ := chainedStore(t)
			var seq uint64
			tamper(t, path, func(tx *bolt.Tx) error { seq = c.change(tx, kept); return nil })
			wantBreak(t, verifyFile(t, path), seq, c.problem)
		})
	}
}

// TestChainSurvivesPruning: pruning decision records (the sweeper) leaves
// the chain whole, and the chain goes on after a restart.
func TestChainSurvivesPruning(t *testing.T) {
	path, kept, clk := chainedStore(t)
	s, err := Open(Config{Path: path, Clock: clk.Now, SweepInterval: -1, DecisionTrailRetention: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Sweep(bg)
	if err != nil || n < 200 {
		t.Fatalf("swept %d: %v", n, err)
	}
	mustPut(t, s, block(pdp.SubjectIP, "10.0.0.1", "after the prune"))
	kept = append(kept, lastSeq(t, s))
	must(t, s.Close())
	r := verifyFile(t, path)
	if !r.OK() || r.Checked != len(kept) || r.Head != kept[len(kept)-1] {
		t.Fatalf("kept %d: %+v", len(kept), r)
	}
}

// TestChainStartsInAnOlderFile: a state file with a journal and no chain
// (written before the chain) opens; the chain starts with an
// audit.chain_start record, and the records before it are counted as
// unchained, not as breaks.
func TestChainStartsInAnOlderFile(t *testing.T) {
	path, kept, clk := chainedStore(t)
	tamper(t, path, func(tx *bolt.Tx) error { // what a file from before the chain holds
		must(t, tx.DeleteBucket([]byte("chain")))
		return tx.Bucket([]byte("meta")).Delete(chainHeadKey)
	})
	if r := verifyFile(t, path); !r.OK() || r.Checked != 0 || r.Unchained != len(kept) {
		t.Fatalf("before the upgrade: %+v", r)
	}
	s := reopen(t, path, clk)
	recs := journal(t, s, JournalFilter{})
	start := recs[len(recs)-1]
	if start.Action != ActionChainStart {
		t.Fatalf("last record %+v, want %s", start, ActionChainStart)
	}
	mustPut(t, s, block(pdp.SubjectIP, "10.0.0.2", "after the upgrade"))
	must(t, s.Close())
	r := verifyFile(t, path)
	if !r.OK() || r.Start != start.Seq || r.Checked != 2 || r.Unchained != len(kept) {
		t.Fatalf("after the upgrade: %+v", r)
	}
	s = reopen(t, path, clk) // no second start record
	if recs2 := journal(t, s, JournalFilter{}); len(recs2) != len(recs)+1 {
		t.Fatalf("%d records after a second open, want %d", len(recs2), len(recs)+1)
	}
}

// TestExportJournal: every record with its link; chained records carry
// the link that hashes their stored bytes after the link before.
func TestExportJournal(t *testing.T) {
	path, kept, _ := chainedStore(t)
	be, err := OpenBoltReadOnly(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	links := map[uint64]Link{}
	var n, chainedN int
	err = ExportJournal(bg, be, JournalFilter{}, func(e *ExportRecord) error {
		n++
		if (e.Link != nil) != (e.Action != pdp.ActionDecision) {
			t.Errorf("seq %d (%s): link %v", e.Seq, e.Action, e.Link)
		}
		if e.Link == nil {
			return nil
		}
		chainedN++
		if got := ChainLink(links[e.PrevSeq], e.Seq, e.Stored); got != *e.Link {
			t.Errorf("seq %d: link %s, stored bytes hash to %s", e.Seq, e.Link, got)
		}
		links[e.Seq] = *e.Link
		return nil
	})
	if err != nil || chainedN != len(kept) || n <= chainedN {
		t.Fatalf("%d records, %d chained of %d kept: %v", n, chainedN, len(kept), err)
	}
	must(t, be.Close())
	// A running sidecar holds the file: a reader waits for the lock, then
	// says so.
	s := reopen(t, path, newClock())
	defer s.Close()
	if _, err := OpenBoltReadOnly(path, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("opened a file a Store holds: %v", err)
	}
}

// TestChainPrunedPastRetention: kept records older than AuditRetention
// are pruned oldest first, none younger; a checkpoint record carries the
// last pruned record's link, and the chain verifies from it.
func TestChainPrunedPastRetention(t *testing.T) {
	s, clk, path := openTest(t, func(c *Config) { c.AuditRetention = MinAuditRetention })
	var old, young []uint64
	for i := range 4 {
		mustPut(t, s, block(pdp.SubjectDevice, fmt.Sprintf("old-%d", i), "ring"))
		old = append(old, lastSeq(t, s))
		clk.Add(time.Hour)
	}
	clk.Add(MinAuditRetention - 2*time.Hour) // old[0] and old[1] are past it
	for i := range 3 {
		mustPut(t, s, block(pdp.SubjectDevice, fmt.Sprintf("young-%d", i), "ring"))
		young = append(young, lastSeq(t, s))
	}
	n, err := s.Sweep(bg)
	if err != nil || n != 2 {
		t.Fatalf("swept %d, want 2: %v", n, err)
	}
	recs := journal(t, s, JournalFilter{})
	if recs[0].Seq != old[2] {
		t.Fatalf("first record %d, want %d (old[2])", recs[0].Seq, old[2])
	}
	cp := recs[len(recs)-1]
	if cp.Action != ActionChainPruned || !strings.Contains(cp.Detail, fmt.Sprintf(`"through_seq":%d`, old[1])) {
		t.Fatalf("checkpoint record %+v", cp)
	}
	if n, err := s.Sweep(bg); err != nil || n != 0 {
		t.Fatalf("second sweep removed %d: %v", n, err)
	}
	must(t, s.Close())
	r := verifyFile(t, path)
	if !r.OK() || r.Base != old[1] || r.Start != old[2] || r.Checked != 2+len(young)+1 {
		t.Fatalf("after pruning: %+v", r)
	}
	// A checkpoint moved to hide more records does not verify.
	tamper(t, path, func(tx *bolt.Tx) error {
		_, l, _ := decodeChainEntry(tx.Bucket([]byte("chain")).Get(seqKey(old[2])))
		must(t, tx.Bucket([]byte("journal")).Delete(seqKey(old[2])))
		must(t, tx.Bucket([]byte("chain")).Delete(seqKey(old[2])))
		return tx.Bucket([]byte("meta")).Put(chainBaseKey, encodeChainEntry(old[2], l))
	})
	if r := verifyFile(t, path); r.OK() {
		t.Fatalf("checkpoint moved without its record: %+v", r)
	}
}
