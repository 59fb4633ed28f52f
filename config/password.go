package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// ResolvePassword returns the account's password: the password key as is,
// the first line printed by password_command (run with "sh -c", or
// "cmd /C" on Windows; ctx ends it), or the value of the environment
// variable named by password_env. Errors name the account and the key,
// and for a failed command its exit status and stderr, never the password
// or the command's stdout. For an account with auth = "xoauth2" or
// "oauthbearer" it returns an empty Secret and no error: such accounts
// have no password, and the login step gets an access token from package
// auth instead.
func (a *Account) ResolvePassword(ctx context.Context) (Secret, error) {
	switch {
	case isOAuth(a.Auth):
		return "", nil
	case a.Password != "":
		return a.Password, nil
	case a.PasswordCommand != "":
		return a.runPasswordCommand(ctx)
	case a.PasswordEnv != "":
		v, ok := os.LookupEnv(a.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("account %q: password_env: environment variable %s is not set", a.Name, a.PasswordEnv)
		}
		if v == "" {
			return "", fmt.Errorf("account %q: password_env: environment variable %s is empty", a.Name, a.PasswordEnv)
		}
		return Secret(v), nil
	}
	return "", fmt.Errorf("account %q: no password, password_command or password_env", a.Name)
}

// maxStderr is how much of a failed password command's stderr goes into
// the error.
const maxStderr = 512

func (a *Account) runPasswordCommand(ctx context.Context) (Secret, error) {
	var cmd *exec.Cmd
	if runtime.GOOS == "windows" {
		cmd = exec.CommandContext(ctx, "cmd", "/C", a.PasswordCommand)
	} else {
		cmd = exec.CommandContext(ctx, "sh", "-c", a.PasswordCommand)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdin = nil
	cmd.Stdout = &stdout
	cmd.Stderr = &limitedBuffer{buf: &stderr, max: maxStderr}
	// A command that leaves a child holding stdout open must not hang us.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		var ee *exec.ExitError
		switch {
		case ctx.Err() != nil:
			err = fmt.Errorf("account %q: password_command: %w", a.Name, ctx.Err())
		case errors.As(err, &ee):
			err = fmt.Errorf("account %q: password_command failed: %s", a.Name, ee.ProcessState)
		default:
			err = fmt.Errorf("account %q: password_command: %w", a.Name, err)
		}
		if msg != "" {
			err = fmt.Errorf("%w: %s", err, oneLine(msg))
		}
		return "", err
	}
	line, _, _ := strings.Cut(stdout.String(), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("account %q: password_command printed no password (its first line of output is empty)", a.Name)
	}
	return Secret(line), nil
}

// oneLine joins the lines of s with " / " so an error stays on one line.
func oneLine(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r", ""), "\n")
	return strings.Join(lines, " / ")
}

// limitedBuffer keeps the first max bytes written to it and drops the
// rest (still reporting success, so the command is not killed by EPIPE).
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		if len(p) > room {
			l.buf.Write(p[:room])
		} else {
			l.buf.Write(p)
		}
	}
	return len(p), nil
}
