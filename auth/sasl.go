package auth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/emersion/go-sasl"

	"github.com/mailmirror/mailmirror/config"
)

// Mechanism names.
const (
	XOAuth2     = "XOAUTH2"
	OAuthBearer = sasl.OAuthBearer // "OAUTHBEARER"
)

// MechanismOf returns the SASL mechanism for an account's auth key
// (config.AuthXOAuth2 or config.AuthOAuthBearer), or "" for passwords.
func MechanismOf(auth string) string {
	switch auth {
	case config.AuthXOAuth2:
		return XOAuth2
	case config.AuthOAuthBearer:
		return OAuthBearer
	}
	return ""
}

// xoauth2Client implements Google's and Microsoft's XOAUTH2 mechanism: an
// initial response of "user=" user ^A "auth=Bearer " token ^A ^A.
type xoauth2Client struct {
	username, token string
}

// NewXOAuth2Client returns a sasl.Client for XOAUTH2. When the server
// refuses the token it sends a JSON error as a challenge; Next then
// returns an *XOAuth2Error and no response (the caller must end the
// exchange, or use the client Login gives, which answers it).
func NewXOAuth2Client(username, token string) sasl.Client {
	return &xoauth2Client{username: username, token: token}
}

func (c *xoauth2Client) Start() (string, []byte, error) {
	return XOAuth2, []byte("user=" + c.username + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

func (c *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	e := &XOAuth2Error{}
	if err := json.Unmarshal(challenge, e); err != nil {
		return nil, fmt.Errorf("XOAUTH2: the server's challenge is not a JSON error")
	}
	return nil, e
}

// XOAuth2Error is the JSON error a server sends when it refuses an XOAUTH2
// token.
type XOAuth2Error struct {
	Status  string `json:"status"`
	Schemes string `json:"schemes"`
	Scope   string `json:"scope"`
}

// Error implements the error interface.
func (e *XOAuth2Error) Error() string {
	return fmt.Sprintf("XOAUTH2 authentication error (status %q)", e.Status)
}

// Attempt is one SASL exchange with one access token. Its Client answers a
// failure challenge with the response the mechanism prescribes (empty for
// XOAUTH2, ^A for OAUTHBEARER, RFC 7628 section 3.2.3), so the server ends
// the command with a plain failure and the connection stays usable; the
// server's error status is kept in Status.
type Attempt struct {
	// Client is the sasl.Client to authenticate with.
	Client sasl.Client
	// Masks are byte strings that must not appear in a protocol trace:
	// the token, and the base64 of the initial response.
	Masks [][]byte

	status string
}

// Status is the error status the server sent in its failure challenge
// ("invalid_token", "401", ...), or "".
func (a *Attempt) Status() string { return a.status }

// NewAttempt returns an Attempt for mechanism mech (XOAuth2 or
// OAuthBearer) presenting token for username; host and port go into
// OAUTHBEARER's initial response.
func NewAttempt(mech, username string, token config.Secret, host string, port int) (*Attempt, error) {
	var inner sasl.Client
	switch mech {
	case XOAuth2:
		inner = NewXOAuth2Client(username, token.Reveal())
	case OAuthBearer:
		inner = sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: username, Token: token.Reveal(), Host: host, Port: port})
	default:
		return nil, fmt.Errorf("unknown SASL mechanism %q", mech)
	}
	a := &Attempt{}
	_, ir, err := inner.Start()
	if err != nil {
		return nil, err
	}
	a.Masks = [][]byte{[]byte(token.Reveal()), []byte(base64.StdEncoding.EncodeToString(ir))}
	a.Client = &answeringClient{inner: inner, mech: mech, attempt: a}
	return a, nil
}

// answeringClient wraps a mechanism's client and answers its failure
// challenge.
type answeringClient struct {
	inner   sasl.Client
	mech    string
	attempt *Attempt
	failed  bool
}

func (c *answeringClient) Start() (string, []byte, error) { return c.inner.Start() }

func (c *answeringClient) Next(challenge []byte) ([]byte, error) {
	if c.failed {
		return nil, fmt.Errorf("%s: unexpected challenge after the failure", c.mech)
	}
	resp, err := c.inner.Next(challenge)
	if err == nil {
		return resp, nil
	}
	c.failed = true
	switch e := err.(type) {
	case *XOAuth2Error:
		c.attempt.status = e.Status
	case *sasl.OAuthBearerError:
		c.attempt.status = e.Status
	default:
		c.attempt.status = "unreadable failure challenge"
	}
	if c.mech == OAuthBearer {
		return []byte{0x01}, nil
	}
	return []byte{}, nil
}
