package decisionlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
)

// The file sink writes JSON lines through lumberjack, which opens, renames
// and prunes the files (the sink compresses rotated files itself:
// compress.go). lumberjack has no Sync, rotates inside Write where the
// caller cannot see it, and names backups by the millisecond (a second
// rotation in the same millisecond would replace the first backup). So the
// sink rotates explicitly, before lumberjack would (it tracks the size as
// lumberjack does), at most once per millisecond and never onto an
// existing name; and it fsyncs through its own descriptor of the current
// file.

// rotWriter is what the sink writes through: *lumberjack.Logger, or a fake
// in tests.
type rotWriter interface {
	io.Writer
	Rotate() error
	Close() error
}

// syncer is an open descriptor of the current file, for fsync.
type syncer interface {
	Sync() error
	Close() error
}

var errTooLarge = errors.New("record larger than MaxSizeMiB")

type fileSink struct {
	mu   sync.Mutex
	path string
	w    rotWriter
	max  int64
	z    *compressor // nil with DisableCompression
	c    *counters

	size     int64 // bytes in the current file, counted as lumberjack does
	sized    bool  // size has been read from the file on disk
	fd       syncer
	partial  bool  // the last write stopped inside a line
	lastRot  int64 // unix milliseconds just after the last rotation
	dirDirty bool  // a rotation since the directory was last fsynced

	// Replaced in tests.
	openSync func(path string) (syncer, error)
	syncDir  func(dir string) error
	stat     func(path string) (int64, bool)
}

func newFileSink(cfg Config, c *counters) *fileSink {
	s := &fileSink{
		path: cfg.Path,
		w: &lumberjack.Logger{
			Filename:   cfg.Path,
			MaxSize:    cfg.MaxSizeMiB,
			MaxAge:     int(cfg.MaxAge / day),
			MaxBackups: cfg.MaxBackups,
		},
		max:      int64(cfg.MaxSizeMiB) << 20,
		c:        c,
		openSync: func(p string) (syncer, error) { return os.Open(p) },
		syncDir:  syncDir,
		stat:     fileSize,
	}
	if !cfg.DisableCompression {
		s.z = startCompressor(cfg.Path, c)
	}
	return s
}

func fileSize(p string) (int64, bool) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, false
	}
	return fi.Size(), true
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// write appends the lines of buf (ends[i] is the end of line i, each ending
// in '\n'), rotating between lines as needed, and with durable set fsyncs
// them. It returns how many lines were written (not necessarily durable if
// err is set) and the first error; after an error it stops, except that a
// line too large for any file is skipped and the rest written. A write that
// stopped inside a line leaves a partial line, which the next write ends with
// a newline so that it spoils only itself (readers skip it).
func (s *fileSink) write(buf []byte, ends []int, durable bool) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sized {
		s.size, _ = s.stat(s.path)
		s.sized = true
	}
	var tooLarge error
	written := 0
	cs, ce := 0, 0 // the chunk buf[cs:ce] of lines i0..i-1 not yet written
	i0 := 0
	flush := func(i int) error {
		if ce == cs {
			return nil
		}
		n, err := s.writeChunk(buf[cs:ce])
		for i0 < i && ends[i0] <= cs+n {
			i0++
			written++
		}
		i0 = i
		cs = ce
		return err
	}
	for i, end := range ends {
		line := int64(end - ce)
		if line > s.max {
			if err := flush(i); err != nil {
				return written, err
			}
			cs, ce, i0 = end, end, i+1
			tooLarge = errTooLarge
			continue
		}
		if pending := int64(ce - cs); s.size+pending+line >= s.max && s.size+pending > 0 {
			if err := flush(i); err != nil {
				return written, err
			}
			if s.size+line >= s.max && s.size > 0 {
				if err := s.rotate(); err != nil {
					return written, err
				}
			}
		}
		ce = end
	}
	if err := flush(len(ends)); err != nil {
		return written, err
	}
	if durable {
		if err := s.sync(); err != nil {
			return written, err
		}
	}
	return written, tooLarge
}

// writeChunk writes p after ending a partial line left by a failed write
// (or rotating, if the newline would not fit).
func (s *fileSink) writeChunk(p []byte) (int, error) {
	if s.partial && s.size+1+int64(len(p)) >= s.max {
		if err := s.rotate(); err != nil {
			return 0, err
		}
	}
	if s.partial {
		n, err := s.w.Write([]byte{'\n'})
		s.size += int64(n)
		if err != nil {
			return 0, fmt.Errorf("file sink: %w", err)
		}
		s.partial = false
	}
	n, err := s.w.Write(p)
	s.size += int64(n)
	if err != nil {
		s.partial = n > 0 && p[n-1] != '\n'
		return n, fmt.Errorf("file sink: %w", err) // err names the file
	}
	return n, nil
}

// rotate makes lumberjack start a new file. It first fsyncs the current one
// (once per file, in both modes: cheap), and waits for the next millisecond
// if needed so that the backup gets a name of its own.
func (s *fileSink) rotate() error {
	if err := s.sync(); err != nil {
		return err
	}
	for tries := 0; ; tries++ {
		now := time.Now()
		if now.UnixMilli() > s.lastRot && !s.backupExists(now) {
			break
		}
		if tries > 2000 {
			return fmt.Errorf("rotate %s: no free backup name", s.path)
		}
		time.Sleep(time.Millisecond - time.Duration(now.Nanosecond()%1e6))
	}
	if err := s.w.Rotate(); err != nil {
		// lumberjack may have renamed the file already: find the current
		// one by name next time.
		if s.fd != nil {
			s.fd.Close()
			s.fd = nil
		}
		s.dirDirty = true
		return fmt.Errorf("rotate %s: %w", s.path, err)
	}
	s.lastRot = time.Now().UnixMilli()
	if s.fd != nil {
		s.fd.Close()
		s.fd = nil
	}
	s.size, s.partial, s.dirDirty = 0, false, true
	s.c.rotations.Add(1)
	if s.z != nil {
		s.z.wake()
	}
	return nil
}

func (s *fileSink) backupExists(t time.Time) bool {
	name := backupName(s.path, t)
	_, plain := s.stat(name)
	_, gz := s.stat(name + ".gz")
	return plain || gz
}

// backupName is lumberjack's name for a backup of path made at t (UTC).
func backupName(path string, t time.Time) string {
	dir, base := filepath.Split(path)
	ext := filepath.Ext(base)
	return filepath.Join(dir, base[:len(base)-len(ext)]+"-"+t.UTC().Format(backupTimeFormat)+ext)
}

const backupTimeFormat = "2006-01-02T15-04-05.000"

// sync fsyncs the current file, and the directory after a rotation.
func (s *fileSink) sync() error {
	if s.fd == nil {
		if s.size == 0 {
			return nil // nothing written since the last rotation
		}
		fd, err := s.openSync(s.path)
		if err != nil {
			return fmt.Errorf("open %s for fsync: %w", s.path, err)
		}
		s.fd = fd
	}
	if err := s.fd.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", s.path, err)
	}
	if s.dirDirty {
		if err := s.syncDir(filepath.Dir(s.path)); err != nil {
			return fmt.Errorf("fsync directory of %s: %w", s.path, err)
		}
		s.dirDirty = false
	}
	return nil
}

// close fsyncs and closes the file, then waits (bounded by ctx) for the
// compression of rotated files to finish.
func (s *fileSink) close(ctx context.Context) error {
	s.mu.Lock()
	err := s.sync()
	if s.fd != nil {
		s.fd.Close()
		s.fd = nil
	}
	err = errors.Join(err, s.w.Close())
	s.mu.Unlock()
	if s.z != nil {
		err = errors.Join(err, s.z.close(ctx))
	}
	return err
}
