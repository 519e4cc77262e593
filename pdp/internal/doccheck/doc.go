// Package doccheck holds no code: its test runs `go list` and `go doc` on
// every package of the repository's three modules (the sidecar's, bench/
// and charts/) and fails when a package has no doc comment, or when the
// first sentence `go doc` shows does not start with "Package <name>" (for
// a command, "Command <name>" or the command's name).
package doccheck
