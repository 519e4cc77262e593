package state

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

func TestReputationFromLists(t *testing.T) {
	s, clk, _ := openTest(t)
	now := clk.Now()
	for _, e := range []pdp.ListEntry{
		block(pdp.SubjectDevice, "d-77", "emulator farm"),
		{List: pdp.ListAllow, Subject: pdp.SubjectUID, Value: "u-1"},
		{List: pdp.ListVIP, Subject: pdp.SubjectUID, Value: "u-1"},
		{List: pdp.ListBlock, Subject: pdp.SubjectIP, Value: "10.0.0.1", Reason: "threat feed"},
		{List: pdp.ListAllow, Subject: pdp.SubjectIP, Value: "10.0.0.1"},
		{List: pdp.ListBlock, Subject: pdp.SubjectCardBIN, Value: "411111", Expires: now.Add(-time.Second)},
		{List: pdp.ListBlock, Subject: pdp.SubjectUID, Value: "u-2", Expires: now.Add(time.Hour), Reason: "scam"},
	} {
		mustPut(t, s, e)
	}
	tests := []struct {
		kind  pdp.SubjectKind
		value string
		want  pdp.Reputation
	}{
		{pdp.SubjectDevice, "d-77", pdp.Reputation{Blocked: true, BlockReason: "emulator farm"}},
		{pdp.SubjectUID, "d-77", pdp.Reputation{}}, // same value, other kind
		{pdp.SubjectUID, "u-1", pdp.Reputation{Allowed: true, VIP: true}},
		{pdp.SubjectIP, "10.0.0.1", pdp.Reputation{Blocked: true, Allowed: true, BlockReason: "threat feed"}},
		{pdp.SubjectCardBIN, "411111", pdp.Reputation{}}, // expired
		{pdp.SubjectUID, "u-2", pdp.Reputation{Blocked: true, BlockReason: "scam"}},
		{pdp.SubjectUID, "nobody", pdp.Reputation{}},
	}
	for _, tt := range tests {
		for pass := range 2 { // miss, then hit
			if got := mustRep(t, s, tt.kind, tt.value, now); got != tt.want {
				t.Errorf("pass %d: Reputation(%s, %q) = %+v, want %+v", pass, tt.kind, tt.value, got, tt.want)
			}
		}
	}
	if _, err := s.Reputation(0, "x", now); !errors.Is(err, ErrInvalid) {
		t.Errorf("Reputation(kind 0) error = %v, want ErrInvalid", err)
	}
}

func TestPutListEntryRefuses(t *testing.T) {
	s, _, _ := openTest(t)
	tests := []struct {
		name string
		e    pdp.ListEntry
	}{
		{"no list", pdp.ListEntry{Subject: pdp.SubjectUID, Value: "u"}},
		{"unknown list", pdp.ListEntry{List: 9, Subject: pdp.SubjectUID, Value: "u"}},
		{"no kind", pdp.ListEntry{List: pdp.ListBlock, Value: "u"}},
		{"unknown kind", pdp.ListEntry{List: pdp.ListBlock, Subject: 7, Value: "u"}},
		{"empty value", pdp.ListEntry{List: pdp.ListBlock, Subject: pdp.SubjectUID}},
		{"long value", pdp.ListEntry{List: pdp.ListBlock, Subject: pdp.SubjectUID, Value: strings.Repeat("x", maxValueLen+1)}},
		{"not utf-8", pdp.ListEntry{List: pdp.ListBlock, Subject: pdp.SubjectUID, Value: "u\xff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.PutListEntry(bg, tt.e, pdp.AuditRecord{}); !errors.Is(err, ErrInvalid) {
				t.Errorf("PutListEntry error = %v, want ErrInvalid", err)
			}
			if err := s.PutListEntries(bg, []pdp.ListEntry{block(pdp.SubjectIP, "1.1.1.1", ""), tt.e}, pdp.AuditRecord{}); !errors.Is(err, ErrInvalid) {
				t.Errorf("PutListEntries error = %v, want ErrInvalid", err)
			}
		})
	}
	if got := journal(t, s, JournalFilter{}); len(got) != 0 {
		t.Errorf("refused writes journaled %d records", len(got))
	}
	if r := mustRep(t, s, pdp.SubjectIP, "1.1.1.1", t0); r.Blocked {
		t.Error("a refused PutListEntries applied part of its batch")
	}
}

func TestPutListEntryAudit(t *testing.T) {
	s, clk, _ := openTest(t)
	e := block(pdp.SubjectUID, "u-9", "mule")
	mustPut(t, s, e)
	clk.Add(time.Minute)
	if err := s.PutListEntry(bg, block(pdp.SubjectDevice, "d-1", ""), pdp.AuditRecord{Action: "custom", Actor: pdp.Actor{Operator: "op2"}, Detail: "x"}); err != nil {
		t.Fatal(err)
	}
	got := journal(t, s, JournalFilter{})
	if len(got) != 2 {
		t.Fatalf("journal has %d records, want 2", len(got))
	}
	a := got[0]
	if a.Seq != 1 || a.Action != "list.put" || a.Target != "block/uid/u-9" || a.UID != "u-9" || !a.At.Equal(t0) ||
		a.Actor != e.Actor || !strings.Contains(a.Detail, `"reason":"mule"`) {
		t.Errorf("defaulted audit = %+v", a)
	}
	b := got[1]
	if b.Seq != 2 || b.Action != "custom" || b.Actor.Operator != "op2" || b.Detail != "x" || b.UID != "" || !b.At.Equal(t0.Add(time.Minute)) {
		t.Errorf("explicit audit = %+v", b)
	}
}

func TestDeleteListEntry(t *testing.T) {
	s, _, _ := openTest(t)
	mustPut(t, s, block(pdp.SubjectIP, "10.1.1.1", "feed"))
	if !mustRep(t, s, pdp.SubjectIP, "10.1.1.1", t0).Blocked {
		t.Fatal("not blocked after put")
	}
	tests := []struct {
		value string
		want  bool
	}{{"10.1.1.1", true}, {"10.1.1.1", false}, {"10.9.9.9", false}}
	for _, tt := range tests {
		got, err := s.DeleteListEntry(bg, pdp.ListBlock, pdp.SubjectIP, tt.value, pdp.AuditRecord{Actor: pdp.Actor{Operator: "op3"}})
		if err != nil || got != tt.want {
			t.Errorf("DeleteListEntry(%q) = %v, %v; want %v", tt.value, got, err, tt.want)
		}
	}
	if mustRep(t, s, pdp.SubjectIP, "10.1.1.1", t0).Blocked {
		t.Error("still blocked after delete")
	}
	recs := journal(t, s, JournalFilter{})
	if len(recs) != 2 || recs[1].Action != "list.delete" || recs[1].Actor.Operator != "op3" || !strings.Contains(recs[1].Detail, "feed") {
		t.Errorf("journal = %+v, want put then one delete", recs)
	}
	if _, err := s.DeleteListEntry(bg, pdp.ListBlock, 0, "x", pdp.AuditRecord{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("DeleteListEntry(kind 0) error = %v", err)
	}
}

func TestListEntriesPaging(t *testing.T) {
	s, clk, _ := openTest(t)
	var all []pdp.ListEntry
	for i := range 25 {
		e := block(pdp.SubjectDevice, fmt.Sprintf("d-%02d", i), "")
		if i%5 == 4 {
			e.Expires = t0.Add(time.Minute) // expire below
		}
		all = append(all, e)
	}
	all = append(all, block(pdp.SubjectUID, "d-00", ""), pdp.ListEntry{List: pdp.ListAllow, Subject: pdp.SubjectDevice, Value: "d-00"})
	if err := s.PutListEntries(bg, all, pdp.AuditRecord{}); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	var got []string
	after := ""
	for page := 0; ; page++ {
		es, err := s.ListEntries(bg, pdp.ListBlock, pdp.SubjectDevice, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		if len(es) > 7 || page > 10 {
			t.Fatalf("page %d has %d entries", page, len(es))
		}
		for _, e := range es {
			got = append(got, e.Value)
		}
		after = es[len(es)-1].Value
	}
	var want []string
	for i := range 25 {
		if i%5 != 4 {
			want = append(want, fmt.Sprintf("d-%02d", i))
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("paged values\n got %v\nwant %v", got, want)
	}
	if es, _ := s.ListEntries(bg, pdp.ListBlock, pdp.SubjectDevice, "", 0); len(es) != 20 {
		t.Errorf("limit 0 returned %d entries, want all 20", len(es))
	}
	if _, err := s.ListEntries(bg, 0, pdp.SubjectDevice, "", 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("ListEntries(list 0) error = %v", err)
	}
}
