//go:build !race

package policy

// raceEnabled: the race detector is on (tests scale their heaviest
// loops down).
const raceEnabled = false
