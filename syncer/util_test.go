package syncer

import (
	"math/rand/v2"
	"testing"
	"time"
)

func time_(t *testing.T) time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }

func newRand(t *testing.T) *rand.Rand { return rand.New(rand.NewPCG(3, uint64(len(t.Name())))) }
