package corpus

import (
	"fmt"
	"testing"
)

// tb lets testenv's helpers, written for tests, run in a benchmark
// program: Fatal panics with a failure that the caller recovers into an
// error, Cleanup functions run when the Server closes.
type tb struct {
	testing.TB // nil: only the methods below are called by testenv
	cleanups   []func()
}

// failure is the panic value of tb's Fatal methods.
type failure string

func (t *tb) Helper()                        {}
func (t *tb) Name() string                   { return "bench" }
func (t *tb) Failed() bool                   { return false }
func (t *tb) Cleanup(f func())               { t.cleanups = append(t.cleanups, f) }
func (t *tb) Logf(format string, a ...any)   {}
func (t *tb) Fatalf(format string, a ...any) { panic(failure(fmt.Sprintf(format, a...))) }
func (t *tb) Fatal(a ...any)                 { panic(failure(fmt.Sprint(a...))) }
func (t *tb) Errorf(format string, a ...any) { panic(failure(fmt.Sprintf(format, a...))) }

// run calls f and turns a tb failure into an error.
func (t *tb) run(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			msg, ok := r.(failure)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("corpus: %s", msg)
		}
	}()
	f()
	return nil
}

// cleanup runs the Cleanup functions, last registered first.
func (t *tb) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
}
