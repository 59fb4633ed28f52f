package service

import (
	"fmt"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/mgr"
)

// elevated reports whether the process runs with an elevated (UAC) token.
func elevated() bool {
	return windows.GetCurrentProcessToken().IsElevated()
}

// setRecovery replaces the single recovery action kardianos sets with the
// plan's list, and makes the SCM apply them also when the service stops
// with an error code (not only when it crashes).
func setRecovery(p *Plan) error {
	m, err := mgr.Connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := m.OpenService(p.Name)
	if err != nil {
		return fmt.Errorf("open service %s: %w", p.Name, err)
	}
	defer s.Close()
	actions := make([]mgr.RecoveryAction, 0, len(p.Windows.Recovery))
	for _, a := range p.Windows.Recovery {
		actions = append(actions, mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: a.Delay})
	}
	if err := s.SetRecoveryActions(actions, uint32(p.Windows.ResetPeriod.Seconds())); err != nil {
		return err
	}
	return s.SetRecoveryActionsOnNonCrashFailures(p.Windows.NonCrashFailures)
}
