package service

import (
	"fmt"
	"strings"
)

// scmSetting is one service setting install applies after the SCM created
// the service: what it is, in words, and the call that applies it.
type scmSetting struct {
	what  string
	apply func() error
}

// applySCMSettings applies each setting in order. A setting the service
// manager refuses as unsupported (refused reports it: Wine's SCM refuses
// the delayed-start and failure-actions-flag levels of
// ChangeServiceConfig2) is skipped and named in the returned warnings; any
// other error stops at once and is returned.
func applySCMSettings(settings []scmSetting, refused func(error) bool) (warnings []string, err error) {
	for _, s := range settings {
		err := s.apply()
		switch {
		case err == nil:
		case refused(err):
			warnings = append(warnings, fmt.Sprintf("%s: refused by the service manager (%v)", s.what, err))
		default:
			return warnings, fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return warnings, nil
}

// recoveryDelays lists the delays of the recovery actions: "5s, 10s, then
// every 1m0s".
func recoveryDelays(actions []RecoveryAction) string {
	var parts []string
	for i, a := range actions {
		d := a.Delay.String()
		if i == len(actions)-1 && i > 0 {
			d = "then every " + d
		}
		parts = append(parts, d)
	}
	return strings.Join(parts, ", ")
}
