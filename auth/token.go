package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mailmirror/mailmirror/config"
)

// Token is what a token endpoint granted.
type Token struct {
	AccessToken  config.Secret
	RefreshToken config.Secret // "" when the provider sent none (a refresh that keeps the old one)
	Expiry       time.Time     // zero when the provider did not say
	Scope        string        // granted scopes, space separated, when the provider said
}

// ErrLoginRequired is wrapped by errors that only a new sign-in (mailmirror
// auth login ACCOUNT) can cure: no refresh token stored, or the provider
// refused it (expired, revoked, or issued to another client).
var ErrLoginRequired = errors.New("sign-in required")

// ProviderError is an error response of an OAuth 2.0 endpoint (RFC 6749
// section 5.2, RFC 8628 section 3.5).
type ProviderError struct {
	Endpoint    string // "token", "device authorization"
	Status      int    // HTTP status
	Code        string // "invalid_grant", "authorization_pending", ...
	Description string // error_description, when given
}

// Error implements the error interface.
func (e *ProviderError) Error() string {
	s := fmt.Sprintf("%s endpoint: %s", e.Endpoint, e.Code)
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// maxResponse bounds what is read of an endpoint's answer.
const maxResponse = 1 << 20

// defaultHTTPTimeout bounds one request to an OAuth endpoint when the
// caller gave no http.Client.
const defaultHTTPTimeout = 60 * time.Second

func httpClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{Timeout: defaultHTTPTimeout}
}

// tokenResponse is the JSON of a token or device authorization response.
type tokenResponse struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    flexInt   `json:"expires_in"`
	Scope        flexScope `json:"scope"`

	// Device authorization (RFC 8628 3.2); Google says verification_url.
	DeviceCode              string  `json:"device_code"`
	UserCode                string  `json:"user_code"`
	VerificationURI         string  `json:"verification_uri"`
	VerificationURL         string  `json:"verification_url"`
	VerificationURIComplete string  `json:"verification_uri_complete"`
	Interval                flexInt `json:"interval"`
	Message                 string  `json:"message"`

	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// flexInt accepts a JSON number or a string holding one (some providers
// send "3600").
type flexInt struct {
	N   int64
	Set bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		return nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number")
	}
	f.N, f.Set = int64(n), true
	return nil
}

// flexScope accepts a space-separated string or an array of strings.
type flexScope string

func (f *flexScope) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexScope(s)
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("scope: not a string or an array of strings")
	}
	*f = flexScope(strings.Join(l, " "))
	return nil
}

// postForm sends an application/x-www-form-urlencoded POST to an endpoint
// with the client's credentials and decodes the JSON answer. An OAuth
// error answer is returned as *ProviderError. Errors never contain the
// form's values or the answer's tokens.
func postForm(ctx context.Context, hc *http.Client, what, endpoint string, ep Endpoint, form url.Values) (*tokenResponse, error) {
	form.Set("client_id", ep.ClientID)
	if ep.ClientSecret != "" {
		form.Set("client_secret", ep.ClientSecret.Reveal())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%s endpoint: %w", what, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := httpClient(hc).Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s endpoint: %w", what, redactURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("%s endpoint %s: reading the answer: %w", what, endpoint, err)
	}
	var tr tokenResponse
	jsonErr := json.Unmarshal(body, &tr)
	if jsonErr == nil && tr.Error != "" {
		return nil, &ProviderError{Endpoint: what, Status: resp.StatusCode, Code: tr.Error, Description: tr.ErrorDescription}
	}
	if resp.StatusCode != http.StatusOK {
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		return nil, fmt.Errorf("%s endpoint %s answered %s (%s)", what, endpoint, resp.Status, ct)
	}
	if jsonErr != nil {
		return nil, fmt.Errorf("%s endpoint %s: the answer is not valid JSON", what, endpoint)
	}
	return &tr, nil
}

// redactURLError keeps the operation and the cause of a *url.Error but
// not the URL's query, which could hold a code.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		u, perr := url.Parse(ue.URL)
		if perr == nil {
			u.RawQuery, u.User = "", nil
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}

// token converts a token response, checking it holds an access token.
func (tr *tokenResponse) token(now time.Time) (*Token, error) {
	if tr.AccessToken == "" {
		return nil, errors.New("token endpoint: the answer holds no access_token")
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return nil, fmt.Errorf("token endpoint: token_type %q is not Bearer", tr.TokenType)
	}
	t := &Token{
		AccessToken:  config.Secret(tr.AccessToken),
		RefreshToken: config.Secret(tr.RefreshToken),
		Scope:        string(tr.Scope),
	}
	if tr.ExpiresIn.Set && tr.ExpiresIn.N > 0 {
		t.Expiry = now.Add(time.Duration(tr.ExpiresIn.N) * time.Second)
	}
	return t, nil
}

// Refresh exchanges a refresh token for a new access token (RFC 6749
// section 6). The answer's RefreshToken is set when the provider rotated
// it. A refused refresh token gives a *ProviderError with Code
// "invalid_grant". hc nil means a client with a 60 s timeout.
func Refresh(ctx context.Context, hc *http.Client, ep Endpoint, refreshToken config.Secret, now time.Time) (*Token, error) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken.Reveal()},
	}
	tr, err := postForm(ctx, hc, "token", ep.TokenURL, ep, form)
	if err != nil {
		return nil, err
	}
	return tr.token(now)
}
