//go:build !race

package typecheck

const raceEnabled = false
