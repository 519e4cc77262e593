package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/riskpdp/riskpdp/pdp/internal/plugin"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
)

// maxFiles bounds the files of a bundle written to disk.
const maxFiles = 10000

// PluginPrefix is the bundle directory that holds scoring plugins.
const PluginPrefix = "plugins/"

// errLayout marks a bundle whose files the sidecar does not accept.
var errLayout = errors.New("bundle layout")

// activate writes the verified bundle b (whose archive is raw) to a new
// generation directory, builds its plugins and policies and, when both
// pass, switches to them. pollMu is held.
func (l *Loader) activate(ctx context.Context, b *opabundle.Bundle, raw []byte, etag, origin string) (string, Cause, error) {
	start := time.Now()
	if err := supported(b); err != nil {
		return "", CauseInvalid, err
	}
	gen, err := os.MkdirTemp(l.genRoot(), "g")
	if err != nil {
		return "", CauseActivation, fmt.Errorf("bundle files: %w", err)
	}
	drop := func() { _ = os.RemoveAll(gen) }
	lay, err := extract(raw, gen, l.cfg.SizeLimit, b.Manifest)
	if err != nil {
		drop()
		if errors.Is(err, errLayout) {
			return "", CauseInvalid, err
		}
		return "", CauseActivation, fmt.Errorf("bundle files: %w", err)
	}
	pluginDir := filepath.Join(gen, "plugins")
	var set *plugin.Set
	switch {
	case l.cfg.Plugins == nil && lay.plugins > 0:
		drop()
		return "", CauseInvalid, fmt.Errorf("%w: the bundle carries plugins but the plugin set comes from a local directory (plugins.dir)", errLayout)
	case l.cfg.Plugins != nil && (l.pluginGen == "" || lay.pluginSum != l.pluginSum):
		// Activation must not be cut short by the poll's timeout.
		if set, err = l.cfg.Plugins.Prepare(context.WithoutCancel(ctx), pluginDir); err != nil {
			drop()
			return "", CauseActivation, fmt.Errorf("bundle plugins: %w", err)
		}
	}
	pol, err := l.cfg.Engine.Prepare(policy.Source{FS: os.DirFS(filepath.Join(gen, "policy")), Label: "bundle " + l.label})
	if err != nil {
		if set != nil {
			set.Release()
		}
		drop()
		return "", CauseActivation, fmt.Errorf("bundle policies: %w", err)
	}
	if set != nil {
		l.cfg.Plugins.Activate(set, pluginDir)
		l.pluginGen, l.pluginSum = gen, lay.pluginSum
	}
	pol.Activate()
	l.policyGen = gen
	l.sweep()
	rev := pol.Revision()
	now := time.Now()
	l.update(func(st *Status) {
		st.Revision, st.ETag, st.Origin, st.Plugins = rev, etag, origin, lay.plugins
		st.Activations++
		st.LastActivation = now
	})
	l.log.Info("bundle activated", "url", l.label, "revision", rev, "etag", etag, "origin", origin,
		"policy_files", lay.policy, "plugins", lay.plugins, "plugins_rebuilt", set != nil,
		"took", now.Sub(start).Round(time.Millisecond))
	return rev, 0, nil
}

// supported refuses the bundles OPA reads but the sidecar does not serve.
func supported(b *opabundle.Bundle) error {
	switch {
	case b.Type() != opabundle.SnapshotBundleType:
		return fmt.Errorf("%w: delta bundles are not supported", errLayout)
	case len(b.WasmModules) > 0 || len(b.Wasm) > 0 || len(b.PlanModules) > 0:
		return fmt.Errorf("%w: OPA Wasm and plan modules are not supported: ship Rego", errLayout)
	case b.Manifest.RegoVersion != nil && *b.Manifest.RegoVersion != 1:
		return fmt.Errorf("%w: manifest rego_version %d: the sidecar runs Rego v1 only", errLayout, *b.Manifest.RegoVersion)
	}
	for file, v := range b.Manifest.FileRegoVersions {
		if v != 1 {
			return fmt.Errorf("%w: manifest file_rego_versions[%s] = %d: the sidecar runs Rego v1 only", errLayout, file, v)
		}
	}
	return nil
}

// sweep removes the generation directories nothing serves from.
func (l *Loader) sweep() {
	ents, err := os.ReadDir(l.genRoot())
	if err != nil {
		return
	}
	for _, e := range ents {
		dir := filepath.Join(l.genRoot(), e.Name())
		if dir != l.policyGen && dir != l.pluginGen {
			_ = os.RemoveAll(dir)
		}
	}
}

// layout counts what extract wrote.
type layout struct {
	policy, plugins, skipped int
	// pluginSum identifies the plugin files (names and contents).
	pluginSum string
}

// extract writes the files of the archive raw into gen: policies and data
// under policy/ (with the manifest m, as read by OPA's reader, as
// policy/.manifest), plugins under plugins/. Files the sidecar does not
// use are skipped. The archive is read again with OPA's tarball loader: it
// is the archive OPA's reader verified, so every file written was checked
// against the signature.
func extract(raw []byte, gen string, sizeLimit int64, m opabundle.Manifest) (layout, error) {
	var lay layout
	root, err := os.OpenRoot(gen)
	if err != nil {
		return lay, err
	}
	defer root.Close()
	for _, d := range []string{"policy", "plugins"} {
		if err := root.Mkdir(d, 0o700); err != nil {
			return lay, err
		}
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return lay, err
	}
	if err := root.WriteFile("policy/.manifest", mb, 0o600); err != nil {
		return lay, err
	}
	tl := opabundle.NewTarballLoaderWithBaseURL(bytes.NewReader(raw), "").WithSizeLimitBytes(sizeLimit)
	seen := map[string]bool{}
	var pluginFiles []string
	for n := 0; ; n++ {
		d, err := tl.NextFile()
		if err == io.EOF {
			break
		}
		if err != nil {
			return lay, fmt.Errorf("%w: %v", errLayout, err)
		}
		if n >= maxFiles {
			return lay, fmt.Errorf("%w: more than %d files", errLayout, maxFiles)
		}
		var buf bytes.Buffer
		_, err = d.Read(&buf, sizeLimit+1)
		d.Close()
		if err != nil && err != io.EOF {
			return lay, fmt.Errorf("%w: %s: %v", errLayout, d.Path(), err)
		}
		name, err := cleanName(d.Path())
		if err != nil {
			return lay, err
		}
		if seen[name] {
			return lay, fmt.Errorf("%w: %s appears twice", errLayout, name)
		}
		seen[name] = true
		dst, err := destination(name)
		if err != nil {
			return lay, err
		}
		switch {
		case dst == "":
			lay.skipped++
			continue
		case strings.HasPrefix(dst, PluginPrefix):
			if path.Ext(dst) == ".yaml" {
				lay.plugins++
			}
			sum := sha256.Sum256(buf.Bytes())
			pluginFiles = append(pluginFiles, dst+"\x00"+hex.EncodeToString(sum[:]))
		default:
			lay.policy++
		}
		if err := root.MkdirAll(path.Dir(dst), 0o700); err != nil {
			return lay, err
		}
		if err := root.WriteFile(dst, buf.Bytes(), 0o600); err != nil {
			return lay, err
		}
	}
	slices.Sort(pluginFiles)
	sum := sha256.Sum256([]byte(strings.Join(pluginFiles, "\n")))
	lay.pluginSum = hex.EncodeToString(sum[:])
	return lay, nil
}

// cleanName turns an archive path (/a/b.rego, ./a/b.rego, a/b.rego) into
// a relative slash path, refusing .. segments.
func cleanName(p string) (string, error) {
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", fmt.Errorf("%w: path %q leaves the bundle", errLayout, p)
		}
	}
	return strings.TrimPrefix(path.Clean("/"+p), "/"), nil
}

// destination maps a bundle file to where it is written under the
// generation directory, or "" for a file the sidecar does not use.
func destination(name string) (string, error) {
	base := path.Base(name)
	isData := base == "data.json" || opabundle.IsYAMLDataFile(name)
	switch {
	case name == "" || opabundle.IsSignaturesFile(name):
		return "", nil
	case strings.HasPrefix(name, PluginPrefix):
		rest := strings.TrimPrefix(name, PluginPrefix)
		if strings.HasSuffix(name, ".rego") || isData {
			return "", fmt.Errorf("%w: %s: %s holds plugin manifests and modules only", errLayout, name, PluginPrefix)
		}
		if strings.Contains(rest, "/") {
			return "", nil // a plugin directory is flat
		}
		if ext := path.Ext(rest); ext == ".yaml" || ext == ".wasm" {
			return name, nil
		}
		return "", nil
	case strings.HasSuffix(name, ".manifest"), strings.HasSuffix(name, ".manifest.pb"):
		return "", nil // written from the manifest OPA's reader parsed
	case strings.HasSuffix(name, ".rego") || isData:
		return "policy/" + name, nil
	}
	return "", nil
}
