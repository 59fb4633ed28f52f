// Package testenv runs a real Dovecot 2.3 (IMAP and POP3) on 127.0.0.1 for
// tests, and offers the helpers tests need around it: fresh users, an
// independent IMAP client to check the server side, a reader for local
// Maildir trees, an account comparison, a message generator and the
// per-session counters Dovecot writes to its log.
//
// Each test package gets one shared server, started on first use by Shared
// and stopped by Main, which the package calls from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
//
// Tests that need their own server (TLS, special settings) use NewDovecot.
// When the dovecot binary is missing, tests skip, except in CI (CI=true) or
// when MAILMIRROR_REQUIRE_DOVECOT=1, where they fail. MAILMIRROR_KEEP_DOVECOT=1
// keeps every server's directory (configuration, dovecot.log, mail) after the
// run; MAILMIRROR_DOVECOT names the dovecot binary to use.
//
// The server runs as root (mail owned by the system user vmail, created when
// missing; login processes as dovenull, internal processes as dovecot) or as
// a normal user (every *_user setting names that user).
package testenv

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Environment variables read by the package.
const (
	// EnvKeep keeps the servers' directories after the run when set to 1.
	EnvKeep = "MAILMIRROR_KEEP_DOVECOT"
	// EnvRequire turns a missing dovecot binary into a test failure.
	EnvRequire = "MAILMIRROR_REQUIRE_DOVECOT"
	// EnvBinary names the dovecot binary, instead of a search of PATH,
	// /usr/sbin and /usr/local/sbin.
	EnvBinary = "MAILMIRROR_DOVECOT"
)

// startTimeout bounds how long a starting server may take to answer. It is a
// safety net against a hung start, not a performance assertion.
const startTimeout = 2 * time.Minute

// stopTimeout is how long Stop waits after SIGTERM before it kills.
const stopTimeout = time.Minute

// startAttempts is how many times StartDovecot picks new ports when another
// process took one of them between the pick and Dovecot's bind.
const startAttempts = 5

// DovecotOptions configures a server. A nil *DovecotOptions means defaults:
// plain IMAP and POP3 only.
type DovecotOptions struct {
	// TLS generates a CA and a certificate for 127.0.0.1, turns on STARTTLS
	// on the plain ports and adds implicit-TLS listeners (IMAPSPort,
	// POP3SPort). The CA certificate is written to CAFile.
	TLS bool
	// ExtraConfig lines are appended to the generated dovecot.conf; a
	// setting repeated there overrides the generated one.
	ExtraConfig []string
	// OAuth2IntrospectionURL, when set, turns on XOAUTH2 and OAUTHBEARER
	// with a first passdb of driver oauth2 that checks each token at this
	// token introspection URL (see oauth2.go and package oauthfake).
	OAuth2IntrospectionURL string
	// Compress loads the imap_zlib plugin: IMAP sessions offer
	// COMPRESS=DEFLATE (RFC 4978) after the login. The shared server
	// does not, so that byte counts compare with Dovecot's log (whose
	// in= and out= count the stream before compression).
	Compress bool
}

// Dovecot is a running server. Its fields are set by StartDovecot and must
// not be changed.
type Dovecot struct {
	IMAPPort   int    // plain IMAP (STARTTLS too with TLS) on 127.0.0.1
	POP3Port   int    // plain POP3 (STLS too with TLS) on 127.0.0.1
	IMAPSPort  int    // implicit-TLS IMAP; 0 without TLS
	POP3SPort  int    // implicit-TLS POP3; 0 without TLS
	Dir        string // private directory holding everything below
	ConfigPath string // dovecot.conf
	LogPath    string // dovecot.log: errors and per-session counters
	CAFile     string // PEM CA certificate that signed the server's; "" without TLS
	MailDir    string // the users' Maildirs: MailDir/<user>, LAYOUT=fs

	usersDir  string // one passwd-file per user: usersDir/<user>
	caPool    *x509.CertPool
	mailOwner *sysUser // owner of mail files; nil when running unprivileged
	authOwner *sysUser // user the auth process reads the users files as; nil when unprivileged

	mu       sync.Mutex
	nextUser int

	cmd      *exec.Cmd
	done     chan struct{} // closed when the master has exited
	waitErr  error         // master's exit status, valid after done
	stopOnce sync.Once
}

// sysUser is a system account the server runs processes as.
type sysUser struct {
	name, group string
	uid, gid    int
}

// StartDovecot starts a server in a new private directory and returns once
// it answers on its ports. The caller must call Stop. It fails when the
// dovecot binary is missing (see RequireDovecot).
func StartDovecot(opts *DovecotOptions) (*Dovecot, error) {
	if opts == nil {
		opts = &DovecotOptions{}
	}
	bin, err := findDovecot()
	if err != nil {
		return nil, err
	}
	reapOnce.Do(reapStale)
	dir, err := os.MkdirTemp("", dirPattern[:len(dirPattern)-1])
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	// Marks the directory as in use by this process until Stop.
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("testenv: %w", err)
	}
	d := &Dovecot{
		Dir:        dir,
		ConfigPath: filepath.Join(dir, "dovecot.conf"),
		LogPath:    filepath.Join(dir, "dovecot.log"),
		MailDir:    filepath.Join(dir, "mail"),
		usersDir:   filepath.Join(dir, "users"),
	}
	if err := d.prepare(opts); err != nil {
		d.removeDir()
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		err = d.start(bin, opts)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == startAttempts {
			d.removeDir()
			return nil, err
		}
	}
}

// prepare creates the directory tree, the system users when root and the
// TLS material.
func (d *Dovecot) prepare(opts *DovecotOptions) error {
	if os.Geteuid() == 0 {
		u, err := ensureSystemUser("vmail")
		if err != nil {
			return err
		}
		d.mailOwner = u
		if d.authOwner, err = ensureSystemUser("dovecot"); err != nil {
			return err
		}
		if _, err := ensureSystemUser("dovenull"); err != nil {
			return err
		}
		// The mail processes run as vmail and must reach Dir/mail.
		if err := os.Chmod(d.Dir, 0o711); err != nil {
			return fmt.Errorf("testenv: %w", err)
		}
	}
	// Dovecot creates base_dir (run) and state_dir itself, with the
	// permissions it wants.
	for _, sub := range []string{"mail", "home"} {
		p := filepath.Join(d.Dir, sub)
		if err := os.Mkdir(p, 0o700); err != nil {
			return fmt.Errorf("testenv: %w", err)
		}
		if d.mailOwner != nil {
			if err := os.Chown(p, d.mailOwner.uid, d.mailOwner.gid); err != nil {
				return fmt.Errorf("testenv: %w", err)
			}
		}
	}
	if err := os.Mkdir(d.usersDir, 0o700); err != nil {
		return fmt.Errorf("testenv: %w", err)
	}
	if d.authOwner != nil {
		if err := os.Chown(d.usersDir, d.authOwner.uid, d.authOwner.gid); err != nil {
			return fmt.Errorf("testenv: %w", err)
		}
	}
	if opts.TLS {
		if err := d.writeTLSFiles(); err != nil {
			return err
		}
	}
	return d.writeOAuth2Config(opts)
}

// dirPattern matches the servers' directories in the temporary directory.
const dirPattern = "mailmirror-dovecot-*"

// ownerFile, in a server's directory, holds the pid of the test process
// that runs the server, until Stop.
const ownerFile = "owner.pid"

// reapOnce runs reapStale once per process.
var reapOnce sync.Once

// errPortTaken marks a start that failed because a port was taken.
var errPortTaken = errors.New("port already in use")

// start picks ports, writes the configuration and runs the master in the
// foreground until it answers, or returns why it did not.
func (d *Dovecot) start(bin string, opts *DovecotOptions) error {
	n := 2
	if opts.TLS {
		n = 4
	}
	ports, err := freePorts(n)
	if err != nil {
		return err
	}
	d.IMAPPort, d.POP3Port = ports[0], ports[1]
	if opts.TLS {
		d.IMAPSPort, d.POP3SPort = ports[2], ports[3]
	}
	conf, err := d.config(opts)
	if err != nil {
		return err
	}
	if err := os.WriteFile(d.ConfigPath, []byte(conf), 0o600); err != nil {
		return fmt.Errorf("testenv: %w", err)
	}
	stderrPath := filepath.Join(d.Dir, "dovecot.stderr")
	stderr, err := os.OpenFile(stderrPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("testenv: %w", err)
	}
	defer stderr.Close()
	logStart := fileSize(d.LogPath)

	cmd := exec.Command(bin, "-F", "-c", d.ConfigPath)
	cmd.Dir = d.Dir
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testenv: start dovecot: %w", err)
	}
	d.cmd = cmd
	d.done = make(chan struct{})
	go func() {
		d.waitErr = cmd.Wait()
		close(d.done)
	}()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-d.done:
			msg := readTail(stderrPath, 0) + readTail(d.LogPath, logStart)
			if strings.Contains(msg, "Address already in use") {
				return fmt.Errorf("testenv: dovecot: %w", errPortTaken)
			}
			return fmt.Errorf("testenv: dovecot exited at start (%v): %s", d.waitErr, strings.TrimSpace(msg))
		default:
		}
		if greets(d.IMAPPort, "* OK") && greets(d.POP3Port, "+OK") {
			return nil
		}
		if time.Now().After(deadline) {
			d.stopProcess()
			return fmt.Errorf("testenv: dovecot did not answer within %v: %s", startTimeout, strings.TrimSpace(readTail(d.LogPath, logStart)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the server (SIGTERM to the master, then waits until it has
// exited) and removes its directory unless MAILMIRROR_KEEP_DOVECOT=1. It may
// be called more than once.
func (d *Dovecot) Stop() {
	d.stopOnce.Do(func() {
		d.stopProcess()
		d.removeDir()
	})
}

// stopProcess sends SIGTERM to the master, which stops its children, and
// waits until it has exited; it kills it after stopTimeout.
func (d *Dovecot) stopProcess() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// Kept reports whether Stop leaves the directory in place.
func Kept() bool {
	v, _ := strconv.ParseBool(os.Getenv(EnvKeep))
	return v
}

func (d *Dovecot) removeDir() {
	_ = os.Remove(filepath.Join(d.Dir, ownerFile))
	if Kept() {
		fmt.Fprintf(os.Stderr, "testenv: keeping Dovecot directory %s\n", d.Dir)
		return
	}
	_ = os.RemoveAll(d.Dir)
}

// IMAPAddr is the plain IMAP address, "127.0.0.1:port".
func (d *Dovecot) IMAPAddr() string { return hostPort(d.IMAPPort) }

// POP3Addr is the plain POP3 address, "127.0.0.1:port".
func (d *Dovecot) POP3Addr() string { return hostPort(d.POP3Port) }

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// config renders dovecot.conf.
func (d *Dovecot) config(opts *DovecotOptions) (string, error) {
	var internal, login, mail sysUser
	if d.mailOwner != nil {
		internal = sysUser{name: "dovecot", group: "dovecot"}
		login = sysUser{name: "dovenull", group: "dovenull"}
		mail = *d.mailOwner
	} else {
		me, err := currentUser()
		if err != nil {
			return "", err
		}
		internal, login, mail = *me, *me, *me
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# Generated by mailmirror's internal/testenv.")
	p("protocols = imap pop3")
	p("listen = 127.0.0.1")
	p("base_dir = %s", filepath.Join(d.Dir, "run"))
	p("state_dir = %s", filepath.Join(d.Dir, "state"))
	p("log_path = %s", d.LogPath)
	if opts.TLS {
		p("ssl = yes")
		p("ssl_cert = <%s", filepath.Join(d.Dir, "server.pem"))
		p("ssl_key = <%s", filepath.Join(d.Dir, "server.key"))
	} else {
		p("ssl = no")
	}
	p("disable_plaintext_auth = no")
	p("auth_mechanisms = %s", authMechanisms(opts))
	p("mail_location = maildir:%s/%%u:LAYOUT=fs", d.MailDir)
	p("mail_plugins =")
	p("mail_uid = %s", mail.name)
	p("mail_gid = %s", mail.group)
	p("first_valid_uid = 1")
	p("default_internal_user = %s", internal.name)
	p("default_internal_group = %s", internal.group)
	p("default_login_user = %s", login.name)
	p("imap_logout_format = in=%%i out=%%o deleted=%%{deleted} expunged=%%{expunged} trashed=%%{trashed} hdr_count=%%{fetch_hdr_count} hdr_bytes=%%{fetch_hdr_bytes} body_count=%%{fetch_body_count} body_bytes=%%{fetch_body_bytes}")
	p("pop3_logout_format = in=%%i out=%%o top=%%t/%%p retr=%%r/%%b del=%%d/%%m size=%%s")
	p("pop3_uidl_format = %%08Xu%%08Xv")
	p("namespace inbox {")
	p("  separator = /")
	p("  prefix =")
	p("  inbox = yes")
	for _, m := range []string{"Drafts", "Junk", "Sent", "Trash"} {
		p("  mailbox %s {", m)
		p("    special_use = \\%s", m)
		p("    auto = no")
		p("  }")
	}
	p("}")
	d.oauth2Passdb(p, opts)
	p("passdb {")
	p("  driver = passwd-file")
	passwdMechanisms(p, opts)
	// One file per user: passwd-file looks at a file's changes at most once a
	// second, too late for a user added just after another login.
	p("  args = scheme=PLAIN username_format=%%u %s/%%u", d.usersDir)
	p("}")
	p("userdb {")
	p("  driver = static")
	p("  args = uid=%s gid=%s home=%s/%%u", mail.name, mail.group, filepath.Join(d.Dir, "home"))
	p("}")
	for _, s := range []struct {
		proto       string
		port, sport int
	}{{"imap", d.IMAPPort, d.IMAPSPort}, {"pop3", d.POP3Port, d.POP3SPort}} {
		p("service %s-login {", s.proto)
		p("  inet_listener %s {", s.proto)
		p("    address = 127.0.0.1")
		p("    port = %d", s.port)
		p("  }")
		p("  inet_listener %ss {", s.proto)
		p("    address = 127.0.0.1")
		p("    port = %d", s.sport)
		if s.sport != 0 {
			p("    ssl = yes")
		}
		p("  }")
		if d.mailOwner == nil {
			// chroot needs root.
			p("  chroot =")
		}
		p("}")
		p("protocol %s {", s.proto)
		p("  mail_max_userip_connections = 100")
		if s.proto == "imap" && opts.Compress {
			p("  mail_plugins = $mail_plugins imap_zlib")
		}
		p("}")
	}
	if d.mailOwner == nil {
		p("service anvil {")
		p("  chroot =")
		p("}")
	}
	for _, l := range opts.ExtraConfig {
		p("%s", l)
	}
	return b.String(), nil
}

// currentUser returns the user the process runs as, with its primary group.
func currentUser() (*sysUser, error) {
	u, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("testenv: current user: %w", err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("testenv: group of %s: %w", u.Username, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &sysUser{name: u.Username, group: g.Name, uid: uid, gid: gid}, nil
}

// ensureSystemUser looks up a system user, creating it (useradd -r -M -s
// /usr/sbin/nologin) when missing. Only root can do that.
func ensureSystemUser(name string) (*sysUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if !errors.As(err, &unknown) {
			return nil, fmt.Errorf("testenv: look up user %s: %w", name, err)
		}
		out, err := exec.Command("useradd", "-r", "-M", "-s", "/usr/sbin/nologin", name).CombinedOutput()
		// Another test process may have created it meanwhile: look again.
		u2, err2 := user.Lookup(name)
		if err2 != nil {
			return nil, fmt.Errorf("testenv: useradd %s: %v: %s", name, err, bytes.TrimSpace(out))
		}
		u = u2
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("testenv: group of %s: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &sysUser{name: u.Username, group: g.Name, uid: uid, gid: gid}, nil
}

// findDovecot returns the dovecot binary: $MAILMIRROR_DOVECOT, else the
// one in PATH, else /usr/sbin or /usr/local/sbin (not in a normal user's
// PATH on Debian).
func findDovecot() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return "", fmt.Errorf("testenv: %s=%s: no such binary", EnvBinary, p)
		}
		return p, nil
	}
	if p, err := exec.LookPath("dovecot"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/dovecot", "/usr/local/sbin/dovecot"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("testenv: dovecot not found (install dovecot-imapd and dovecot-pop3d)")
}

// freePorts returns n distinct free TCP ports on 127.0.0.1, found by
// listening on port 0. Another process may take one before Dovecot binds it:
// StartDovecot retries then.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("testenv: pick a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// greets reports whether a connection to 127.0.0.1:port gets a first line
// starting with prefix.
func greets(port int, prefix string) bool {
	c, err := net.DialTimeout("tcp", hostPort(port), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, len(prefix))
	_, err = io.ReadFull(c, buf)
	return err == nil && string(buf) == prefix
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// readTail returns a file's content from offset on, at most 4 KiB of its end.
func readTail(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	b = b[offset:]
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}
