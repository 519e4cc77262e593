package decisionlog

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Overflow is what Log does when the buffer is full (async mode).
type Overflow string

// Overflow policies.
const (
	// OverflowDrop counts the record as dropped ("buffer_full") and returns
	// ErrDropped at once. The caller never waits.
	OverflowDrop Overflow = "drop"
	// OverflowBlock waits up to Config.BlockTimeout for room, then drops
	// ("block_timeout"). The caller waits at most that long.
	OverflowBlock Overflow = "block"
	// OverflowSpill masks, encodes and appends the record to a file in
	// Config.SpillDir, in the caller's goroutine (a few µs plus a write
	// syscall); the writer replays the file into the sinks when the buffer
	// has drained. Only a full or failing spill file drops ("spill_full",
	// "spill_failed").
	OverflowSpill Overflow = "spill"
)

// Config configures a Logger. The zero value of every field is its default;
// at least one sink (Path or UploadURL) must be set.
type Config struct {
	// Path is the JSON-lines file of the file sink (`pdp serve
	// --decision-log PATH`); rotated files go next to it as
	// NAME-<UTC time>.EXT[.gz]. Default "": no file sink.
	Path string
	// MaxSizeMiB rotates the file before it would grow past this many MiB.
	// Default 100. A single record larger than this is dropped by the file
	// sink ("file_error").
	MaxSizeMiB int
	// MaxAge removes rotated files older than this (by the time in their
	// name), in whole days. Default 0: never by age. Payment institutions
	// keep transaction logs for at least five years; set a limit only when
	// something else ships the files.
	MaxAge time.Duration
	// MaxBackups keeps at most this many rotated files. Default 0: all.
	MaxBackups int
	// DisableCompression keeps rotated files as they are. Default false:
	// they are gzip-compressed in the background after rotation.
	DisableCompression bool

	// UploadURL is where batches of records are POSTed in OPA's decision
	// log upload format: a gzip-compressed JSON array of events,
	// Content-Encoding: gzip, Content-Type: application/json. Any 2xx is
	// success. Default "": no upload.
	UploadURL string
	// UploadHeaders are added to every upload request. Default none.
	UploadHeaders map[string]string
	// UploadTokenFile holds a bearer token sent as "Authorization: Bearer
	// <token>"; it is read for every request, so a rotated token is picked
	// up. Default "": no Authorization header from a file.
	UploadTokenFile string
	// UploadBatchBytes closes a batch when its uncompressed JSON reaches
	// this size; the request body is at most about this large. Default
	// 524288 (512 KiB). A single larger record is sent alone.
	UploadBatchBytes int
	// UploadInterval closes a non-empty batch at least this often. Default
	// 1s.
	UploadInterval time.Duration
	// UploadTimeout bounds one upload request. Default 10s.
	UploadTimeout time.Duration
	// UploadBufferBytes bounds the batches kept for upload (compressed
	// once they have been tried, uncompressed before), retried with
	// exponential back-off from 100ms up to 30s while the endpoint fails.
	// When full, the oldest batch is dropped ("upload_overflow"). Default
	// 67108864 (64 MiB).
	UploadBufferBytes int64

	// BufferSize is the number of records the async buffer holds. Default
	// 8192. A record costs its own size (typically 1-2 KiB with its input)
	// while it waits.
	BufferSize int
	// Overflow is what Log does when the buffer is full. Default
	// OverflowDrop (see the package RATIONALE). Ignored in sync mode.
	Overflow Overflow
	// BlockTimeout is how long OverflowBlock waits. Default 5ms; at most
	// 1s.
	BlockTimeout time.Duration
	// SpillDir holds the spill file, decisions.spill.jsonl. Required with
	// OverflowSpill. A spill file left by a previous process is replayed.
	SpillDir string
	// SpillMaxBytes bounds the spill file. Default 1073741824 (1 GiB).
	SpillMaxBytes int64

	// Sync writes every record to the file and fsyncs it before Log
	// returns; concurrent callers share one write and one fsync (group
	// commit). Log then returns an error when the record is not durable.
	// Requires Path. Default false (async).
	Sync bool

	// Hook, if set, runs on every record before masking, in the writer
	// goroutine (in the caller's in sync mode or when spilling), and must
	// be safe for concurrent use. It may edit the record; returning
	// ErrDrop (or an error wrapping it) drops the record on purpose
	// (counted as Filtered); another error is counted (HookErrors) and the
	// record is logged anyway, masked by the built-in rules. A panic counts
	// as an error. Default nil.
	Hook func(*Record) error

	// Set by tests of this package to replace parts of the sinks.
	testSink     func(*fileSink)
	testUploader func(*uploader)
	// testBlockWait, set by tests of this package, is called by a Log call
	// of OverflowBlock that found the buffer full, in the caller, before
	// its BlockTimeout starts: the event of a caller starting to wait.
	testBlockWait func()
	// testLinger, set by tests of this package, replaces linger.
	testLinger time.Duration
}

// Defaults.
const (
	DefaultMaxSizeMiB        = 100
	DefaultUploadBatchBytes  = 512 << 10
	DefaultUploadInterval    = time.Second
	DefaultUploadTimeout     = 10 * time.Second
	DefaultUploadBufferBytes = 64 << 20
	DefaultBufferSize        = 8192
	DefaultOverflow          = OverflowDrop
	DefaultBlockTimeout      = 5 * time.Millisecond
	DefaultSpillMaxBytes     = 1 << 30
	maxBlockTimeout          = time.Second
	day                      = 24 * time.Hour
)

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.MaxSizeMiB == 0 {
		c.MaxSizeMiB = DefaultMaxSizeMiB
	}
	if c.UploadBatchBytes == 0 {
		c.UploadBatchBytes = DefaultUploadBatchBytes
	}
	if c.UploadInterval == 0 {
		c.UploadInterval = DefaultUploadInterval
	}
	if c.UploadTimeout == 0 {
		c.UploadTimeout = DefaultUploadTimeout
	}
	if c.UploadBufferBytes == 0 {
		c.UploadBufferBytes = DefaultUploadBufferBytes
	}
	if c.BufferSize == 0 {
		c.BufferSize = DefaultBufferSize
	}
	if c.Overflow == "" {
		c.Overflow = DefaultOverflow
	}
	if c.BlockTimeout == 0 {
		c.BlockTimeout = DefaultBlockTimeout
	}
	if c.SpillMaxBytes == 0 {
		c.SpillMaxBytes = DefaultSpillMaxBytes
	}
	return c
}

// Validate reports every invalid field. Zero fields stand for their
// defaults and are valid, except that some sink must be set.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("decisionlog: "+format, a...)) }
	if c.Path == "" && c.UploadURL == "" {
		bad("no sink: set Path or UploadURL")
	}
	if c.Path != "" && strings.HasSuffix(c.Path, "/") {
		bad("Path %q is a directory", c.Path)
	}
	if c.MaxSizeMiB < 0 || c.MaxSizeMiB > 1<<20 {
		bad("MaxSizeMiB %d out of range [0, %d]", c.MaxSizeMiB, 1<<20)
	}
	if c.MaxAge < 0 || c.MaxAge%day != 0 {
		bad("MaxAge %v is not a whole number of days", c.MaxAge)
	}
	if c.MaxBackups < 0 {
		bad("MaxBackups %d is negative", c.MaxBackups)
	}
	if c.UploadURL != "" {
		u, err := url.Parse(c.UploadURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("UploadURL %q is not an http(s) URL", c.UploadURL)
		}
	}
	for k := range c.UploadHeaders {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			bad("UploadHeaders: invalid header name %q", k)
		}
	}
	if c.UploadBatchBytes < 0 || c.UploadInterval < 0 || c.UploadTimeout < 0 || c.UploadBufferBytes < 0 {
		bad("negative upload limit")
	}
	if d := c.withDefaults(); d.UploadBufferBytes < int64(d.UploadBatchBytes) {
		bad("UploadBufferBytes %d is smaller than UploadBatchBytes %d", d.UploadBufferBytes, d.UploadBatchBytes)
	}
	if c.BufferSize < 0 || c.BufferSize > 1<<24 {
		bad("BufferSize %d out of range [0, %d]", c.BufferSize, 1<<24)
	}
	switch c.Overflow {
	case "", OverflowDrop, OverflowBlock:
	case OverflowSpill:
		if c.SpillDir == "" && !c.Sync {
			bad("Overflow %q needs SpillDir", c.Overflow)
		}
	default:
		bad("Overflow %q is not drop, block or spill", c.Overflow)
	}
	if c.BlockTimeout < 0 || c.BlockTimeout > maxBlockTimeout {
		bad("BlockTimeout %v out of range [0, %v]", c.BlockTimeout, maxBlockTimeout)
	}
	if c.SpillMaxBytes < 0 {
		bad("SpillMaxBytes %d is negative", c.SpillMaxBytes)
	}
	if c.Sync && c.Path == "" {
		bad("Sync needs Path: sync mode makes records durable in the file sink")
	}
	return errors.Join(errs...)
}
