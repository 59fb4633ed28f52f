package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/syncer"
)

// testLoop is an account loop on a state DB without the account's folders
// that records the passes it would start instead of running them: no
// server, no watcher.
type testLoop struct {
	*loop
	started []*targeted // per pass started: nil for a full pass
	fetches [][]string
}

// testDB opens a state DB for the loops of one test (opening one costs
// more than all the loop's steps).
func testDB(t *testing.T) *state.DB {
	t.Helper()
	db, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newTestLoop returns the loop of a new account (named after the test, so
// that the loops sharing db keep apart).
func newTestLoop(t *testing.T, db *state.DB) *testLoop {
	t.Helper()
	d := New(&config.Config{}, db, Options{NoControl: true})
	a := newAccount(d, &config.Account{Name: t.Name(), Protocol: config.ProtocolIMAP, MaxConnections: 2, PollInterval: time.Hour})
	tl := &testLoop{}
	tl.loop = newLoop(a, context.Background(), func() {})
	tl.launch = func(t *targeted, fetch []string) {
		tl.started = append(tl.started, t)
		tl.fetches = append(tl.fetches, fetch)
	}
	t.Cleanup(func() {
		if tl.retry != nil {
			tl.retry.Stop()
		}
		tl.debounce.Stop()
		tl.close()
	})
	return tl
}

// next is what nextPass starts: "", "full" or "targeted".
func (tl *testLoop) next() string {
	ev, ok := tl.nextPass().(evStart)
	switch {
	case !ok:
		return ""
	case ev.t == nil:
		return "full"
	default:
		return "targeted"
	}
}

// settled leaves the first pass's pending state: idle, nothing wanted.
func settled(l *loop) { l.pending = false }

func running(l *loop) {
	l.pending = false
	l.phase = phaseRunning
}

func backingOff(l *loop) {
	l.pending = false
	l.phase = phaseBackoff
	l.reach = reachLost
	l.retry = time.NewTimer(time.Hour)
}

var (
	errDown = errors.New("dial tcp 127.0.0.1:1: connection refused")
	errAuth = fmt.Errorf("login: %w", syncer.ErrAuth)
)

// TestLoopTransitions: state + event → the phase after it and the pass
// nextPass then starts.
func TestLoopTransitions(t *testing.T) {
	existing := filepath.Join(t.TempDir(), "1.key:2,S")
	if err := os.WriteFile(existing, []byte("Subject: x\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pushed := evPushed{syncer.Pushed{Folder: "INBOX"}}
	cases := []struct {
		name  string
		setup func(l *loop)
		ev    loopEvent
		phase phase
		start string
		check func(t *testing.T, l *testLoop)
	}{
		{name: "the first pass", setup: func(*loop) {}, ev: evTrigger{}, phase: phaseIdle, start: "full"},
		{name: "idle, trigger", setup: settled, ev: evTrigger{}, phase: phaseIdle, start: "full"},
		{name: "idle, tick", setup: settled, ev: evTick{}, phase: phaseIdle, start: "full"},
		{name: "idle, IDLE push", setup: settled, ev: pushed, phase: phaseIdle, start: "targeted"},
		{name: "idle, IDLE push while a full pass is wanted", setup: func(*loop) {}, ev: pushed, phase: phaseIdle, start: "full"},
		{name: "idle, IDLE push during a burst of local changes", setup: func(l *loop) { settled(l); l.debouncing = true }, ev: pushed, phase: phaseIdle, start: ""},
		{name: "idle, IDLE push with local changes left from the last pass", setup: func(l *loop) { settled(l); l.checkMsgs["/x"] = "INBOX" }, ev: pushed, phase: phaseIdle, start: ""},
		{name: "running, trigger waits", setup: running, ev: evTrigger{}, phase: phaseRunning, start: ""},
		{name: "running, IDLE push waits", setup: running, ev: pushed, phase: phaseRunning, start: "",
			check: func(t *testing.T, l *testLoop) {
				if _, ok := l.pulls["INBOX"]; !ok {
					t.Errorf("pulls %v, want INBOX kept for later", l.pulls)
				}
			}},
		{name: "running, pass done", setup: running, ev: evPassDone{}, phase: phaseIdle, start: ""},
		{name: "running, pass done with a trigger meanwhile", setup: func(l *loop) { running(l); l.pending = true }, ev: evPassDone{}, phase: phaseIdle, start: "full"},
		{name: "running, pass done with a push meanwhile", setup: func(l *loop) { running(l); l.pulls["INBOX"] = nil }, ev: evPassDone{}, phase: phaseIdle, start: "targeted"},
		{name: "running, pass failed: backoff", setup: running, ev: evPassDone{passResult{err: errDown}}, phase: phaseBackoff, start: "",
			check: func(t *testing.T, l *testLoop) {
				if l.retry == nil || l.reach != reachLost || l.a.status().State != StateDisconnected {
					t.Errorf("retry %v, reach %d, state %q; want a retry timer, reachLost, %q", l.retry, l.reach, l.a.status().State, StateDisconnected)
				}
			}},
		{name: "running, login refused", setup: running, ev: evPassDone{passResult{err: errAuth}}, phase: phaseBackoff, start: "",
			check: func(t *testing.T, l *testLoop) {
				if l.reach != reachAuthFailed || l.a.status().State != StateAuthFailed {
					t.Errorf("reach %d, state %q; want reachAuthFailed, %q", l.reach, l.a.status().State, StateAuthFailed)
				}
			}},
		{name: "running, a command refused", setup: running, ev: evPassDone{passResult{err: fmt.Errorf("write: %w", syncer.ErrLocal)}}, phase: phaseBackoff, start: "",
			check: func(t *testing.T, l *testLoop) {
				if l.reach != reachOK || l.a.status().State != StateLocalError {
					t.Errorf("reach %d, state %q; want reachOK, %q", l.reach, l.a.status().State, StateLocalError)
				}
			}},
		{name: "backoff, trigger waits for the retry", setup: backingOff, ev: evTrigger{}, phase: phaseBackoff, start: ""},
		{name: "backoff, IDLE push waits for the retry", setup: backingOff, ev: pushed, phase: phaseBackoff, start: ""},
		{name: "backoff, retry", setup: backingOff, ev: evRetry{}, phase: phaseIdle, start: "full"},
		{name: "backoff, request forces a pass", setup: backingOff, ev: evRequest{&syncRequest{reply: make(chan SyncResult, 1)}}, phase: phaseBackoff, start: "full"},
		{name: "backoff, wake-up forces a pass", setup: backingOff, ev: evWake{}, phase: phaseBackoff, start: "full"},
		{name: "backoff after a refused login, wake-up waits", setup: func(l *loop) { backingOff(l); l.reach = reachAuthFailed }, ev: evWake{}, phase: phaseBackoff, start: ""},
		{name: "backoff, start ends it", setup: func(l *loop) { backingOff(l); l.pending, l.force = true, true }, ev: evStart{}, phase: phaseRunning, start: "",
			check: func(t *testing.T, l *testLoop) {
				if l.retry != nil || l.pending || l.force || len(l.started) != 1 || l.started[0] != nil {
					t.Errorf("retry %v, pending %v, force %v, started %v; want one full pass and no retry", l.retry, l.pending, l.force, l.started)
				}
			}},
		{name: "idle, start answers the waiting requests", setup: func(l *loop) {
			l.waiting = []*syncRequest{{reply: make(chan SyncResult, 1), fetch: []string{"/p"}}}
		}, ev: evStart{}, phase: phaseRunning, start: "",
			check: func(t *testing.T, l *testLoop) {
				if len(l.waiting) != 0 || len(l.inflight) != 1 || len(l.fetches) != 1 || len(l.fetches[0]) != 1 {
					t.Errorf("waiting %d, inflight %d, fetches %v; want the request in flight and its file fetched", len(l.waiting), len(l.inflight), l.fetches)
				}
			}},
		{name: "idle, targeted start keeps the requests waiting", setup: func(l *loop) {
			settled(l)
			l.waiting = []*syncRequest{{reply: make(chan SyncResult, 1)}}
			l.pulls["INBOX"] = []uint32{7}
		}, ev: evStart{&targeted{pulls: []syncer.Pushed{{Folder: "INBOX", Expunged: []uint32{7}}}}}, phase: phaseRunning, start: "",
			check: func(t *testing.T, l *testLoop) {
				if len(l.waiting) != 1 || len(l.inflight) != 0 || len(l.pulls) != 0 {
					t.Errorf("waiting %d, inflight %d, pulls %v; want the request still waiting, pulls taken", len(l.waiting), len(l.inflight), l.pulls)
				}
			}},
		{name: "idle, local change starts a burst", setup: settled, ev: evLocal{Event{Kind: Content, Dir: "/m/INBOX"}}, phase: phaseIdle, start: "",
			check: func(t *testing.T, l *testLoop) {
				if !l.debouncing || !l.dirtyData {
					t.Errorf("debouncing %v, dirtyData %v; want a burst of unknown extent", l.debouncing, l.dirtyData)
				}
			}},
		{name: "burst of a new local file ends: targeted push", setup: func(l *loop) {
			settled(l)
			l.debouncing = true
			l.dirtyMsgs = map[string]string{existing: "INBOX"}
		}, ev: evQuiet{}, phase: phaseIdle, start: "targeted"},
		{name: "burst of the daemon's own removal ends: nothing", setup: func(l *loop) {
			settled(l)
			l.debouncing = true
			l.dirtyMsgs = map[string]string{existing + ".gone": "INBOX"}
		}, ev: evQuiet{}, phase: phaseIdle, start: ""},
		{name: "burst of unknown extent ends: full pass", setup: func(l *loop) {
			settled(l)
			l.debouncing, l.dirtyData = true, true
		}, ev: evQuiet{}, phase: phaseIdle, start: "full"},
		{name: "burst ends during a pass: looked at afterwards", setup: func(l *loop) {
			running(l)
			l.debouncing = true
			l.dirtyMsgs = map[string]string{existing: "INBOX"}
		}, ev: evQuiet{}, phase: phaseRunning, start: "",
			check: func(t *testing.T, l *testLoop) {
				if len(l.checkMsgs) != 1 || len(l.locals) != 0 {
					t.Errorf("checkMsgs %v, locals %v; want the file kept for the end of the pass", l.checkMsgs, l.locals)
				}
				l.dispatch(evPassDone{})
				if got := l.next(); got != "full" {
					t.Errorf("after the pass nextPass starts %q, want a full pass", got)
				}
			}},
		{name: "offline, local change recorded", setup: func(l *loop) {
			backingOff(l)
			l.tree = &localTree{folders: map[string]string{"/m/INBOX": "INBOX"}}
			l.offlineOps = map[string]int64{}
		}, ev: evLocal{Event{Kind: Content, Dir: "/m/INBOX", Path: "/m/INBOX/cur/k"}}, phase: phaseBackoff, start: "",
			check: func(t *testing.T, l *testLoop) {
				changes, err := l.a.d.db.LocalChanges(l.a.cfg.Name)
				if _, ok := changes["INBOX"]; err != nil || len(changes) != 1 || !ok {
					t.Errorf("local changes %v (%v), want one record for INBOX", changes, err)
				}
			}},
		{name: "stop while idle", setup: settled, ev: evStop{}, phase: phaseStopped, start: ""},
		{name: "stop answers the waiting requests", setup: func(l *loop) {
			backingOff(l)
			l.waiting = []*syncRequest{{reply: make(chan SyncResult, 1)}}
		}, ev: evStop{}, phase: phaseStopped, start: "",
			check: func(t *testing.T, l *testLoop) {
				if r := <-l.waiting[0].reply; r.Error == "" {
					t.Errorf("reply %+v, want an error", r)
				}
			}},
	}
	db := testDB(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newTestLoop(t, db)
			c.setup(l.loop)
			from := l.phase
			l.dispatch(c.ev)
			if l.phase != c.phase {
				t.Errorf("%s --%T--> %s, want %s", from, c.ev, l.phase, c.phase)
			}
			if c.phase != phaseStopped {
				if got := l.next(); got != c.start {
					t.Errorf("then nextPass starts %q, want %q", got, c.start)
				}
			}
			if c.check != nil {
				c.check(t, l)
			}
		})
	}
}

// TestTargetedAllowedTerms: each term of targetedAllowed alone keeps a
// targeted pass from starting.
func TestTargetedAllowedTerms(t *testing.T) {
	base := func(l *loop) {
		settled(l)
		l.pulls["INBOX"] = nil
	}
	terms := map[string]func(l *loop){
		"no targeted work":             func(l *loop) { clear(l.pulls) },
		"a pass running":               func(l *loop) { l.phase = phaseRunning },
		"backing off":                  func(l *loop) { l.phase = phaseBackoff },
		"a full pass wanted":           func(l *loop) { l.pending = true },
		"a burst being debounced":      func(l *loop) { l.debouncing = true },
		"a directory changed":          func(l *loop) { l.dirtyTree = true },
		"a change without a file":      func(l *loop) { l.dirtyData = true },
		"changes of unknown extent":    func(l *loop) { l.checkAll = true },
		"message changes to look at":   func(l *loop) { l.checkMsgs["/x"] = "INBOX" },
		"local changes only (allowed)": nil,
	}
	db := testDB(t)
	for name, term := range terms {
		t.Run(name, func(t *testing.T) {
			l := newTestLoop(t, db)
			base(l.loop)
			if !l.targetedAllowed() {
				t.Fatal("the base state allows no targeted pass")
			}
			want := true
			if term != nil {
				term(l.loop)
				want = false
			} else {
				clear(l.pulls)
				l.locals = []syncer.LocalChange{{Folder: "INBOX", Path: "/x"}}
			}
			if got := l.targetedAllowed(); got != want {
				t.Errorf("targetedAllowed = %v, want %v", got, want)
			}
		})
	}
}

// TestTransitionTable: the phase machine alone.
func TestTransitionTable(t *testing.T) {
	fail := evPassDone{passResult{err: errDown}}
	cases := []struct {
		from phase
		ev   loopEvent
		to   phase
	}{
		{phaseIdle, evStart{}, phaseRunning},
		{phaseBackoff, evStart{}, phaseRunning},
		{phaseRunning, evPassDone{}, phaseIdle},
		{phaseRunning, fail, phaseBackoff},
		{phaseBackoff, evRetry{}, phaseIdle},
		{phaseIdle, evRetry{}, phaseIdle},
		{phaseRunning, evRetry{}, phaseRunning},
		{phaseIdle, evStop{}, phaseStopped},
		{phaseRunning, evStop{}, phaseStopped},
		{phaseBackoff, evStop{}, phaseStopped},
		{phaseIdle, evTrigger{}, phaseIdle},
		{phaseRunning, evTrigger{}, phaseRunning},
		{phaseBackoff, evWake{}, phaseBackoff},
		{phaseBackoff, evRequest{}, phaseBackoff},
		{phaseRunning, evLocal{}, phaseRunning},
		{phaseIdle, evQuiet{}, phaseIdle},
		{phaseBackoff, evPushed{}, phaseBackoff},
		{phaseIdle, evTick{}, phaseIdle},
		{phaseIdle, evWatcherClosed{}, phaseIdle},
	}
	for _, c := range cases {
		if got := transition(c.from, c.ev); got != c.to {
			t.Errorf("%s --%T--> %s, want %s", c.from, c.ev, got, c.to)
		}
	}
}

// TestReachOf: what a pass's error says about the server.
func TestReachOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want reach
	}{
		{nil, reachOK},
		{errDown, reachLost},
		{errAuth, reachAuthFailed},
		{fmt.Errorf("folder: %w", syncer.ErrLocal), reachOK},
	} {
		if got := reachOf(c.err); got != c.want {
			t.Errorf("reachOf(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// TestLoopFailRetryScenario: a pass fails; pushes and triggers wait for
// the retry, which is one full pass doing all of it.
func TestLoopFailRetryScenario(t *testing.T) {
	l := newTestLoop(t, testDB(t))
	step := func(ev loopEvent) {
		l.dispatch(ev)
		if s := l.nextPass(); s != nil {
			l.dispatch(s)
		}
	}
	step(evTrigger{}) // the first pass
	step(evPassDone{passResult{err: errDown}})
	step(evPushed{syncer.Pushed{Folder: "INBOX"}})
	step(evTrigger{})
	if len(l.started) != 1 || l.phase != phaseBackoff {
		t.Fatalf("%d passes started, phase %s; want 1 and backoff", len(l.started), l.phase)
	}
	step(evRetry{})
	if len(l.started) != 2 || l.started[1] != nil || l.phase != phaseRunning || len(l.pulls) != 0 {
		t.Fatalf("passes %v, phase %s, pulls %v; want a second, full pass that took the pulls", l.started, l.phase, l.pulls)
	}
	step(evPassDone{})
	if len(l.started) != 2 || l.phase != phaseIdle || l.reach != reachOK {
		t.Fatalf("passes %v, phase %s, reach %d; want idle and reached, no further pass", l.started, l.phase, l.reach)
	}
}
