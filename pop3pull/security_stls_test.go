package pop3pull

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/faultproxy"
)

// A man in the middle between the poller and a Dovecot that offers STLS:
// whatever it does to the STLS negotiation, the password never crosses
// the wire in clear.
func TestSecuritySTLSManInTheMiddle(t *testing.T) {
	d := testenv.NewDovecot(t, &testenv.DovecotOptions{TLS: true})
	u := d.NewUser(t)
	appendMessages(t, u, 2, 5)
	cases := []struct {
		name   string
		filter func([]byte) []byte
		ok     bool
	}{
		{name: "strips STLS from CAPA", filter: func(l []byte) []byte {
			if bytes.Equal(bytes.TrimSpace(l), []byte("STLS")) {
				return nil
			}
			return l
		}},
		{name: "refuses STLS", filter: func(l []byte) []byte {
			if bytes.HasPrefix(l, []byte("+OK Begin TLS")) {
				return []byte("-ERR no\r\n")
			}
			return l
		}},
		{name: "injects a response after STLS's +OK", filter: func(l []byte) []byte {
			if bytes.HasPrefix(l, []byte("+OK Begin TLS")) {
				return append(l, "+OK injected\r\n"...)
			}
			return l
		}},
		{name: "untouched", filter: func(l []byte) []byte { return l }, ok: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := faultproxy.New(t, u.POP3Addr())
			p.SetServerLineFilter(c.filter)
			p.Record(true)
			acct := newAccount(t, p.Addr(), u.Name, config.Secret(u.Password))
			acct.TLS, acct.TLSCAFile = config.TLSStartTLS, d.CAFile
			_, port, _ := net.SplitHostPort(p.Addr())
			acct.Port, _ = strconv.Atoi(port)
			dev := openDevice(t, acct, t.TempDir())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := Poll(ctx, dev.acct, dev.store, dev.db, &Options{Timeout: 5 * time.Second})
			t.Logf("poll: %d downloaded, err = %v", res.Downloaded, err)
			if c.ok != (err == nil) {
				t.Errorf("ok = %v, err = %v", c.ok, err)
			}
			rec := p.ClientBytes()
			for _, f := range []string{u.Password, base64.StdEncoding.EncodeToString([]byte("\x00" + u.Name + "\x00" + u.Password))} {
				if bytes.Contains(rec, []byte(f)) {
					t.Errorf("the password crossed the wire in clear as %q", f)
				}
			}
			if !bytes.Contains(rec, []byte("CAPA")) {
				t.Errorf("nothing recorded: the check proves nothing")
			}
		})
	}
}
