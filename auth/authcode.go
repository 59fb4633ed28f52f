package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// randomString returns n random bytes encoded as unpadded base64url.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// pkceChallenge is the S256 code challenge of verifier (RFC 7636 4.2).
func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// callback is what the loopback listener received.
type callback struct {
	code string
	err  error
}

// CodeFlow runs the authorization code grant with PKCE (RFC 7636): it
// listens on a loopback port, sends the user's browser to the provider's
// authorization URL (opts.OpenBrowser, and the URL through opts.Prompt in
// any case), waits for the redirect back to the listener, checks its state
// and exchanges the code for tokens. It returns when the redirect came, or
// when ctx ends.
func CodeFlow(ctx context.Context, ep Endpoint, opts *FlowOptions) (*Token, error) {
	if ep.AuthURL == "" {
		return nil, errors.New("code flow: no authorization URL (oauth_auth_url)")
	}
	host := ep.RedirectHost
	if host == "" {
		host = "127.0.0.1"
	}
	listeners, err := listenLoopback(host)
	if err != nil {
		return nil, fmt.Errorf("code flow: %w", err)
	}
	port := listeners[0].Addr().(*net.TCPAddr).Port
	redirectURI := "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/"

	verifier := randomString(48) // 64 characters
	state := randomString(24)
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {ep.ClientID},
		"redirect_uri":          {redirectURI},
		"state":                 {state},
		"code_challenge":        {pkceChallenge(verifier)},
		"code_challenge_method": {"S256"},
		// Google gives a refresh token only with access_type=offline;
		// others ignore unknown parameters (RFC 6749 section 3.1).
		"access_type": {"offline"},
	}
	if len(ep.Scopes) > 0 {
		q.Set("scope", strings.Join(ep.Scopes, " "))
	}
	if opts != nil && opts.LoginHint != "" {
		q.Set("login_hint", opts.LoginHint)
	}
	authURL, err := url.Parse(ep.AuthURL)
	if err != nil {
		closeAll(listeners)
		return nil, fmt.Errorf("code flow: oauth_auth_url: %w", err)
	}
	if strings.EqualFold(authURL.Hostname(), "accounts.google.com") {
		// Without it Google sends no new refresh token to a client
		// the user approved before.
		q.Set("prompt", "consent")
	}
	for k, v := range authURL.Query() {
		if q.Get(k) == "" {
			q[k] = v
		}
	}
	authURL.RawQuery = q.Encode()

	results := make(chan callback, 1)
	var once sync.Once
	deliver := func(cb callback) { once.Do(func() { results <- cb }) }
	srv := &http.Server{
		Handler:           redirectHandler(state, deliver),
		ReadHeaderTimeout: 30 * time.Second,
	}
	for _, l := range listeners {
		go srv.Serve(l)
	}
	defer func() {
		// Let the browser receive its page before the listener goes.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()

	opts.prompt("To sign in, open this address in your browser (on this computer):\n%s", authURL.String())
	if opts != nil && opts.OpenBrowser != nil {
		if err := opts.OpenBrowser(authURL.String()); err != nil {
			opts.prompt("(could not open a browser: %v)", err)
		}
	}
	opts.prompt("Waiting for the browser to come back to %s ...", redirectURI)

	var cb callback
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("code flow: %w", ctx.Err())
	case cb = <-results:
	}
	if cb.err != nil {
		return nil, cb.err
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {cb.code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {verifier},
	}
	tr, err := postForm(ctx, opts.client(), "token", ep.TokenURL, ep, form)
	if err != nil {
		return nil, fmt.Errorf("code flow: %w", err)
	}
	return tr.token(opts.now())
}

// listenLoopback listens on a free port of host: 127.0.0.1, [::1], or for
// "localhost" 127.0.0.1 and, on the same port when free, ::1 (a browser
// may resolve localhost to either).
func listenLoopback(host string) ([]net.Listener, error) {
	switch host {
	case "localhost":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls := []net.Listener{l}
		port := l.Addr().(*net.TCPAddr).Port
		if l6, err := net.Listen("tcp", net.JoinHostPort("::1", strconv.Itoa(port))); err == nil {
			ls = append(ls, l6)
		}
		return ls, nil
	default:
		ip := net.ParseIP(strings.Trim(host, "[]"))
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("redirect host %q is not a loopback address", host)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
		if err != nil {
			return nil, err
		}
		return []net.Listener{l}, nil
	}
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}

// redirectHandler answers the browser's redirect. A request without the
// right state is answered with an error page and otherwise ignored, so a
// stray request cannot end the flow.
func redirectHandler(state string, deliver func(callback)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, page("Sign-in failed", "This answer does not belong to the sign-in mailmirror started (state mismatch). Run the command again."))
			return
		}
		if e := q.Get("error"); e != "" {
			pe := &ProviderError{Endpoint: "authorization", Code: e, Description: q.Get("error_description")}
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, page("Sign-in failed", "The provider said: "+pe.Error()))
			flush(w)
			deliver(callback{err: fmt.Errorf("code flow: %w", pe)})
			return
		}
		code := q.Get("code")
		if code == "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, page("Sign-in failed", "The answer holds no code."))
			flush(w)
			deliver(callback{err: errors.New("code flow: the redirect holds no code")})
			return
		}
		fmt.Fprint(w, page("Signed in", "mailmirror received the authorization. You can close this window."))
		flush(w)
		deliver(callback{code: code})
	})
}

// flush sends what the handler wrote so far.
func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

func page(title, text string) string {
	return "<!doctype html><html><head><meta charset=\"utf-8\"><title>mailmirror: " + html.EscapeString(title) +
		"</title></head><body><h1>" + html.EscapeString(title) + "</h1><p>" + html.EscapeString(text) + "</p></body></html>\n"
}

// OpenBrowser opens url in the user's default browser: xdg-open on Linux
// and the BSDs, open on macOS, the URL protocol handler on Windows. It
// returns once the opener started.
func OpenBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}
