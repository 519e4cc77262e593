package request

import (
	"strings"
	"testing"
	"time"
)

func TestInputRing(t *testing.T) {
	r := NewInputRing(3)
	if got := r.Inputs(); len(got) != 0 {
		t.Fatalf("empty ring: %v", got)
	}
	at := time.Unix(0, 0)
	buf := []byte("a")
	r.Add(buf, []byte("ea"), at)
	buf[0] = 'x' // the ring keeps its own copy
	for _, s := range []string{"b", "c", "d"} {
		r.Add([]byte(s), []byte("e"+s), at)
	}
	got := r.Inputs()
	var bodies []string
	for _, l := range got {
		bodies = append(bodies, string(l.Body)+"/"+string(l.Enrichment))
	}
	if strings.Join(bodies, ",") != "b/eb,c/ec,d/ed" {
		t.Fatalf("kept %v, want the last three, oldest first", bodies)
	}
	got[0].Body[0] = 'z'
	if string(r.Inputs()[0].Body) != "b" {
		t.Fatal("Inputs returned the ring's own buffers")
	}
}
