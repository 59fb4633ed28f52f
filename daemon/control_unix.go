//go:build !windows

package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

// listenControl listens on <stateDir>/control.sock, mode 0600. A socket
// left by a daemon that died is replaced: the caller holds the state lock,
// so no other daemon uses it.
func listenControl(stateDir string) (net.Listener, string, func(), error) {
	path := filepath.Join(stateDir, SocketName)
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, "", nil, err
	}
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	addr, err := socketAddr(path)
	if err != nil {
		return nil, "", nil, err
	}
	l, err := net.ListenUnix("unix", addr)
	if err != nil {
		return nil, "", nil, fmt.Errorf("control socket: %w", err)
	}
	l.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, "", nil, fmt.Errorf("control socket: %w", err)
	}
	return l, "", nil, nil
}

// socketAddr refuses paths longer than a sun_path holds (108 bytes on
// Linux, 104 on macOS): the kernel would cut them.
func socketAddr(path string) (*net.UnixAddr, error) {
	if len(path) >= 104 {
		return nil, fmt.Errorf("control socket: path %s is too long for a Unix socket (%d bytes; at most 103): choose a shorter state_dir", path, len(path))
	}
	return &net.UnixAddr{Name: path, Net: "unix"}, nil
}

func dialControl(ctx context.Context, stateDir string) (net.Conn, string, error) {
	path := filepath.Join(stateDir, SocketName)
	addr, err := socketAddr(path)
	if err != nil {
		return nil, "", err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", addr.Name)
	if err != nil {
		return nil, "", notRunning(path, err)
	}
	return c, "", nil
}

func isConnRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}
