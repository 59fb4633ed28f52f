package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/mailmirror/mailmirror/auth"
	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/tags"
)

func init() {
	register("check", "validate the config and print one line per account", runCheck)
}

// runCheck loads and validates the config, then signs in to every
// account's server. It prints one summary line per account on stdout, or
// every problem on stderr (with a hint when the port or TLS mode looks
// wrong) and exits 1. With --offline it only validates; --secrets then
// also obtains each password (running password_command) and reports ok or
// failed, never the password.
func runCheck(e *Env) int {
	fs := e.Flags("check", "check [--config FILE] [--offline [--secrets]]")
	secrets := fs.Bool("secrets", false, "with --offline: also obtain each account's password (runs password_command) and report ok or failed")
	offline := fs.Bool("offline", false, "only validate the file: do not connect to the servers")
	if ok, code := e.Parse(fs); !ok {
		return code
	}
	if len(e.Args) > 0 {
		fmt.Fprintf(e.Stderr, "mailmirror check: unexpected argument %q\n", e.Args[0])
		fs.Usage()
		return ExitUsage
	}
	path := e.Config()
	cfg, err := config.Load(path)
	if err != nil {
		var list config.ErrorList
		if errors.As(err, &list) {
			for _, p := range list {
				fmt.Fprintln(e.Stderr, p)
			}
			s := "s"
			if len(list) == 1 {
				s = ""
			}
			fmt.Fprintf(e.Stderr, "mailmirror check: %s: %d problem%s\n", path, len(list), s)
		} else {
			fmt.Fprintf(e.Stderr, "mailmirror check: %v\n", err)
		}
		return ExitFailure
	}
	if len(cfg.Accounts) == 0 {
		fmt.Fprintf(e.Stdout, "%s: no accounts (the daemon will wait)\n", path)
		return ExitOK
	}
	if !*offline {
		return checkOnline(e, cfg)
	}
	code := ExitOK
	for _, a := range cfg.Accounts {
		line := accountSummary(a)
		if *secrets {
			what, err := checkSecret(a)
			if err != nil {
				line += " " + what + "=failed"
				fmt.Fprintf(e.Stderr, "mailmirror check: %s\n", accountError(a.Name, err))
				code = ExitFailure
			} else {
				line += " " + what + "=ok"
			}
		}
		suffix, ok := checkTags(e, a)
		if !ok {
			code = ExitFailure
		}
		fmt.Fprintln(e.Stdout, line+suffix)
	}
	return code
}

// checkTags checks the notmuch side of tags = "notmuch": notmuch is found
// and the Maildir is under its database path. It returns what to add to
// the account's line ("" without tags) and prints the problem on stderr.
func checkTags(e *Env, a *config.Account) (string, bool) {
	if a.Tags == "" {
		return "", true
	}
	if _, err := tags.Check(context.Background(), a.Maildir); err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror check: account %q: tags: %v\n", a.Name, err)
		return " tags=failed", false
	}
	return " tags=" + a.Tags, true
}

// checkOnline signs in to every account's server, one after the other,
// and prints the summary line with "signed in" or "failed", the error and
// a hint on stderr.
func checkOnline(e *Env, cfg *config.Config) int {
	code := ExitOK
	for _, a := range cfg.Accounts {
		suffix, ok := checkTags(e, a)
		if !ok {
			code = ExitFailure
		}
		hint, err := signIn(context.Background(), a)
		if err != nil {
			fmt.Fprintln(e.Stdout, accountSummary(a)+" sign-in=failed"+suffix)
			fmt.Fprintf(e.Stderr, "mailmirror check: %s\n", accountError(a.Name, err))
			if hint != "" {
				fmt.Fprintf(e.Stderr, "mailmirror check: hint: %s\n", hint)
			}
			code = ExitFailure
			continue
		}
		fmt.Fprintln(e.Stdout, accountSummary(a)+" sign-in=ok"+suffix)
	}
	return code
}

// accountSummary is the line check prints for an account:
//
//	work: imap user@imap.example.com:993 tls=implicit maildir=/home/u/Mail/work layout=verbatim
func accountSummary(a *config.Account) string {
	return fmt.Sprintf("%s: %s %s@%s tls=%s maildir=%s layout=%s",
		a.Name, a.Protocol, a.Username, a.Address(), a.TLS, a.Maildir, a.Layout)
}

// checkSecret obtains an account's password, or its OAuth access token,
// and says which it was. The value itself is dropped.
func checkSecret(a *config.Account) (string, error) {
	ctx := context.Background()
	if a.Auth == "xoauth2" || a.Auth == "oauthbearer" {
		src, err := auth.ForAccount(a)
		if err == nil {
			_, err = src.Token(ctx)
		}
		return "token", err
	}
	_, err := a.ResolvePassword(ctx)
	return "password", err
}
