package decisionlog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Skip reasons.
const (
	SkipTruncated = "truncated" // the last line of a file, cut short (no newline, not a whole record)
	SkipCorrupt   = "corrupt"   // a line that is not a JSON record (e.g. a write cut short by a full disk)
	SkipSchema    = "schema"    // a record of another format version (Record.Schema is not SchemaVersion)
	SkipGzip      = "gzip"      // a damaged compressed file: the rest of it is skipped
	SkipOpen      = "open"      // a file that could not be opened or read
	SkipTooLong   = "too_long"  // a line longer than Reader.MaxLineBytes
)

// Skip is something the Reader could not turn into a record.
type Skip struct {
	File   string
	Line   int64 // 1-based; for SkipGzip the first line not read, for SkipOpen and a bad gzip header 0
	Reason string
	Detail string // the error, when there is one
}

func (s Skip) String() string {
	return fmt.Sprintf("%s:%d: %s %s", s.File, s.Line, s.Reason, s.Detail)
}

// maxSkipDetails bounds Reader.Skips; Skipped counts them all.
const maxSkipDetails = 10000

// DefaultMaxLineBytes is Reader.MaxLineBytes's default.
const DefaultMaxLineBytes = 64 << 20

// Reader streams the records of decision log files, in the order given
// (Files lists a log's files oldest first), decompressing gzip files (found
// by their magic bytes, whatever their name). Memory stays flat in the file
// size: one line at a time, each at most MaxLineBytes. It never fails on
// content: what it cannot read it skips, counts and describes (Skipped,
// Skips, OnSkip), and goes on with the next line, or with the next file
// after a damaged gzip stream. Not safe for concurrent use.
type Reader struct {
	// MaxLineBytes skips longer lines (SkipTooLong) without holding them.
	// Default DefaultMaxLineBytes; set before the first Next.
	MaxLineBytes int
	// OnSkip, if set, is called for every skip as it happens.
	OnSkip func(Skip)

	files []string
	next  int
	open  func(string) (io.ReadCloser, error)

	name   string
	f      io.ReadCloser
	br     *bufio.Reader
	line   int64
	recPos int64 // line of the record last returned
	buf    []byte

	skipped int
	skips   []Skip

	read int64 // bytes read from the files, before decompression
}

// NewReader reads files in order.
func NewReader(files []string) *Reader {
	return &Reader{files: files, open: func(p string) (io.ReadCloser, error) { return os.Open(p) }}
}

// Next returns the next record, or io.EOF after the last file. It returns
// no other error.
func (r *Reader) Next() (*Record, error) {
	for {
		if r.br == nil && !r.openNext() {
			return nil, io.EOF
		}
		line, complete, err := r.readLine()
		if err != nil && !errors.Is(err, io.EOF) {
			r.line++ // the first line not read
			r.skip(SkipGzip, err)
			r.closeFile()
			continue
		}
		if len(line) == 0 && !complete {
			r.closeFile() // end of file
			continue
		}
		r.line++
		if line == nil { // too long, already skipped
			continue
		}
		rec, reason, perr := decodeRecord(line)
		if reason == "" {
			r.recPos = r.line
			return rec, nil
		}
		if !complete && reason == SkipCorrupt {
			reason = SkipTruncated
		}
		r.skip(reason, perr)
	}
}

// Pos returns the file and line of the record Next returned last.
func (r *Reader) Pos() (file string, line int64) { return r.name, r.recPos }

// BytesRead returns how many bytes were read from the files so far, as
// stored (compressed files count their compressed bytes): progress against
// the files' total size. Reading is buffered, so it runs ahead of the
// records returned by up to 64 KiB.
func (r *Reader) BytesRead() int64 { return r.read }

// Skipped returns how many lines or files were skipped so far.
func (r *Reader) Skipped() int { return r.skipped }

// Skips describes the skips so far (the first 10000).
func (r *Reader) Skips() []Skip { return r.skips }

// Close closes the file being read.
func (r *Reader) Close() error {
	r.next = len(r.files)
	return r.closeFile()
}

func (r *Reader) skip(reason string, err error) {
	s := Skip{File: r.name, Line: r.line, Reason: reason}
	if err != nil {
		s.Detail = err.Error()
	}
	r.skipped++
	if len(r.skips) < maxSkipDetails {
		r.skips = append(r.skips, s)
	}
	if r.OnSkip != nil {
		r.OnSkip(s)
	}
}

// openNext opens the next file that can be opened; false when none is left.
func (r *Reader) openNext() bool {
	for r.next < len(r.files) {
		r.name, r.line = r.files[r.next], 0
		r.next++
		f, err := r.open(r.name)
		if err != nil {
			r.skip(SkipOpen, err)
			continue
		}
		br := bufio.NewReaderSize(countingReader{f, &r.read}, 64<<10)
		if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
			zr, err := gzip.NewReader(br)
			if err != nil {
				f.Close()
				r.skip(SkipGzip, err)
				continue
			}
			br = bufio.NewReaderSize(zr, 64<<10)
		}
		r.f, r.br = f, br
		return true
	}
	return false
}

func (r *Reader) closeFile() error {
	r.br = nil
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// countingReader adds the bytes it reads to *n.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// readLine returns the next line without its newline and whether it had
// one. A line longer than MaxLineBytes is skipped here and returned as nil
// with complete set. At the end of the file it returns no bytes, false and
// io.EOF; another error is the stream's (a damaged gzip file).
func (r *Reader) readLine() (line []byte, complete bool, err error) {
	limit := r.MaxLineBytes
	if limit <= 0 {
		limit = DefaultMaxLineBytes
	}
	r.buf = r.buf[:0]
	tooLong := false
	for {
		chunk, err := r.br.ReadSlice('\n')
		if !tooLong {
			if len(r.buf)+len(chunk) > limit+1 {
				tooLong = true
				r.buf = r.buf[:0]
			} else {
				r.buf = append(r.buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == nil {
			if tooLong {
				r.line++
				r.skip(SkipTooLong, nil)
				r.line--
				if cap(r.buf) > 1<<20 {
					r.buf = nil // do not keep a huge buffer
				}
				return nil, true, nil
			}
			return r.buf[:len(r.buf)-1], true, nil
		}
		if tooLong {
			r.line++
			r.skip(SkipTooLong, nil)
			return nil, false, err
		}
		return r.buf, false, err
	}
}

// decodeRecord parses one line; reason is "" for a record of this format.
func decodeRecord(line []byte) (*Record, string, error) {
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, SkipCorrupt, errors.New("not a JSON object")
	}
	rec := new(Record)
	if err := json.Unmarshal(trimmed, rec); err != nil {
		// A record of another version may not fit Record: tell it apart
		// from garbage by its schema alone.
		var probe struct {
			Schema *int `json:"schema"`
		}
		if json.Unmarshal(trimmed, &probe) == nil && probe.Schema != nil && *probe.Schema != SchemaVersion {
			return nil, SkipSchema, fmt.Errorf("schema %d", *probe.Schema)
		}
		return nil, SkipCorrupt, err
	}
	if rec.Schema != SchemaVersion {
		return nil, SkipSchema, fmt.Errorf("schema %d", rec.Schema)
	}
	return rec, "", nil
}
