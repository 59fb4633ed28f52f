//go:build !windows

package service

import "os"

// elevated reports whether the process runs as root.
func elevated() bool { return os.Geteuid() == 0 }

// setRecovery is for the Windows SCM only.
func setRecovery(*Plan) error { return nil }
