package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	home := setHome(t)
	dir := t.TempDir()
	name := filepath.Join(dir, "mm.toml")
	if err := os.WriteFile(name, []byte(minimalIMAP), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(name)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Path != name || c.Accounts[0].Maildir != filepath.Join(home, "Mail", "work") {
		t.Errorf("Path %q, Maildir %q", c.Path, c.Accounts[0].Maildir)
	}

	_, err = Load(filepath.Join(dir, "missing.toml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}

	// Errors name the file by its base name.
	if err := os.WriteFile(name, []byte(minimalIMAP+"port = 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(name)
	if err == nil || err.Error() != `mm.toml:8: account "work": port: must be between 1 and 65535, got 0` {
		t.Errorf("Load error %v", err)
	}
}

func TestLoadRefusesReadablePlaintextPassword(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions on Windows")
	}
	setHome(t)
	dir := t.TempDir()
	name := filepath.Join(dir, "config.toml")
	text := "log_level = \"info\"\n\n" + strings.Replace(minimalIMAP, `password_command = "pass show work"`, `password = "s3cret-pw"`, 1)
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(name, mode); err != nil {
			t.Fatal(err)
		}
		_, err := Load(name)
		want := `config.toml:8: account "work": password: the file holds a plaintext password and is readable by group or others (mode ` +
			"0" + strings.TrimPrefix(mode.Perm().String(), "") + `): run "chmod 600 ` + name + `", or use password_command or password_env instead`
		want = strings.Replace(want, "(mode 0"+mode.Perm().String(), "(mode "+octal(mode), 1)
		if err == nil || err.Error() != want {
			t.Errorf("mode %o: error\n%v\nwant\n%s", mode, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("error shows the password")
		}
	}
	if err := os.Chmod(name, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(name); err != nil {
		t.Errorf("mode 600: %v", err)
	}
	// Parse has no file and no permission check.
	if _, err := Parse([]byte(text), name); err != nil {
		t.Errorf("Parse: %v", err)
	}
	// Readable files without a plaintext password are fine.
	if err := os.WriteFile(name, []byte(minimalIMAP), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(name); err != nil {
		t.Errorf("mode 644 with password_command: %v", err)
	}
}

func octal(m os.FileMode) string {
	const digits = "01234567"
	p := uint32(m.Perm())
	return string([]byte{'0', digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}
