package imapconn

import (
	"errors"
	"net"
	"sync/atomic"
	"time"
)

// deadlineConn bounds how long the server may stay silent: a read fails
// once timeout has passed since the server last sent anything or since
// what we last sent should have reached it, whichever is later. (A write
// returns once the bytes are in the kernel's buffers: on a slow link a
// large APPEND is still on its way; we allow minRate for it.) go-imap
// retries a read that timed out: the deadline is absolute, not "now +
// timeout" at each read, so a retry fails at once and a server that goes
// silent costs one timeout, not one per retry. A timeout marks the Link dead. It counts bytes.
type deadlineConn struct {
	net.Conn
	timeout  atomic.Int64 // nanoseconds; 0 = none
	last     atomic.Int64 // unix nanoseconds of the last progress
	sent     atomic.Int64 // unix nanoseconds when our writes should have left at minRate
	asked    atomic.Bool  // we wrote since the server last sent anything
	counters *Counters
	link     *Link
}

// minRate is the slowest upload rate a link is assumed to have, for the
// time a command's bytes may take to reach the server.
const minRate = 16 << 10

// progress records that the exchange moved on now.
func (c *deadlineConn) progress() { c.last.Store(time.Now().UnixNano()) }

// deadline is when a read must have returned, for a timeout t.
func (c *deadlineConn) deadline(t time.Duration) time.Time {
	return time.Unix(0, max(c.last.Load(), c.sent.Load())).Add(t)
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	if t := time.Duration(c.timeout.Load()); t > 0 {
		c.Conn.SetReadDeadline(c.deadline(t))
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.progress()
		c.asked.Store(false)
	}
	if c.counters != nil {
		c.counters.In.Add(int64(n))
	}
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() && c.asked.Load() && c.link != nil {
		// Silent after a command: not an idle connection's timeout.
		c.link.MarkDead()
	}
	return n, err
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(2 * time.Minute))
	n, err := c.Conn.Write(p)
	if n > 0 {
		// A command: the server has a whole timeout to answer it once
		// it got it.
		c.progress()
		c.sent.Store(max(c.sent.Load(), time.Now().UnixNano()) + int64(n)*int64(time.Second)/minRate)
		c.asked.Store(true)
		if t := time.Duration(c.timeout.Load()); t > 0 {
			c.Conn.SetReadDeadline(c.deadline(t))
		}
	}
	if c.counters != nil {
		c.counters.Out.Add(int64(n))
	}
	return n, err
}
