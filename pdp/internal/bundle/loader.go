package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/download"
	"github.com/open-policy-agent/opa/v1/keys"
	"github.com/open-policy-agent/opa/v1/logging"
	opaplugins "github.com/open-policy-agent/opa/v1/plugins"
	"github.com/open-policy-agent/opa/v1/plugins/rest"

	"github.com/riskpdp/riskpdp/pdp/internal/backoff"
)

// Loader polls the bundle service and activates new bundles (see the
// package documentation). It is safe for concurrent use.
type Loader struct {
	cfg    Config
	log    *slog.Logger
	label  string // the URL without its query, for logs and the engine
	dl     *download.Downloader
	verify *opabundle.VerificationConfig // nil: unsigned bundles only

	// pollMu serializes polls, Restore and Close: one download and one
	// activation at a time. done is closed by the callback of the poll in
	// flight.
	pollMu sync.Mutex
	done   chan struct{}
	closed bool
	// Activation state, guarded by pollMu.
	policyGen, pluginGen string // generation directories serving
	pluginSum            string // hash of the serving plugin files

	mu sync.Mutex // guards st
	st Status

	wake   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// ErrClosed is returned by Poll and Restore after Close.
var ErrClosed = errors.New("bundle loader closed")

// The back-off after failed polls: 160 ms, ×1.6 after each further
// failure, up to MaxDelay, ±20% jitter; a successful poll starts it over.
// (OPA's util.DefaultBackoff from 100 ms, which this loop used before:
// it multiplies once before the first wait.)
const (
	retryFirst      = 160 * time.Millisecond
	retryMultiplier = 1.6
	retryJitter     = 0.2
)

// New validates cfg (after WithDefaults) and prepares a Loader; it does not
// contact the bundle service. Call Restore, then Start.
func New(cfg Config) (*Loader, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.URL)
	l := &Loader{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1)}
	l.label = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	l.st.URL = l.label
	if cfg.KeyFile != "" {
		key, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("bundle verification key: %w", err)
		}
		if !strings.HasPrefix(cfg.Algorithm, "HS") {
			if b, _ := pem.Decode(key); b == nil {
				return nil, fmt.Errorf("bundle verification key %s: no PEM block (want a public key or certificate for %s)", cfg.KeyFile, cfg.Algorithm)
			}
		}
		kc := &keys.Config{Key: string(key), Algorithm: cfg.Algorithm, Scope: cfg.Scope}
		l.verify = opabundle.NewVerificationConfig(map[string]*keys.Config{cfg.KeyID: kc}, cfg.KeyID, cfg.Scope, nil)
	}
	client, path, err := newClient(cfg, u)
	if err != nil {
		return nil, err
	}
	trigger := opaplugins.TriggerManual
	dc := download.Config{Trigger: &trigger}
	if err := dc.ValidateAndInjectDefaults(); err != nil {
		return nil, err
	}
	l.dl = download.New(dc, client, path).
		WithCallback(l.onUpdate).
		WithBundleVerificationConfig(l.verify).
		WithSizeLimitBytes(cfg.SizeLimit).
		WithBundlePersistence(true). // hands back the raw archive (Update.Raw)
		WithBundleParserOpts(ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("bundle dir: %w", err)
	}
	// Generations of an earlier run are not serving: start clean.
	if err := os.RemoveAll(l.genRoot()); err != nil {
		return nil, fmt.Errorf("bundle dir: %w", err)
	}
	if err := os.MkdirAll(l.genRoot(), 0o700); err != nil {
		return nil, fmt.Errorf("bundle dir: %w", err)
	}
	return l, nil
}

// newClient builds OPA's REST client for the service part of u and returns
// it with the path of the bundle.
func newClient(cfg Config, u *url.URL) (rest.Client, string, error) {
	rc := map[string]any{
		"url":                             (&url.URL{Scheme: u.Scheme, Host: u.Host}).String(),
		"response_header_timeout_seconds": int64(cfg.Timeout.Seconds() + 1),
	}
	if cfg.CACertFile != "" {
		rc["tls"] = map[string]any{"ca_cert": cfg.CACertFile}
	}
	if cfg.TokenFile != "" {
		rc["credentials"] = map[string]any{"bearer": map[string]any{"token_path": cfg.TokenFile}}
	}
	b, err := json.Marshal(rc)
	if err != nil {
		return rest.Client{}, "", err
	}
	// The downloader logs through the client's logger; every failure it
	// would log also reaches onUpdate, which logs it once with its cause.
	client, err := rest.New(b, nil, rest.Logger(logging.NewNoOpLogger()))
	if err != nil {
		return rest.Client{}, "", fmt.Errorf("bundle client: %w", err)
	}
	path := u.EscapedPath()
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return client, path, nil
}

func (l *Loader) genRoot() string     { return filepath.Join(l.cfg.Dir, "gen") }
func (l *Loader) keptArchive() string { return filepath.Join(l.cfg.Dir, "bundle.tar.gz") }
func (l *Loader) keptMeta() string    { return filepath.Join(l.cfg.Dir, "bundle.json") }

// Status returns a snapshot of the loader's state.
func (l *Loader) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

// Ready returns nil once a bundle has been activated, and otherwise says
// why not (for /health/ready).
func (l *Loader) Ready() error {
	st := l.Status()
	if st.Activated() {
		return nil
	}
	if st.LastError != "" {
		return fmt.Errorf("bundle %s: not activated yet: %s", st.URL, st.LastError)
	}
	return fmt.Errorf("bundle %s: not activated yet", st.URL)
}

// Start polls in the background until ctx is done or Close is called: at
// once, then after a random wait between MinDelay and MaxDelay, or a
// back-off after a failure, or at once after Wake.
func (l *Loader) Start(ctx context.Context) {
	ctx, l.cancel = context.WithCancel(ctx)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		retry := backoff.Exponential(retryFirst, l.cfg.MaxDelay, retryMultiplier, retryJitter)
		failures := 0
		for {
			err := l.Poll(ctx)
			if ctx.Err() != nil {
				return
			}
			delay := l.cfg.MinDelay + rand.N(l.cfg.MaxDelay-l.cfg.MinDelay+1)
			if err != nil {
				failures++
				delay = retry.NextBackOff()
			} else {
				failures = 0
				retry.Reset()
			}
			l.log.Debug("bundle: next poll", "in", delay, "retry", failures)
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-l.wake:
				t.Stop()
			case <-t.C:
			}
		}
	}()
}

// Wake makes the background poll run now (e.g. on SIGHUP).
func (l *Loader) Wake() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Close stops polling and waits for a poll in flight. Activated policies
// and plugins keep serving.
func (l *Loader) Close() {
	if l.cancel != nil {
		l.cancel()
	}
	l.wg.Wait()
	l.pollMu.Lock()
	l.closed = true
	l.pollMu.Unlock()
}

// Poll asks the service once and activates the bundle it answers with, if
// it is new. It returns the download or activation error, if any (also
// counted and kept in Status).
func (l *Loader) Poll(ctx context.Context) error {
	l.pollMu.Lock()
	defer l.pollMu.Unlock()
	if l.closed {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	done := make(chan struct{})
	l.done = done
	err := l.dl.Trigger(ctx)
	// Trigger returns early when ctx ends, but the downloader still calls
	// back once: wait, so that no callback overlaps the next poll.
	<-done
	return err
}

// onUpdate is the downloader's callback: once per poll, with the new
// bundle, nothing new (304), or the download or read error.
func (l *Loader) onUpdate(ctx context.Context, u download.Update) error {
	defer close(l.done)
	now := time.Now()
	if u.Error != nil {
		cause := classify(u.Error)
		l.failed(now, cause, u.Error)
		l.dl.SetCache(l.Status().ETag) // as OPA: ask again with the active bundle's tag
		return nil                     // the downloader returns u.Error itself
	}
	if u.Bundle == nil {
		l.update(func(st *Status) { st.LastRequest, st.LastSuccess, st.LastError = now, now, "" })
		return nil
	}
	var raw []byte
	if u.Raw != nil {
		raw, _ = io.ReadAll(u.Raw)
	}
	rev, cause, err := l.activate(ctx, u.Bundle, raw, u.ETag, "download")
	if err != nil {
		l.failed(now, cause, err)
		l.dl.SetCache(l.Status().ETag)
		return err
	}
	if err := l.keep(raw, u.ETag, rev); err != nil {
		l.failed(now, CausePersist, err)
		return nil
	}
	l.update(func(st *Status) { st.LastRequest, st.LastSuccess, st.LastError = now, now, "" })
	return nil
}

// failed counts and logs a failed poll or refused bundle.
func (l *Loader) failed(now time.Time, cause Cause, err error) {
	var serving string
	l.update(func(st *Status) {
		st.LastRequest, st.LastError, st.LastErrorAt = now, fmt.Sprintf("%s: %v", cause, err), now
		st.Failures[cause]++
		serving = st.Revision
	})
	level := slog.LevelError
	if cause == CauseNetwork || cause == CauseHTTP {
		level = slog.LevelWarn // the service may come back; nothing was refused
	}
	l.log.Log(context.Background(), level, "bundle not activated", "url", l.label, "cause", cause.String(),
		"error", err, "serving_revision", serving)
}

func (l *Loader) update(f func(*Status)) {
	l.mu.Lock()
	f(&l.st)
	l.mu.Unlock()
}

// read reads and verifies an archive with OPA's reader, as the downloader
// does.
func (l *Loader) read(raw []byte) (*opabundle.Bundle, error) {
	loader := opabundle.NewTarballLoaderWithBaseURL(bytes.NewReader(raw), l.label).WithSizeLimitBytes(l.cfg.SizeLimit)
	b, err := opabundle.NewCustomReader(loader).
		WithRegoVersion(ast.RegoV1).
		WithProcessAnnotations(true).
		WithBundleVerificationConfig(l.verify).
		WithSizeLimitBytes(l.cfg.SizeLimit).
		WithBundlePersistence(true).
		Read()
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// load reads, verifies and activates an archive that did not come from the
// downloader (Restore; the fuzz target).
func (l *Loader) load(ctx context.Context, raw []byte, etag, origin string) (string, Cause, error) {
	b, err := l.read(raw)
	if err != nil {
		return "", classify(err), err
	}
	return l.activate(ctx, b, raw, etag, origin)
}

// keptBundle is what Config.Dir/bundle.json says about the kept archive.
type keptBundle struct {
	URL      string `json:"url"`
	ETag     string `json:"etag"`
	Revision string `json:"revision"`
}

// Restore activates the bundle kept by the last run, if there is one for
// this URL and it still verifies; its ETag then makes the first poll a
// 304 when the service has nothing newer. A kept bundle that fails is
// logged and counted, and the service decides.
func (l *Loader) Restore(ctx context.Context) error {
	l.pollMu.Lock()
	defer l.pollMu.Unlock()
	if l.closed {
		return ErrClosed
	}
	mb, err := os.ReadFile(l.keptMeta())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var meta keptBundle
	if err == nil {
		err = json.Unmarshal(mb, &meta)
	}
	if err != nil {
		l.failed(time.Now(), CauseInvalid, fmt.Errorf("kept bundle: %w", err))
		return err
	}
	if meta.URL != l.label {
		l.log.Info("kept bundle is for another URL: not restored", "kept", meta.URL, "url", l.label)
		return nil
	}
	raw, err := os.ReadFile(l.keptArchive())
	if err != nil {
		l.failed(time.Now(), CauseInvalid, fmt.Errorf("kept bundle: %w", err))
		return err
	}
	if _, cause, err := l.load(ctx, raw, meta.ETag, "persisted"); err != nil {
		l.failed(time.Now(), cause, fmt.Errorf("kept bundle: %w", err))
		return err
	}
	l.dl.SetCache(meta.ETag)
	return nil
}

// keep saves the archive and its metadata for Restore, each file written
// whole (temporary file, fsync, rename).
func (l *Loader) keep(raw []byte, etag, revision string) error {
	if len(raw) == 0 {
		return errors.New("downloader returned no archive to keep")
	}
	meta, err := json.Marshal(keptBundle{URL: l.label, ETag: etag, Revision: revision})
	if err != nil {
		return err
	}
	if err := writeFileSync(l.keptArchive(), raw); err != nil {
		return err
	}
	return writeFileSync(l.keptMeta(), meta)
}

func writeFileSync(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
