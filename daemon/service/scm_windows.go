package service

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	kservice "github.com/kardianos/service"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// elevated reports whether the process runs with an elevated (UAC) token.
func elevated() bool {
	return windows.GetCurrentProcessToken().IsElevated()
}

// startedBySCM reports whether the parent of this process is services.exe,
// the Service Control Manager.
func startedBySCM() bool {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return false
	}
	defer windows.CloseHandle(snap)
	names := map[uint32]string{}
	var parent uint32
	self := windows.GetCurrentProcessId()
	e := windows.ProcessEntry32{Size: uint32(unsafe.Sizeof(windows.ProcessEntry32{}))}
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		names[e.ProcessID] = windows.UTF16ToString(e.ExeFile[:])
		if e.ProcessID == self {
			parent = e.ParentProcessID
		}
	}
	return parent != 0 && strings.EqualFold(names[parent], "services.exe")
}

// scmRefused reports whether err is the SCM saying it does not support a
// ChangeServiceConfig2 or QueryServiceConfig2 info level.
func scmRefused(err error) bool {
	return errors.Is(err, windows.ERROR_INVALID_LEVEL) || errors.Is(err, windows.ERROR_NOT_SUPPORTED) ||
		errors.Is(err, windows.ERROR_CALL_NOT_IMPLEMENTED)
}

// setWindowsSettings applies, after kardianos created the service, the
// settings it leaves out or sets in a way not every SCM takes: the plan's
// recovery actions (replacing the single one kardianos sets), recovery
// also when the service stops with an error code, and the delayed
// automatic start. kardianos is not asked for the delayed start, since it
// would fail the whole install where the SCM refuses that level (Wine).
// A setting the SCM refuses as unsupported is named in the warnings; real
// Windows takes them all.
func setWindowsSettings(p *Plan) ([]string, error) {
	m, err := mgr.Connect()
	if err != nil {
		return nil, err
	}
	defer m.Disconnect()
	s, err := m.OpenService(p.Name)
	if err != nil {
		return nil, fmt.Errorf("open service %s: %w", p.Name, err)
	}
	defer s.Close()
	w := p.Windows
	actions := make([]mgr.RecoveryAction, 0, len(w.Recovery))
	for _, a := range w.Recovery {
		actions = append(actions, mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: a.Delay})
	}
	settings := []scmSetting{
		{"recovery actions (restart after " + recoveryDelays(w.Recovery) + ")", func() error {
			return s.SetRecoveryActions(actions, uint32(w.ResetPeriod/time.Second))
		}},
		{"reading the recovery actions back", func() error {
			got, err := s.RecoveryActions()
			if err == nil && len(got) != len(actions) {
				return fmt.Errorf("the service manager holds %d recovery actions, want %d", len(got), len(actions))
			}
			return err
		}},
	}
	if w.NonCrashFailures {
		settings = append(settings, scmSetting{"recovery also when the service stops with an error", func() error {
			return s.SetRecoveryActionsOnNonCrashFailures(true)
		}})
	}
	if w.DelayedAutoStart {
		settings = append(settings, scmSetting{"delayed automatic start", func() error {
			info := windows.SERVICE_DELAYED_AUTO_START_INFO{IsDelayedAutoStartUp: 1}
			return windows.ChangeServiceConfig2(s.Handle, windows.SERVICE_CONFIG_DELAYED_AUTO_START_INFO,
				(*byte)(unsafe.Pointer(&info)))
		}})
	}
	return applySCMSettings(settings, scmRefused)
}

// runSCM runs i as the Windows service name, the way kardianos does under
// the SCM: Start, then Stop on the SCM's stop or shutdown request; the
// error is Start's or Stop's.
func runSCM(name string, s kservice.Service, i kservice.Interface) error {
	h := &scmHandler{s: s, i: i}
	if err := svc.Run(name, h); err != nil {
		return err
	}
	return h.err
}

// scmHandler is the svc.Handler of runSCM.
type scmHandler struct {
	s   kservice.Service
	i   kservice.Interface
	err error
}

// Execute reports the service running until the SCM asks it to stop.
func (h *scmHandler) Execute(_ []string, r <-chan svc.ChangeRequest, changes chan<- svc.Status) (bool, uint32) {
	changes <- svc.Status{State: svc.StartPending}
	if h.err = h.i.Start(h.s); h.err != nil {
		return true, 1
	}
	changes <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for c := range r {
		switch c.Cmd {
		case svc.Interrogate:
			changes <- c.CurrentStatus
		case svc.Stop, svc.Shutdown:
			changes <- svc.Status{State: svc.StopPending}
			if h.err = h.i.Stop(h.s); h.err != nil {
				return true, 2
			}
			return false, 0
		}
	}
	return false, 0
}
