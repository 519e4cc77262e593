package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"testing"
	"testing/fstest"
)

// tarGz writes a gzip tarball for tests.
type tarGz struct {
	gz *gzip.Writer
	tw *tar.Writer
}

func newTarGz(w io.Writer) *tarGz {
	gz := gzip.NewWriter(w)
	return &tarGz{gz: gz, tw: tar.NewWriter(gz)}
}

func (t *tarGz) add(tb testing.TB, name string, b []byte) {
	tb.Helper()
	if err := t.tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		tb.Fatal(err)
	}
	if _, err := t.tw.Write(b); err != nil {
		tb.Fatal(err)
	}
}

func (t *tarGz) close(tb testing.TB) {
	tb.Helper()
	if err := t.tw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := t.gz.Close(); err != nil {
		tb.Fatal(err)
	}
}

// rewrite copies the tarball raw, passing every member through f (which
// may change its contents).
func rewrite(tb testing.TB, raw []byte, f func(name string, b []byte) []byte) []byte {
	tb.Helper()
	gr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		tb.Fatal(err)
	}
	tr := tar.NewReader(gr)
	var buf bytes.Buffer
	out := newTarGz(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			tb.Fatal(err)
		}
		out.add(tb, h.Name, f(h.Name, b))
	}
	out.close(tb)
	return buf.Bytes()
}

// tamper changes one policy file of a signed bundle after signing.
func tamper(tb testing.TB, raw []byte) []byte {
	return rewrite(tb, raw, func(name string, b []byte) []byte {
		if name == "/riskpdp/rules.rego" {
			return append(b, "\n# changed after signing\n"...)
		}
		return b
	})
}

// addFile adds a file to a MapFS returned by policyFS.
func addFile(fsys fs.FS, name, content string) {
	fsys.(fstest.MapFS)[name] = &fstest.MapFile{Data: []byte(content), Mode: 0o644}
}
