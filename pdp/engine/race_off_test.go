//go:build !race

package engine

