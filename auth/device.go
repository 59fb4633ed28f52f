package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mailmirror/mailmirror/config"
)

// GrantTypeDeviceCode is the grant_type of RFC 8628 token requests.
const GrantTypeDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// DeviceAuth is a device authorization: what the user is shown, and the
// device code the client polls with.
type DeviceAuth struct {
	DeviceCode              config.Secret
	UserCode                string // what the user types at VerificationURI
	VerificationURI         string
	VerificationURIComplete string // VerificationURI with the code in it, when the provider gives one
	Message                 string // the provider's own instructions, when it gives them
	Expiry                  time.Time
	Interval                time.Duration // between polls; raised by slow_down
}

// FlowOptions are the knobs shared by both sign-in flows.
type FlowOptions struct {
	// HTTPClient sends the requests; nil means a client with a 60 s timeout.
	HTTPClient *http.Client
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Sleep waits between device-flow polls; nil means a timer that ctx
	// ends. Tests shorten it.
	Sleep func(ctx context.Context, d time.Duration) error
	// LoginHint is passed to the provider as login_hint (the account's
	// user name), so that it proposes the right account.
	LoginHint string
	// OpenBrowser opens a URL in the user's browser (code flow); nil or a
	// failure leaves it to the user, who is shown the URL anyway.
	OpenBrowser func(url string) error
	// Prompt receives the instructions for the user; nil discards them.
	Prompt func(msg string)
}

func (o *FlowOptions) now() time.Time {
	if o != nil && o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *FlowOptions) prompt(format string, args ...any) {
	if o != nil && o.Prompt != nil {
		o.Prompt(fmt.Sprintf(format, args...))
	}
}

func (o *FlowOptions) sleep(ctx context.Context, d time.Duration) error {
	if o != nil && o.Sleep != nil {
		return o.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (o *FlowOptions) client() *http.Client {
	if o == nil {
		return nil
	}
	return o.HTTPClient
}

// defaultInterval is the polling interval when the provider gives none
// (RFC 8628 section 3.2).
const defaultInterval = 5 * time.Second

// StartDevice asks the device authorization endpoint for a user code.
func StartDevice(ctx context.Context, ep Endpoint, opts *FlowOptions) (*DeviceAuth, error) {
	if ep.DeviceURL == "" {
		return nil, errors.New("device flow: no device authorization URL (oauth_device_url)")
	}
	form := url.Values{}
	if len(ep.Scopes) > 0 {
		form.Set("scope", strings.Join(ep.Scopes, " "))
	}
	if opts != nil && opts.LoginHint != "" {
		form.Set("login_hint", opts.LoginHint)
	}
	tr, err := postForm(ctx, opts.client(), "device authorization", ep.DeviceURL, ep, form)
	if err != nil {
		return nil, err
	}
	uri := tr.VerificationURI
	if uri == "" {
		uri = tr.VerificationURL
	}
	if tr.DeviceCode == "" || tr.UserCode == "" || uri == "" {
		return nil, errors.New("device authorization endpoint: the answer lacks device_code, user_code or verification_uri")
	}
	d := &DeviceAuth{
		DeviceCode:              config.Secret(tr.DeviceCode),
		UserCode:                tr.UserCode,
		VerificationURI:         uri,
		VerificationURIComplete: tr.VerificationURIComplete,
		Message:                 tr.Message,
		Interval:                defaultInterval,
	}
	if tr.Interval.Set && tr.Interval.N >= 0 {
		d.Interval = time.Duration(tr.Interval.N) * time.Second
	}
	if tr.ExpiresIn.Set && tr.ExpiresIn.N > 0 {
		d.Expiry = opts.now().Add(time.Duration(tr.ExpiresIn.N) * time.Second)
	}
	return d, nil
}

// PollDevice polls the token endpoint until the user approved or denied
// the device authorization, it expired, or ctx ends. It honours
// authorization_pending and slow_down (RFC 8628 section 3.5).
func PollDevice(ctx context.Context, ep Endpoint, d *DeviceAuth, opts *FlowOptions) (*Token, error) {
	interval := d.Interval
	for {
		if err := opts.sleep(ctx, interval); err != nil {
			return nil, fmt.Errorf("device flow: %w", err)
		}
		if !d.Expiry.IsZero() && opts.now().After(d.Expiry) {
			return nil, errors.New("device flow: the code expired before it was approved; run the command again")
		}
		form := url.Values{
			"grant_type":  {GrantTypeDeviceCode},
			"device_code": {d.DeviceCode.Reveal()},
		}
		tr, err := postForm(ctx, opts.client(), "token", ep.TokenURL, ep, form)
		var pe *ProviderError
		switch {
		case err == nil:
			return tr.token(opts.now())
		case errors.As(err, &pe) && pe.Code == "authorization_pending":
			continue
		case errors.As(err, &pe) && pe.Code == "slow_down":
			interval += 5 * time.Second
			continue
		case errors.As(err, &pe) && pe.Code == "access_denied":
			return nil, fmt.Errorf("device flow: the sign-in was denied: %w", err)
		case errors.As(err, &pe) && pe.Code == "expired_token":
			return nil, fmt.Errorf("device flow: the code expired before it was approved; run the command again: %w", err)
		default:
			return nil, fmt.Errorf("device flow: %w", err)
		}
	}
}

// DeviceFlow runs the whole device authorization grant: it shows the user
// the verification URI and code through opts.Prompt and polls until they
// approved.
func DeviceFlow(ctx context.Context, ep Endpoint, opts *FlowOptions) (*Token, error) {
	d, err := StartDevice(ctx, ep, opts)
	if err != nil {
		return nil, err
	}
	if d.VerificationURIComplete != "" {
		opts.prompt("To sign in, open %s\n(or open %s and enter the code %s)", d.VerificationURIComplete, d.VerificationURI, d.UserCode)
	} else {
		opts.prompt("To sign in, open %s and enter the code %s", d.VerificationURI, d.UserCode)
	}
	opts.prompt("Waiting for the sign-in to complete...")
	return PollDevice(ctx, ep, d, opts)
}
