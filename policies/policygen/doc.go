// Package policygen prepares the policy sets the load harness (bench/) and
// the policy package's tests measure: the reference policy set copied without its
// tests, scaled by a factor with generated rules in the shapes a risk team
// adds over time, and, for `opa run --server`, one rule that folds the
// decision the way the sidecar does in Go.
//
// It lives in the sidecar's module, not the harness's (bench/ has its own
// go.mod), so the sidecar's tests can use it without the harness's
// dependencies (pdp/internal/policy's differential corpus uses it).
package policygen
