package auth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/auth"
	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv/oauthfake"
)

func endpoint(srv *oauthfake.Server) auth.Endpoint {
	return auth.Endpoint{ClientID: srv.ClientID(), AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL(),
		DeviceURL: srv.DeviceURL(), Scopes: []string{"mail", "offline_access"}}
}

// prompts collects what a flow tells the user.
type prompts struct {
	mu   sync.Mutex
	msgs []string
}

func (p *prompts) add(m string) { p.mu.Lock(); p.msgs = append(p.msgs, m); p.mu.Unlock() }
func (p *prompts) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.msgs, "\n")
}

// userCode finds the code the device flow showed.
func (p *prompts) userCode(t *testing.T) string {
	t.Helper()
	text := p.text()
	i := strings.Index(text, "enter the code ")
	if i < 0 {
		t.Fatalf("no user code in %q", text)
	}
	return strings.TrimRight(strings.Fields(text[i+len("enter the code "):])[0], ").,")
}

// TestDeviceFlow: the user opens the verification URI and approves after
// the first poll; the flow waits (authorization_pending) and then gets
// tokens for that user.
func TestDeviceFlow(t *testing.T) {
	srv := oauthfake.New(t, nil)
	var p prompts
	sleeps := 0
	opts := &auth.FlowOptions{
		Prompt: p.add,
		Sleep: func(ctx context.Context, d time.Duration) error {
			sleeps++
			if sleeps > 10 {
				return errors.New("too many polls")
			}
			if sleeps == 2 {
				// The user approves, with the form of the verification page.
				resp, err := http.PostForm(srv.VerifyURL(), url.Values{"user_code": {p.userCode(t)}, "user": {"alice"}})
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return errors.New("approval: " + resp.Status)
				}
			}
			return ctx.Err()
		},
	}
	tok, err := auth.DeviceFlow(context.Background(), endpoint(srv), opts)
	if err != nil {
		t.Fatal(err)
	}
	if user, err := srv.Active(tok.AccessToken.Reveal()); err != nil || user != "alice" {
		t.Errorf("access token: user %q, %v", user, err)
	}
	if tok.RefreshToken == "" || tok.Expiry.IsZero() || tok.Scope != "mail offline_access" {
		t.Errorf("token = %+v (refresh set %v)", tok, tok.RefreshToken != "")
	}
	if st := srv.Stats(); st.PendingPolls != 1 || st.DeviceGrants != 1 {
		t.Errorf("stats %+v, want 1 pending poll and 1 grant", st)
	}
	if !strings.Contains(p.text(), srv.VerifyURL()) {
		t.Errorf("prompt %q does not show the verification URI", p.text())
	}
}

func TestDeviceFlowDeniedAndExpired(t *testing.T) {
	srv := oauthfake.New(t, nil)
	for _, tc := range []struct {
		name string
		act  func(code string) error
		want string
	}{
		{"denied", srv.DenyDevice, "the sign-in was denied"},
		{"expired", srv.ExpireDevice, "the code expired before it was approved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p prompts
			opts := &auth.FlowOptions{Prompt: p.add, Sleep: func(ctx context.Context, d time.Duration) error {
				return tc.act(p.userCode(t))
			}}
			_, err := auth.DeviceFlow(context.Background(), endpoint(srv), opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// browser follows the authorization URL like a browser: the fake server
// approves and redirects to the loopback listener. It returns the page the
// listener showed.
type browser struct {
	mu    sync.Mutex
	pages []string
	wg    sync.WaitGroup
	// before runs before the real request, with the authorization URL.
	before func(authURL string)
}

func (b *browser) open(u string) error {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if b.before != nil {
			b.before(u)
		}
		resp, err := http.Get(u)
		if err != nil {
			b.add("error: " + err.Error())
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		b.add(string(body))
	}()
	return nil
}

func (b *browser) add(s string) { b.mu.Lock(); b.pages = append(b.pages, s); b.mu.Unlock() }

func (b *browser) page() string {
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.pages, "\n")
}

// TestCodeFlow runs the authorization code flow with PKCE through a test
// browser that follows the redirect to the loopback listener.
func TestCodeFlow(t *testing.T) {
	for _, host := range []string{"", "localhost"} {
		t.Run("redirect host "+host, func(t *testing.T) {
			srv := oauthfake.New(t, nil)
			ep := endpoint(srv)
			ep.RedirectHost = host
			var b browser
			var p prompts
			tok, err := auth.CodeFlow(context.Background(), ep, &auth.FlowOptions{OpenBrowser: b.open, Prompt: p.add, LoginHint: "bob@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if user, err := srv.Active(tok.AccessToken.Reveal()); err != nil || user != "bob@example.com" {
				t.Errorf("access token: user %q, %v", user, err)
			}
			if tok.RefreshToken == "" {
				t.Error("no refresh token")
			}
			if page := b.page(); !strings.Contains(page, "Signed in") {
				t.Errorf("the browser showed %q", page)
			}
			if st := srv.Stats(); st.CodeGrants != 1 {
				t.Errorf("stats %+v", st)
			}
			wantHost := "127.0.0.1"
			if host != "" {
				wantHost = host
			}
			if !strings.Contains(p.text(), "redirect_uri=http%3A%2F%2F"+wantHost+"%3A") {
				t.Errorf("prompt %q: the redirect URI is not on %s", p.text(), wantHost)
			}
		})
	}
}

// TestCodeFlowStateMismatch: a request to the listener with another state
// is refused and does not end the flow.
func TestCodeFlowStateMismatch(t *testing.T) {
	srv := oauthfake.New(t, nil)
	var forged string
	b := &browser{before: func(authURL string) {
		u, _ := url.Parse(authURL)
		redirect := u.Query().Get("redirect_uri")
		resp, err := http.Get(redirect + "?code=stolen&state=wrong")
		if err != nil {
			forged = err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		forged = resp.Status + " " + string(body)
	}}
	tok, err := auth.CodeFlow(context.Background(), endpoint(srv), &auth.FlowOptions{OpenBrowser: b.open})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Active(tok.AccessToken.Reveal()); err != nil {
		t.Error(err)
	}
	b.page()
	if !strings.HasPrefix(forged, "400") || !strings.Contains(forged, "state mismatch") {
		t.Errorf("the forged redirect got %q", forged)
	}
}

func TestCodeFlowDenied(t *testing.T) {
	srv := oauthfake.New(t, nil)
	srv.DenyNextAuthorization()
	var b browser
	_, err := auth.CodeFlow(context.Background(), endpoint(srv), &auth.FlowOptions{OpenBrowser: b.open})
	var pe *auth.ProviderError
	if !errors.As(err, &pe) || pe.Code != "access_denied" {
		t.Errorf("err = %v, want access_denied", err)
	}
	if page := b.page(); !strings.Contains(page, "Sign-in failed") {
		t.Errorf("the browser showed %q", page)
	}
}

// TestCodeFlowCancelled: the user never comes back; ctx ends the wait.
func TestCodeFlowCancelled(t *testing.T) {
	srv := oauthfake.New(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := auth.CodeFlow(ctx, endpoint(srv), &auth.FlowOptions{OpenBrowser: func(string) error { cancel(); return nil }})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestClientSecret: a confidential client sends its secret; a wrong one
// is refused without the secret in the error.
func TestClientSecret(t *testing.T) {
	srv := oauthfake.New(t, &oauthfake.Options{ClientSecret: "right-secret"})
	_, rt := srv.Issue("carol")
	ep := endpoint(srv)
	ep.ClientSecret = "wrong-secret"
	_, err := auth.Refresh(context.Background(), nil, ep, config.Secret(rt), time.Now())
	var pe *auth.ProviderError
	if !errors.As(err, &pe) || pe.Code != "invalid_client" {
		t.Fatalf("err = %v, want invalid_client", err)
	}
	if strings.Contains(err.Error(), "secret-") || strings.Contains(err.Error(), rt) {
		t.Errorf("error shows a secret: %v", err)
	}
	ep.ClientSecret = "right-secret"
	tok, err := auth.Refresh(context.Background(), nil, ep, config.Secret(rt), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if user, err := srv.Active(tok.AccessToken.Reveal()); err != nil || user != "carol" {
		t.Errorf("user %q, %v", user, err)
	}
}

// TestRotatedRefreshToken: a provider that rotates refresh tokens; the new
// one is stored and used next time.
func TestRotatedRefreshToken(t *testing.T) {
	srv := oauthfake.New(t, &oauthfake.Options{RotateRefreshTokens: true})
	_, rt := srv.Issue("dave")
	store := &auth.FileStore{Dir: t.TempDir()}
	ep := endpoint(srv)
	if _, err := store.Save(context.Background(), "acct", &auth.Grant{RefreshToken: config.Secret(rt), Username: "dave", ClientID: ep.ClientID, TokenURL: ep.TokenURL}); err != nil {
		t.Fatal(err)
	}
	src := &auth.OAuthSource{Account: "acct", Username: "dave", Endpoint: ep, Store: store}
	for i := 0; i < 3; i++ {
		tok, err := src.Token(context.Background())
		if err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		if user, err := srv.Active(tok.Reveal()); err != nil || user != "dave" {
			t.Errorf("token %d: user %q, %v", i, user, err)
		}
		src.Reject(tok)
	}
	g, _, err := store.Load(context.Background(), "acct")
	if err != nil {
		t.Fatal(err)
	}
	if g.RefreshToken == config.Secret(rt) {
		t.Error("the rotated refresh token was not stored")
	}
	if st := srv.Stats(); st.Refreshes != 3 || st.RefusedRefresh != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestStoredGrantMismatch: a sign-in made with another client or for
// another user needs a new sign-in.
func TestStoredGrantMismatch(t *testing.T) {
	srv := oauthfake.New(t, nil)
	_, rt := srv.Issue("erin")
	ep := endpoint(srv)
	for _, tc := range []struct {
		name string
		g    auth.Grant
		want string
	}{
		{"client", auth.Grant{RefreshToken: config.Secret(rt), Username: "erin", ClientID: "other", TokenURL: ep.TokenURL}, "another OAuth client"},
		{"user", auth.Grant{RefreshToken: config.Secret(rt), Username: "frank", ClientID: ep.ClientID, TokenURL: ep.TokenURL}, `made for username "frank"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &auth.FileStore{Dir: t.TempDir()}
			if _, err := store.Save(context.Background(), "acct", &tc.g); err != nil {
				t.Fatal(err)
			}
			src := &auth.OAuthSource{Account: "acct", Username: "erin", Endpoint: ep, Store: store}
			_, err := src.Token(context.Background())
			if !errors.Is(err, auth.ErrLoginRequired) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrLoginRequired with %q", err, tc.want)
			}
		})
	}
}
