package imapconn

import (
	"os"
	"testing"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
