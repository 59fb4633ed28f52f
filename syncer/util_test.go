package syncer

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

func time_(t *testing.T) time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }

func newRand(t *testing.T) *rand.Rand { return rand.New(rand.NewPCG(3, uint64(len(t.Name())))) }

// openTestAccount parses a config text (name is the file name its errors
// give) and opens its first account's Maildir and the state, which is
// closed when the test ends.
func openTestAccount(t testing.TB, text, name string) (*config.Account, *maildir.Store, *state.DB) {
	t.Helper()
	cfg, err := config.Parse([]byte(text), name)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Accounts[0]
	store, err := maildir.Open(a.Maildir, a.Layout)
	if err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return a, store, db
}
