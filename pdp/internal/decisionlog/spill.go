package decisionlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// The spill file holds records that found the buffer full, already masked
// and encoded, one JSON line each. Callers append under a mutex; the writer
// goroutine alone replays it, reading below the appended end (which never
// changes once written) without the lock, and empties the file once it has
// caught up. Appends are not fsynced: a spill survives the process, not the
// machine. A spill file left by an earlier process is replayed.

const spillName = "decisions.spill.jsonl"

var errSpillFull = errors.New("spill file full")

type spill struct {
	mu   sync.Mutex
	f    *os.File
	path string
	max  int64
	wOff int64 // end of the appended lines (guarded by mu)
	rOff int64 // replay position (writer goroutine only, and mu to reset)

	lines  atomic.Int64 // lines between rOff and wOff
	bytes  atomic.Int64 // wOff - rOff
	notify chan struct{}
	buf    []byte // replay buffer (writer goroutine only)
}

func openSpill(dir string, max int64) (*spill, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spill dir: %w", err)
	}
	path := filepath.Join(dir, spillName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open spill file: %w", err)
	}
	s := &spill{f: f, path: path, max: max, notify: make(chan struct{}, 1)}
	// Count what an earlier process left, and end a line it left partial
	// so that the next append does not run into it.
	n, lines, last, err := countLines(f)
	if err == nil && n > 0 && last != '\n' {
		_, err = f.WriteAt([]byte{'\n'}, n)
		n++
		lines++
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read spill file: %w", err)
	}
	s.wOff = n
	s.lines.Store(lines)
	s.bytes.Store(n)
	return s, nil
}

func countLines(f *os.File) (size, lines int64, last byte, err error) {
	buf := make([]byte, 64<<10)
	for {
		n, err := f.ReadAt(buf, size)
		if n > 0 {
			lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
			last = buf[n-1]
			size += int64(n)
		}
		if err == io.EOF {
			return size, lines, last, nil
		}
		if err != nil {
			return size, lines, last, err
		}
	}
}

// append writes one encoded line (ending in '\n'). A failed write is undone
// so that the file holds whole lines only.
func (s *spill) append(line []byte) error {
	s.mu.Lock()
	if s.wOff+int64(len(line)) > s.max {
		s.mu.Unlock()
		return errSpillFull
	}
	n, err := s.f.WriteAt(line, s.wOff)
	if err != nil {
		if n > 0 {
			err = errors.Join(err, s.f.Truncate(s.wOff))
		}
		s.mu.Unlock()
		return fmt.Errorf("write spill file: %w", err)
	}
	s.wOff += int64(n)
	s.lines.Add(1)
	s.bytes.Add(int64(n))
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

// next reads up to maxLines complete lines from the replay position into
// buf (replacing its content) with their ends, skipping lines that are not
// JSON (returned as corrupt). It empties the file when everything has been
// replayed. ok is false when there was nothing to read.
func (s *spill) next(buf []byte, ends []int, maxLines int) (_ []byte, _ []int, corrupt int, ok bool, err error) {
	s.mu.Lock()
	end := s.wOff
	if s.rOff == end {
		if end > 0 {
			err = s.f.Truncate(0)
			s.wOff, s.rOff = 0, 0
			s.bytes.Store(0)
			s.lines.Store(0)
		}
		s.mu.Unlock()
		return buf[:0], ends[:0], 0, false, err
	}
	s.mu.Unlock()

	want := min(end-s.rOff, 256<<10)
	for {
		if int64(cap(s.buf)) < want {
			s.buf = make([]byte, want)
		}
		chunk := s.buf[:want]
		if _, err := s.f.ReadAt(chunk, s.rOff); err != nil && err != io.EOF {
			return buf[:0], ends[:0], 0, false, fmt.Errorf("read spill file: %w", err)
		}
		if bytes.IndexByte(chunk, '\n') >= 0 || want == end-s.rOff {
			break
		}
		want = min(end-s.rOff, 2*want) // one line longer than the chunk
	}
	data := s.buf[:want]
	buf, ends = buf[:0], ends[:0]
	consumed, lines := 0, 0
	for len(ends) < maxLines {
		i := bytes.IndexByte(data[consumed:], '\n')
		if i < 0 {
			if int64(consumed+len(data[consumed:])) == end-s.rOff && consumed < len(data) {
				corrupt++ // the appended end is always a line end; cannot happen
				lines++
				consumed = len(data)
			}
			break
		}
		line := data[consumed : consumed+i+1]
		consumed += i + 1
		lines++
		if !json.Valid(line[:len(line)-1]) {
			corrupt++
			continue
		}
		buf = append(buf, line...)
		ends = append(ends, len(buf))
	}
	s.rOff += int64(consumed)
	s.bytes.Add(-int64(consumed))
	s.lines.Add(-int64(lines))
	return buf, ends, corrupt, true, nil
}

// close closes the file, removing it if everything was replayed.
func (s *spill) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	empty := s.rOff == s.wOff
	err := s.f.Close()
	if empty && err == nil {
		err = os.Remove(s.path)
	}
	return err
}
