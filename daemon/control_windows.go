//go:build windows

package daemon

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

// InfoName is the file in the state directory that tells clients where the
// control listener is and which token it wants (Windows has no Unix socket
// permissions to rely on).
const InfoName = "control.json"

type controlInfo struct {
	Addr  string `json:"addr"`
	Token string `json:"token"`
}

// listenControl listens on a loopback TCP port and writes its address and a
// random token to <stateDir>/control.json, readable by the user only (the
// state directory is the user's).
func listenControl(stateDir string) (net.Listener, string, func(), error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, fmt.Errorf("control listener: %w", err)
	}
	token := rand.Text()
	data, _ := json.Marshal(controlInfo{Addr: l.Addr().String(), Token: token})
	path := filepath.Join(stateDir, InfoName)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		l.Close()
		return nil, "", nil, fmt.Errorf("control listener: %w", err)
	}
	return l, token, func() { os.Remove(path) }, nil
}

func dialControl(ctx context.Context, stateDir string) (net.Conn, string, error) {
	path := filepath.Join(stateDir, InfoName)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", notRunning(path, err)
	}
	var info controlInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, "", fmt.Errorf("control listener: %s: %w", path, err)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", info.Addr)
	if err != nil {
		return nil, "", notRunning(info.Addr, err)
	}
	return c, info.Token, nil
}

func isConnRefused(err error) bool {
	const wsaeconnrefused = syscall.Errno(10061)
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, wsaeconnrefused)
}
