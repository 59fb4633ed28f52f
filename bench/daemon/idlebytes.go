//go:build linux

package main

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// watchdogCycle is how often the daemon's IDLE connection ends IDLE, sends
// a NOOP and idles again: min(WatchdogInterval, IdleRefresh) of
// daemon.Options, whose defaults `mailmirror run` uses.
const watchdogCycle = 4 * time.Minute

// keepAliveLine is what Dovecot sends on an IDLE connection every
// imap_idle_notify_interval.
const keepAliveLine = "* OK Still here\r\n"

// idleBytes is the bytes-per-idle-hour figure and what it is made of.
type idleBytes struct {
	window time.Duration
	d      wireSnap // the proxy's counts over the window

	passes    int   // poll passes in the window (LIST commands)
	passBytes int64 // mean bytes per poll pass, both ways
	poll      time.Duration

	reissue int64         // bytes of one watchdog cycle (DONE, NOOP, IDLE), both ways
	notify  time.Duration // Dovecot's imap_idle_notify_interval
	notifyS string        // where notify comes from
}

// perHour computes the bytes of an idle hour at poll interval poll: its
// passes, its watchdog cycles and Dovecot's keep-alives.
func (b *idleBytes) perHour(poll time.Duration) (total, passes, cycles, keepAlives float64) {
	hour := float64(time.Hour)
	passes, cycles = hour/float64(poll), hour/float64(watchdogCycle)
	if b.notify > 0 {
		keepAlives = hour / float64(b.notify)
	}
	total = passes*float64(b.passBytes) + cycles*float64(b.reissue) + keepAlives*float64(len(keepAliveLine))
	return total, passes, cycles, keepAlives
}

func (b *idleBytes) print(pollDefault time.Duration) {
	d := b.d
	fmt.Printf("(d) bytes on the wire while idle (a counting proxy between the daemon and Dovecot):\n")
	fmt.Printf("    measured over the %s window: %d B sent, %d B received; %d poll pass(es) on the pool's connection%s (%d B, commands %s); IDLE connection %d B (commands %s), %d keep-alive line(s); %d new connection(s)\n",
		b.window.Round(time.Second), d.idleUp+d.otherUp, d.idleDown+d.otherDown, b.passes, plural(b.passes), d.otherUp+d.otherDown,
		cmdList(d.otherCmds), d.idleUp+d.idleDown, cmdList(d.idleCmds), d.still, d.conns)
	fmt.Printf("    one IDLE re-issue (DONE, NOOP, IDLE: the daemon's watchdog every %s), measured on a connection of our own: %d B\n", watchdogCycle, b.reissue)
	fmt.Printf("    Dovecot's keep-alive during IDLE: %d B every %s (imap_idle_notify_interval, %s)\n", len(keepAliveLine), b.notify, b.notifyS)
	polls := []time.Duration{b.poll}
	if pollDefault != b.poll {
		polls = append(polls, pollDefault)
	}
	for i, poll := range polls {
		label := "this run's"
		if i > 0 {
			label = "the default"
		}
		total, passes, cycles, keepAlives := b.perHour(poll)
		fmt.Printf("    bytes per idle hour (computed from these figures), %s poll_interval %s: %.1f KB = %.0f passes × %d B + %.0f re-issues × %d B + %.0f keep-alives × %d B\n",
			label, poll, total/1e3, passes, b.passBytes, cycles, b.reissue, keepAlives, len(keepAliveLine))
	}
	// With every folder IDLEd the daemon skips the polls but for a look
	// for new server folders every 30 minutes (daemon.newFolderCheck):
	// each folder's IDLE connection costs its re-issues and keep-alives.
	_, _, cycles, keepAlives := b.perHour(time.Hour)
	perConn := cycles*float64(b.reissue) + keepAlives*float64(len(keepAliveLine))
	fmt.Printf("    bytes per idle hour (computed), every one of the %d folders in idle_folders: %.1f KB = %d × (%.0f re-issues × %d B + %.0f keep-alives × %d B) + 2 new-folder polls × %d B\n",
		len(folders), (float64(len(folders))*perConn+2*float64(b.passBytes))/1e3, len(folders), cycles, b.reissue, keepAlives, len(keepAliveLine), b.passBytes)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// cmdList formats command counts as "LIST 2, NAMESPACE 2".
func cmdList(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// countConn counts the bytes of a client connection.
type countConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// measureReissue does what the daemon's IDLE connection does every
// watchdog cycle — DONE, the tagged OK, NOOP and its OK, IDLE and its
// continuation — on a connection of its own to the same folder, and
// returns the bytes both ways. (The tagged OK of IDLE states how long it
// ran: after 4 minutes it is a byte or two longer than after a second.)
func measureReissue(u *testenv.User) (int64, error) {
	nc, err := net.Dial("tcp", u.IMAPAddr())
	if err != nil {
		return 0, err
	}
	cc := &countConn{Conn: nc}
	c := imapclient.New(cc, nil)
	defer c.Close()
	if err := c.Login(u.Name, u.Password).Wait(); err != nil {
		return 0, err
	}
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true, CondStore: true}).Wait(); err != nil {
		return 0, err
	}
	cmd, err := c.Idle()
	if err != nil {
		return 0, err
	}
	time.Sleep(time.Second)
	before := cc.n.Load()
	if err := cmd.Close(); err != nil {
		return 0, err
	}
	if err := cmd.Wait(); err != nil {
		return 0, err
	}
	if err := c.Noop().Wait(); err != nil {
		return 0, err
	}
	cmd, err = c.Idle()
	if err != nil {
		return 0, err
	}
	n := cc.n.Load() - before
	cmd.Close()
	cmd.Wait()
	c.Logout().Wait()
	return n, nil
}

// idleNotifyInterval asks doveconf for the server's
// imap_idle_notify_interval; it falls back to Dovecot's default.
func idleNotifyInterval(d *testenv.Dovecot) (time.Duration, string) {
	const def = 2 * time.Minute
	bin, err := exec.LookPath("doveconf")
	if err != nil {
		bin = filepath.Join("/usr/sbin", "doveconf")
	}
	out, err := exec.Command(bin, "-c", d.ConfigPath, "-h", "imap_idle_notify_interval").Output()
	if err != nil {
		return def, "Dovecot's default; doveconf failed"
	}
	f := strings.Fields(string(out)) // "2 mins"
	if len(f) != 2 {
		return def, "Dovecot's default; doveconf said " + strings.TrimSpace(string(out))
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return def, "Dovecot's default"
	}
	unit := map[string]time.Duration{"secs": time.Second, "sec": time.Second, "mins": time.Minute, "min": time.Minute, "hours": time.Hour, "hour": time.Hour}[f[1]]
	if unit == 0 {
		return def, "Dovecot's default"
	}
	return time.Duration(n) * unit, "doveconf"
}
