package service

import (
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func linuxSpec(system bool) Spec {
	return Spec{
		OS:         "linux",
		System:     system,
		Executable: "/usr/local/bin/mailmirror",
		ConfigPath: "/home/alice/.config/mailmirror/config.toml",
		User:       "alice",
		Home:       "/home/alice",
	}
}

func mustPlan(t *testing.T, spec Spec) *Plan {
	t.Helper()
	p, err := NewPlan(spec)
	if err != nil {
		t.Fatalf("NewPlan(%+v): %v", spec, err)
	}
	return p
}

func TestSystemdUserUnit(t *testing.T) {
	p := mustPlan(t, linuxSpec(false))
	want := "# Written by `mailmirror service install`; remove it with `mailmirror service uninstall`.\n" +
		"[Unit]\n" +
		"Description=mailmirror: keeps a local Maildir in step with IMAP and POP3 accounts\n" +
		"Documentation=https://github.com/mailmirror/mailmirror\n" +
		"\n" +
		"[Service]\n" +
		"Type=simple\n" +
		"ExecStart=/usr/local/bin/mailmirror run --config /home/alice/.config/mailmirror/config.toml\n" +
		"Restart=on-failure\n" +
		"RestartSec=5s\n" +
		"TimeoutStopSec=30s\n" +
		"UMask=0077\n" +
		"\n" +
		"[Install]\n" +
		"WantedBy=default.target\n"
	if p.Content != want {
		t.Errorf("unit:\n%s\nwant:\n%s", p.Content, want)
	}
	if p.Kind != SystemdUser || p.Name != "mailmirror" {
		t.Errorf("kind %s name %s", p.Kind, p.Name)
	}
	if want := "/home/alice/.config/systemd/user/mailmirror.service"; p.File != want {
		t.Errorf("file %s, want %s", p.File, want)
	}
	wantCmds := []string{"systemctl daemon-reload --user", "systemctl enable --user mailmirror.service"}
	if !slices.Equal(p.InstallCommands, wantCmds) {
		t.Errorf("install commands %q, want %q", p.InstallCommands, wantCmds)
	}
	if p.StartCommand != "systemctl start --user mailmirror.service" {
		t.Errorf("start command %q", p.StartCommand)
	}
	if p.Logs != "journalctl --user -u mailmirror -f" {
		t.Errorf("logs %q", p.Logs)
	}
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "loginctl enable-linger alice") {
		t.Errorf("notes %q: want the loginctl enable-linger note", p.Notes)
	}
}

func TestSystemdSystemUnit(t *testing.T) {
	p := mustPlan(t, linuxSpec(true))
	want := "# Written by `mailmirror service install`; remove it with `mailmirror service uninstall`.\n" +
		"[Unit]\n" +
		"Description=mailmirror: keeps a local Maildir in step with IMAP and POP3 accounts\n" +
		"Documentation=https://github.com/mailmirror/mailmirror\n" +
		"Wants=network-online.target\n" +
		"After=network-online.target\n" +
		"\n" +
		"[Service]\n" +
		"Type=simple\n" +
		"ExecStart=/usr/local/bin/mailmirror run --config /home/alice/.config/mailmirror/config.toml\n" +
		"User=alice\n" +
		"Restart=on-failure\n" +
		"RestartSec=5s\n" +
		"TimeoutStopSec=30s\n" +
		"UMask=0077\n" +
		"\n" +
		"[Install]\n" +
		"WantedBy=multi-user.target\n"
	if p.Content != want {
		t.Errorf("unit:\n%s\nwant:\n%s", p.Content, want)
	}
	if p.Kind != SystemdSystem || p.File != "/etc/systemd/system/mailmirror.service" {
		t.Errorf("kind %s file %s", p.Kind, p.File)
	}
	wantCmds := []string{"systemctl daemon-reload", "systemctl enable mailmirror.service"}
	if !slices.Equal(p.InstallCommands, wantCmds) {
		t.Errorf("install commands %q, want %q", p.InstallCommands, wantCmds)
	}
	if p.Logs != "journalctl -u mailmirror -f" || len(p.Notes) != 0 {
		t.Errorf("logs %q notes %q", p.Logs, p.Notes)
	}
}

func TestSystemdExecStartQuoting(t *testing.T) {
	spec := linuxSpec(false)
	spec.Executable = "/opt/my apps/mail%mirror"
	spec.ConfigPath = `/home/alice/odd "dir"\x/$HOME.toml`
	p := mustPlan(t, spec)
	want := `ExecStart="/opt/my apps/mail%%mirror" run --config "/home/alice/odd \"dir\"\\x/$$HOME.toml"` + "\n"
	if !strings.Contains(p.Content, want) {
		t.Errorf("unit:\n%s\nwant the line %s", p.Content, want)
	}
}

func TestLaunchAgentPlist(t *testing.T) {
	p := mustPlan(t, Spec{
		OS:         "darwin",
		Executable: "/opt/homebrew/bin/mailmirror",
		ConfigPath: "/Users/alice/Library/Application Support/mailmirror/config.toml",
		User:       "alice",
		Home:       "/Users/alice",
	})
	want := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by "mailmirror service install"; remove it with "mailmirror service uninstall". -->
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>com.github.mailmirror.mailmirror</string>
	<key>ProgramArguments</key>
	<array>
		<string>/opt/homebrew/bin/mailmirror</string>
		<string>run</string>
		<string>--config</string>
		<string>/Users/alice/Library/Application Support/mailmirror/config.toml</string>
	</array>
	<key>EnvironmentVariables</key>
	<dict>
		<key>PATH</key>
		<string>/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin</string>
	</dict>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<true/>
	<key>ThrottleInterval</key>
	<integer>5</integer>
	<key>ExitTimeOut</key>
	<integer>30</integer>
	<key>Umask</key>
	<integer>63</integer>
	<key>StandardOutPath</key>
	<string>/Users/alice/Library/Logs/mailmirror/mailmirror.log</string>
	<key>StandardErrorPath</key>
	<string>/Users/alice/Library/Logs/mailmirror/mailmirror.log</string>
</dict>
</plist>
`
	if p.Content != want {
		t.Errorf("plist:\n%s\nwant:\n%s", p.Content, want)
	}
	checkPlist(t, p.Content, map[string]string{
		"Label": "com.github.mailmirror.mailmirror", "RunAtLoad": "true", "KeepAlive": "true",
		"StandardOutPath": "/Users/alice/Library/Logs/mailmirror/mailmirror.log",
	})
	if p.Kind != LaunchAgent || p.File != "/Users/alice/Library/LaunchAgents/com.github.mailmirror.mailmirror.plist" {
		t.Errorf("kind %s file %s", p.Kind, p.File)
	}
	if !slices.Equal(p.Dirs, []string{"/Users/alice/Library/Logs/mailmirror", "/Users/alice/Library/LaunchAgents"}) {
		t.Errorf("dirs %q", p.Dirs)
	}
	if len(p.InstallCommands) != 0 || p.StartCommand != "launchctl load /Users/alice/Library/LaunchAgents/com.github.mailmirror.mailmirror.plist" {
		t.Errorf("install commands %q start %q", p.InstallCommands, p.StartCommand)
	}
	if !strings.Contains(p.Logs, "/Users/alice/Library/Logs/mailmirror/mailmirror.log") {
		t.Errorf("logs %q", p.Logs)
	}
}

func TestLaunchDaemonPlist(t *testing.T) {
	p := mustPlan(t, Spec{
		OS:         "darwin",
		System:     true,
		Executable: "/usr/local/bin/mailmirror",
		ConfigPath: "/Users/mail & co/config.toml",
		User:       "mail",
		Home:       "/Users/mail & co",
	})
	if p.Kind != LaunchDaemon || p.File != "/Library/LaunchDaemons/com.github.mailmirror.mailmirror.plist" {
		t.Errorf("kind %s file %s", p.Kind, p.File)
	}
	for _, want := range []string{
		"\t<key>UserName</key>\n\t<string>mail</string>\n",
		"\t\t<key>HOME</key>\n\t\t<string>/Users/mail &amp; co</string>\n",
		"\t\t<string>/Users/mail &amp; co/config.toml</string>\n",
	} {
		if !strings.Contains(p.Content, want) {
			t.Errorf("plist lacks %q:\n%s", want, p.Content)
		}
	}
	checkPlist(t, p.Content, map[string]string{"UserName": "mail", "RunAtLoad": "true", "KeepAlive": "true"})
}

// checkPlist parses content as XML and checks top-level keys: a <string>
// value, or "true"/"false" for <true/> and <false/>.
func checkPlist(t *testing.T, content string, want map[string]string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(content))
	d.Strict = true
	got := map[string]string{}
	depth, key, inKey, inString := 0, "", false, false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plist is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			depth++
			name := tok.Name.Local
			inKey = name == "key" && depth == 3
			inString = name == "string" && depth == 3
			if depth == 3 && (name == "true" || name == "false") {
				got[key] = name
			}
		case xml.EndElement:
			depth--
			inKey, inString = false, false
		case xml.CharData:
			if inKey {
				key = string(tok)
			} else if inString {
				got[key] = string(tok)
			}
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("plist key %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestWindowsServiceConfig(t *testing.T) {
	p := mustPlan(t, Spec{
		OS:         "windows",
		Executable: `C:\Program Files\mailmirror\mailmirror.exe`,
		ConfigPath: `C:\Users\Alice Smith\AppData\Roaming\mailmirror\config.toml`,
		User:       `PC\alice`,
		Env:        map[string]string{"USERPROFILE": `C:\Users\Alice Smith`},
	})
	if p.Kind != WindowsService || p.Name != "mailmirror" || p.DisplayName != "mailmirror" || p.File != "" {
		t.Errorf("kind %s name %q display %q file %q", p.Kind, p.Name, p.DisplayName, p.File)
	}
	w := p.Windows
	wantCmd := `"C:\Program Files\mailmirror\mailmirror.exe" run --config "C:\Users\Alice Smith\AppData\Roaming\mailmirror\config.toml"`
	if w.CommandLine != wantCmd {
		t.Errorf("command line %s, want %s", w.CommandLine, wantCmd)
	}
	wantRec := []RecoveryAction{{5 * time.Second}, {10 * time.Second}, {time.Minute}}
	if !slices.Equal(w.Recovery, wantRec) || w.ResetPeriod != 24*time.Hour || !w.NonCrashFailures {
		t.Errorf("recovery %v reset %s non-crash %v", w.Recovery, w.ResetPeriod, w.NonCrashFailures)
	}
	if w.StartType != "automatic" || !w.DelayedAutoStart || w.EventSource != "mailmirror" || w.Account != "LocalSystem" {
		t.Errorf("settings %+v", w)
	}
	if p.Logs != "Event Viewer > Windows Logs > Application, source mailmirror" {
		t.Errorf("logs %q", p.Logs)
	}

	// The kardianos config: every option with the type kardianos reads.
	c := p.ServiceConfig()
	if c.Name != "mailmirror" || c.DisplayName != "mailmirror" || c.Executable != `C:\Program Files\mailmirror\mailmirror.exe` {
		t.Errorf("config %+v", c)
	}
	if want := []string{"run", "--config", `C:\Users\Alice Smith\AppData\Roaming\mailmirror\config.toml`}; !slices.Equal(c.Arguments, want) {
		t.Errorf("arguments %q, want %q", c.Arguments, want)
	}
	if v, ok := c.Option["OnFailure"].(string); !ok || v != "restart" {
		t.Errorf("OnFailure = %#v", c.Option["OnFailure"])
	}
	if v, ok := c.Option["OnFailureDelayDuration"].(string); !ok {
		t.Errorf("OnFailureDelayDuration = %#v, want a string", c.Option["OnFailureDelayDuration"])
	} else if d, err := time.ParseDuration(v); err != nil || d != 5*time.Second {
		t.Errorf("OnFailureDelayDuration = %q", v)
	}
	if v, ok := c.Option["OnFailureResetPeriod"].(int); !ok || v != 86400 {
		t.Errorf("OnFailureResetPeriod = %#v, want int 86400", c.Option["OnFailureResetPeriod"])
	}
	// Install sets the delayed start itself, after kardianos (which would
	// fail the whole install where the SCM refuses that level).
	if v, ok := c.Option["DelayedAutoStart"].(bool); !ok || v {
		t.Errorf("DelayedAutoStart = %#v, want false (set by Install)", c.Option["DelayedAutoStart"])
	}
	if v, ok := c.Option["StartType"].(string); !ok || v != "automatic" {
		t.Errorf("StartType = %#v", c.Option["StartType"])
	}
	if c.EnvVars["USERPROFILE"] != `C:\Users\Alice Smith` {
		t.Errorf("EnvVars %v", c.EnvVars)
	}

	var out strings.Builder
	if err := p.WriteInstall(&out, true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  command line:  " + wantCmd + "\n",
		"  on failure:    restart after 5s, restart after 10s, restart after 1m0s; reset the failure count after 24h0m0s without failure; also when it stops with an error\n",
		"  event log:     Application, source mailmirror\n",
		"  environment:   USERPROFILE=C:\\Users\\Alice Smith\n",
		"run:      sc.exe start mailmirror\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run lacks %q:\n%s", want, out.String())
		}
	}
}

func TestServiceConfigUnix(t *testing.T) {
	for _, spec := range []Spec{linuxSpec(false), linuxSpec(true),
		{OS: "darwin", Executable: "/bin/mm", ConfigPath: "/c.toml", User: "a", Home: "/Users/a"}} {
		p := mustPlan(t, spec)
		c := p.ServiceConfig()
		if v, ok := c.Option["UserService"].(bool); !ok || v != !spec.System {
			t.Errorf("%s: UserService = %#v", p.Kind, c.Option["UserService"])
		}
		key := "SystemdScript"
		if spec.OS == "darwin" {
			key = "LaunchdConfig"
			for _, k := range []string{"RunAtLoad", "KeepAlive"} {
				if v, ok := c.Option[k].(bool); !ok || !v {
					t.Errorf("%s: %s = %#v", p.Kind, k, c.Option[k])
				}
			}
		}
		if v, ok := c.Option[key].(string); !ok || v != p.Content {
			t.Errorf("%s: %s is not the content", p.Kind, key)
		}
		if c.Name != p.Name || !slices.Equal(c.Arguments, p.Arguments) || c.Executable != spec.Executable {
			t.Errorf("%s: config %+v", p.Kind, c)
		}
	}
}

func TestWriteInstallSystemd(t *testing.T) {
	p := mustPlan(t, linuxSpec(false))
	var out strings.Builder
	if err := p.WriteInstall(&out, true); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	begin := "----- begin /home/alice/.config/systemd/user/mailmirror.service -----\n"
	end := "----- end /home/alice/.config/systemd/user/mailmirror.service -----\n"
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("no begin/end markers:\n%s", s)
	}
	if got := s[i+len(begin) : j]; got != p.Content {
		t.Errorf("content between the markers:\n%s\nwant:\n%s", got, p.Content)
	}
	after := s[j+len(end):]
	wantRuns := "run:      systemctl daemon-reload --user\n" +
		"run:      systemctl enable --user mailmirror.service\n" +
		"run:      systemctl start --user mailmirror.service\n" +
		"logs:     journalctl --user -u mailmirror -f\n"
	if !strings.HasPrefix(after, wantRuns) {
		t.Errorf("after the file:\n%s\nwant it to start with:\n%s", after, wantRuns)
	}

	out.Reset()
	if err := p.WriteInstall(&out, false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "systemctl start") {
		t.Errorf("no-start plan starts:\n%s", out.String())
	}
}

func TestNewPlanRejects(t *testing.T) {
	base := linuxSpec(false)
	for name, mod := range map[string]func(*Spec){
		"unsupported OS":      func(s *Spec) { s.OS = "plan9" },
		"relative exe":        func(s *Spec) { s.Executable = "bin/mailmirror" },
		"relative config":     func(s *Spec) { s.ConfigPath = "config.toml" },
		"newline":             func(s *Spec) { s.ConfigPath = "/home/a/x\nExecStartPre=/bin/evil" },
		"template":            func(s *Spec) { s.ConfigPath = "/home/{{Path}}/c.toml" },
		"system without user": func(s *Spec) { s.System = true; s.User = "" },
		"windows path on linux": func(s *Spec) {
			s.Executable = `C:\mailmirror.exe`
		},
		"bad user": func(s *Spec) { s.System = true; s.User = "a b" },
	} {
		spec := base
		mod(&spec)
		if _, err := NewPlan(spec); err == nil {
			t.Errorf("%s: NewPlan accepted %+v", name, spec)
		} else if name == "unsupported OS" && !errors.Is(err, ErrUnsupportedOS) {
			t.Errorf("%s: %v, want ErrUnsupportedOS", name, err)
		}
	}
}

func TestWindowsArg(t *testing.T) {
	for in, want := range map[string]string{
		"":                      `""`,
		"run":                   "run",
		`C:\dir\x.toml`:         `C:\dir\x.toml`,
		`C:\my dir\x.toml`:      `"C:\my dir\x.toml"`,
		`C:\my dir\`:            `"C:\my dir\\"`,
		`say "hi"`:              `"say \"hi\""`,
		`a\"b`:                  `a\\\"b`,
		"tab\there":             "\"tab\there\"",
		`C:\Program Files\mm\`:  `"C:\Program Files\mm\\"`,
		`no\space\trailing\`:    `no\space\trailing\`,
		`C:\a b\"quoted\" end\`: `"C:\a b\\\"quoted\\\" end\\"`,
	} {
		if got := windowsArg(in); got != want {
			t.Errorf("windowsArg(%q) = %s, want %s", in, got, want)
		}
	}
}
