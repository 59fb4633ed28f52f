package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the suffixes ParseSize accepts, in bytes. KB, MB and GB
// are powers of 1000 (as mail clients and servers show sizes), KiB, MiB
// and GiB powers of 1024.
var sizeUnits = []struct {
	suffix string
	mult   float64
}{
	{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"K", 1e3}, {"M", 1e6}, {"G", 1e9},
	{"B", 1},
}

// ParseSize parses a byte size: a non-negative number with an optional
// unit, case-insensitive ("0", "500000", "512KB", "10MB", "1.5GB", "64KiB",
// "10 MiB"). KB/MB/GB are powers of 1000, KiB/MiB/GiB powers of 1024.
func ParseSize(s string) (int64, error) {
	bad := func() (int64, error) {
		return 0, fmt.Errorf("invalid size %q (examples: \"0\", \"512KB\", \"10MB\", \"1GB\")", s)
	}
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	if t == "" || t[0] == '-' || t[0] == '+' {
		return bad()
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return bad()
	}
	v := f * mult
	if v >= math.MaxInt64 {
		return bad()
	}
	return int64(v), nil
}

// size reads a size key written as a string ("10MB").
func (s *section) size(key string) (int64, bool) {
	v, ok := s.vals[key]
	if !ok {
		return 0, false
	}
	str, isString := v.(string)
	n, err := ParseSize(str)
	if !isString || err != nil {
		s.markBad(key)
		s.errorf(key, "must be a size such as \"0\", \"512KB\" or \"10MB\", got %s", s.got(key))
		return 0, false
	}
	return n, true
}
