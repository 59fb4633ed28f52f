package pop3pull

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// scriptConn is a net.Conn whose reads come from a fixed byte string (a
// server's whole side of a session) and whose writes are thrown away.
type scriptConn struct{ r *bytes.Reader }

func (c *scriptConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// scriptClient is a logged-in Client reading server answers from data.
func scriptClient(data []byte) *Client {
	conn := &scriptConn{r: bytes.NewReader(data)}
	c := &Client{raw: conn, timeout: time.Second}
	c.setConn(conn)
	return c
}

// FuzzPOP3Responses feeds arbitrary bytes to the client as the answers to
// CAPA, STAT, LIST, UIDL, TOP and RETR: it must never panic, never return
// a listing entry that breaks its documented rules, never deliver more
// bytes than it read, and never put control bytes into an error.
func FuzzPOP3Responses(f *testing.F) {
	f.Add([]byte("+OK\r\nUIDL\r\nTOP\r\nPIPELINING\r\n.\r\n+OK 2 300\r\n+OK\r\n1 100\r\n2 200\r\n.\r\n+OK\r\n1 abc\r\n2 def\r\n.\r\n+OK\r\nSubject: x\r\n\r\n.\r\n+OK\r\nSubject: a\r\n\r\n..dot\r\n.\r\n+OK\r\nb\r\n.\r\n"))
	f.Add([]byte("-ERR [IN-USE] busy\r\n-ERR\r\n+OK\r\nthis is not a listing line\r\n0 zero\r\n1 " + strings.Repeat("x", 2000) + "\r\n1 repeated\r\n1 again\r\n..stuffed\r\n.\r\n"))
	f.Add([]byte("+OK\r\n.\r\n+OK -5 99999999999999999999\r\n+OK\r\n1 -1\r\n2 abc\r\n.\r\n+OK\r\n1 ../../x\r\n2 \x00\x7f\r\n.\r\n-ERR \x1b[31mred\r\n+OK\r\nno end"))
	f.Add([]byte("HTTP/1.1 200 OK\r\n"))
	f.Add([]byte("+OK\r\nSASL PLAIN\r\n.\r\n+OK 1 1\r\n+OK\r\n1 1\r\n.\r\n+OK\r\n1 a\r\n1 b\r\n.\r\n+OK\r\n\r\n.\r\n-ERR \r\n+OK\n.\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := scriptClient(data)
		checkErr := func(err error) {
			if err == nil {
				return
			}
			if se, ok := err.(*ServerError); ok {
				if len(se.Text) > maxErrText || strings.IndexFunc(se.Text+se.Code, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
					t.Fatalf("server error text not cleaned: %q", se.Error())
				}
			}
		}
		caps, err := c.Capabilities()
		checkErr(err)
		for k := range caps {
			if k != strings.ToUpper(k) {
				t.Fatalf("capability %q not upper case", k)
			}
		}
		_, size, err := c.Stat()
		checkErr(err)
		if size < 0 {
			t.Fatalf("STAT size %d", size)
		}
		sizes, _, err := c.List()
		checkErr(err)
		seen := map[int]bool{}
		for _, s := range sizes {
			if s.Num < 1 || s.Size < 0 || seen[s.Num] {
				t.Fatalf("LIST entry %+v", s)
			}
			seen[s.Num] = true
		}
		uidls, _, err := c.UIDL()
		checkErr(err)
		seen = map[int]bool{}
		for _, u := range uidls {
			if u.Num < 1 || u.UIDL == "" || strings.ContainsAny(u.UIDL, " \t\r\n") || seen[u.Num] {
				t.Fatalf("UIDL entry %+v", u)
			}
			seen[u.Num] = true
		}
		var delivered int64
		err = c.RetrEach([]int{1, 2, 3}, func(num int, body io.Reader, err error) error {
			checkErr(err)
			if body == nil {
				return nil
			}
			n, err := io.Copy(io.Discard, body)
			delivered += n
			return err
		})
		checkErr(err)
		if delivered > int64(len(data)) {
			t.Fatalf("delivered %d bytes from %d read", delivered, len(data))
		}
	})
}

// FuzzDotReaderRoundTrip: a message dot-stuffed as a server sends it
// decodes to the message with CRLF turned into LF (and a final line end
// added), whatever the buffer and read sizes, and the decoder stops
// exactly at the terminating line.
func FuzzDotReaderRoundTrip(f *testing.F) {
	for _, s := range []string{
		"Subject: a\r\n\r\n.\r\n..\r\n.x\r\n", "Subject: bare\n\n.dot after bare blank line\n", "a\rb\r\r\nc\r",
		"nul\x00\r\n\x00", "", ".", "\r\n.\r\n", ".\r", "\r", "\r\r\r\n\n\n.", strings.Repeat("y", 3000) + "\r\n.z",
	} {
		f.Add([]byte(s), uint8(16), uint8(7))
	}
	f.Fuzz(func(t *testing.T, msg []byte, bufSize, readSize uint8) {
		wire := stuff(string(msg)) + "+OK next\r\n"
		br := bufio.NewReaderSize(strings.NewReader(wire), 16+int(bufSize))
		dr := newDotReader(br)
		var out bytes.Buffer
		buf := make([]byte, 1+int(readSize))
		for {
			n, err := dr.Read(buf)
			out.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read: %v", err)
			}
		}
		want := string(msg)
		if len(want) > 0 && want[len(want)-1] != '\n' {
			want += "\r\n"
		}
		want = strings.ReplaceAll(want, "\r\n", "\n")
		if out.String() != want {
			t.Fatalf("decoded %q, want %q", out.String(), want)
		}
		if rest, _ := io.ReadAll(br); string(rest) != "+OK next\r\n" {
			t.Fatalf("left %q after the message", rest)
		}
	})
}
