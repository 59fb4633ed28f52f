package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strconv"
)

// Account returns the account called name, or nil.
func (c *Config) Account(name string) *Account {
	for _, a := range c.Accounts {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Address returns "host:port" for dialing (IPv6 addresses in brackets).
func (a *Account) Address() string {
	return net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
}

// TLSConfig returns the TLS settings for the account's server: nil when TLS
// is TLSNone, else a config that verifies the server certificate against
// the system roots plus the certificates of TLSCAFile, for Host, with TLS
// 1.2 or later. It reads TLSCAFile on every call.
func (a *Account) TLSConfig() (*tls.Config, error) {
	if a.TLS == TLSNone {
		return nil, nil
	}
	c := &tls.Config{ServerName: a.Host, MinVersion: tls.VersionTLS12}
	if a.TLSCAFile != "" {
		pem, err := os.ReadFile(a.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("account %q: tls_ca_file: %w", a.Name, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("account %q: tls_ca_file: no PEM certificate found in %q", a.Name, a.TLSCAFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// MatchFolder reports whether the folder called name (hierarchy separated
// by "/", as in "Lists/golang") is synced according to the folders
// patterns: it must match a pattern without "!" (a list of "!" patterns
// only selects everything else) and no pattern with "!". "*" matches any
// run of characters including "/", "%" any run without "/". INBOX is
// matched case-insensitively. The archive_to folder of a folder_policy is
// never synced. For a POP3 account it reports whether name is its Folder.
func (a *Account) MatchFolder(name string) bool {
	if a.Protocol == ProtocolPOP3 {
		return normInbox(name) == normInbox(a.Folder)
	}
	return matchList(a.Folders, name) && !a.IsArchiveFolder(name)
}

// IsIdleFolder reports whether the folder called name is synced and
// matches idle_folders, so it should be watched with IDLE. It is always
// false for POP3 accounts.
func (a *Account) IsIdleFolder(name string) bool {
	return a.Protocol == ProtocolIMAP && matchList(a.IdleFolders, name) && a.MatchFolder(name)
}
