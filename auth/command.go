package auth

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

	"github.com/mailmirror/mailmirror/config"
)

// maxStderr is how much of a failed token_command's stderr goes into the
// error.
const maxStderr = 512

// runTokenCommand runs an account's token_command (sh -c, or cmd /C on
// Windows) with MAILMIRROR_ACCOUNT set to the account's name, and returns
// its first line of output. Errors name the account and, for a failed
// command, its exit status and stderr, never its output.
func runTokenCommand(ctx context.Context, account, command string) (config.Secret, error) {
	var cmd *exec.Cmd
	if runtime.GOOS == "windows" {
		cmd = exec.CommandContext(ctx, "cmd", "/C", command)
	} else {
		cmd = exec.CommandContext(ctx, "sh", "-c", command)
	}
	cmd.Env = append(os.Environ(), "MAILMIRROR_ACCOUNT="+account)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &capped{buf: &stderr, max: maxStderr}
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err != nil {
		msg := strings.Join(strings.Fields(strings.ReplaceAll(stderr.String(), "\n", " / ")), " ")
		var ee *exec.ExitError
		switch {
		case ctx.Err() != nil:
			err = fmt.Errorf("account %q: token_command: %w", account, ctx.Err())
		case errors.As(err, &ee):
			err = fmt.Errorf("account %q: token_command failed: %s", account, ee.ProcessState)
		default:
			err = fmt.Errorf("account %q: token_command: %w", account, err)
		}
		if msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return "", err
	}
	line, _, _ := strings.Cut(stdout.String(), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return "", fmt.Errorf("account %q: token_command printed no token (its first line of output is empty)", account)
	}
	return config.Secret(line), nil
}

// capped keeps the first max bytes written to it and drops the rest.
type capped struct {
	buf *bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
