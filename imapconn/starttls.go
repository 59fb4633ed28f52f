package imapconn

import (
	"bytes"
	"fmt"
	"net"
	"strings"
)

// startTLS reads the greeting and asks for STARTTLS on the clear-text
// connection: nothing sensitive is sent unless the server accepted it. It reads byte by byte, so that
// nothing the server (or a man in the middle) sends after the OK is taken
// as clear text: those bytes go to the TLS handshake, which fails.
func startTLS(c net.Conn, addr string) error {
	greeting, err := readLine(c)
	if err != nil {
		return fmt.Errorf("greeting from %s: %w", addr, err)
	}
	if !bytes.HasPrefix(bytes.ToUpper(greeting), []byte("* OK")) {
		return fmt.Errorf("greeting from %s: %q: STARTTLS needs a server that waits for a login", addr, strings.TrimSpace(string(greeting)))
	}
	// STARTTLS is asked for whatever the capabilities say (a man in the
	// middle may strip it from them): only its OK lets the login go on.
	reply, err := exchange(c, "S2 STARTTLS")
	if err != nil {
		return fmt.Errorf("STARTTLS with %s: %w", addr, err)
	}
	if !strings.HasPrefix(strings.ToUpper(lastLine(reply)), "S2 OK") {
		return fmt.Errorf("STARTTLS with %s: %w (the server said %q)", addr, ErrNoStartTLS, lastLine(reply))
	}
	return nil
}

// exchange sends a command and returns every line up to its tagged reply.
func exchange(c net.Conn, cmd string) (string, error) {
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	tag := cmd[:strings.IndexByte(cmd, ' ')+1]
	var all strings.Builder
	for {
		l, err := readLine(c)
		if err != nil {
			return "", err
		}
		all.Write(l)
		if bytes.HasPrefix(l, []byte(tag)) {
			return all.String(), nil
		}
	}
}

// readLine reads one line, byte by byte (at most 8 KiB).
func readLine(c net.Conn) ([]byte, error) {
	var line []byte
	b := make([]byte, 1)
	for len(line) < 8<<10 {
		if _, err := c.Read(b); err != nil {
			return nil, err
		}
		line = append(line, b[0])
		if b[0] == '\n' {
			return line, nil
		}
	}
	return nil, fmt.Errorf("line too long")
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\r\n")
	return strings.TrimSpace(s[strings.LastIndexByte(s, '\n')+1:])
}
