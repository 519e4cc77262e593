package bundle

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/util"
)

// BuildOptions describe a bundle for Build.
type BuildOptions struct {
	// Policies is a policy directory: its *.rego modules and data.json /
	// data.yaml documents go into the bundle at the same paths. Tests
	// (*_test.rego) and hidden files are left out. Required.
	Policies fs.FS
	// Plugins, when not nil, is a plugin directory: its *.yaml manifests
	// and *.wasm modules go under plugins/.
	Plugins fs.FS
	// Revision is the manifest's revision. Default: "sha256:" and the
	// first 12 hex digits of a hash over the files.
	Revision string
	// Roots are the manifest's roots. Default: none (OPA's default, the
	// whole data tree).
	Roots []string

	// SigningKey signs the bundle (.signatures.json) when not empty: a PEM
	// private key for RS*, PS* and ES*, the shared secret for HS*.
	SigningKey []byte
	// Algorithm is the signing algorithm. Default RS256.
	Algorithm string
	// KeyID is the kid of the signature. Default "default".
	KeyID string
}

// Build writes a bundle (a gzip tarball in OPA's layout) made of a policy
// directory and, optionally, a plugin directory, signed when a key is
// given, and returns its revision. Unlike `opa build` it keeps plugin
// modules; the result is read by OPA's reader like any bundle.
func Build(w io.Writer, o BuildOptions) (string, error) {
	if o.Policies == nil {
		return "", errors.New("bundle build: no policy directory")
	}
	files := map[string][]byte{}
	if err := collect(o.Policies, "", files, policyFile); err != nil {
		return "", err
	}
	if o.Plugins != nil {
		if err := collect(o.Plugins, PluginPrefix, files, pluginFile); err != nil {
			return "", err
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	rev := o.Revision
	if rev == "" {
		h := sha256.New()
		for _, n := range names {
			fmt.Fprintf(h, "%s\x00%d\x00", n, len(files[n]))
			h.Write(files[n])
		}
		rev = "sha256:" + hex.EncodeToString(h.Sum(nil))[:12]
	}
	m := opabundle.Manifest{Revision: rev}
	if len(o.Roots) > 0 {
		roots := slices.Clone(o.Roots)
		m.Roots = &roots
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	files[".manifest"] = mb
	names = append(names, ".manifest")

	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	if len(o.SigningKey) > 0 {
		sig, err := sign(files, names, o)
		if err != nil {
			return "", err
		}
		if err := writeTar(tw, ".signatures.json", sig); err != nil {
			return "", err
		}
	}
	for _, n := range names {
		if err := writeTar(tw, n, files[n]); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	return rev, gz.Close()
}

func policyFile(name string) bool {
	base := path.Base(name)
	return (strings.HasSuffix(base, ".rego") && !strings.HasSuffix(base, "_test.rego")) ||
		base == "data.json" || opabundle.IsYAMLDataFile(name)
}

func pluginFile(name string) bool {
	ext := path.Ext(name)
	return !strings.Contains(name, "/") && (ext == ".yaml" || ext == ".wasm")
}

// collect adds the files of fsys that keep selects, under prefix.
func collect(fsys fs.FS, prefix string, files map[string][]byte, keep func(string) bool) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("bundle build: %w", err)
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() || !keep(p) {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("bundle build: %w", err)
		}
		files[prefix+p] = b
		return nil
	})
}

// sign returns the .signatures.json of the files: OPA's format, one JWT
// listing every file with its SHA-256 (JSON and YAML documents hashed in
// OPA's canonical form, other files as bytes).
func sign(files map[string][]byte, names []string, o BuildOptions) ([]byte, error) {
	hasher, err := opabundle.NewSignatureHasher(opabundle.SHA256)
	if err != nil {
		return nil, err
	}
	infos := make([]opabundle.FileInfo, 0, len(names))
	for _, n := range names {
		var v any = files[n]
		if opabundle.IsStructuredDoc(n) {
			var doc any
			if err := util.Unmarshal(files[n], &doc); err != nil {
				return nil, fmt.Errorf("bundle build: %s: %w", n, err)
			}
			v = doc
		}
		sum, err := hasher.HashFile(v)
		if err != nil {
			return nil, err
		}
		infos = append(infos, opabundle.NewFile(n, hex.EncodeToString(sum), opabundle.SHA256.String()))
	}
	keyID := o.KeyID
	if keyID == "" {
		keyID = DefaultKeyID
	}
	sc := opabundle.NewSigningConfig(string(o.SigningKey), o.Algorithm, "")
	token, err := opabundle.GenerateSignedToken(infos, sc, keyID)
	if err != nil {
		return nil, fmt.Errorf("bundle build: sign: %w", err)
	}
	return json.Marshal(opabundle.SignaturesConfig{Signatures: []string{token}})
}

func writeTar(tw *tar.Writer, name string, b []byte) error {
	hdr := &tar.Header{Name: "/" + name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}
