package corpus

import (
	"errors"
	"fmt"
	"testing"
)

// TB lets testenv's helpers, written for tests, run in a benchmark
// program: Fatal panics with a failure that Finish (or run) recovers into
// an error, and Cleanup functions run at Close. With Verbose, Logf prints.
// The zero value is ready to use.
type TB struct {
	testing.TB // nil: only the methods below are called by testenv
	Verbose    bool
	cleanups   []func()
}

// failure is the panic value of TB's Fatal methods.
type failure string

func (t *TB) Helper()                        {}
func (t *TB) Name() string                   { return "bench" }
func (t *TB) Failed() bool                   { return false }
func (t *TB) Cleanup(f func())               { t.cleanups = append(t.cleanups, f) }
func (t *TB) Fatalf(format string, a ...any) { panic(failure(fmt.Sprintf(format, a...))) }
func (t *TB) Fatal(a ...any)                 { panic(failure(fmt.Sprint(a...))) }
func (t *TB) Errorf(format string, a ...any) { panic(failure(fmt.Sprintf(format, a...))) }

// Logf prints when Verbose is set.
func (t *TB) Logf(format string, a ...any) {
	if t.Verbose {
		fmt.Printf(format+"\n", a...)
	}
}

// Finish is meant to be deferred by a benchmark's run function: it turns
// a failure of a testenv helper into *err (other panics go on) and runs
// the Cleanup functions.
func (t *TB) Finish(err *error) {
	if r := recover(); r != nil {
		msg, ok := r.(failure)
		if !ok {
			t.Close()
			panic(r)
		}
		*err = errors.New(string(msg))
	}
	t.Close()
}

// run calls f and turns a failure into an error.
func (t *TB) run(f func()) (err error) {
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

// Close runs the Cleanup functions, last registered first.
func (t *TB) Close() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
}
