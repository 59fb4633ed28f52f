package daemon

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/syncer"
)

// Defect 14.5h: an error of the local side (disk full, state DB) is not a
// broken connection: the account is not marked offline for it.
func TestLocalErrorIsNotADisconnect(t *testing.T) {
	local := fmt.Errorf("folder %q: %w", "INBOX", fmt.Errorf("%w: write: no space left on device", syncer.ErrLocal))
	for _, c := range []struct {
		err  error
		want bool
	}{
		{io.ErrUnexpectedEOF, true},
		{&imap.Error{Type: imap.StatusResponseTypeNo, Text: "no"}, false},
		{local, false},
		{errors.Join(local, fmt.Errorf("folder %q: %w", "Sent", io.ErrUnexpectedEOF)), true},
	} {
		if got := isDisconnect(c.err); got != c.want {
			t.Errorf("isDisconnect(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if got := stateFor(local, false); got != StateLocalError {
		t.Errorf("state for a local error = %q, want %q", got, StateLocalError)
	}
}
