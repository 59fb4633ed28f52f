package syncer

import (
	"errors"
	"io/fs"
	"net"
	"os"

	"modernc.org/sqlite"
)

// ErrLocal marks errors of the local side: the Maildir (disk full, a
// read-only or missing directory) or the state DB. They are not the
// network's: retrying on a new connection does not help, and the account
// is not offline. Test with errors.Is.
var ErrLocal = errors.New("local error")

// localError wraps an error of the Maildir or the state DB.
type localError struct{ err error }

func (e *localError) Error() string   { return "local error: " + e.err.Error() }
func (e *localError) Unwrap() []error { return []error{ErrLocal, e.err} }

// markLocal wraps err with ErrLocal when its cause is local (see
// localCause); other errors are returned as they are.
func markLocal(err error) error {
	if err == nil || errors.Is(err, ErrLocal) || !localCause(err) {
		return err
	}
	return &localError{err}
}

// localCause reports whether err comes from the file system or the state
// DB rather than from a connection: its chain holds a path error, a link
// error or an SQLite error, and no network error.
func localCause(err error) bool {
	var ne *net.OpError
	if errors.As(err, &ne) {
		return false
	}
	var pe *fs.PathError
	var le *os.LinkError
	var se *sqlite.Error
	return errors.As(err, &pe) || errors.As(err, &le) || errors.As(err, &se)
}
