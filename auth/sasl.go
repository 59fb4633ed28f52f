package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
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

// Attempt is one SASL exchange with one access token.
type Attempt struct {
	// Client is the sasl.Client to authenticate with. When the server
	// refuses the token with a failure challenge, its Next returns an
	// *XOAuth2Error or a *sasl.OAuthBearerError and no response: the
	// exchange is left unanswered, and an IMAP connection must then be
	// dropped (a POP3 client can cancel it with "*").
	Client sasl.Client
	// Masks are byte strings that must not appear in a protocol trace:
	// the token, and the base64 of the initial response.
	Masks [][]byte
}

// NewAttempt returns an Attempt for mechanism mech (XOAuth2 or
// OAuthBearer) presenting token for username; host and port go into
// OAUTHBEARER's initial response.
func NewAttempt(mech, username string, token config.Secret, host string, port int) (*Attempt, error) {
	var c sasl.Client
	switch mech {
	case XOAuth2:
		c = NewXOAuth2Client(username, token.Reveal())
	case OAuthBearer:
		c = sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: username, Token: token.Reveal(), Host: host, Port: port})
	default:
		return nil, fmt.Errorf("unknown SASL mechanism %q", mech)
	}
	_, ir, err := c.Start()
	if err != nil {
		return nil, err
	}
	return &Attempt{
		Client: c,
		Masks:  [][]byte{[]byte(token.Reveal()), []byte(base64.StdEncoding.EncodeToString(ir))},
	}, nil
}

// IsSASLFailure reports whether err is the failure challenge of XOAUTH2 or
// OAUTHBEARER (the server refused the token), and gives the status the
// server sent ("invalid_token", "401", ...).
func IsSASLFailure(err error) (status string, ok bool) {
	var xe *XOAuth2Error
	if errors.As(err, &xe) {
		return xe.Status, true
	}
	var be *sasl.OAuthBearerError
	if errors.As(err, &be) {
		return be.Status, true
	}
	return "", false
}
