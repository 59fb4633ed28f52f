package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=v1.2.3".
var Version = "dev"

func init() {
	register("version", "print the version", func(e *Env) int {
		fs := e.Flags("version", "version")
		if ok, code := e.Parse(fs); !ok {
			return code
		}
		v := Version
		if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		fmt.Fprintf(e.Stdout, "mailmirror %s %s/%s %s\n", v, runtime.GOOS, runtime.GOARCH, runtime.Version())
		return ExitOK
	})
}
