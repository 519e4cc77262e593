//go:build race

package pii

const raceOn = true
