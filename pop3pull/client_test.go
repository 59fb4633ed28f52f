package pop3pull

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv/pop3srv"
)

// startFake starts a pop3srv on loopback and stops it with the test.
func startFake(t *testing.T, opts pop3srv.Options) (*pop3srv.Server, string) {
	t.Helper()
	srv := pop3srv.New(opts)
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, addr
}

// dialFake connects in clear text with plaintext credentials allowed and
// logs in as user/pass.
func dialFake(t *testing.T, addr string) *Client {
	t.Helper()
	c, err := Dial(context.Background(), addr, DialOptions{TLS: config.TLSNone, AllowPlaintextAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Abort)
	if err := c.Login("user", "pass"); err != nil {
		t.Fatal(err)
	}
	return c
}

// wantStored is what a message looks like in the Maildir: every CRLF turned
// into LF, and a final line ending added when it had none.
func wantStored(msg []byte) []byte {
	out := bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out
}

// trickyMessages are bodies that broke other POP3 clients.
func trickyMessages() map[string][]byte {
	long := strings.Repeat("0123456789", 500) // 5,000 bytes
	return map[string][]byte{
		"dots": []byte("Subject: dots\r\n\r\n.\r\n..\r\n...x\r\n.leading\r\nend.\r\n. \r\n"),
		"long-lines": []byte("Subject: long\r\n\r\n" + long + "\r\n" +
			strings.Repeat("y", 200000) + "\r\n.\r\n" + long + long + "\r\n"),
		"bare-lf":            []byte("Subject: bare lf\n\nline one\nline two\r\nmixed\n.\ndot after bare lf\n"),
		"bare-lf-blank-line": []byte("Subject: bare lf\n\n.dot after a blank bare-LF line\n\n..two\n"),
		"bare-cr":            []byte("Subject: bare cr\r\n\r\nA\rB\r\r\nC\r"),
		"nul":                []byte("Subject: nul\r\n\r\nbefore\x00after\r\n\x00\x00\r\n\xff\xfe binary\r\n"),
		"no-newline":         []byte("Subject: no final newline\r\n\r\nlast line without CRLF"),
		"empty-body":         []byte("Subject: empty\r\n\r\n"),
	}
}

func TestRetrIsByteExact(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	msgs := trickyMessages()
	names := make([]string, 0, len(msgs))
	uidls := map[string]string{}
	for name, body := range msgs {
		names = append(names, name)
		uidls[name] = srv.Mailbox.Add(body)
	}
	c := dialFake(t, addr)
	list, _, err := c.UIDL()
	if err != nil {
		t.Fatal(err)
	}
	byUIDL := map[string]int{}
	for _, m := range list {
		byUIDL[m.UIDL] = m.Num
	}
	for _, name := range names {
		var buf bytes.Buffer
		if _, err := c.Retr(byUIDL[uidls[name]], &buf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := wantStored(msgs[name]); !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s: got %q, want %q", name, trunc(buf.Bytes()), trunc(want))
		}
	}
	// The same through pipelined RETR.
	var nums []int
	for _, name := range names {
		nums = append(nums, byUIDL[uidls[name]])
	}
	i := 0
	err = c.RetrEach(nums, func(num int, body io.Reader, err error) error {
		if err != nil {
			return err
		}
		got, err := io.ReadAll(body)
		if err != nil {
			return err
		}
		if want := wantStored(msgs[names[i]]); !bytes.Equal(got, want) {
			t.Errorf("pipelined %s: got %q, want %q", names[i], trunc(got), trunc(want))
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if i != len(names) {
		t.Fatalf("RetrEach delivered %d messages, want %d", i, len(names))
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

func trunc(b []byte) []byte {
	if len(b) > 120 {
		return append(b[:120:120], "..."...)
	}
	return b
}

func TestPipelining(t *testing.T) {
	for _, pipelining := range []bool{true, false} {
		t.Run(fmt.Sprintf("advertised=%v", pipelining), func(t *testing.T) {
			srv, addr := startFake(t, pop3srv.Options{})
			srv.SetFaults(pop3srv.Faults{NoPipelining: !pipelining})
			var want [][]byte
			var nums []int
			for i := range 40 {
				body := []byte(fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i))
				srv.Mailbox.Add(body)
				want = append(want, wantStored(body))
				nums = append(nums, i+1)
			}
			c := dialFake(t, addr)
			if c.Pipelining() != pipelining {
				t.Fatalf("Pipelining() = %v", c.Pipelining())
			}
			srv.ResetCounters()
			i := 0
			err := c.RetrEach(nums, func(num int, body io.Reader, err error) error {
				if err != nil {
					return err
				}
				got, _ := io.ReadAll(body)
				if num != nums[i] || !bytes.Equal(got, want[i]) {
					t.Errorf("answer %d: message %d %q, want %d %q", i, num, got, nums[i], want[i])
				}
				i++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if srv.Count("RETR") != 40 {
				t.Errorf("server got %d RETR, want 40", srv.Count("RETR"))
			}
			if pipelining && srv.Pipelined() == 0 {
				t.Error("PIPELINING advertised but no command arrived before the previous answer")
			}
			if !pipelining && srv.Pipelined() != 0 {
				t.Errorf("PIPELINING not advertised but %d commands were pipelined", srv.Pipelined())
			}
		})
	}
}

func TestLoginErrors(t *testing.T) {
	cases := []struct {
		name   string
		faults pop3srv.Faults
		pass   config.Secret
		want   error
	}{
		{"in-use", pop3srv.Faults{InUse: true}, "pass", ErrInUse},
		{"in-use-userpass", pop3srv.Faults{InUse: true, NoSASL: true}, "pass", ErrInUse},
		{"login-delay", pop3srv.Faults{LoginDelay: true}, "pass", ErrLoginDelay},
		{"bad-password", pop3srv.Faults{}, "hunter2-secret", ErrAuth},
		{"bad-password-userpass", pop3srv.Faults{NoSASL: true}, "hunter2-secret", ErrAuth},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, addr := startFake(t, pop3srv.Options{})
			srv.SetFaults(tc.faults)
			c, err := Dial(context.Background(), addr, DialOptions{TLS: config.TLSNone, AllowPlaintextAuth: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Abort()
			err = c.Login("user", tc.pass)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Login: %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("password in error: %v", err)
			}
			if Temporary(err) != (tc.want != ErrAuth) {
				t.Errorf("Temporary(%v) = %v", err, Temporary(err))
			}
		})
	}
}

func TestAuthMechanisms(t *testing.T) {
	for _, noSASL := range []bool{false, true} {
		srv, addr := startFake(t, pop3srv.Options{})
		srv.SetFaults(pop3srv.Faults{NoSASL: noSASL})
		dialFake(t, addr).Quit()
		if noSASL && (srv.Count("PASS") != 1 || srv.Count("AUTH") != 0) {
			t.Errorf("without SASL: PASS %d AUTH %d", srv.Count("PASS"), srv.Count("AUTH"))
		}
		if !noSASL && (srv.Count("AUTH") != 1 || srv.Count("PASS") != 0) {
			t.Errorf("with SASL PLAIN: PASS %d AUTH %d", srv.Count("PASS"), srv.Count("AUTH"))
		}
		if srv.Logins() != 1 {
			t.Errorf("logins = %d", srv.Logins())
		}
	}
}

func TestNoPlaintextCredentials(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	c, err := Dial(context.Background(), addr, DialOptions{TLS: config.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	if err := c.Login("user", "pass"); !errors.Is(err, ErrInsecure) {
		t.Fatalf("Login without TLS: %v, want ErrInsecure", err)
	}
	if err := c.UserPass("user", "pass"); !errors.Is(err, ErrInsecure) {
		t.Fatalf("UserPass without TLS: %v, want ErrInsecure", err)
	}
	if n := srv.Count("USER") + srv.Count("PASS") + srv.Count("AUTH"); n != 0 {
		t.Fatalf("%d credential commands reached the server", n)
	}
}

func TestTLS(t *testing.T) {
	serverConf, roots, err := pop3srv.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	clientConf := &tls.Config{RootCAs: roots}
	t.Run("starttls", func(t *testing.T) {
		srv, addr := startFake(t, pop3srv.Options{TLSConfig: serverConf})
		srv.Mailbox.Add([]byte("Subject: x\r\n\r\nx\r\n"))
		c, err := Dial(context.Background(), addr, DialOptions{TLS: config.TLSStartTLS, TLSConfig: clientConf})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Abort()
		if !c.TLS() {
			t.Fatal("not encrypted after STLS")
		}
		if err := c.Login("user", "pass"); err != nil {
			t.Fatal(err)
		}
		if n, _, err := c.Stat(); err != nil || n != 1 {
			t.Fatalf("STAT: %d, %v", n, err)
		}
	})
	t.Run("stls-not-offered", func(t *testing.T) {
		srv, addr := startFake(t, pop3srv.Options{TLSConfig: serverConf})
		srv.SetFaults(pop3srv.Faults{NoSTLS: true})
		_, err := Dial(context.Background(), addr, DialOptions{TLS: config.TLSStartTLS, TLSConfig: clientConf})
		if !errors.Is(err, ErrNoSTLS) {
			t.Fatalf("Dial: %v, want ErrNoSTLS", err)
		}
		if n := srv.Count("USER") + srv.Count("PASS") + srv.Count("AUTH") + srv.Count("STLS"); n != 0 {
			t.Fatalf("%d credential or STLS commands reached the server", n)
		}
	})
	t.Run("implicit", func(t *testing.T) {
		_, addr := startFake(t, pop3srv.Options{TLSConfig: serverConf, ImplicitTLS: true})
		c, err := Dial(context.Background(), addr, DialOptions{TLSConfig: clientConf})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Abort()
		if err := c.Login("user", "pass"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unverified-certificate", func(t *testing.T) {
		_, addr := startFake(t, pop3srv.Options{TLSConfig: serverConf, ImplicitTLS: true})
		_, err := Dial(context.Background(), addr, DialOptions{})
		if err == nil || Temporary(err) {
			t.Fatalf("Dial with an unknown CA: %v (temporary %v), want a permanent error", err, Temporary(err))
		}
	})
}

func TestListingsAreParsedRobustly(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	var want []string
	for i := range 5 {
		want = append(want, srv.Mailbox.Add([]byte(fmt.Sprintf("Subject: %d\r\n\r\n%d\r\n", i, i))))
	}
	srv.SetFaults(pop3srv.Faults{GarbageListings: true, LieSizes: true})
	c := dialFake(t, addr)
	list, info, err := c.UIDL()
	if err != nil {
		t.Fatal(err)
	}
	if info.Skipped == 0 {
		t.Error("garbage lines were not reported as skipped")
	}
	// The "N out-of-range" line has a valid shape: the caller sees it, the
	// number is simply not one RETR will accept. Everything else is exact.
	got := map[int]string{}
	for _, m := range list {
		got[m.Num] = m.UIDL
	}
	for i, u := range want {
		if got[i+1] != u {
			t.Errorf("message %d: UIDL %q, want %q", i+1, got[i+1], u)
		}
	}
	sizes, info, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(sizes) < 5 || info.Skipped == 0 {
		t.Errorf("LIST: %d sizes, %d skipped", len(sizes), info.Skipped)
	}
	// Lying sizes do not change what RETR delivers.
	var buf bytes.Buffer
	if _, err := c.Retr(3, &buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "Subject: 2\n\n2\n" {
		t.Errorf("RETR 3 = %q", buf.String())
	}
	// The session is still in step after all that.
	if n, _, err := c.Stat(); err != nil || n != 5 {
		t.Fatalf("STAT after listings: %d, %v", n, err)
	}
}

func TestDuplicateUIDLsAreReported(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	for i := range 4 {
		srv.Mailbox.Add([]byte(fmt.Sprintf("Subject: %d\r\n\r\n", i)))
	}
	srv.SetFaults(pop3srv.Faults{DuplicateUIDLs: true})
	c := dialFake(t, addr)
	list, _, err := c.UIDL()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 4 || list[0].UIDL != list[1].UIDL || list[2].UIDL != list[3].UIDL {
		t.Fatalf("UIDL = %v", list)
	}
}

func TestDropMidRetr(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	for i := range 3 {
		srv.Mailbox.Add([]byte(fmt.Sprintf("Subject: %d\r\n\r\n%s\r\n", i, strings.Repeat("z", 10000))))
	}
	srv.SetFaults(pop3srv.Faults{DropAfterBytes: 500, DropRetrSkip: 1})
	c := dialFake(t, addr)
	var complete []int
	var bodyErr error
	err := c.RetrEach([]int{1, 2, 3}, func(num int, body io.Reader, err error) error {
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			bodyErr = err
			return err
		}
		complete = append(complete, num)
		return nil
	})
	if err == nil || !errors.Is(bodyErr, io.ErrUnexpectedEOF) {
		t.Fatalf("RetrEach: %v, body: %v; want an unexpected EOF", err, bodyErr)
	}
	if len(complete) != 1 || complete[0] != 1 {
		t.Fatalf("complete messages: %v, want [1]", complete)
	}
	if !Temporary(err) {
		t.Errorf("Temporary(%v) = false", err)
	}
	if err := c.Noop(); !errors.Is(err, ErrClosed) {
		t.Errorf("NOOP on a broken session: %v, want ErrClosed", err)
	}
}

func TestDeleTakesEffectAtQuit(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	for i := range 4 {
		srv.Mailbox.Add([]byte(fmt.Sprintf("Subject: %d\r\n\r\n", i)))
	}
	srv.SetFaults(pop3srv.Faults{DropOnQuit: true})
	c := dialFake(t, addr)
	if refused, err := c.DeleEach([]int{1, 3, 9}); err != nil || len(refused) != 1 || refused[9] == nil {
		t.Fatalf("DeleEach: %v, %v", refused, err)
	}
	if err := c.Quit(); err == nil {
		t.Fatal("QUIT on a dropped connection succeeded")
	}
	if srv.Mailbox.Len() != 4 {
		t.Fatalf("server removed messages without a completed QUIT: %d left", srv.Mailbox.Len())
	}
	srv.SetFaults(pop3srv.Faults{})
	c = dialFake(t, addr)
	if _, err := c.DeleEach([]int{1, 3}); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	if srv.Mailbox.Len() != 2 {
		t.Fatalf("%d messages left, want 2", srv.Mailbox.Len())
	}
}

func TestTop(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	srv.Mailbox.Add([]byte("Subject: top\r\nX-A: 1\r\n\r\nbody 1\r\nbody 2\r\n"))
	c := dialFake(t, addr)
	var buf bytes.Buffer
	if _, err := c.Top(1, 0, &buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "Subject: top\nX-A: 1\n\n" {
		t.Fatalf("TOP 1 0 = %q", buf.String())
	}
	srv.SetFaults(pop3srv.Faults{NoTOP: true})
	if _, err := c.Top(1, 0, io.Discard); !isServerError(err) {
		t.Fatalf("TOP on a server without it: %v", err)
	}
}
