package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version and Commit are set at build time (scripts/dist.sh):
//
//	-ldflags "-X github.com/mailmirror/mailmirror/internal/cli.Version=v1.2.3
//	          -X github.com/mailmirror/mailmirror/internal/cli.Commit=0123abc"
//
// Without them the module version and the VCS revision Go stamps into the
// build are used, when there are any.
var (
	Version = "dev"
	Commit  = ""
)

func init() {
	register("version", "print the version and commit", func(e *Env) int {
		fs := e.FlagsNoConfig("version", "version")
		if ok, code := e.Parse(fs); !ok {
			return code
		}
		fmt.Fprintln(e.Stdout, versionLine())
		return ExitOK
	})
}

// versionLine is what version and --version print: version, commit,
// platform and Go version.
func versionLine() string {
	v, c := Version, Commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		if c == "" {
			c = vcsCommit(bi.Settings)
		}
	}
	if c == "" {
		c = "unknown"
	}
	return fmt.Sprintf("mailmirror %s (commit %s) %s/%s %s", v, c, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// vcsCommit returns the short revision Go stamped into the build, with
// "-dirty" when the work tree had changes, or "".
func vcsCommit(settings []debug.BuildSetting) string {
	rev, dirty := "", ""
	for _, s := range settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if rev == "" {
		return ""
	}
	return rev[:min(12, len(rev))] + dirty
}
