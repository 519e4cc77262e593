package bench

import "github.com/riskpdp/riskpdp/policies/policygen"

// The policy sets a run measures are prepared by policies/policygen, in the
// sidecar's module, so the sidecar's own tests can generate the same sets
// without importing the harness (and its dependencies).

// PolicySet is a policy directory prepared for one run.
type PolicySet = policygen.PolicySet

// PreparePolicies is policygen.PreparePolicies: the reference policy set
// copied from root/policies/riskpdp into dst, scaled by factor, with the
// decision rule OPA needs when forOPA is set.
func PreparePolicies(root, dst string, factor int, forOPA bool) (PolicySet, error) {
	return policygen.PreparePolicies(root, dst, factor, forOPA)
}

// GenerateRules is policygen.GenerateRules: n generated rules for package
// riskpdp in the shapes a risk team adds over time.
func GenerateRules(n int) string { return policygen.GenerateRules(n) }
