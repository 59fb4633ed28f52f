package service

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// errRefused stands for the SCM's ERROR_INVALID_LEVEL.
var errRefused = errors.New("Invalid level.")

func isRefused(err error) bool { return errors.Is(err, errRefused) }

// The install that Wine's SCM failed with "install: Invalid level.": the
// settings it refuses are skipped with a warning naming each, the others
// still applied in order.
func TestApplySCMSettingsSkipsRefusedLevels(t *testing.T) {
	var applied []string
	set := func(name string, err error) scmSetting {
		return scmSetting{name, func() error { applied = append(applied, name); return err }}
	}
	warnings, err := applySCMSettings([]scmSetting{
		set("recovery actions", nil),
		set("recovery on error exits", errRefused),
		set("delayed automatic start", errRefused),
	}, isRefused)
	if err != nil {
		t.Fatalf("applySCMSettings: %v", err)
	}
	if want := []string{"recovery actions", "recovery on error exits", "delayed automatic start"}; !slices.Equal(applied, want) {
		t.Errorf("applied %q, want %q", applied, want)
	}
	if len(warnings) != 2 || !strings.HasPrefix(warnings[0], "recovery on error exits: ") ||
		!strings.HasPrefix(warnings[1], "delayed automatic start: ") || !strings.Contains(warnings[1], "Invalid level.") {
		t.Errorf("warnings %q", warnings)
	}
}

// Any other failure fails the install (which then removes the service).
func TestApplySCMSettingsFailsOnOtherErrors(t *testing.T) {
	denied := errors.New("Access is denied.")
	ran := 0
	_, err := applySCMSettings([]scmSetting{
		{"recovery actions", func() error { ran++; return denied }},
		{"delayed automatic start", func() error { ran++; return nil }},
	}, isRefused)
	if !errors.Is(err, denied) || !strings.Contains(err.Error(), "recovery actions") {
		t.Errorf("err = %v, want the denial naming the setting", err)
	}
	if ran != 1 {
		t.Errorf("%d settings ran after a failure, want it to stop at once", ran)
	}
}

func TestRecoveryDelays(t *testing.T) {
	got := recoveryDelays([]RecoveryAction{{5 * time.Second}, {10 * time.Second}, {time.Minute}})
	if got != "5s, 10s, then every 1m0s" {
		t.Errorf("recoveryDelays = %q", got)
	}
}
