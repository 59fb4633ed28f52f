package service

import (
	"fmt"
	"path"
	"strings"
)

// launchdPath is the PATH the daemon gets under launchd (whose default is
// /usr/bin:/bin:/usr/sbin:/sbin), so that password commands and hooks
// installed by Homebrew are found.
const launchdPath = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"

// planLaunchd fills p for a launchd job. kardianos's own plist has
// RunAtLoad false and logs to the home directory: this plist is ours.
func planLaunchd(p *Plan) {
	p.Name = Label
	logDir := path.Join(p.Spec.Home, "Library/Logs", Name)
	p.Dirs = []string{logDir}
	if p.Spec.System {
		p.Kind = LaunchDaemon
		p.File = path.Join("/Library/LaunchDaemons", Label+".plist")
	} else {
		p.Kind = LaunchAgent
		p.File = path.Join(p.Spec.Home, "Library/LaunchAgents", Label+".plist")
		p.Dirs = append(p.Dirs, path.Dir(p.File))
	}
	p.Content = launchdPlist(p, path.Join(logDir, Name+".log"))
	p.StartCommand = "launchctl load " + shellQuote(p.File)
	p.UninstallCommands = []string{
		"launchctl unload " + shellQuote(p.File) + " (if it runs)",
		"rm " + shellQuote(p.File),
	}
	p.Logs = "tail -f " + shellQuote(path.Join(logDir, Name+".log")) + " (or open it in Console.app)"
}

func launchdPlist(p *Plan, logFile string) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	key := func(k string) { w("\t<key>%s</key>", k) }
	str := func(k, v string) { key(k); w("\t<string>%s</string>", xmlEscape(v)) }
	boolean := func(k string, v bool) { key(k); w("\t<%t/>", v) }
	integer := func(k string, v int) { key(k); w("\t<integer>%d</integer>", v) }

	w(`<?xml version="1.0" encoding="UTF-8"?>`)
	w(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`)
	w(`<!-- Written by "mailmirror service install"; remove it with "mailmirror service uninstall". -->`)
	w(`<plist version="1.0">`)
	w(`<dict>`)
	str("Label", p.Name)
	key("ProgramArguments")
	w("\t<array>")
	for _, a := range append([]string{p.Spec.Executable}, p.Arguments...) {
		w("\t\t<string>%s</string>", xmlEscape(a))
	}
	w("\t</array>")
	key("EnvironmentVariables")
	w("\t<dict>")
	env := [][2]string{{"PATH", launchdPath}}
	if p.Kind == LaunchDaemon {
		env = append(env, [2]string{"HOME", p.Spec.Home}, [2]string{"USER", p.Spec.User})
	}
	for _, kv := range env {
		w("\t\t<key>%s</key>", kv[0])
		w("\t\t<string>%s</string>", xmlEscape(kv[1]))
	}
	w("\t</dict>")
	if p.Kind == LaunchDaemon {
		str("UserName", p.Spec.User)
	}
	boolean("RunAtLoad", true)
	boolean("KeepAlive", true)
	integer("ThrottleInterval", int(RestartDelay.Seconds()))
	integer("ExitTimeOut", int(managerStopTimeout.Seconds()))
	integer("Umask", 0o077)
	str("StandardOutPath", logFile)
	str("StandardErrorPath", logFile)
	w(`</dict>`)
	w(`</plist>`)
	return b.String()
}

var xmlReplacer = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

func xmlEscape(s string) string { return xmlReplacer.Replace(s) }
