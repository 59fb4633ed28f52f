package oauthfake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func post(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, m
}

func TestIntrospectAndRefresh(t *testing.T) {
	s := New(t, &Options{RotateRefreshTokens: true})
	at, rt := s.Issue("alice", "mail")
	_, m := post(t, s.IntrospectURL(), url.Values{"token": {at}})
	if m["active"] != true || m["username"] != "alice" {
		t.Errorf("introspection of a fresh token: %v", m)
	}
	s.ExpireAccessTokens()
	if _, m := post(t, s.IntrospectURL(), url.Values{"token": {at}}); m["active"] != false {
		t.Errorf("introspection of an expired token: %v", m)
	}
	code, m := post(t, s.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {s.ClientID()}})
	newRT, _ := m["refresh_token"].(string)
	if code != 200 || m["access_token"] == nil || newRT == "" || newRT == rt {
		t.Fatalf("refresh: %d %v", code, m)
	}
	// The old refresh token was rotated away.
	if code, m := post(t, s.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {s.ClientID()}}); code != 400 || m["error"] != "invalid_grant" {
		t.Errorf("old refresh token: %d %v", code, m)
	}
	s.RevokeUser("alice")
	if code, m := post(t, s.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {newRT}, "client_id": {s.ClientID()}}); code != 400 || m["error"] != "invalid_grant" {
		t.Errorf("revoked refresh token: %d %v", code, m)
	}
	if code, m := post(t, s.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {newRT}, "client_id": {"other"}}); code != 401 || m["error"] != "invalid_client" {
		t.Errorf("unknown client: %d %v", code, m)
	}
	if st := s.Stats(); st.Refreshes != 1 || st.RefusedRefresh != 2 || st.ActiveAnswers != 1 || st.InactiveAnswers != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestPKCE: the code is redeemed only with the verifier of the challenge
// and the same redirect URI, once.
func TestPKCE(t *testing.T) {
	s := New(t, nil)
	verifier := strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {s.ClientID()}, "redirect_uri": {"http://127.0.0.1:9/"},
		"state": {"st"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}, "login_hint": {"bob"}}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	code := func() string {
		resp, err := client.Get(s.AuthURL() + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc.Query().Get("state") != "st" || loc.Query().Get("code") == "" {
			t.Fatalf("authorize: %s %s", resp.Status, loc)
		}
		return loc.Query().Get("code")
	}
	redeem := func(c, verifier, redirect string) (int, map[string]any) {
		return post(t, s.TokenURL(), url.Values{"grant_type": {"authorization_code"}, "code": {c}, "code_verifier": {verifier},
			"redirect_uri": {redirect}, "client_id": {s.ClientID()}})
	}
	if st, m := redeem(code(), "wrong", "http://127.0.0.1:9/"); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("wrong verifier: %d %v", st, m)
	}
	if st, m := redeem(code(), verifier, "http://127.0.0.1:10/"); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("other redirect URI: %d %v", st, m)
	}
	c := code()
	st, m := redeem(c, verifier, "http://127.0.0.1:9/")
	if st != 200 {
		t.Fatalf("redeem: %d %v", st, m)
	}
	if user, err := s.Active(m["access_token"].(string)); err != nil || user != "bob" {
		t.Errorf("token for %q: %v", user, err)
	}
	if st, _ := redeem(c, verifier, "http://127.0.0.1:9/"); st != 400 {
		t.Errorf("a code was redeemed twice")
	}
	// A redirect URI that is not loopback is refused without a redirect.
	q.Set("redirect_uri", "https://evil.example.com/")
	resp, err := client.Get(s.AuthURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("non-loopback redirect: %s", resp.Status)
	}
}

func TestDevicePending(t *testing.T) {
	s := New(t, nil)
	_, m := post(t, s.DeviceURL(), url.Values{"client_id": {s.ClientID()}, "scope": {"mail"}})
	dc, uc := m["device_code"].(string), m["user_code"].(string)
	poll := func() (int, map[string]any) {
		return post(t, s.TokenURL(), url.Values{"grant_type": {GrantDeviceCode}, "device_code": {dc}, "client_id": {s.ClientID()}})
	}
	if st, m := poll(); st != 400 || m["error"] != "authorization_pending" {
		t.Errorf("before approval: %d %v", st, m)
	}
	if err := s.ApproveDevice(uc, "carol"); err != nil {
		t.Fatal(err)
	}
	st, m := poll()
	if st != 200 {
		t.Fatalf("after approval: %d %v", st, m)
	}
	if user, err := s.Active(m["access_token"].(string)); err != nil || user != "carol" {
		t.Errorf("token for %q: %v", user, err)
	}
	if st, _ := poll(); st != 400 {
		t.Error("a device code was redeemed twice")
	}
}
