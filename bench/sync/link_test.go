//go:build unix

package main

import (
	"testing"
	"time"
)

func TestParseLink(t *testing.T) {
	l, err := parseLink("rate=10Mbit,drop=4MB,latency=20ms")
	if err != nil {
		t.Fatal(err)
	}
	if l.Rate != 1_250_000 || l.Drop != 4<<20 || l.Latency != 20*time.Millisecond {
		t.Errorf("parseLink = %+v", l)
	}
	for _, bad := range []string{"rate=10", "drop=-1MB", "speed=1Mbit", "rate"} {
		if _, err := parseLink(bad); err == nil {
			t.Errorf("parseLink(%q) accepted", bad)
		}
	}
}
