package pop3pull

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// DefaultWindow is how many commands the client keeps in flight when the
// server advertises PIPELINING.
const DefaultWindow = 64

// BodyFunc receives one answer of RetrEach or TopEach, in the order of the
// message numbers given. On success body streams the message (dot-unstuffed,
// CRLF turned into LF) up to io.EOF, and err is nil; body is valid only
// during the call, and what the function leaves unread is discarded. When
// the server refused the command, body is nil and err is its *ServerError.
// A connection that breaks while body is read makes body return an error
// (io.ErrUnexpectedEOF or a network error): the message is incomplete.
//
// Returning a non-nil error stops the batch: no further command is sent,
// the answers already in flight are read and discarded, and RetrEach
// returns that error.
type BodyFunc func(num int, body io.Reader, err error) error

// SetWindow sets how many commands RetrEach, TopEach and DeleEach keep in
// flight when the server advertises PIPELINING (at least 1, which turns
// pipelining off). The default is DefaultWindow.
func (c *Client) SetWindow(n int) {
	if n < 1 {
		n = 1
	}
	c.window = n
}

// Pipelining reports whether the server advertised PIPELINING in CAPA (as
// read so far) and the window allows more than one command in flight.
func (c *Client) Pipelining() bool {
	return c.caps.Has("PIPELINING") && c.windowSize() > 1
}

func (c *Client) windowSize() int {
	if c.window == 0 {
		return DefaultWindow
	}
	return c.window
}

// Retr sends RETR num and streams the message into w. It returns the number
// of bytes written. An incomplete message (the connection broke) gives an
// error; what was written to w before then must be thrown away.
func (c *Client) Retr(num int, w io.Writer) (int64, error) {
	var n int64
	err := c.RetrEach([]int{num}, func(_ int, body io.Reader, err error) error {
		if err != nil {
			return err
		}
		var cerr error
		n, cerr = io.Copy(w, body)
		return cerr
	})
	return n, err
}

// Top sends TOP num lines and streams the header and the first lines of the
// body into w.
func (c *Client) Top(num, lines int, w io.Writer) (int64, error) {
	var n int64
	err := c.TopEach([]int{num}, lines, func(_ int, body io.Reader, err error) error {
		if err != nil {
			return err
		}
		var cerr error
		n, cerr = io.Copy(w, body)
		return cerr
	})
	return n, err
}

// BrokenError is a connection that failed while the answer to the command
// about one message was being read (RetrEach, TopEach): Num names the
// message, so that a caller can tell which one the server could not send.
type BrokenError struct {
	Num int   // the message whose answer was being read
	Err error // the connection's error
}

// Error implements error.
func (e *BrokenError) Error() string { return fmt.Sprintf("message %d: %v", e.Num, e.Err) }

// Unwrap returns the connection's error.
func (e *BrokenError) Unwrap() error { return e.Err }

// RetrEach retrieves the messages nums, pipelined when the server allows
// it, and calls fn for each answer in order. See BodyFunc. A connection
// that fails while an answer is read gives a *BrokenError naming the
// message.
func (c *Client) RetrEach(nums []int, fn BodyFunc) error {
	lines := make([]string, len(nums))
	for i, n := range nums {
		lines[i] = "RETR " + strconv.Itoa(n)
	}
	return c.pipelineEach("RETR", nums, lines, fn)
}

// TopEach sends TOP num lines for each of nums, pipelined when the server
// allows it, and calls fn for each answer in order. A connection that fails
// while an answer is read gives a *BrokenError naming the message.
func (c *Client) TopEach(nums []int, lines int, fn BodyFunc) error {
	cmds := make([]string, len(nums))
	for i, n := range nums {
		cmds[i] = "TOP " + strconv.Itoa(n) + " " + strconv.Itoa(lines)
	}
	return c.pipelineEach("TOP", nums, cmds, fn)
}

// pipelineEach runs a multi-line command per message and names the
// message whose answer the connection broke in.
func (c *Client) pipelineEach(verb string, nums []int, lines []string, fn BodyFunc) error {
	at := -1
	err := c.pipeline(verb, lines, true, func(i int, body io.Reader, err error) error {
		return fn(nums[i], body, err)
	}, &at)
	if err != nil && at >= 0 && c.err != nil {
		return &BrokenError{Num: nums[at], Err: err}
	}
	return err
}

// Dele marks message num for deletion; the server removes it at Quit.
func (c *Client) Dele(num int) error {
	_, err := c.cmd("DELE", "DELE "+strconv.Itoa(num))
	return err
}

// DeleEach sends DELE for each of nums, pipelined when the server allows
// it. refused maps the numbers the server answered -ERR to with that error;
// err is a connection failure. The deletions take effect only at Quit.
func (c *Client) DeleEach(nums []int) (refused map[int]error, err error) {
	cmds := make([]string, len(nums))
	for i, n := range nums {
		cmds[i] = "DELE " + strconv.Itoa(n)
	}
	err = c.pipeline("DELE", cmds, false, func(i int, _ io.Reader, err error) error {
		if err != nil {
			if refused == nil {
				refused = map[int]error{}
			}
			refused[nums[i]] = err
		}
		return nil
	}, nil)
	return refused, err
}

// pipeline sends lines with up to windowSize in flight (one at a time
// without PIPELINING) and hands each answer to fn in order. multiline says
// whether +OK answers carry a dot-terminated body. When the connection
// breaks while answer i is read, *at (when at is not nil) is set to i.
func (c *Client) pipeline(verb string, lines []string, multiline bool, fn func(i int, body io.Reader, err error) error, at *int) error {
	window := 1
	if c.Pipelining() {
		window = c.windowSize()
	}
	sent := 0
	var stop error
	for i := 0; i < sent || (stop == nil && i < len(lines)); i++ {
		if at != nil {
			*at = -1 // a failure to send is no message's fault
		}
		if stop == nil && sent < len(lines) && sent < i+window {
			for sent < len(lines) && sent < i+window {
				if err := c.send(verb, lines[sent]); err != nil {
					return err
				}
				sent++
			}
			if err := c.flush(verb); err != nil {
				return err
			}
		}
		if at != nil {
			*at = i
		}
		_, err := c.readStatus(verb)
		if err != nil {
			if !isServerError(err) {
				return err
			}
			if stop == nil {
				stop = fn(i, nil, err)
			}
			continue
		}
		if !multiline {
			if stop == nil {
				stop = fn(i, nil, nil)
			}
			continue
		}
		dr := newDotReader(c.br)
		if stop == nil {
			stop = fn(i, dr, nil)
		}
		if _, err := io.Copy(io.Discard, dr); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("server closed the connection: %w", err)
			}
			return c.broken(fmt.Errorf("pop3: %s: %w", verb, err))
		}
	}
	return stop
}
