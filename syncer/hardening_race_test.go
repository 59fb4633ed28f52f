//go:build race

package syncer

// raceEnabled is true when the tests run with the race detector.
const raceEnabled = true
