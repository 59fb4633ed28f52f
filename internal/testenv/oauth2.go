package testenv

import (
	"fmt"
	"os"
	"path/filepath"
)

// oauth2ConfName is the oauth2 passdb's settings file in the server's
// directory.
const oauth2ConfName = "oauth2.conf.ext"

// authMechanisms is the auth_mechanisms setting: XOAUTH2 and OAUTHBEARER
// join PLAIN and LOGIN when DovecotOptions.OAuth2IntrospectionURL is set.
func authMechanisms(opts *DovecotOptions) string {
	if opts.OAuth2IntrospectionURL != "" {
		return "plain login xoauth2 oauthbearer"
	}
	return "plain login"
}

// writeOAuth2Config writes the oauth2 passdb's settings when
// DovecotOptions.OAuth2IntrospectionURL is set: tokens are checked by a
// POST of token=TOKEN to that URL, whose JSON answer must say
// "active": true and give the user's name as "username".
func (d *Dovecot) writeOAuth2Config(opts *DovecotOptions) error {
	if opts.OAuth2IntrospectionURL == "" {
		return nil
	}
	conf := fmt.Sprintf(`introspection_mode = post
introspection_url = %s
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 60000
`, opts.OAuth2IntrospectionURL)
	p := filepath.Join(d.Dir, oauth2ConfName)
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		return fmt.Errorf("testenv: %w", err)
	}
	if d.authOwner != nil {
		if err := os.Chown(p, d.authOwner.uid, d.authOwner.gid); err != nil {
			return fmt.Errorf("testenv: %w", err)
		}
	}
	return nil
}

// oauth2Passdb writes the oauth2 passdb, before the passwd-file one, when
// DovecotOptions.OAuth2IntrospectionURL is set.
func (d *Dovecot) oauth2Passdb(p func(format string, args ...any), opts *DovecotOptions) {
	if opts.OAuth2IntrospectionURL == "" {
		return
	}
	p("passdb {")
	p("  driver = oauth2")
	p("  mechanisms = xoauth2 oauthbearer")
	p("  args = %s", filepath.Join(d.Dir, oauth2ConfName))
	p("}")
}

// passwdMechanisms restricts the passwd-file passdb to the password
// mechanisms when the oauth2 passdb handles the token ones.
func passwdMechanisms(p func(format string, args ...any), opts *DovecotOptions) {
	if opts.OAuth2IntrospectionURL != "" {
		p("  mechanisms = plain login")
	}
}
