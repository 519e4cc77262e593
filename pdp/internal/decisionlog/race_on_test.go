//go:build race

package decisionlog

const raceOn = true
