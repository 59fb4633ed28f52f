package daemon_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/faultproxy"
)

// TestPushOverCompressedIDLE: against a Dovecot offering COMPRESS=DEFLATE
// (imap_zlib), the daemon's pass and IDLE connections compress, and a
// message appended by another client still arrives by IDLE: Dovecot's
// pushes are flushed to us, our DONE and the pull's commands to it.
func TestPushOverCompressedIDLE(t *testing.T) {
	d := testenv.NewDovecot(t, &testenv.DovecotOptions{Compress: true})
	u := d.NewUser(t)
	proxy := faultproxy.New(t, d.IMAPAddr())
	proxy.Record(true)
	f := newFixture(t, u, proxy.Port(), "")
	f.start(testOptions())
	eventually(t, func() string { return "IDLE never connected" }, func() bool {
		st := f.status()
		return len(st.Idle) == 1 && st.Idle[0].Connected
	})
	for i, subject := range []string{"pushed", "pushed again"} {
		raw := f.msg(subject)
		u.Append(t, "INBOX", raw)
		eventually(t, func() string { return "the appended message never arrived" }, func() bool {
			return len(f.local("INBOX")[msgID(raw)]) == 1
		})
		eventually(t, func() string { return "no pull for the push" }, func() bool { return f.status().Targeted >= i+1 })
	}
	if n := bytes.Count(proxy.ClientBytes(), []byte(" COMPRESS DEFLATE\r\n")); n < 2 {
		t.Errorf("%d connections asked for COMPRESS, want the pass's and IDLE's", n)
	}
	if strings.Contains(f.logs.String(), "COMPRESS=DEFLATE support is broken") {
		t.Errorf("compression was turned off:\n%s", f.logs.String())
	}
}
