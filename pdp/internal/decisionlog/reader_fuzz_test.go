package decisionlog

import (
	"bytes"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the Reader as a file, plain and
// gzip-compressed (whole, or cut at cut). It must never panic and must end;
// every record it returns is of this format; on plain input every line is
// either a record or a skip.
func FuzzReader(f *testing.F) {
	f.Add(lines(f, 0, 3), uint16(0))
	f.Add(append(lines(f, 0, 2), `{"schema":2}`+"\n"+`{"schema":1,"timestamp":1}`+"\n{"...), uint16(100))
	f.Add([]byte("\n\n{}\nnull\n[]\n"), uint16(5))
	f.Add(gz(f, lines(f, 0, 2)), uint16(40))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}, uint16(3))

	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		compressed := gz(t, data)
		inputs := map[string][]byte{
			"plain":     data,
			"gz":        compressed,
			"gz-cut":    compressed[:int(cut)%(len(compressed)+1)],
			"plain-cut": data[:int(cut)%(len(data)+1)],
		}
		names := []string{"plain", "gz", "gz-cut", "plain-cut"}
		rd := NewReader(names)
		rd.MaxLineBytes = 4096
		rd.open = func(name string) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(inputs[name])), nil
		}
		perFile := map[string]int{}
		for n := 0; ; n++ {
			if n > 4*(len(data)+2) {
				t.Fatal("Reader does not end")
			}
			r, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if r.Schema != SchemaVersion {
				t.Fatalf("record of schema %d returned", r.Schema)
			}
			f, _ := rd.Pos()
			perFile[f]++
		}
		// Plain input that does not look compressed: lines = records + skips.
		looksGzip := len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b
		if !looksGzip {
			skips := 0
			for _, s := range rd.Skips() {
				if s.File == "plain" {
					skips++
				}
			}
			n := bytes.Count(data, []byte{'\n'})
			if len(data) > 0 && data[len(data)-1] != '\n' {
				n++
			}
			if perFile["plain"]+skips != n {
				t.Fatalf("%d lines, %d records, %d skips: %v", n, perFile["plain"], skips, rd.Skips())
			}
		}
		if perFile["gz"] != perFile["plain"] && !looksGzip {
			t.Fatalf("compressed gave %d records, plain %d", perFile["gz"], perFile["plain"])
		}
	})
}
