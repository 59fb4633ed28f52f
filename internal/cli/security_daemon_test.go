package cli

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// A daemon session with debug logging: no log line, no status output, no
// file of the state directory shows the password; the control socket and
// every file are private (the daemon runs with umask 000).
func TestSecurityDaemonLogStatusAndSocket(t *testing.T) {
	w := newWorld(t, 7)
	for i := 0; i < 5; i++ {
		w.serverOp()
	}
	dev := w.newDevice("sec", "2s")
	p := startRun(t, dev)
	p.waitReady(t, 2*time.Minute)
	for i := 0; i < 6; i++ {
		w.serverOp()
		w.localOp(dev.root, "local")
	}
	sock := filepath.Join(dev.dir, "state", "control.sock")
	st, err := os.Lstat(sock)
	if err != nil {
		t.Fatalf("control socket: %v", err)
	}
	if st.Mode()&fs.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Errorf("control socket %s: mode %v, want a socket with 0600", sock, st.Mode())
	}
	var out bytes.Buffer
	for _, args := range [][]string{{"status"}, {"sync"}, {"status"}} {
		cmd := exec.Command(testBinary(t), append([]string{"--config", dev.cfg}, args...)...)
		o, err := cmd.CombinedOutput()
		t.Logf("mailmirror %v: %v\n%s", args, err, o)
		out.Write(o)
	}
	p.stop(t)
	log := p.output()
	if !bytes.Contains([]byte(log), []byte("level=DEBUG")) {
		t.Fatalf("no debug lines in the daemon's log: the check proves little\n%s", log)
	}
	haystacks := map[string][]byte{"daemon log": []byte(log), "status and sync output": out.Bytes()}
	filepath.WalkDir(filepath.Join(dev.dir, "state"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			haystacks[p] = b
		}
		return nil
	})
	for where, b := range haystacks {
		for _, f := range passwordForms(w.u.Name, w.u.Password) {
			if bytes.Contains(b, []byte(f)) {
				t.Errorf("%s shows the password (as %q)", where, f)
			}
		}
	}
	for _, root := range []string{dev.root, filepath.Join(dev.dir, "state")} {
		filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			st, err := os.Lstat(p)
			if err != nil {
				return nil // a file that went away meanwhile
			}
			switch m := st.Mode(); {
			case m.IsDir() && m.Perm() != 0o700:
				t.Errorf("directory %s: mode %04o, want 0700", p, m.Perm())
			case m.IsRegular() && m.Perm() != 0o600:
				t.Errorf("file %s: mode %04o, want 0600", p, m.Perm())
			}
			return nil
		})
	}
}
