package config

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

var (
	accountNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	envNameRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// decodeAccount converts the values of an [[account]] table to an Account,
// reporting values of the wrong type.
func (s *section) decodeAccount() *Account {
	a := &Account{Line: s.p.lines.accountHeader(s.index)}
	a.Name, _ = s.str("name")
	a.Protocol, _ = s.str("protocol")
	a.Host, _ = s.str("host")
	a.Port, _ = s.integer("port")
	a.TLS, _ = s.str("tls")
	a.TLSCAFile, _ = s.path("tls_ca_file")
	a.AllowInsecure, _ = s.boolean("allow_insecure")
	a.Username, _ = s.str("username")
	pw, _ := s.str("password")
	a.Password = Secret(pw)
	a.PasswordCommand, _ = s.str("password_command")
	a.PasswordEnv, _ = s.str("password_env")
	a.Provider, _ = s.str("provider")
	a.Auth, _ = s.str("auth")
	a.TokenCommand, _ = s.str("token_command")
	a.OAuthClientID, _ = s.str("oauth_client_id")
	cs, _ := s.str("oauth_client_secret")
	a.OAuthClientSecret = Secret(cs)
	a.OAuthAuthURL, _ = s.str("oauth_auth_url")
	a.OAuthTokenURL, _ = s.str("oauth_token_url")
	a.OAuthDeviceURL, _ = s.str("oauth_device_url")
	a.OAuthScopes, _ = s.strings("oauth_scopes")
	a.Maildir, _ = s.path("maildir")
	a.Layout, _ = s.str("layout")
	a.Folders, _ = s.strings("folders")
	a.IdleFolders, _ = s.strings("idle_folders")
	a.PollInterval, _ = s.duration("poll_interval")
	a.MaxConnections, _ = s.integer("max_connections")
	a.DeleteMode, _ = s.str("delete_mode")
	a.DeleteGuardCount, _ = s.integer("delete_guard_count")
	a.DeleteGuardPercent, _ = s.integer("delete_guard_percent")
	a.Direction, _ = s.str("direction")
	a.OnNewMail, _ = s.str("on_new_mail")
	a.MaxAge, _ = s.duration("max_age")
	a.MaxSize, _ = s.size("max_size")
	a.FetchFlag, _ = s.str("fetch_flag")
	if compress, ok := s.boolean("compress"); ok {
		a.NoCompress = !compress
	}
	a.LeaveOnServer, _ = s.boolean("leave_on_server")
	a.DeleteAfter, _ = s.duration("delete_after")
	a.DeleteWhenDeletedLocally, _ = s.boolean("delete_when_deleted_locally")
	a.Folder, _ = s.str("folder")
	if s.has("password") {
		if s.p.passwordLine == 0 {
			s.p.passwordLine = s.line("password")
			s.p.passwordAccount = s.label
		}
	}
	return a
}

// defaults fills in every key that was not set.
func (s *section) defaults(a *Account) {
	if !s.has("tls") {
		a.TLS = TLSImplicit
	}
	if !s.has("layout") {
		a.Layout = LayoutVerbatim
	}
	if !s.has("port") {
		switch {
		case a.Protocol == ProtocolIMAP && a.TLS == TLSImplicit:
			a.Port = 993
		case a.Protocol == ProtocolIMAP:
			a.Port = 143
		case a.Protocol == ProtocolPOP3 && a.TLS == TLSImplicit:
			a.Port = 995
		case a.Protocol == ProtocolPOP3:
			a.Port = 110
		}
	}
	switch a.Protocol {
	case ProtocolIMAP:
		if !s.has("folders") {
			a.Folders = []string{"*"}
		}
		if !s.has("idle_folders") {
			a.IdleFolders = []string{"INBOX"}
		}
		if !s.has("poll_interval") {
			a.PollInterval = 2 * time.Minute
		}
		if !s.has("max_connections") {
			a.MaxConnections = 4
		}
		if !s.has("delete_mode") {
			a.DeleteMode = DeleteExpunge
		}
		if !s.has("delete_guard_count") {
			a.DeleteGuardCount = 50
		}
		if !s.has("delete_guard_percent") {
			a.DeleteGuardPercent = 25
		}
		if !s.has("direction") {
			a.Direction = DirectionBoth
		}
		if !s.has("fetch_flag") {
			a.FetchFlag = "F"
		}
	case ProtocolPOP3:
		if !s.has("poll_interval") {
			a.PollInterval = 5 * time.Minute
		}
		if !s.has("leave_on_server") {
			a.LeaveOnServer = true
		}
		if !s.has("folder") {
			a.Folder = "INBOX"
		}
		a.MaxConnections = 1
	}
	s.applyPreset(a)
}

// validate checks the account after defaults were filled in.
func (s *section) validate(a *Account) {
	header := s.p.lines.accountHeader(s.index)
	required := func(key, v string) bool {
		if !s.has(key) {
			s.errorAt(header, "%s: required", key)
			return false
		}
		if !s.bad[key] && v == "" {
			s.errorf(key, "must not be empty")
			return false
		}
		return !s.bad[key]
	}

	if required("name", a.Name) {
		switch {
		case !accountNameRE.MatchString(a.Name):
			s.errorf("name", "must contain only letters, digits, \".\", \"_\" and \"-\", got %s", s.got("name"))
		case a.Name == "." || a.Name == "..":
			s.errorf("name", "must not be \".\" or \"..\", got %s", s.got("name"))
		}
	}
	protoOK := false
	if required("protocol", a.Protocol) {
		protoOK = s.oneOf("protocol", a.Protocol, ProtocolIMAP, ProtocolPOP3)
	}
	if protoOK {
		for _, k := range sortedKeys(s.vals, s.line) {
			if d := keyDoc(TableAccount, k); d != nil && d.Protocol != "" && d.Protocol != a.Protocol {
				s.errorf(k, "not valid for protocol %q", a.Protocol)
				s.markBad(k)
			}
		}
	}
	if s.has("provider") && !s.bad["provider"] {
		s.oneOf("provider", a.Provider, ProviderGmail, ProviderOutlook)
	}
	if a.Host != "" && !s.has("host") {
		// Filled in by the provider preset.
	} else if required("host", a.Host) {
		if strings.ContainsAny(a.Host, " \t\r\n/@[]") {
			s.errorf("host", "must be a host name or an IP address, got %s", s.got("host"))
		}
	}
	if s.ok("port") && (a.Port < 1 || a.Port > 65535) {
		s.errorf("port", "must be between 1 and 65535, got %s", s.got("port"))
	}
	if s.oneOf("tls", a.TLS, TLSImplicit, TLSStartTLS, TLSNone) && a.TLS == TLSNone && !a.AllowInsecure &&
		a.Host != "" && !isLoopback(a.Host) {
		s.errorf("tls", "\"none\" is refused for host %q, which is not loopback: the password would cross the network in clear text (set allow_insecure = true to allow it)", a.Host)
	}
	if s.ok("tls_ca_file") {
		if pem, err := os.ReadFile(a.TLSCAFile); err != nil {
			s.errorf("tls_ca_file", "%v", err)
		} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			s.errorf("tls_ca_file", "no PEM certificate found in %q", a.TLSCAFile)
		}
	}
	required("username", a.Username)

	if s.has("auth") && !s.bad["auth"] {
		s.oneOf("auth", a.Auth, AuthPassword, AuthXOAuth2, AuthOAuthBearer)
	}
	switch {
	case isOAuth(a.Auth):
		s.validateOAuth(a)
	case a.Auth == AuthPassword:
		s.validatePassword(a, header)
	}

	if !s.has("maildir") {
		s.errorAt(header, "maildir: required")
	}
	s.oneOf("layout", a.Layout, LayoutVerbatim, LayoutMaildirPP)
	for _, k := range []string{"folders", "idle_folders"} {
		if !s.ok(k) {
			continue
		}
		list := a.Folders
		if k == "idle_folders" {
			list = a.IdleFolders
		}
		for _, pat := range list {
			if err := checkPattern(pat); err != nil {
				s.errorf(k, "%v, got %q", err, pat)
			}
		}
	}
	if s.ok("poll_interval") && a.PollInterval <= 0 {
		s.errorf("poll_interval", "must be positive, got %s", s.got("poll_interval"))
	}
	if s.ok("max_connections") && (a.MaxConnections < 1 || a.MaxConnections > 64) {
		s.errorf("max_connections", "must be between 1 and 64, got %s", s.got("max_connections"))
	}
	if s.ok("delete_mode") {
		s.oneOf("delete_mode", a.DeleteMode, DeleteExpunge, DeleteTrash)
	}
	if s.ok("delete_guard_count") && a.DeleteGuardCount < 0 {
		s.errorf("delete_guard_count", "must not be negative, got %s", s.got("delete_guard_count"))
	}
	if s.ok("delete_guard_percent") && (a.DeleteGuardPercent < 1 || a.DeleteGuardPercent > 100) {
		s.errorf("delete_guard_percent", "must be between 1 and 100, got %s", s.got("delete_guard_percent"))
	}
	if s.ok("direction") {
		s.oneOf("direction", a.Direction, DirectionBoth, DirectionPull, DirectionPush)
	}
	if s.ok("max_age") && a.MaxAge < 0 {
		s.errorf("max_age", "must not be negative, got %s", s.got("max_age"))
	}
	if s.ok("fetch_flag") && a.FetchFlag != "" && (len(a.FetchFlag) != 1 || !strings.Contains("DFPRST", a.FetchFlag)) {
		s.errorf("fetch_flag", "must be one Maildir flag letter (D, F, P, R, S or T) or \"\", got %s", s.got("fetch_flag"))
	}
	if s.ok("delete_after") && a.DeleteAfter < 0 {
		s.errorf("delete_after", "must not be negative, got %s", s.got("delete_after"))
	}
	if s.ok("leave_on_server") && !a.LeaveOnServer {
		if s.ok("delete_after") && a.DeleteAfter > 0 {
			s.errorf("delete_after", "has no effect with leave_on_server = false, which deletes each message from the server right after download")
		}
		if s.ok("delete_when_deleted_locally") && a.DeleteWhenDeletedLocally {
			s.errorf("delete_when_deleted_locally", "has no effect with leave_on_server = false, which deletes each message from the server right after download")
		}
	}
	if s.ok("folder") {
		if err := checkFolderName(a.Folder); err != nil {
			s.errorf("folder", "%v, got %s", err, s.got("folder"))
		}
	}
	if s.ok(policyKey) {
		s.decodePolicies(a)
	}
	s.decodeTags(a)
}

// crossCheck reports duplicate account names and maildirs that are the
// same or nested.
func (p *parser) crossCheck(secs []*section) {
	accts := p.cfg.Accounts
	for i, a := range accts {
		s := secs[i]
		for j := 0; j < i; j++ {
			b := accts[j]
			if s.ok("name") && secs[j].ok("name") && a.Name != "" && a.Name == b.Name {
				s.errorf("name", "%q is already the name of the account at line %d", a.Name, b.Line)
			}
			if !s.ok("maildir") || !secs[j].ok("maildir") {
				continue
			}
			switch {
			case samePath(a.Maildir, b.Maildir):
				s.errorf("maildir", "%q is also the maildir of account %q (line %d)", a.Maildir, b.Name, b.Line)
			case within(a.Maildir, b.Maildir):
				s.errorf("maildir", "%q is inside the maildir of account %q (line %d)", a.Maildir, b.Name, b.Line)
			case within(b.Maildir, a.Maildir):
				s.errorf("maildir", "%q contains the maildir of account %q (line %d)", a.Maildir, b.Name, b.Line)
			}
		}
	}
}

func samePath(a, b string) bool {
	if isCaseInsensitiveFS() {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// within reports whether path is strictly below dir.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	if err != nil || rel == "." {
		return false
	}
	if isCaseInsensitiveFS() {
		rel2, err := filepath.Rel(strings.ToLower(dir), strings.ToLower(path))
		if err == nil {
			rel = rel2
		}
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

func isCaseInsensitiveFS() bool {
	return runtime.GOOS == "windows" || runtime.GOOS == "darwin"
}

// isLoopback reports whether host is localhost or a loopback address
// (127.0.0.0/8, ::1).
func isLoopback(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// checkFolderName checks a local folder name: "/"-separated components,
// none empty, "." or "..", no control characters.
func checkFolderName(name string) error {
	if name == "" {
		return fmt.Errorf("must not be empty")
	}
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) {
		return fmt.Errorf("must be a folder name, not an absolute path")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("must not contain control characters or backslashes")
		}
	}
	for _, c := range strings.Split(name, "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("must be a folder name such as \"INBOX\" or \"Lists/golang\" (no empty, \".\" or \"..\" parts)")
		}
	}
	return nil
}

// validatePassword checks the password keys of an account with auth =
// "password", and that no OAuth key is set.
func (s *section) validatePassword(a *Account, header int) {
	for _, k := range append([]string{"token_command"}, oauthKeys...) {
		if s.has(k) {
			s.errorf(k, "only used with auth = \"xoauth2\" or \"oauthbearer\" (auth is %q)", a.Auth)
		}
	}
	var sources []string
	for _, k := range sortedKeys(s.vals, s.line) {
		if k == "password" || k == "password_command" || k == "password_env" {
			sources = append(sources, k)
		}
	}
	switch {
	case len(sources) == 0:
		s.errorAt(header, "one of password, password_command or password_env is required")
	case len(sources) > 1:
		for _, k := range sources[1:] {
			s.errorf(k, "cannot be combined with %s: set only one of password, password_command and password_env", sources[0])
		}
	}
	if s.ok("password") && a.Password == "" {
		s.errorf("password", "must not be empty")
	}
	if s.ok("password_command") && strings.TrimSpace(a.PasswordCommand) == "" {
		s.errorf("password_command", "must not be empty")
	}
	if s.ok("password_env") && !envNameRE.MatchString(a.PasswordEnv) {
		s.errorf("password_env", "must be the name of an environment variable, got %s", s.got("password_env"))
	}
}
