// Package bundle keeps the sidecar's policies, data and scoring plugins in
// step with an OPA-compatible bundle service, so that a fleet of sidecars
// serves one policy revision.
//
// A Loader polls one bundle URL with OPA's downloader (v1/download: ETag
// and If-None-Match, so an unchanged bundle costs a 304), reads it with
// OPA's bundle reader (v1/bundle: gzip tarball, .manifest with revision
// and roots, size limits) and verifies its signature the way OPA does: a
// .signatures.json JWT signed with RS*/PS*/ES*/HS* lists every file of the
// bundle with its SHA-256, and the reader refuses a file that is missing
// from the list, differs from it or is listed but absent. OPA types stay
// inside this package.
//
// # What a bundle holds
//
// The layout is OPA's: *.rego modules, data.json / data.yaml documents
// (riskpdp/config/data.json is data.riskpdp.config, as in a policy
// directory) and .manifest. The policy files are written to a directory
// and loaded by the engine exactly like a policy directory (the same
// loader, the same rules for data, tests and hidden files skipped); the
// revision is the manifest's revision, or a hash of the files when the
// manifest has none. Rego v1 only; delta bundles, OPA Wasm and plan
// modules are refused.
//
// Scoring plugins travel under plugins/: plugins/NAME.yaml manifests next
// to plugins/NAME.wasm modules, the layout of a plugin directory. OPA's
// reader verifies them like every other file (and ignores them otherwise);
// `opa build` cannot add them (it reads YAML files as data and drops other
// files), so `pdp bundle build` (Build) makes such bundles, or `opa sign
// --bundle DIR` signs a directory that is then archived. Plugins are
// accepted only when the Loader owns the plugin set (Config.Plugins): the
// plugin configuration (grants, budgets, failure modes) stays the
// sidecar's own, so a bundle cannot give its plugins capabilities. Other
// files are ignored, as OPA ignores them.
//
// # Activation
//
// A new bundle is activated only when every part passes: the download, the
// signature, OPA's reader (roots, manifest, Rego syntax), the engine's
// compile and smoke test, and the plugins' compile, instantiation and smoke
// test. Both new sets are built before either is switched; the switch is
// then two pointer stores, plugins first, policies second, so only a
// decision that starts between them (a window of nanoseconds) can pair new
// plugins with the previous policy. A bundle whose plugins are unchanged
// keeps the running plugin set. A refused bundle leaves the previous
// revision serving; the refusal is counted by cause (Status.Failures),
// logged and kept as Status.LastError; OPA's downloader forgets the
// refused bundle's ETag, so the next poll fetches it again (a fixed bundle
// under the same ETag, or a transient fault, then heals).
//
// The last activated bundle is kept under Config.Dir as it was downloaded
// and is verified and activated again by Restore at start, before the
// first poll. Until a bundle has been activated (downloaded or restored)
// the engine serves what it was started with (the policy directory or the
// embedded reference policies) and Ready reports an error, so readiness
// can wait for the first activation as OPA's does.
package bundle
