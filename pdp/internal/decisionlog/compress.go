package decisionlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// The file sink compresses rotated files itself instead of leaving it to
// lumberjack, for two reasons:
//
//   - cost: lumberjack uses compress/gzip at its default level. At the
//     sidecar's saturation (about 5 500 decisions/s of 2.3 KiB) the log
//     rotates every ~8 s, and compressing it took ~17 µs of CPU per
//     decision, about as much as the rest of the log's work. klauspost/compress
//     writes the same format at its default level 2.7 times as fast on
//     such a log (370 against 138 MB/s, files within ~6 % of the size;
//     BenchmarkCompress, on synthetic records: 3.1 times);
//   - durability: lumberjack removes the original without fsyncing the
//     compressed file, so a power cut soon after a compression could lose
//     the backup. Here the compressed file is written under a temporary
//     name, fsynced, renamed, the directory fsynced, and only then the
//     original removed. A crash at any point leaves the original (Files
//     prefers it) or the complete compressed file, and a temporary file
//     that the next pass removes.
//
// One goroutine per log compresses every uncompressed backup, oldest
// first: at start (backups an earlier process left) and after each
// rotation. Its failures are counted as sink errors and remembered as the
// last error; the uncompressed backup stays, readable, and is tried again
// after the next rotation.

// tmpSuffix names a compressed file being written.
const tmpSuffix = ".gz.tmp"

// compressChunk is how much is read and compressed between checks of abort.
const compressChunk = 1 << 20

// compressLevel is gzip's fastest level. The compression runs on the
// cores that answer decisions: on 10 MB of a `make bench` log (2.4 KiB a
// record, a throwaway benchmark) it costs 2.5 µs of CPU per record at
// 8.7 % of the original size, against 5.5 µs and 6.4 % at the default
// level; BenchmarkCompress compares them on the package's own records.
const compressLevel = gzip.BestSpeed

type compressor struct {
	path string
	c    *counters

	kick   chan struct{} // a rotation happened (capacity 1)
	finish chan struct{} // closed by close: one last pass, then exit
	abort  chan struct{} // closed by close when its context ends
	done   chan struct{} // closed when the goroutine has exited
	err    error         // the last pass's failures, read after done

	zw  *gzip.Writer
	buf []byte
}

func startCompressor(path string, c *counters) *compressor {
	z := &compressor{
		path: path, c: c,
		kick: make(chan struct{}, 1), finish: make(chan struct{}), abort: make(chan struct{}), done: make(chan struct{}),
	}
	z.wake() // backups an earlier process left uncompressed
	go z.run()
	return z
}

// wake asks for a pass; it never blocks.
func (z *compressor) wake() {
	select {
	case z.kick <- struct{}{}:
	default:
	}
}

func (z *compressor) run() {
	defer close(z.done)
	for {
		select {
		case <-z.kick:
			z.pass()
		case <-z.finish:
			z.err = z.pass()
			return
		}
	}
}

var errCompressAborted = errors.New("interrupted")

// pass compresses every uncompressed backup, oldest first, and removes
// temporary files left by an interrupted pass. It returns the failures.
func (z *compressor) pass() error {
	z.removeStale()
	bs, err := backups(z.path)
	if err != nil {
		return z.fail(fmt.Errorf("list rotated files of %s: %w", z.path, err))
	}
	var errs []error
	for _, b := range bs {
		if b.plain == "" {
			continue
		}
		if err := z.compress(b.plain); err != nil {
			if errors.Is(err, errCompressAborted) {
				return errors.Join(append(errs, fmt.Errorf("compress %s: %w", b.plain, err))...)
			}
			errs = append(errs, z.fail(fmt.Errorf("compress %s: %w", b.plain, err)))
		}
	}
	return errors.Join(errs...)
}

func (z *compressor) fail(err error) error {
	z.c.sinkErrors.Add(1)
	z.c.setErr(fmt.Errorf("decisionlog: %w", err))
	return err
}

// removeStale removes the temporary files of compressions that did not
// finish (a crash, a full disk, an abort): each pass starts afresh.
func (z *compressor) removeStale() {
	dir, prefix, ext := backupNames(z.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasPrefix(n, prefix) && strings.HasSuffix(n, ext+tmpSuffix) {
			os.Remove(filepath.Join(dir, n))
		}
	}
}

// compress writes src+".gz" and removes src (see above for the order).
// A src removed meanwhile (lumberjack prunes backups by count and age) is
// no failure.
func (z *compressor) compress(src string) (err error) {
	in, err := os.Open(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	tmp := src + tmpSuffix
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, fi.Mode().Perm())
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	if z.zw == nil {
		z.zw, _ = gzip.NewWriterLevel(out, compressLevel) // a valid level: no error
		z.buf = make([]byte, compressChunk)
	} else {
		z.zw.Reset(out)
	}
	for {
		select {
		case <-z.abort:
			return errCompressAborted
		default:
		}
		n, rerr := io.ReadFull(in, z.buf)
		if _, err := z.zw.Write(z.buf[:n]); err != nil {
			return err
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if err := z.zw.Close(); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, src+".gz"); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(src)); err != nil {
		// Renamed but maybe not durably: keep the original, which Files
		// prefers, for the next pass.
		return err
	}
	if err := os.Remove(src); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// close makes a last pass over the backups and waits for it, bounded by
// ctx; when ctx ends first the pass stops within one chunk.
func (z *compressor) close(ctx context.Context) error {
	close(z.finish)
	select {
	case <-z.done:
	case <-ctx.Done():
		close(z.abort)
		<-z.done
		return fmt.Errorf("decisionlog: compressing rotated files of %s: %w", z.path, ctx.Err())
	}
	if z.err != nil {
		return fmt.Errorf("decisionlog: %w", z.err)
	}
	return nil
}
