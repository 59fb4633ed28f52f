package imapconn

import "testing"

func TestValidMUTF7(t *testing.T) {
	for s, want := range map[string]bool{
		"INBOX": true, "Entw&APw-rfe": true, "a&-b": true, "&ZeVnLIqe-": true,
		"Caf\xe9": false, "raw\x01ctl": false, "del\x7f": false, "amp&here": false,
		"&AGE-":      false, // an ASCII letter shifted
		"&APw-&APw-": false, "&APw": false, "Entwürfe": true,
	} {
		if got := validMUTF7(s); got != want {
			t.Errorf("validMUTF7(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestEncodeMUTF7(t *testing.T) {
	for in, want := range map[string]string{
		"Entwürfe": "Entw&APw-rfe", "a&b": "a&-b", "日本語": "&ZeVnLIqe-", "raw\x01ctl": "raw&AAE-ctl", "plain": "plain",
	} {
		got := encodeMUTF7(in)
		if got != want {
			t.Errorf("encodeMUTF7(%q) = %q, want %q", in, got, want)
		}
		if !validMUTF7(got) {
			t.Errorf("encodeMUTF7(%q) = %q is not valid", in, got)
		}
	}
}

func TestSafeName(t *testing.T) {
	for raw, want := range map[string]string{"Caf\xe9": "Café", "Café": "Café", "bad\xff\xfeutf8": "badÿþutf8"} {
		if got := safeName(raw); got != want {
			t.Errorf("safeName(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestRepairQuotaRoot(t *testing.T) {
	for line, keep := range map[string]bool{
		"* QUOTAROOT\r\n": false, "* QUOTAROOT \r\n": false, "* QUOTAROOT INBOX\r\n": true,
		"* QUOTAROOT INBOX \"\"\r\n": true, "* QUOTAROOT INBOX root other\r\n": true, "* QUOTAROOT Caf\xe9 r\r\n": false,
	} {
		got := repairQuotaRoot([]byte(line), len("* QUOTAROOT"))
		if (got != nil) != keep {
			t.Errorf("%q: kept %v, want %v", line, got != nil, keep)
		}
	}
}
