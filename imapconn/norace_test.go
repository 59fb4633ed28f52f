//go:build !race

package imapconn

// raceEnabled is true when the tests run with the race detector.
const raceEnabled = false
