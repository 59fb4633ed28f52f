// Command gendocs writes the man pages generated from the command line and
// the configuration key table (cli.ManPages) into a directory: `make man`
// runs it with docs/man. Usage: go run ./internal/gendocs DIR
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/mailmirror/mailmirror/internal/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/gendocs DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
	pages := cli.ManPages()
	names := make([]string, 0, len(pages))
	for n := range pages {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(pages[n]), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gendocs:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", p)
	}
}
