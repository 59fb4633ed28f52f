package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mailmirror/mailmirror/auth"
	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/pop3pull"
	"github.com/mailmirror/mailmirror/syncer"
)

func init() {
	register("auth", "sign in to OAuth accounts (Gmail, Microsoft 365): login, status, logout", runAuth)
	registerSubs("auth", "login", "status", "logout")
}

// openBrowser opens the code flow's URL; tests replace it.
var openBrowser = auth.OpenBrowser

// loginTimeout bounds how long auth login waits for the user.
const loginTimeout = 15 * time.Minute

const authUsage = `usage: mailmirror auth login [--device | --browser] [--no-browser] [--no-check] ACCOUNT
       mailmirror auth status [--check] [ACCOUNT...]
       mailmirror auth logout ACCOUNT

login   signs in to the provider of an account with auth = "xoauth2" or
        "oauthbearer" and keeps the refresh token in the OS credential store
        (or, where there is none, in a file readable by you only in state_dir)
status  shows how each account signs in and whether a sign-in is stored;
        --check also obtains an access token
logout  removes the stored sign-in of an account
`

func runAuth(e *Env) int {
	if len(e.Args) == 0 {
		fmt.Fprint(e.Stderr, authUsage)
		return ExitUsage
	}
	sub := e.Args[0]
	e.Args = e.Args[1:]
	switch sub {
	case "login":
		return runAuthLogin(e)
	case "status":
		return runAuthStatus(e)
	case "logout":
		return runAuthLogout(e)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.Stdout, authUsage)
		return ExitOK
	default:
		fmt.Fprintf(e.Stderr, "mailmirror auth: unknown subcommand %q\n%s", sub, authUsage)
		return ExitUsage
	}
}

// oauthAccount loads the config and returns the named account, which must
// use the built-in OAuth client.
func oauthAccount(e *Env, cmd string) (*config.Config, *config.Account, int) {
	if len(e.Args) != 1 {
		fmt.Fprintf(e.Stderr, "mailmirror auth %s: name one account\n", cmd)
		return nil, nil, ExitUsage
	}
	cfg, err := config.Load(e.Config())
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror: %v\n", err)
		return nil, nil, ExitFailure
	}
	a := cfg.Account(e.Args[0])
	switch {
	case a == nil:
		fmt.Fprintf(e.Stderr, "mailmirror auth %s: no account named %q in %s\n", cmd, e.Args[0], e.Config())
		return nil, nil, ExitUsage
	case auth.MechanismOf(a.Auth) == "":
		fmt.Fprintf(e.Stderr, "mailmirror auth %s: account %q signs in with a password (auth = %q); set auth = \"xoauth2\" or \"oauthbearer\" (or provider) to use OAuth, see docs/oauth.md\n", cmd, a.Name, a.Auth)
		return nil, nil, ExitFailure
	case a.TokenCommand != "":
		fmt.Fprintf(e.Stderr, "mailmirror auth %s: account %q gets its access tokens from token_command; sign in with that helper\n", cmd, a.Name)
		return nil, nil, ExitFailure
	}
	return cfg, a, ExitOK
}

func runAuthLogin(e *Env) int {
	fs := e.Flags("auth login", "auth login [--device | --browser] [--no-browser] [--no-check] ACCOUNT")
	device := fs.Bool("device", false, "use the device flow: enter a code in any browser, also on another device (needs oauth_device_url)")
	browser := fs.Bool("browser", false, "use the browser flow with a redirect to this computer (needs oauth_auth_url)")
	noBrowser := fs.Bool("no-browser", false, "do not open a browser; only print the address to open")
	noCheck := fs.Bool("no-check", false, "do not log in to the mail server afterwards to check the sign-in")
	if ok, code := e.Parse(fs); !ok {
		return code
	}
	if *device && *browser {
		fmt.Fprintln(e.Stderr, "mailmirror auth login: --device and --browser exclude each other")
		return ExitUsage
	}
	cfg, acct, code := oauthAccount(e, "login")
	if acct == nil {
		return code
	}
	ep := auth.EndpointOf(acct)
	useDevice := ep.DeviceURL != ""
	switch {
	case *device && ep.DeviceURL == "":
		fmt.Fprintf(e.Stderr, "mailmirror auth login: account %q has no oauth_device_url: the provider offers no device flow (use the browser flow)\n", acct.Name)
		return ExitFailure
	case *browser && ep.AuthURL == "":
		fmt.Fprintf(e.Stderr, "mailmirror auth login: account %q has no oauth_auth_url (use the device flow)\n", acct.Name)
		return ExitFailure
	case *device:
		useDevice = true
	case *browser:
		useDevice = false
	}
	store, err := auth.OpenStore(cfg.StateDir)
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror auth login: %v\n", err)
		return ExitFailure
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	opts := &auth.FlowOptions{
		LoginHint: acct.Username,
		Prompt:    func(msg string) { fmt.Fprintln(e.Stdout, msg) },
	}
	if !*noBrowser {
		opts.OpenBrowser = openBrowser
	}
	fmt.Fprintf(e.Stdout, "Signing in account %q (%s at %s).\n", acct.Name, acct.Username, acct.Host)
	var tok *auth.Token
	if useDevice {
		tok, err = auth.DeviceFlow(ctx, ep, opts)
	} else {
		tok, err = auth.CodeFlow(ctx, ep, opts)
	}
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror auth login: %s: %v\n", acct.Name, err)
		return ExitFailure
	}
	if tok.RefreshToken == "" {
		fmt.Fprintf(e.Stderr, "mailmirror auth login: %s: the provider gave an access token but no refresh token, so mailmirror could not renew it (Microsoft needs the scope offline_access; see docs/oauth.md)\n", acct.Name)
		return ExitFailure
	}
	loc, err := store.Save(ctx, acct.Name, &auth.Grant{
		RefreshToken: tok.RefreshToken, Username: acct.Username, ClientID: ep.ClientID,
		TokenURL: ep.TokenURL, Scopes: ep.Scopes, Obtained: time.Now(),
	})
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror auth login: %s: %v\n", acct.Name, err)
		return ExitFailure
	}
	fmt.Fprintf(e.Stdout, "Signed in. The sign-in of %q is kept in %s.\n", acct.Name, loc)
	if loc.Fallback != "" {
		fmt.Fprintf(e.Stdout, "Note: the OS credential store could not be used (%s),\nso the refresh token is in a file readable by you only: %s\nAnyone who can read that file can read your mail until you sign out (mailmirror auth logout %s).\n",
			loc.Fallback, loc.Path, acct.Name)
	}
	if *noCheck {
		return ExitOK
	}
	// Log in once with a fresh token from the stored sign-in.
	src, err := auth.NewSource(acct, store)
	if err == nil {
		err = checkLogin(ctx, acct, src)
	}
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror auth login: %s: the sign-in is stored, but logging in to %s failed: %v\n", acct.Name, acct.Address(), err)
		return ExitFailure
	}
	fmt.Fprintf(e.Stdout, "Logged in to %s as %s with %s: ok.\n", acct.Address(), acct.Username, auth.MechanismOf(acct.Auth))
	return ExitOK
}

// checkLogin logs in to the account's server once with tokens from src.
func checkLogin(ctx context.Context, acct *config.Account, src auth.Source) error {
	if acct.Protocol == config.ProtocolPOP3 {
		defer auth.Register(acct, src)()
		c, err := pop3pull.DialAccount(ctx, acct, 0)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Login(acct.Username, ""); err != nil {
			return err
		}
		return c.Quit()
	}
	c, err := syncer.Dial(ctx, acct, syncer.DialOptions{OAuth: src})
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Logout().Wait()
}

func runAuthStatus(e *Env) int {
	fs := e.Flags("auth status", "auth status [--check] [ACCOUNT...]")
	check := fs.Bool("check", false, "also obtain an access token for each OAuth account (a refresh, or a run of token_command)")
	if ok, code := e.Parse(fs); !ok {
		return code
	}
	cfg, accts, code := e.loadAccounts("auth status")
	if code != ExitOK {
		return code
	}
	store, err := auth.OpenStore(cfg.StateDir)
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror auth status: %v\n", err)
		return ExitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code = ExitOK
	for _, a := range accts {
		if !printAuthStatus(ctx, e.Stdout, e.Stderr, a, store, *check) {
			code = ExitFailure
		}
	}
	return code
}

// printAuthStatus prints one account's sign-in state; false means it is
// not usable (no sign-in, or the check failed).
func printAuthStatus(ctx context.Context, w, errw io.Writer, a *config.Account, store auth.Store, check bool) bool {
	mech := auth.MechanismOf(a.Auth)
	if mech == "" {
		fmt.Fprintf(w, "%s: password (auth = %q)\n", a.Name, a.Auth)
		return true
	}
	var src auth.Source
	if a.TokenCommand != "" {
		fmt.Fprintf(w, "%s: %s, access tokens from token_command\n", a.Name, mech)
		src = &auth.CommandSource{Account: a.Name, Command: a.TokenCommand}
	} else {
		g, loc, err := store.Load(ctx, a.Name)
		switch {
		case errors.Is(err, auth.ErrNotFound):
			fmt.Fprintf(w, "%s: %s, not signed in: run \"mailmirror auth login %s\"\n", a.Name, mech, a.Name)
			return false
		case err != nil:
			fmt.Fprintf(w, "%s: %s, the stored sign-in cannot be read: %v\n", a.Name, mech, err)
			return false
		}
		when := "at an unknown time"
		if !g.Obtained.IsZero() {
			when = "on " + g.Obtained.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(w, "%s: %s, signed in %s as %s, kept in %s\n", a.Name, mech, when, g.Username, loc)
		src = &auth.OAuthSource{Account: a.Name, Username: a.Username, Endpoint: auth.EndpointOf(a), Store: store}
	}
	if !check {
		return true
	}
	if _, err := src.Token(ctx); err != nil {
		fmt.Fprintf(w, "  access token: failed\n")
		fmt.Fprintf(errw, "mailmirror auth status: %v\n", err)
		return false
	}
	if s, ok := src.(*auth.OAuthSource); ok && !s.Expiry().IsZero() {
		fmt.Fprintf(w, "  access token: ok (valid for %s)\n", time.Until(s.Expiry()).Round(time.Minute))
	} else {
		fmt.Fprintf(w, "  access token: ok\n")
	}
	return true
}

func runAuthLogout(e *Env) int {
	fs := e.Flags("auth logout", "auth logout ACCOUNT")
	if ok, code := e.Parse(fs); !ok {
		return code
	}
	cfg, acct, code := oauthAccount(e, "logout")
	if acct == nil {
		return code
	}
	store, err := auth.OpenStore(cfg.StateDir)
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror auth logout: %v\n", err)
		return ExitFailure
	}
	if err := store.Delete(context.Background(), acct.Name); err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror auth logout: %s: %v\n", acct.Name, err)
		return ExitFailure
	}
	fmt.Fprintf(e.Stdout, "Signed out of %q: the stored sign-in is removed. The provider still lists mailmirror's access until you revoke it there.\n", acct.Name)
	return ExitOK
}
