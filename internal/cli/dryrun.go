package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/syncer"
)

// allowList is the --allow-deletes flag: ACCOUNT or ACCOUNT/FOLDER, repeatable.
type allowList []allowEntry

type allowEntry struct {
	raw, account, folder string // folder "" = every folder
}

func (l *allowList) String() string {
	var parts []string
	for _, a := range *l {
		parts = append(parts, a.raw)
	}
	return strings.Join(parts, ",")
}

func (l *allowList) Set(v string) error {
	acct, folder, _ := strings.Cut(v, "/")
	if acct == "" {
		return fmt.Errorf("want ACCOUNT or ACCOUNT/FOLDER, got %q", v)
	}
	*l = append(*l, allowEntry{raw: v, account: acct, folder: folder})
	return nil
}

// folders returns the folders of account the flag names ("" for all), or
// nil when it names none.
func (l allowList) folders(account string) []string {
	var out []string
	for _, a := range l {
		if a.account == account {
			out = append(out, a.folder)
		}
	}
	return out
}

// dryRunSync prints the plan of a pass for every IMAP account and changes
// nothing. The state is opened read-only (it works while the daemon runs);
// when there is none yet, an empty one in a temporary directory stands in.
func dryRunSync(ctx context.Context, e *Env, cfg *config.Config, accts []*config.Account) int {
	var db *state.DB
	var err error
	if _, serr := os.Stat(filepath.Join(cfg.StateDir, state.FileName)); serr == nil {
		db, err = state.OpenReadOnly(cfg.StateDir)
	} else {
		tmp, terr := os.MkdirTemp("", "mailmirror-dry-run-")
		if terr != nil {
			fmt.Fprintf(e.Stderr, "mailmirror sync: %v\n", terr)
			return ExitFailure
		}
		defer os.RemoveAll(tmp)
		db, err = state.Open(tmp)
	}
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror sync: %v\n", err)
		return ExitFailure
	}
	defer db.Close()
	failed := false
	for _, a := range accts {
		if a.Protocol != config.ProtocolIMAP {
			fmt.Fprintf(e.Stdout, "%s: %s account: --dry-run shows IMAP accounts only; skipped\n", a.Name, a.Protocol)
			continue
		}
		st, err := syncer.SyncAccount(ctx, a, db, syncer.Options{DryRun: true})
		if err != nil {
			failed = true
			fmt.Fprintf(e.Stderr, "%s\n", explain(a, err))
			continue
		}
		st.Plan.Write(e.Stdout, a.Name)
		for _, w := range st.Warnings {
			fmt.Fprintf(e.Stdout, "%s: warning: %s\n", a.Name, w)
		}
	}
	if failed {
		return ExitFailure
	}
	return ExitOK
}
