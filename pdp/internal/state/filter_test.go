package state

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// Every key added is reported as possibly present, through the filter's
// growth; keys never added mostly are not.
func TestKeyFilter(t *testing.T) {
	f := newKeyFilter(10)
	const n = 400_000 // past the first filter's 64 Ki and the second's 256 Ki
	for i := range n {
		f.add(fmt.Appendf(nil, "key-%d", i))
	}
	if len(f.filters) < 3 {
		t.Fatalf("%d filters after %d keys", len(f.filters), n)
	}
	for i := range n {
		if !f.mayContainAny([][]byte{[]byte("other"), fmt.Appendf(nil, "key-%d", i)}) {
			t.Fatalf("key-%d reported absent", i)
		}
	}
	fp := 0
	for i := range 100_000 {
		if f.mayContainAny([][]byte{fmt.Appendf(nil, "absent-%d", i)}) {
			fp++
		}
	}
	if fp > 4_000 { // three filters at 1 % each at most
		t.Fatalf("%d false positives in 100 000", fp)
	}
}

// A list entry is found while it is being written, after a restart, and
// once removed and written again; a subject on no list reads as nothing.
func TestListsFilterKeepsEntries(t *testing.T) {
	path := t.TempDir() + "/state.db"
	s, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			v := fmt.Sprintf("u-%d", i)
			if err := s.PutListEntry(bg, block(pdp.SubjectUID, v, "test"), pdp.AuditRecord{}); err != nil {
				t.Error(err)
				return
			}
			if rep, err := s.Reputation(pdp.SubjectUID, v, now); err != nil || !rep.Blocked {
				t.Errorf("%s right after its block: %+v %v", v, rep, err)
			}
		})
	}
	wg.Wait()
	if rep, err := s.Reputation(pdp.SubjectUID, "u-none", now); err != nil || rep.Blocked || rep.Allowed || rep.VIP {
		t.Fatalf("a subject on no list: %+v %v", rep, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(Config{Path: path}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 200 {
		if rep, err := s.Reputation(pdp.SubjectUID, fmt.Sprintf("u-%d", i), now); err != nil || !rep.Blocked {
			t.Fatalf("u-%d after a restart: %+v %v", i, rep, err)
		}
	}
}
