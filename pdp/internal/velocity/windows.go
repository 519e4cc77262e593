package velocity

import "github.com/riskpdp/riskpdp/pdp"

// windows are the rings of one busy key: counts and amount sums over 1m, 1h
// and 24h, and logins over 1h, with each ring's total at its head bucket so
// that reading at the head (always, right after a write) costs no loop.
// Totals are recomputed from the slots when a head moves, never decremented,
// so float sums do not drift. 720 bytes.
//
// Floats come first so that the struct has no padding.
type windows struct {
	// Totals of the rings at their heads.
	s1m, s1h, s24h float64

	a1m  [slots1m]float64 // amounts
	a1h  [slots1h]float64
	a24h [slots24h]float64

	head1m, head1h, head24h uint32
	c1m, c1h, c24h, l1h     uint32

	n1m  [slots1m]uint32 // counts
	n1h  [slots1h]uint32
	lg1h [slots1h]uint32 // logins
	n24h [slots24h]uint32
}

// add records one request at c: a login, or a money movement of amount.
func (w *windows) add(c clock, amount float64, login bool) {
	if c.b1m > w.head1m {
		advance(w.n1m[:], w.head1m, c.b1m)
		advance(w.a1m[:], w.head1m, c.b1m)
		w.head1m = c.b1m
		w.c1m, w.s1m = sum(w.n1m[:]), sum(w.a1m[:])
	}
	if c.b1h > w.head1h {
		advance(w.n1h[:], w.head1h, c.b1h)
		advance(w.a1h[:], w.head1h, c.b1h)
		advance(w.lg1h[:], w.head1h, c.b1h)
		w.head1h = c.b1h
		w.c1h, w.s1h, w.l1h = sum(w.n1h[:]), sum(w.a1h[:]), sum(w.lg1h[:])
	}
	if c.b24h > w.head24h {
		advance(w.n24h[:], w.head24h, c.b24h)
		advance(w.a24h[:], w.head24h, c.b24h)
		w.head24h = c.b24h
		w.c24h, w.s24h = sum(w.n24h[:]), sum(w.a24h[:])
	}
	i1h := w.head1h % slots1h
	if login {
		w.lg1h[i1h]++
		w.l1h++
		return
	}
	i1m, i24h := w.head1m%slots1m, w.head24h%slots24h
	w.n1m[i1m]++
	w.a1m[i1m] += amount
	w.c1m++
	w.s1m += amount
	w.n1h[i1h]++
	w.a1h[i1h] += amount
	w.c1h++
	w.s1h += amount
	w.n24h[i24h]++
	w.a24h[i24h] += amount
	w.c24h++
	w.s24h += amount
}

// retotal recomputes the totals from the slots (after a restore).
func (w *windows) retotal() {
	w.c1m, w.s1m = sum(w.n1m[:]), sum(w.a1m[:])
	w.c1h, w.s1h, w.l1h = sum(w.n1h[:]), sum(w.a1h[:]), sum(w.lg1h[:])
	w.c24h, w.s24h = sum(w.n24h[:]), sum(w.a24h[:])
}

// read fills out with the counts at c without changing w.
func (w *windows) read(c clock, out *pdp.WindowCounts) {
	if c.b1m <= w.head1m {
		out.Count1m, out.Amount1m = w.c1m, w.s1m
	} else {
		out.Count1m = total(w.n1m[:], w.head1m, c.b1m)
		out.Amount1m = total(w.a1m[:], w.head1m, c.b1m)
	}
	if c.b1h <= w.head1h {
		out.Count1h, out.Amount1h, out.Logins1h = w.c1h, w.s1h, w.l1h
	} else {
		out.Count1h = total(w.n1h[:], w.head1h, c.b1h)
		out.Amount1h = total(w.a1h[:], w.head1h, c.b1h)
		out.Logins1h = total(w.lg1h[:], w.head1h, c.b1h)
	}
	if c.b24h <= w.head24h {
		out.Count24h, out.Amount24h = w.c24h, w.s24h
	} else {
		out.Count24h = total(w.n24h[:], w.head24h, c.b24h)
		out.Amount24h = total(w.a24h[:], w.head24h, c.b24h)
	}
}

// expired reports that no window counts anything in w at c.
func (w *windows) expired(c clock) bool { return !counted(w.head24h, c.b24h, slots24h) }

// drop zeroes the slots no window counts at c, leaving the heads alone.
func (w *windows) drop(c clock) {
	advance(w.n1m[:], w.head1m, c.b1m)
	advance(w.a1m[:], w.head1m, c.b1m)
	advance(w.n1h[:], w.head1h, c.b1h)
	advance(w.a1h[:], w.head1h, c.b1h)
	advance(w.lg1h[:], w.head1h, c.b1h)
	advance(w.n24h[:], w.head24h, c.b24h)
	advance(w.a24h[:], w.head24h, c.b24h)
}

// failures are a UID's failure events by kind over 1h and 24h. 464 bytes.
type failures struct {
	head1h, head24h uint32
	h1              [nFailureKinds][slots1h]uint32
	h24             [nFailureKinds][slots24h]uint32
}

const nFailureKinds = 3

// add records one failure of kind k (0-based) at c.
func (f *failures) add(c clock, k int) {
	for i := range nFailureKinds {
		advance(f.h1[i][:], f.head1h, c.b1h)
		advance(f.h24[i][:], f.head24h, c.b24h)
	}
	f.head1h = max(f.head1h, c.b1h)
	f.head24h = max(f.head24h, c.b24h)
	f.h1[k][f.head1h%slots1h]++
	f.h24[k][f.head24h%slots24h]++
}

func (f *failures) read(c clock, out *pdp.Failures) {
	out.Payment1h = total(f.h1[0][:], f.head1h, c.b1h)
	out.Payment24h = total(f.h24[0][:], f.head24h, c.b24h)
	out.PIN1h = total(f.h1[1][:], f.head1h, c.b1h)
	out.PIN24h = total(f.h24[1][:], f.head24h, c.b24h)
	out.Login1h = total(f.h1[2][:], f.head1h, c.b1h)
	out.Login24h = total(f.h24[2][:], f.head24h, c.b24h)
}

func (f *failures) expired(c clock) bool { return !counted(f.head24h, c.b24h, slots24h) }

func (f *failures) drop(c clock) {
	for i := range nFailureKinds {
		advance(f.h1[i][:], f.head1h, c.b1h)
		advance(f.h24[i][:], f.head24h, c.b24h)
	}
}

// spending is the 24h sum of amounts a UID was allowed to move, with its
// total at the head bucket (as in windows). 216 bytes.
type spending struct {
	head  uint32
	total float64
	a     [slots24h]float64
}

func (s *spending) add(c clock, amount float64) {
	if c.b24h > s.head {
		advance(s.a[:], s.head, c.b24h)
		s.head = c.b24h
		s.total = sum(s.a[:])
	}
	s.a[s.head%slots24h] += amount
	s.total += amount
}

func (s *spending) read(c clock) float64 {
	if c.b24h <= s.head {
		return s.total
	}
	return total(s.a[:], s.head, c.b24h)
}

func (s *spending) expired(c clock) bool { return !counted(s.head, c.b24h, slots24h) }

func (s *spending) drop(c clock) { advance(s.a[:], s.head, c.b24h) }
