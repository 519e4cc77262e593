//go:build race

package policy

// raceEnabled: the race detector is on (tests scale their heaviest
// loops down).
const raceEnabled = true

// Under the race detector every evaluation is several times slower: the
// proof at load (prove.go) checks fewer inputs, so that the tests that
// load many variants of the reference policy stay quick. The race-free
// run checks the full budget.
func init() { proofBudget = maxProofInputs / 4 }
