package config

import "testing"

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"0": 0, "500000": 500000, "512KB": 512000, "10MB": 10_000_000, "10mb": 10_000_000,
		"1.5GB": 1_500_000_000, "64KiB": 65536, "10 MiB": 10 << 20, "1G": 1e9, "100B": 100,
	}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1MB", "+5", "ten", "1TB", "1e400", "NaN", "Inf"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestSizeKeysErrors(t *testing.T) {
	setHome(t)
	base := "[[account]]\nname = \"work\"\nprotocol = \"imap\"\nhost = \"imap.example.com\"\nusername = \"u\"\npassword_env = \"P\"\nmaildir = \"/m/work\"\n"
	for _, tc := range []struct{ extra, want string }{
		{"max_size = \"ten megabytes\"\n", `config.toml:8: account "work": max_size: must be a size such as "0", "512KB" or "10MB", got "ten megabytes"`},
		{"max_size = 10\n", `config.toml:8: account "work": max_size: must be a size such as "0", "512KB" or "10MB", got 10`},
		{"fetch_flag = \"X\"\n", `config.toml:8: account "work": fetch_flag: must be one Maildir flag letter (D, F, P, R, S or T) or "", got "X"`},
		{"fetch_flag = \"FS\"\n", `config.toml:8: account "work": fetch_flag: must be one Maildir flag letter (D, F, P, R, S or T) or "", got "FS"`},
	} {
		got := parseErrors(t, base+tc.extra)
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%q: errors %q, want %q", tc.extra, got, tc.want)
		}
	}
	c := mustParse(t, base+"max_size = \"2MiB\"\nfetch_flag = \"\"\n")
	if a := c.Accounts[0]; a.MaxSize != 2<<20 || a.FetchFlag != "" {
		t.Errorf("MaxSize, FetchFlag = %d, %q", a.MaxSize, a.FetchFlag)
	}
}
