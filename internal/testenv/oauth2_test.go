package testenv

import (
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/mailmirror/mailmirror/internal/testenv/oauthfake"
)

// TestOAuth2Passdb: with OAuth2IntrospectionURL, OAUTHBEARER logins are
// checked at the introspection endpoint, and passwords still work.
func TestOAuth2Passdb(t *testing.T) {
	srv := oauthfake.New(t, nil)
	d := NewDovecot(t, &DovecotOptions{OAuth2IntrospectionURL: srv.IntrospectURL()})
	u := d.NewUser(t)
	at, _ := srv.Issue(u.Name)
	login := func(token string) error {
		c, err := imapclient.DialInsecure(d.IMAPAddr(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Authenticate(sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: u.Name, Token: token}))
		if err == nil {
			_, err = c.Select("INBOX", nil).Wait()
		}
		return err
	}
	if err := login(at); err != nil {
		t.Errorf("login with a valid token: %v", err)
	}
	if err := login("not-a-token"); err == nil {
		t.Error("login with an unknown token worked")
	}
	u.Dial(t) // the password login of the helper connection
	if st := srv.Stats(); st.ActiveAnswers != 1 || st.InactiveAnswers != 1 {
		t.Errorf("introspections %+v", st)
	}
}
