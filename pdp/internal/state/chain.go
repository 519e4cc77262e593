package state

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// The hash chain over the journal's kept records.
//
// Every journal record but the decision records (pdp.ActionDecision, which
// the sweeper prunes and the decision log holds in full) is chained: its
// link is SHA-256(link of the record chained before it || seq as 8 bytes
// big-endian || the record's stored bytes). The backend computes it in the
// Commit that appends the record, in the same atomic transaction, and
// keeps
//
//	BucketChain  8-byte seq → 8-byte seq of the record chained before (0: none) || link
//	BucketMeta   "chain_head" → 8-byte seq || link of the record chained last
//
// The chain follows commit order, which is sequence order with bbolt and
// may differ from it with Redis (sequence numbers are reserved before the
// commit), so each entry names its predecessor and VerifyChain walks from
// the head back. The first record chained has no predecessor: in a state
// file older than the chain, the Store chains a record saying so
// (ActionChainStart) at Open, and the records before it stay unchained.
//
// What the chain proves is in README.md ("Records kept and provable"):
// altering, removing, reordering or inserting a kept record inside the
// store breaks it; a chain rewritten whole (with its head) is only caught
// against a head kept elsewhere, such as an export.

// Link is a chain link: a SHA-256.
type Link [sha256.Size]byte

// String is the link in hex.
func (l Link) String() string { return hex.EncodeToString(l[:]) }

// ActionChainStart is the action of the first record of a chain that
// starts in a journal that has records already (a state file older than
// the chain): the records before it are not chained.
const ActionChainStart = "audit.chain_start"

var chainHeadKey = []byte("chain_head")

// ChainHeadKey is the BucketMeta key of the chain's head, for backends
// that implement Commit. Batch.Writes never write it.
func ChainHeadKey() []byte { return slices.Clone(chainHeadKey) }

// chainEntryLen is the length of a chain entry and of the head.
const chainEntryLen = 8 + sha256.Size

// ChainLink is the link of record (its stored bytes) under seq, chained
// after the record whose link is prev (the zero Link for the first).
func ChainLink(prev Link, seq uint64, record []byte) Link {
	h := sha256.New()
	h.Write(prev[:])
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	h.Write(s[:])
	h.Write(record)
	var l Link
	h.Sum(l[:0])
	return l
}

func encodeChainEntry(seq uint64, l Link) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, chainEntryLen), seq), l[:]...)
}

func decodeChainEntry(v []byte) (seq uint64, l Link, ok bool) {
	if len(v) != chainEntryLen {
		return 0, Link{}, false
	}
	copy(l[:], v[8:])
	return binary.BigEndian.Uint64(v), l, true
}

// ChainWrites is what a backend's Commit adds to chain the records of
// journal, appended under seqs first, first+1, ...: one BucketChain entry
// per chained record and the new head (a BucketMeta write of
// ChainHeadKey; nil when no record is chained). head is the head's value
// before the commit (nil: no chain yet). The backend must apply them in
// the transaction that appends the records, and only if the head is still
// head (a Shared backend: Write.If on the head).
func ChainWrites(head []byte, first uint64, journal []JournalEntry) (writes []Write, err error) {
	var prevSeq uint64
	var prev Link
	if head != nil {
		var ok bool
		if prevSeq, prev, ok = decodeChainEntry(head); !ok {
			return nil, corrupt("chain head", fmt.Errorf("%d bytes", len(head)))
		}
	}
	for i, j := range journal {
		if !j.Chain {
			continue
		}
		seq := first + uint64(i)
		l := ChainLink(prev, seq, j.Record)
		writes = append(writes, Write{Bucket: BucketChain, Key: seqKey(seq), Value: encodeChainEntry(prevSeq, l)})
		prevSeq, prev = seq, l
	}
	if len(writes) > 0 {
		writes = append(writes, Write{Bucket: BucketMeta, Key: ChainHeadKey(), Value: encodeChainEntry(prevSeq, prev)})
	}
	return writes, nil
}

// chained says whether a record of this action is chained (and kept).
func chained(action string) bool { return action != pdp.ActionDecision }

// ownedByCommit reports the writes only a backend's Commit makes: puts
// into the journal, its index and the chain, and the chain's head.
// Batch.Writes may delete journal, index and chain keys (pruning), never
// the head.
func ownedByCommit(w *Write) bool {
	switch w.Bucket {
	case BucketJournal, BucketJournalByUID, BucketChain:
		return !w.Delete
	case BucketMeta:
		return bytes.Equal(w.Key, chainHeadKey)
	}
	return false
}

// CheckWrites refuses a batch that writes what only Commit may (see
// Backend), for backends that implement Commit.
func CheckWrites(b *Batch) error {
	for i := range b.Writes {
		w := &b.Writes[i]
		if w.Bucket == 0 || w.Bucket >= numBuckets || ownedByCommit(w) {
			return fmt.Errorf("commit: write to bucket %d (%s) key %q refused", w.Bucket, w.Bucket, w.Key)
		}
	}
	return nil
}

// startChain chains an ActionChainStart record when the journal has
// records and no chain: a state written before the chain. The records
// before it stay unchained (VerifyChain counts them).
func (s *Store) startChain() error {
	var head []byte
	if err := s.be.Get(BucketMeta, [][]byte{chainHeadKey}, func(_ int, v []byte) error {
		head = slices.Clone(v)
		return nil
	}); err != nil {
		return fmt.Errorf("chain head: %w", err)
	}
	if head != nil {
		return nil
	}
	var last uint64
	if err := s.be.Scan(BucketJournal, nil, nil, func(k, _ []byte) error {
		if len(k) == 8 {
			last = binary.BigEndian.Uint64(k)
		}
		return ErrStop
	}); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if last == 0 {
		return nil // an empty journal: its first kept record starts the chain
	}
	a := &pdp.AuditRecord{At: s.cfg.Clock(), Actor: pdp.Actor{Operator: "pdp", Reason: "state written before the hash chain"},
		Action: ActionChainStart, Target: "journal",
		Detail: `{"note":"the records before this one are not chained"}`}
	b := &Batch{}
	if err := s.journal(b, a); err != nil {
		return err
	}
	return s.commit(b)
}

// ChainReport is what VerifyChain found.
type ChainReport struct {
	// Head is the seq of the record chained last and HeadLink its link
	// (zero without a chain).
	Head     uint64
	HeadLink Link
	// Start is the seq of the first record of the chain (0: no chain),
	// Base the last record pruned past the audit retention, whose link
	// the chain starts from (0: none pruned).
	Start, Base uint64
	// Checked counts the chained records whose link was verified;
	// Records the journal records read, Unchained those before Start that
	// the chain would keep (a state older than the chain) and Newer those
	// chained after the head was read (a live backend).
	Checked, Records, Unchained, Newer int
	// Broken lists what does not hold, by seq; empty when the chain
	// verifies.
	Broken []ChainBreak
}

// ChainBreak is one place where the chain does not hold.
type ChainBreak struct {
	Seq     uint64
	Problem string
}

func (b ChainBreak) String() string { return fmt.Sprintf("seq %d: %s", b.Seq, b.Problem) }

// OK reports whether the chain verified.
func (r *ChainReport) OK() bool { return len(r.Broken) == 0 }

// maxBreaks bounds the breaks a report lists.
const maxBreaks = 100

// VerifyChain walks the hash chain of be's journal from its head back to
// its first record, checking every link against the record it covers and
// the link before it, then reads the journal forward to check that every
// record the chain keeps after its start is in it. It reads through the
// Backend only, so it works on a read-only file (OpenBoltReadOnly) and on
// a shared backend that sidecars are writing. An error is a failure to
// read; what does not verify is in the report.
func VerifyChain(ctx context.Context, be Backend) (*ChainReport, error) {
	r := &ChainReport{}
	brk := func(seq uint64, format string, args ...any) {
		if len(r.Broken) < maxBreaks {
			r.Broken = append(r.Broken, ChainBreak{seq, fmt.Sprintf(format, args...)})
		}
	}
	getOne := func(bk Bucket, key []byte) (v []byte, err error) {
		err = be.Get(bk, [][]byte{key}, func(_ int, val []byte) error { v = slices.Clone(val); return nil })
		return v, err
	}
	head, err := getOne(BucketMeta, chainHeadKey)
	if err != nil {
		return nil, fmt.Errorf("chain head: %w", err)
	}
	base, err := getOne(BucketMeta, chainBaseKey)
	if err != nil {
		return nil, fmt.Errorf("chain checkpoint: %w", err)
	}
	hasBase := base != nil
	var baseSeq uint64
	var baseLink Link
	if hasBase {
		var ok bool
		if baseSeq, baseLink, ok = decodeChainEntry(base); !ok {
			brk(0, "chain checkpoint is not a chain entry (%d bytes)", len(base))
			hasBase = false
		}
		r.Base = baseSeq
	}
	visited := make(map[uint64]struct{})
	if head != nil {
		seq, l, ok := decodeChainEntry(head)
		if !ok {
			brk(0, "chain head is not a chain entry (%d bytes)", len(head))
		} else {
			r.Head, r.HeadLink = seq, l
			want := l          // the link the record at seq must have
			sawPruned := false // the checkpoint's record, the last of its kind in the chain
			for seq != 0 && (!hasBase || seq != baseSeq) {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				if _, again := visited[seq]; again {
					brk(seq, "the chain loops back to this record")
					break
				}
				visited[seq] = struct{}{}
				ev, err := getOne(BucketChain, seqKey(seq))
				if err != nil {
					return nil, fmt.Errorf("chain %d: %w", seq, err)
				}
				prevSeq, stored, ok := decodeChainEntry(ev)
				if !ok {
					if ev == nil {
						brk(seq, "chain entry missing (the record chained after it names it)")
					} else {
						brk(seq, "chain entry damaged (%d bytes)", len(ev))
					}
					break
				}
				if stored != want {
					brk(seq, "link %s is not the one the next record was chained to (%s)", stored, want)
				}
				var prev Link
				if hasBase && prevSeq == baseSeq {
					prev, r.Start = baseLink, seq
				} else if prevSeq != 0 {
					pv, err := getOne(BucketChain, seqKey(prevSeq))
					if err != nil {
						return nil, fmt.Errorf("chain %d: %w", prevSeq, err)
					}
					_, pl, ok := decodeChainEntry(pv)
					if !ok {
						brk(prevSeq, "chain entry missing or damaged (record %d was chained after it)", seq)
						break
					}
					prev = pl
				} else {
					r.Start = seq
				}
				rec, err := getOne(BucketJournal, seqKey(seq))
				if err != nil {
					return nil, fmt.Errorf("journal %d: %w", seq, err)
				}
				switch {
				case rec == nil:
					brk(seq, "record missing (removed)")
				case ChainLink(prev, seq, rec) != stored:
					brk(seq, "record altered: its bytes do not hash to its link")
				default:
					r.Checked++
					if hasBase && !sawPruned {
						if a, err := decodeAudit(seq, rec); err == nil && a.Action == ActionChainPruned {
							sawPruned = true
							var d chainPruneDetail
							if json.Unmarshal([]byte(a.Detail), &d) != nil || d.ThroughSeq != baseSeq || d.Link != baseLink.String() {
								brk(baseSeq, "chain checkpoint differs from the last %s record (seq %d)", ActionChainPruned, seq)
							}
						}
					}
				}
				seq, want = prevSeq, prev
			}
			if hasBase && !sawPruned && r.Start != 0 { // the walk reached the checkpoint
				brk(baseSeq, "chain checkpoint without an %s record in the chain", ActionChainPruned)
			}
		}
	}
	err = be.Scan(BucketJournal, nil, nil, func(k, v []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(k) != 8 {
			brk(0, "journal key %x is not a sequence number", k)
			return nil
		}
		seq := binary.BigEndian.Uint64(k)
		r.Records++
		if _, ok := visited[seq]; ok {
			return nil
		}
		a, err := decodeAudit(seq, v)
		if err != nil {
			if r.Start != 0 && seq > r.Start {
				brk(seq, "record undecodable and not in the chain: %v", err)
			}
			return nil
		}
		if !chained(a.Action) {
			return nil
		}
		if r.Start == 0 || seq < r.Start {
			r.Unchained++
			return nil
		}
		// Committed after the head was read (a live shared backend)?
		ev, err := getOne(BucketChain, seqKey(seq))
		if err != nil {
			return fmt.Errorf("chain %d: %w", seq, err)
		}
		if ev != nil {
			if h, err := getOne(BucketMeta, chainHeadKey); err == nil && !bytes.Equal(h, head) {
				r.Newer++
				return nil
			}
		}
		brk(seq, "%s record not in the chain (inserted, or its chain entry removed)", a.Action)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	slices.SortStableFunc(r.Broken, func(a, b ChainBreak) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	return r, nil
}

// ExportRecord is a journal record as ExportJournal reads it: the record,
// its stored bytes (what its link covers) and, when it is chained, its
// link and the seq of the record chained before it.
type ExportRecord struct {
	pdp.AuditRecord
	Stored  []byte
	Link    *Link
	PrevSeq uint64
}

// ExportJournal calls fn with every record of be's journal that f selects
// (FromSeq, ToSeq, Since and Until; not UID), in sequence order, with its
// chain link. Like VerifyChain it reads through the Backend only.
func ExportJournal(ctx context.Context, be Backend, f JournalFilter, fn func(*ExportRecord) error) error {
	if f.UID != "" {
		return errors.New("export: the UID filter is not supported")
	}
	return scanJournal(ctx, be, &f, func(a pdp.AuditRecord, stored []byte) error {
		e := &ExportRecord{AuditRecord: a, Stored: stored}
		if err := be.Get(BucketChain, [][]byte{seqKey(a.Seq)}, func(_ int, v []byte) error {
			if prev, l, ok := decodeChainEntry(v); ok {
				e.Link, e.PrevSeq = &l, prev
			}
			return nil
		}); err != nil {
			return fmt.Errorf("chain %d: %w", a.Seq, err)
		}
		return fn(e)
	})
}

// ActionChainPruned is the action of the checkpoint record the sweeper
// chains when it prunes kept records past Config.AuditRetention: its
// detail names the last record pruned (in chain order) and its link,
// which BucketMeta keeps under chainBaseKey for VerifyChain to start from.
const ActionChainPruned = "audit.pruned"

var chainBaseKey = []byte("chain_base")

// chainPruneDetail is the Detail of an ActionChainPruned record.
type chainPruneDetail struct {
	ThroughSeq uint64 `json:"through_seq"`
	Link       string `json:"link"`
	Records    int    `json:"records"`
	Before     jtime  `json:"before"`
}

// chainPruneJob prunes up to sweepChunk kept records older than
// AuditRetention from the start of the chain, in chain order, with their
// index and chain entries, and in the same batch moves the checkpoint
// (chainBaseKey: the last pruned record's seq and link, under a condition
// on the one before, so two sidecars pruning at once do not both) and
// chains an ActionChainPruned record saying so. Every chain entry left is
// after the checkpoint in chain order, so the first sweepChunk of them by
// seq hold its successor (commit order differs from seq order only among
// commits in flight together).
func (s *Store) chainPruneJob(be Backend, now time.Time) (b *Batch, after func(), removed int, more bool, err error) {
	if s.cfg.AuditRetention < 0 {
		return nil, nil, 0, false, nil
	}
	cutoff := now.Add(-s.cfg.AuditRetention)
	// Most sweeps find nothing due: the oldest chained record (by seq;
	// chain order follows closely) tells without reading more.
	var oldest []byte
	if err := be.Scan(BucketChain, nil, nil, func(k, _ []byte) error {
		oldest = slices.Clone(k)
		return ErrStop
	}); err != nil {
		return nil, nil, 0, false, err
	}
	if oldest == nil {
		return nil, nil, 0, false, nil
	}
	due := true
	if err := be.Get(BucketJournal, [][]byte{oldest}, func(_ int, v []byte) error {
		if v != nil && len(oldest) == 8 {
			if a, err := decodeAudit(binary.BigEndian.Uint64(oldest), v); err == nil && !a.At.Before(cutoff) {
				due = false
			}
		}
		return nil
	}); err != nil {
		return nil, nil, 0, false, err
	}
	if !due {
		return nil, nil, 0, false, nil
	}
	var baseVal []byte
	if err := be.Get(BucketMeta, [][]byte{chainBaseKey}, func(_ int, v []byte) error {
		baseVal = slices.Clone(v)
		return nil
	}); err != nil {
		return nil, nil, 0, false, err
	}
	var cur uint64
	var curLink Link
	if baseVal != nil {
		var ok bool
		if cur, curLink, ok = decodeChainEntry(baseVal); !ok {
			return nil, nil, 0, false, corrupt("chain checkpoint", fmt.Errorf("%d bytes", len(baseVal)))
		}
	}
	type entry struct {
		seq  uint64
		link Link
	}
	next := make(map[uint64]entry)
	n := 0
	if err := be.Scan(BucketChain, nil, nil, func(k, v []byte) error {
		if prev, l, ok := decodeChainEntry(v); ok && len(k) == 8 {
			next[prev] = entry{binary.BigEndian.Uint64(k), l}
		}
		if n++; n >= sweepChunk {
			return ErrStop
		}
		return nil
	}); err != nil {
		return nil, nil, 0, false, err
	}
	b = &Batch{}
	for {
		e, ok := next[cur]
		if !ok {
			break
		}
		var a pdp.AuditRecord
		found := false
		if err := be.Get(BucketJournal, [][]byte{seqKey(e.seq)}, func(_ int, v []byte) error {
			if v == nil {
				return nil
			}
			found = true
			a, err = decodeAudit(e.seq, v)
			return err
		}); err != nil {
			return nil, nil, 0, false, fmt.Errorf("journal %d: %w", e.seq, err)
		}
		if found && !a.At.Before(cutoff) {
			break
		}
		if len(b.Writes)+3 > sweepChunk {
			more = true
			break
		}
		// A record already missing is pruned all the same: VerifyChain
		// reported it while it was in the chain.
		b.del(BucketJournal, seqKey(e.seq))
		if found && a.UID != "" {
			b.del(BucketJournalByUID, journalUIDKey(a.UID, e.seq))
		}
		b.del(BucketChain, seqKey(e.seq))
		cur, curLink = e.seq, e.link
		removed++
	}
	if removed == 0 {
		return nil, nil, 0, false, nil
	}
	was := ValueDigest(baseVal)
	b.Writes = append(b.Writes, Write{Bucket: BucketMeta, Key: slices.Clone(chainBaseKey), Value: encodeChainEntry(cur, curLink), If: &was})
	detail, err := json.Marshal(chainPruneDetail{ThroughSeq: cur, Link: curLink.String(), Records: removed, Before: jtime(cutoff)})
	if err != nil {
		return nil, nil, 0, false, err
	}
	rec := &pdp.AuditRecord{At: now, Actor: pdp.Actor{Operator: "pdp", Reason: "audit retention"},
		Action: ActionChainPruned, Target: "journal", Detail: string(detail)}
	if err := s.journal(b, rec); err != nil {
		return nil, nil, 0, false, err
	}
	return b, func() { s.stats.pruned.Add(uint64(removed)) }, removed, more, nil
}
