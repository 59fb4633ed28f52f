//go:build unix

// Command launcher runs a command and reports its wall time, exit status
// and peak RSS (ru_maxrss) as JSON on file descriptor 3. bench/sync builds
// it and starts every measured tool through it.
//
//	launcher COMMAND [ARG...]   (fd 3 open for writing)
//
// Why: Go starts children with vfork (CLONE_VM), and Linux then counts the
// parent's peak RSS in the child's ru_maxrss, so every child of the large
// benchmark process would look at least as big as the benchmark. This
// launcher is a small process of its own: the floor it adds is its own
// RSS, about 2 MB, which bench/sync measures with /bin/true and prints.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// stats is the report, the childStats of bench/sync.
type stats struct {
	RSSKB int64         `json:"rss_kb"` // ru_maxrss, kilobytes on Linux
	Wall  time.Duration `json:"wall"`   // from start to exit
	Exit  int           `json:"exit"`   // exit status, -1 when killed by a signal
}

func main() {
	report := os.NewFile(3, "report")
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: launcher COMMAND [ARG...] (fd 3: report)")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	st := stats{Wall: time.Since(start)}
	if cmd.ProcessState == nil {
		fmt.Fprintf(os.Stderr, "launcher: %v\n", err)
		os.Exit(127)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		st.RSSKB = ru.Maxrss
	}
	st.Exit = cmd.ProcessState.ExitCode()
	if err := json.NewEncoder(report).Encode(st); err != nil {
		fmt.Fprintf(os.Stderr, "launcher: report: %v\n", err)
		os.Exit(127)
	}
}
