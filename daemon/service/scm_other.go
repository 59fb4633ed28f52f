//go:build !windows

package service

import (
	"os"

	kservice "github.com/kardianos/service"
)

// elevated reports whether the process runs as root.
func elevated() bool { return os.Geteuid() == 0 }

// setWindowsSettings is for the Windows SCM only.
func setWindowsSettings(*Plan) ([]string, error) { return nil, nil }

// startedBySCM is for Windows only.
func startedBySCM() bool { return false }

// runSCM is for Windows only: elsewhere kardianos runs the service.
func runSCM(_ string, svc kservice.Service, _ kservice.Interface) error { return svc.Run() }
