package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a duration in Go syntax ("90s", "1h30m", "-5s",
// "0") extended with "d" for days of 24 hours ("14d", "1d12h", "1.5d").
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	bad := func() (time.Duration, error) {
		return 0, fmt.Errorf("invalid duration %q (examples: \"90s\", \"5m\", \"1h30m\", \"14d\")", orig)
	}
	if s == "" {
		return bad()
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return bad()
	}
	// Split into number+unit components; days are added up here, the rest
	// goes to time.ParseDuration.
	var days float64
	var rest strings.Builder
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 {
			return bad()
		}
		num := s[:i]
		s = s[i:]
		j := 0
		for j < len(s) && !(s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		unit := s[:j]
		s = s[j:]
		if unit == "" {
			return bad()
		}
		if unit == "d" {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return bad()
			}
			days += f
			continue
		}
		rest.WriteString(num)
		rest.WriteString(unit)
	}
	var d time.Duration
	if rest.Len() > 0 {
		var err error
		if d, err = time.ParseDuration(rest.String()); err != nil {
			return bad()
		}
	}
	dd := days * float64(24*time.Hour)
	if dd+float64(d) > math.MaxInt64 {
		return bad()
	}
	d += time.Duration(dd)
	if neg {
		d = -d
	}
	return d, nil
}

// formatDuration writes d the way ParseDuration reads it, with whole days
// as "d" and without zero minutes or seconds: 336h is "14d", 36h "1d12h",
// 2m "2m".
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	day := 24 * time.Hour
	out := ""
	if d >= day {
		out = fmt.Sprintf("%dd", d/day)
		d %= day
		if d == 0 {
			return sign + out
		}
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return sign + out + s
}
