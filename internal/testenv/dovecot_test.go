package testenv

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestIMAPAppendPOP3Retr appends a message over IMAP and reads it back over
// POP3 with a hand-written exchange.
func TestIMAPAppendPOP3Retr(t *testing.T) {
	u := Shared(t).NewUser(t)
	r := rand.New(rand.NewPCG(1, 2))
	msg := GenMessage(r, &GenOptions{BodySize: 6000})
	id := messageID(msg)
	if id == "" {
		t.Fatal("generated message has no Message-ID")
	}
	uid := u.Append(t, "INBOX", msg, imap.FlagSeen)
	got := u.Messages(t, "INBOX")
	if len(got) != 1 || got[0].UID != uid || got[0].MessageID != id || !slices.Equal(got[0].Flags, []string{`\Seen`}) ||
		got[0].Size != int64(len(msg)) {
		t.Fatalf("INBOX over IMAP = %+v, want UID %d %s [\\Seen] %d bytes", got, uid, id, len(msg))
	}

	conn, err := textproto.Dial("tcp", u.POP3Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cmd := func(format string, args ...any) string {
		t.Helper()
		if format != "" {
			if err := conn.PrintfLine(format, args...); err != nil {
				t.Fatal(err)
			}
		}
		line, err := conn.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(line, "+OK") {
			t.Fatalf("%q: %s", strings.Fields(format)[0], line)
		}
		return line
	}
	cmd("") // greeting
	cmd("USER %s", u.Name)
	cmd("PASS %s", u.Password)
	if stat := cmd("STAT"); stat != "+OK 1 "+strconv.Itoa(len(msg)) {
		t.Errorf("STAT = %q, want +OK 1 %d", stat, len(msg))
	}
	cmd("RETR 1")
	body, err := io.ReadAll(conn.DotReader())
	if err != nil {
		t.Fatal(err)
	}
	cmd("QUIT")
	// DotReader turns CRLF into LF and undoes dot-stuffing.
	if want := strings.ReplaceAll(string(msg), "\r\n", "\n"); string(body) != want {
		t.Errorf("RETR returned %d bytes that differ from the %d appended", len(body), len(want))
	}
	if got := messageID(body); got != id {
		t.Errorf("RETR Message-ID = %q, want %q", got, id)
	}

	c := u.LogCounters(t, 1)
	if c.POP3Sessions != 1 || c.Retr != 1 || c.RetrBytes < int64(len(msg)) || c.In == 0 || c.Out < int64(len(msg)) {
		t.Errorf("log counters after one POP3 session = %+v", c)
	}
}

// TestServerFeatures checks the server has what the sync engine relies on:
// the extensions, "/" as separator and the SPECIAL-USE folders, created only
// on demand.
func TestServerFeatures(t *testing.T) {
	u := Shared(t).NewUser(t)
	c := u.Dial(t)
	for _, capa := range []imap.Cap{imap.CapCondStore, imap.CapUIDPlus, imap.CapMove, imap.CapSpecialUse,
		imap.CapListStatus, imap.CapESearch, imap.CapIdle} {
		if !c.Caps().Has(capa) {
			t.Errorf("server lacks %s", capa)
		}
	}
	if got := u.Folders(t); !slices.Equal(got, []string{"INBOX"}) {
		t.Errorf("folders of a new user = %q, want only INBOX", got)
	}
	for _, f := range []string{"Sent", "Trash", "Drafts", "Junk", "Lists/golang"} {
		u.CreateFolder(t, f)
	}
	list, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	attrs := make(map[string][]imap.MailboxAttr)
	for _, l := range list {
		if l.Delim != '/' {
			t.Errorf("%s: delimiter %q, want /", l.Mailbox, l.Delim)
		}
		attrs[l.Mailbox] = l.Attrs
	}
	for _, f := range []string{"Sent", "Trash", "Drafts", "Junk"} {
		if !slices.Contains(attrs[f], imap.MailboxAttr(`\`+f)) {
			t.Errorf("%s has attributes %v, want \\%s", f, attrs[f], f)
		}
	}
	want := []string{"Drafts", "INBOX", "Junk", "Lists/golang", "Sent", "Trash"}
	if got := u.Folders(t); !slices.Equal(got, want) {
		t.Errorf("folders = %q, want %q", got, want)
	}
	u.DeleteFolder(t, "Junk")
	if got := u.Folders(t); slices.Contains(got, "Junk") {
		t.Errorf("Junk still listed after delete: %q", got)
	}
	// LAYOUT=fs: the server's Maildir nests like the verbatim layout.
	if st, err := os.Stat(filepath.Join(u.Server().MailDir, u.Name, "Lists", "golang", "cur")); err != nil || !st.IsDir() {
		t.Errorf("Lists/golang is not stored as nested directories: %v", err)
	}
}

// TestUserHelpers exercises the mutating helpers and checks each outcome
// through a second, independent connection.
func TestUserHelpers(t *testing.T) {
	u := Shared(t).NewUser(t)
	r := rand.New(rand.NewPCG(3, 4))
	u.CreateFolder(t, "Archive")
	m1, m2 := GenMessage(r, nil), GenMessage(r, &GenOptions{AttachmentSize: 3000})
	uid1 := u.Append(t, "INBOX", m1)
	uid2 := u.Append(t, "INBOX", m2, imap.FlagFlagged)
	u.SetFlags(t, "INBOX", uid1, true, imap.FlagSeen, imap.FlagAnswered, "$Forwarded")
	u.SetFlags(t, "INBOX", uid2, false, imap.FlagFlagged)
	moved := u.Move(t, "INBOX", uid2, "Archive")
	if moved == 0 {
		t.Fatal("Move returned UID 0")
	}

	c := u.Dial(t)
	check := func(folder string, want []Msg) {
		t.Helper()
		if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			t.Fatal(err)
		}
		hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
		bufs, err := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{hdr}}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		var got []Msg
		for _, b := range bufs {
			var flags []string
			for _, f := range b.Flags {
				if f != `\Recent` {
					flags = append(flags, string(f))
				}
			}
			slices.Sort(flags)
			got = append(got, Msg{UID: uint32(b.UID), MessageID: messageID(b.FindBodySection(hdr)), Flags: flags})
		}
		if len(got) != len(want) {
			t.Fatalf("%s holds %+v, want %+v", folder, got, want)
		}
		for i := range got {
			if got[i].UID != want[i].UID || got[i].MessageID != want[i].MessageID || !slices.Equal(got[i].Flags, want[i].Flags) {
				t.Errorf("%s message %d = %+v, want %+v", folder, i, got[i], want[i])
			}
		}
		// The helper reads the same.
		helper := u.Messages(t, folder)
		for i := range helper {
			if i < len(want) && (helper[i].UID != want[i].UID || helper[i].MessageID != want[i].MessageID || !slices.Equal(helper[i].Flags, want[i].Flags)) {
				t.Errorf("Messages(%s)[%d] = %+v, want %+v", folder, i, helper[i], want[i])
			}
		}
	}
	check("INBOX", []Msg{{UID: uid1, MessageID: messageID(m1), Flags: []string{"$Forwarded", `\Answered`, `\Seen`}}})
	check("Archive", []Msg{{UID: moved, MessageID: messageID(m2)}})
	u.Expunge(t, "Archive", moved)
	check("Archive", nil)
	if n := len(u.Messages(t, "Archive")); n != 0 {
		t.Errorf("Archive holds %d messages after expunge", n)
	}
}

// TestCompareAccount writes local Maildirs in both layouts that mirror a
// server account, checks CompareAccount accepts them, then breaks them and
// checks the differences reported.
func TestCompareAccount(t *testing.T) {
	u := Shared(t).NewUser(t)
	r := rand.New(rand.NewPCG(5, 6))
	u.CreateFolder(t, "Lists/golang")
	m1, m2, m3 := GenMessage(r, nil), GenMessage(r, nil), GenMessage(r, nil)
	u.Append(t, "INBOX", m1, imap.FlagSeen, imap.FlagFlagged, imap.FlagDeleted)
	u.Append(t, "INBOX", m2)
	u.Append(t, "Lists/golang", m3, imap.FlagAnswered, "$Forwarded", imap.FlagDraft, "customkeyword")

	for _, layout := range []string{LayoutVerbatim, LayoutMaildirPP} {
		t.Run(layout, func(t *testing.T) {
			root := t.TempDir()
			inbox, lists := filepath.Join(root, "INBOX"), filepath.Join(root, "Lists", "golang")
			if layout == LayoutMaildirPP {
				inbox, lists = root, filepath.Join(root, ".Lists.golang")
			}
			p1 := writeMaildirFile(t, inbox, "cur", "1.a.host:2,FST", m1)
			writeMaildirFile(t, inbox, "new", "2.b.host", m2)
			writeMaildirFile(t, lists, "cur", "3.c.host:2,DPR", m3)

			if !CompareAccount(t, u, root, layout) {
				t.Fatal("CompareAccount found differences in a faithful copy")
			}
			local := ReadMaildir(t, root, layout)
			if len(local["INBOX"]) != 2 || len(local["Lists/golang"]) != 1 {
				t.Fatalf("ReadMaildir = %+v", local)
			}

			// Break it: a flag lost, a message missing, a stray folder, a duplicate.
			if err := os.Rename(p1, strings.TrimSuffix(p1, "FST")+"ST"); err != nil {
				t.Fatal(err)
			}
			stray := filepath.Join(root, "Stray")
			if layout == LayoutMaildirPP {
				stray = filepath.Join(root, ".Stray")
			}
			writeMaildirFile(t, stray, "cur", "4.d.host:2,S", m1)
			writeMaildirFile(t, lists, "new", "5.e.host", m3)
			server := make(map[string][]Msg)
			for _, f := range u.Folders(t) {
				server[f] = u.Messages(t, f)
			}
			diffs := DiffAccount(server, ReadMaildir(t, root, layout))
			id1, id3 := messageID(m1), messageID(m3)
			want := []string{
				`folder "INBOX": ` + id1 + `: flags differ: server (UID 1) [\Deleted \Flagged \Seen], local (cur/1.a.host:2,ST) [\Deleted \Seen]`,
				`folder "Lists/golang": ` + id3 + `: local (new/5.e.host) [], missing on the server`,
				`folder "Stray" (1 messages) is local but not on the server`,
			}
			if !slices.Equal(diffs, want) {
				t.Errorf("differences:\n%s\nwant:\n%s", strings.Join(diffs, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func writeMaildirFile(t *testing.T, folder, sub, name string, msg []byte) string {
	t.Helper()
	for _, s := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(folder, s), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(folder, sub, name)
	// Local files usually hold LF line ends.
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(msg), "\r\n", "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTLSAndExtraConfig starts a server of its own with TLS and an extra
// setting, and checks Stop ends the master and removes the directory.
func TestTLSAndExtraConfig(t *testing.T) {
	d := NewDovecot(t, &DovecotOptions{TLS: true, ExtraConfig: []string{"imap_capability = +XMAILMIRROR"}})
	u := d.NewUser(t)
	if d.CAFile == "" || d.IMAPSPort == 0 || d.POP3SPort == 0 {
		t.Fatalf("TLS server: CAFile %q, IMAPS %d, POP3S %d", d.CAFile, d.IMAPSPort, d.POP3SPort)
	}
	pemData, err := os.ReadFile(d.CAFile)
	if err != nil || !strings.Contains(string(pemData), "BEGIN CERTIFICATE") {
		t.Fatalf("CA file: %v", err)
	}

	c, err := imapclient.DialTLS(hostPort(d.IMAPSPort), &imapclient.Options{TLSConfig: d.TLSConfig()})
	if err != nil {
		t.Fatalf("IMAPS: %v", err)
	}
	if err := c.Login(u.Name, u.Password).Wait(); err != nil {
		t.Fatalf("IMAPS login: %v", err)
	}
	if !c.Caps().Has("XMAILMIRROR") {
		t.Errorf("extra config not applied: capabilities %v", c.Caps())
	}
	closeClient(c)

	c, err = imapclient.DialStartTLS(d.IMAPAddr(), &imapclient.Options{TLSConfig: d.TLSConfig()})
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	if err := c.Login(u.Name, u.Password).Wait(); err != nil {
		t.Fatalf("login after STARTTLS: %v", err)
	}
	closeClient(c)

	pc, err := tls.Dial("tcp", hostPort(d.POP3SPort), d.TLSConfig())
	if err != nil {
		t.Fatalf("POP3S: %v", err)
	}
	line, err := bufio.NewReader(pc).ReadString('\n')
	pc.Close()
	if err != nil || !strings.HasPrefix(line, "+OK") {
		t.Errorf("POP3S greeting %q, %v", line, err)
	}

	// The system roots do not trust the test CA.
	if _, err := tls.Dial("tcp", hostPort(d.IMAPSPort), &tls.Config{ServerName: "127.0.0.1"}); err == nil {
		t.Error("TLS handshake verified against the system roots")
	} else if !errors.As(err, new(*tls.CertificateVerificationError)) {
		t.Errorf("TLS error = %v, want a verification error", err)
	}

	d.Stop()
	select {
	case <-d.done:
	default:
		t.Error("master still running after Stop")
	}
	if c, err := net.Dial("tcp", d.IMAPAddr()); err == nil {
		c.Close()
		t.Error("IMAP port still accepts connections after Stop")
	}
	if _, err := os.Stat(d.Dir); !Kept() && err == nil {
		t.Errorf("%s still exists after Stop", d.Dir)
	}
}

func TestSkipOrFail(t *testing.T) {
	for _, tc := range []struct {
		ci, req    string
		have       bool
		skip, fail bool
	}{
		{"", "", true, false, false},
		{"true", "1", true, false, false},
		{"", "", false, true, false},
		{"false", "0", false, true, false},
		{"true", "", false, false, true},
		{"1", "", false, false, true},
		{"", "1", false, false, true},
		{"", "true", false, false, true},
	} {
		skip, fail := skipOrFail(tc.ci, tc.req, tc.have)
		if skip != tc.skip || fail != tc.fail {
			t.Errorf("skipOrFail(%q, %q, %v) = %v, %v; want %v, %v", tc.ci, tc.req, tc.have, skip, fail, tc.skip, tc.fail)
		}
	}
}

// TestRequireDovecotHelper is run by TestRequireDovecotInCI in a child
// process without dovecot.
func TestRequireDovecotHelper(t *testing.T) {
	if os.Getenv("MAILMIRROR_TESTENV_HELPER") != "1" {
		t.Skip("run by TestRequireDovecotInCI")
	}
	Shared(t)
	t.Log("reached past Shared")
}

// TestRequireDovecotInCI runs this test binary without dovecot: it must fail
// under CI=true and skip otherwise.
func TestRequireDovecotInCI(t *testing.T) {
	base := []string{"MAILMIRROR_TESTENV_HELPER=1", EnvBinary + "=" + filepath.Join(t.TempDir(), "no-dovecot")}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "CI" && k != EnvRequire && k != EnvBinary {
			base = append(base, kv)
		}
	}
	run := func(extra ...string) (string, error) {
		cmd := testCommand(t, "-test.run=^TestRequireDovecotHelper$", "-test.v")
		cmd.Env = append(slices.Clone(base), extra...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("CI=true")
	if err == nil || !strings.Contains(out, "--- FAIL: TestRequireDovecotHelper") || strings.Contains(out, "reached past Shared") {
		t.Errorf("with CI=true and no dovecot: err %v, output:\n%s", err, out)
	}
	out, err = run(EnvRequire + "=1")
	if err == nil || !strings.Contains(out, "--- FAIL: TestRequireDovecotHelper") {
		t.Errorf("with %s=1 and no dovecot: err %v, output:\n%s", EnvRequire, err, out)
	}
	out, err = run()
	if err != nil || !strings.Contains(out, "--- SKIP: TestRequireDovecotHelper") {
		t.Errorf("without CI and no dovecot: err %v, output:\n%s", err, out)
	}
}

// testCommand runs this test binary again with args.
func testCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exec.Command(exe, args...)
}

// TestStartFailures checks that a start that cannot bind is recognised (and
// retried) and that a bad configuration is reported with Dovecot's words.
func TestStartFailures(t *testing.T) {
	RequireDovecot(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port

	_, err = StartDovecot(&DovecotOptions{ExtraConfig: []string{
		"service imap-login {", "  inet_listener imap {", "    port = " + strconv.Itoa(taken), "  }", "}",
	}})
	if !errors.Is(err, errPortTaken) {
		t.Errorf("start on a taken port: %v, want errPortTaken", err)
	}
	_, err = StartDovecot(&DovecotOptions{ExtraConfig: []string{"no_such_setting = 1"}})
	if err == nil || !strings.Contains(err.Error(), "no_such_setting") {
		t.Errorf("start with a bad setting: %v, want Dovecot's complaint", err)
	}
}
