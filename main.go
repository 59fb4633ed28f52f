// Command mailmirror keeps local Maildirs in step with IMAP and POP3 accounts.
//
// See README.md for usage and HACKING.md for the design.
package main

import (
	"os"

	"github.com/mailmirror/mailmirror/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
