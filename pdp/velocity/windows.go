package velocity

import "github.com/riskpdp/riskpdp/pdp"

// windows are the rings of one busy key: counts and amount sums over 1m, 1h
// and 24h, and logins over 1h. 680 bytes.
type windows struct {
	head1m, head1h, head24h uint32

	n1m [slots1m]uint32
	a1m [slots1m]float64

	n1h [slots1h]uint32
	a1h [slots1h]float64
	l1h [slots1h]uint32 // logins

	n24h [slots24h]uint32
	a24h [slots24h]float64
}

// add records one request at c: a login, or a money movement of amount.
func (w *windows) add(c clock, amount float64, login bool) {
	advance(w.n1m[:], w.head1m, c.b1m)
	advance(w.a1m[:], w.head1m, c.b1m)
	advance(w.n1h[:], w.head1h, c.b1h)
	advance(w.a1h[:], w.head1h, c.b1h)
	advance(w.l1h[:], w.head1h, c.b1h)
	advance(w.n24h[:], w.head24h, c.b24h)
	advance(w.a24h[:], w.head24h, c.b24h)
	w.head1m = max(w.head1m, c.b1m)
	w.head1h = max(w.head1h, c.b1h)
	w.head24h = max(w.head24h, c.b24h)

	i1h := w.head1h % slots1h
	if login {
		w.l1h[i1h]++
		return
	}
	i1m, i24h := w.head1m%slots1m, w.head24h%slots24h
	w.n1m[i1m]++
	w.a1m[i1m] += amount
	w.n1h[i1h]++
	w.a1h[i1h] += amount
	w.n24h[i24h]++
	w.a24h[i24h] += amount
}

// read fills out with the counts at c without changing w.
func (w *windows) read(c clock, out *pdp.WindowCounts) {
	out.Count1m = total(w.n1m[:], w.head1m, c.b1m)
	out.Amount1m = total(w.a1m[:], w.head1m, c.b1m)
	out.Count1h = total(w.n1h[:], w.head1h, c.b1h)
	out.Amount1h = total(w.a1h[:], w.head1h, c.b1h)
	out.Logins1h = total(w.l1h[:], w.head1h, c.b1h)
	out.Count24h = total(w.n24h[:], w.head24h, c.b24h)
	out.Amount24h = total(w.a24h[:], w.head24h, c.b24h)
}

// expired reports that no window counts anything in w at c.
func (w *windows) expired(c clock) bool { return !counted(w.head24h, c.b24h, slots24h) }

// drop zeroes the slots no window counts at c, leaving the heads alone.
func (w *windows) drop(c clock) {
	advance(w.n1m[:], w.head1m, c.b1m)
	advance(w.a1m[:], w.head1m, c.b1m)
	advance(w.n1h[:], w.head1h, c.b1h)
	advance(w.a1h[:], w.head1h, c.b1h)
	advance(w.l1h[:], w.head1h, c.b1h)
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

// spending is the 24h sum of amounts a UID was allowed to move. 204 bytes.
type spending struct {
	head uint32
	a    [slots24h]float64
}

func (s *spending) add(c clock, amount float64) {
	advance(s.a[:], s.head, c.b24h)
	s.head = max(s.head, c.b24h)
	s.a[s.head%slots24h] += amount
}

func (s *spending) read(c clock) float64 { return total(s.a[:], s.head, c.b24h) }

func (s *spending) expired(c clock) bool { return !counted(s.head, c.b24h, slots24h) }

func (s *spending) drop(c clock) { advance(s.a[:], s.head, c.b24h) }
