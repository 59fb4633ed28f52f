//go:build unix && !linux

package main

import (
	"fmt"

	"github.com/mailmirror/mailmirror/bench/corpus"
)

// measureFloor needs syncfs(2), which only Linux has: elsewhere the raw
// floor is not measured.
func measureFloor(_ *report, _ *corpus.Server, _, _ string, _ *tool) error {
	fmt.Println("raw floor of a first sync: not measured (needs Linux's syncfs)")
	return nil
}
