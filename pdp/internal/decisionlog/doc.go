// Package decisionlog records every decision of the sidecar off the hot
// path: a bounded buffer, two sinks (rotated JSON-lines files and an
// OPA-compatible HTTP upload, either or both), masking of card numbers and
// secret-looking fields before anything reaches a sink, a sync mode for
// deployments that must not lose an acknowledged record, and a Reader for
// the files.
//
// # Use
//
// New(Config) starts a Logger; the decision path calls Log(*Record) and
// hands the record over (it must not touch it afterwards); Close(ctx)
// flushes everything on shutdown; Stats and Healthy feed /metrics and
// /health/ready. Each record is one line of JSON (Record, with Schema set
// to SchemaVersion).
//
// In async mode (the default) Log is a channel send (no allocation,
// BenchmarkLogAsync); a writer goroutine runs Config.Hook, encodes, masks
// and writes records in batches of up to 512 with one write call each;
// after a smaller batch it waits 10 ms (or until the buffer is a quarter
// full, or Close) before taking the next, so that at a few thousand
// decisions a second it wakes and writes once per dozens of records, not
// once per record (BenchmarkLogPaced). A record thus reaches the file up
// to about 10 ms after Log, while it is in the buffer.
// The writer's CPU per typical 1.8 KB record is BenchmarkEncode's
// cpu-ns/op, about a third of it masking (BenchmarkMask); the figures of one
// machine are in README.md, "Measured costs of the components". The
// file is fsynced at each rotation and on Close only: a process crash
// loses what is in the buffer, a machine crash also what the kernel had
// not written back. In sync mode the caller encodes and masks
// its record, then waits until it is written and fsynced (group commit,
// below).
//
// # Sinks
//
// The file sink (Config.Path) writes through lumberjack: the file is
// rotated before it would exceed MaxSizeMiB, the old one renamed to
// NAME-<UTC time to the millisecond>.EXT and gzip-compressed in the
// background (by the sink, with klauspost/compress, fsynced before the
// original goes: compress.go), and old files pruned by MaxAge and
// MaxBackups (by default never: audit logs are kept for years, something
// else should ship and expire them). Files lists a log's files in order.
// lumberjack rotates inside Write and has no fsync, so the sink rotates
// explicitly, never twice in one millisecond (the second backup would
// replace the first), fsyncs through a descriptor of its own, and Close
// waits for compression; see filesink.go.
//
// The upload sink (Config.UploadURL) POSTs batches as OPA's decision log
// plugin does: a gzip-compressed JSON array of events, Content-Encoding:
// gzip, Content-Type: application/json, any 2xx is success. Record's field
// names are OPA's where they exist (decision_id, path, input, result,
// timestamp, labels, bundles, metrics, trace_id, span_id) and OPA ignores
// the others. A batch closes at UploadBatchBytes of JSON or UploadInterval;
// failed batches are retried oldest first with exponential back-off (100
// ms doubling to 30 s, ±20% jitter) and kept, compressed, up to
// UploadBufferBytes, beyond which the oldest are dropped and counted.
// Delivery is at least once: a request that timed out is sent again, and
// the endpoint may see it twice (decision_id tells).
//
// # Masking
//
// Every record is masked after encoding, as JSON text: the record's own
// fields, Labels, and the raw Input and Enrichment alike, keys included,
// escapes decoded. The request decoder already refuses secrets, card and
// identity numbers in free-form fields, but it lets some through on
// purpose (identifier fields, free text, numbers joined by list
// punctuation or mixed separators, cards split across fields) and bugs
// happen; this is the second line. The rules are package pii's, which the
// decoder also uses (pdp/internal/pii: the vocabulary, the folding of
// keys, the number scanner), in its Mask mode:
//
// Card and identity numbers: in every string and number, digits of any
// script (Unicode Nd) form groups, groups joined by separators (any
// punctuation, space or symbol; invisible characters are skipped) form
// runs, and a window of consecutive groups is a card number when, leading
// zeros dropped, its 13 to 19 digits pass pdp.IsCardNumber (issuer
// prefix, Luhn), or a resident identity number when its 18 digits (or 17
// and an X) pass pdp.IsResidentID, provided the window is one group, or
// its separators are all of one kind ("4111.1111.1111.1111", "4111 /
// 1111 / 1111 / 1111"; whitespace and dashes are one kind), or all its
// groups have three digits or more ("4111.1111-1111/1111"); times and
// coordinates ("05:47:00.386512345", "31.230416, 121.473701") are none
// of these. A number is replaced by its first 6 and last 4 characters
// with a '*' for each between ("4111 1111 1111 1111" →
// "411111******1111", "11010519491231002X" → "110105********002X"),
// and the string is searched again until nothing is found (the kept
// digits can join their neighbours). Digits next to letters count
// ("uid4111111111111111" is masked), digits next to more digits do not
// (a 25-digit number is not a card number). A JSON number holding one
// becomes the masked string. Exempt are a string that is exactly a
// canonical UUID (the shape cannot hold a card number as cards are
// written, and masking one would break the ids the log is searched by;
// the decoder exempts it too), and, at the top of a record, a trace_id or
// span_id of W3C shape (32 or 16 lower-case hex digits, at least one a-f).
//
// Split cards: neighbouring values of one object or array that hold only
// digits and spaces, or are integers, whose digits together make a card
// number ({"c1":"4111","c2":"1111","c3":"1111","c4":"1111"}) are masked
// across the values (splits.go). In a record, only the caller's input is
// searched for them: the sidecar's own values (velocity counts, amounts,
// timings) sit side by side by the dozen.
//
// A tenth of all digit strings with an issuer prefix pass Luhn by chance,
// so the rule also masks some ids that are no card. Measured with an
// earlier rule (any first digit 2 to 6, so these are upper bounds now):
// 0.08% of 32-hex-digit ids, 0.2% of SHA-256 hex digests. The issuer
// prefix spares date-prefixed ids ("T2026112200…") and 13-digit
// millisecond Unix times until the year 2040.
//
// Secret keys: pii.SecretKey, the decoder's own test. The key is folded
// (compatibility forms, look-alike letters, invisible characters, case,
// any-script digits; separators leave word boundaries) and searched for
// the names of secrets in English, Chinese and pinyin (password, pwd,
// pin, cvv, otp, sms code, card number, expiry, valid thru, track data,
// id number, ssn, passport, 密码, 验证码, 卡号, 有效期, 身份证, zhifu mima,
// yanzhengma, ...), however spelled ("c_v_v", "ｃｖｖ", "сvv", "pinValue",
// "p4ssw0rd"), at any length. A name followed by a fact word
// ("password_reset_at", "pin_failures_1h", "cvv_checked", "pin_1h",
// "card_number_last4", "密码重置时间") names a fact the policy uses, not a
// secret. The value of a secret key — string, number, object or array —
// becomes "***"; null, true and false stay (they hold no secret).
//
// Secrets in free text: in every string, a secret's name followed by its
// value ("my password is hunter2", "CVV 123", "pin: 4321", "验证码是123456")
// has the value replaced by "***" (pii.Scanner.Secrets).
//
// Cost: a string is decoded and searched only when its raw bytes may hold
// something (13 digits, a non-ASCII byte or an escape, or letters that
// start a secret's name); the writer's masker remembers which short
// strings and keys needed nothing (a record's keys and most of its strings
// repeat from record to record), and, cheaper still, the last record's
// short clean string tokens by their order in the record (counted anew
// from input, enrichment and result on): records have much the same
// shape, so a token whose raw bytes (quotes included, no escape) are
// those of the last record's token of the same ordinal gets that token's
// verdict after one comparison, without a scan (mask.go, "The positional
// memo"). Both memos are exact, keyed by the raw bytes the verdict depends
// on: the output is what a fresh masker writes (FuzzMaskMemo). MaskJSON
// applies all these rules to any JSON.
//
// Config.Hook runs before masking (the policy's system.log.mask and drop);
// it may edit the record or drop it with ErrDrop. Masking always follows.
//
// # No silent loss
//
// Every record given to Log ends in exactly one of Stats.Logged, Filtered
// (the hook dropped it) or a Dropped reason, or is on its way (BufferDepth,
// SpillRecords). When the buffer is full, Config.Overflow decides: drop
// (count and return ErrDropped at once), block (wait up to BlockTimeout,
// then drop) or spill (mask, encode and append the record to a file in
// SpillDir in the caller's goroutine; the writer replays it when the buffer
// has drained, and a spill file left by a crash is replayed by the next
// process; order is not kept across a spill, timestamps and the
// time-ordered decision ids are). Close flushes the buffer, the spill file,
// the file (fsync) and the upload queue within its context, and counts
// what it had to leave (close_timeout, upload_unsent; the spill file stays
// for the next start).
//
// # Sync mode and the disk
//
// With Config.Sync, Log returns once the record is written and fsynced; an
// error (wrapping ErrNotDurable and the cause) means it is not known to be
// durable, and the caller must treat the decision as unrecorded (the
// sidecar answers with an error). Concurrent callers share one write and
// one fsync (groupcommit.go): measured, 16 callers get about 8 records per
// fsync and 9 times the throughput of one (README.md, "Measured costs of
// the components"). A rotation fsyncs the old file and the directory; a
// compressed backup is fsynced (file and directory) before the original is
// removed, so a crash or power cut at any point keeps one whole copy.
//
// A full disk (or any write error) is counted (SinkErrors, Dropped
// "file_error"), remembered as LastError, and reported by Healthy until a
// write succeeds; decisions keep flowing: in async mode the writer drops
// the batch and goes on, in sync mode every caller of the failed commit
// gets the error. A write cut short leaves a partial line; the next write
// starts with a newline, so the partial line alone is lost and readers
// skip it.
//
// # Reading
//
// Reader streams records from a list of files (Files gives a log's),
// decompressing gzip files, in order, one line at a time. It skips, counts
// and describes (file, line, reason) a line cut short at the end of a file
// (truncated), a line that is not a JSON record (corrupt), a record of
// another Schema (schema), the rest of a damaged gzip file (gzip: the
// records before the damage are returned; gzip checks its CRC only at the
// end, so a record just before the damage may itself be damaged and still
// parse: treat a gzip skip as a damaged file), a file it cannot open (open)
// and a line longer than MaxLineBytes (too_long). Next returns only io.EOF
// as error.
//
// Encoding never drops a record: a value encoding/json would refuse, and so
// fail the whole record, is written as null and counted (EncodeErrors):
// Input or Enrichment that is not valid JSON, a time outside years
// 0-9999 (in UTC, the zone records are written in), a NaN or infinite
// amount.
//
// # RATIONALE
//
// Drop by default. The buffer (8192 records, a few hundred milliseconds of
// peak traffic) already absorbs bursts, so it only fills when a sink is
// stalled, not merely slow. Then blocking adds its timeout to every
// decision and still loses the records, and spilling to the same stalled
// or full disk blocks in the write; only dropping keeps the decision path
// at its latency, and every loss is counted, reported by Healthy and
// visible in /metrics. Deployments that must not lose records choose sync
// mode, or spill to another volume.
//
// Group commit. An fsync costs about half a millisecond here (and up to
// several on a busy disk) whatever it covers, so one per record would cap
// sync mode at a few thousand records per second and make every caller
// wait for the callers before it. Batching whoever arrived during the
// previous fsync keeps each caller's wait at most two fsyncs and lets
// throughput grow with concurrency, while no Log returns before its record
// is on disk. The leader/follower form needs no extra goroutine and no
// timer: the first caller of a batch writes it, the others wait for it.
//
// Masking the encoded line, not the struct: one pass covers every field,
// present and future, the raw Input and Enrichment and the map keys, and
// the same code serves MaskJSON and the fuzz target. Encoding happens in
// the writer (or in the caller when it must: sync mode, spill), never
// before the buffer, so that async Log stays a pointer send.
//
// A hand-written encoder (encode.go) and JSON compactor
// (pdp/internal/jsonw's Compact) instead of encoding/json, which validates and compacts every raw
// message in two passes of a state function per byte and reflects over the
// struct: the writer shares two cores with the decision path, and this
// takes a third off its cost per record (measured). Both are
// held byte for byte to encoding/json (times in UTC) by differential fuzz
// targets; strings, numbers and times come from pdp/internal/jsonw, which
// the API's answers use too.
//
// Record.Schema was added so that readers can tell this format from later
// ones and skip what they cannot interpret instead of misreading it.
package decisionlog
