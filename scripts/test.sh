#!/usr/bin/env bash
# Runs every check CI runs, in the same order: installs the test servers and
# tools when missing (Dovecot IMAP and POP3, isync's mbsync, mandoc, notmuch,
# zip), then gofmt, go vet, a build and vet for each release platform, the
# release archives (scripts/dist.sh, not uploaded), and the tests with the
# race detector against a real Dovecot. `make test` runs it; so does CI (.ci/run).
#
# Environment: CI=true makes tests that need Dovecot fail instead of skip
# (MAILMIRROR_REQUIRE_DOVECOT=1 does the same locally); MAILMIRROR_TEST_P sets
# how many packages test at once (default: the number of CPUs, at most 8);
# MAILMIRROR_TEST_RUN is passed to go test -run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Go from its standard place first; dovecot lives in /usr/sbin, which a normal
# user's PATH may lack.
export PATH="/usr/local/go/bin:$PATH:/usr/sbin:/sbin"
export DEBIAN_FRONTEND=noninteractive

step() { printf '\n== %s\n' "$*"; }

# --- Test servers -----------------------------------------------------------
need=()
if [ ! -x /usr/sbin/dovecot ] || [ ! -e /usr/lib/dovecot/imap ] || [ ! -e /usr/lib/dovecot/pop3 ]; then
	need+=(dovecot-imapd dovecot-pop3d)
fi
command -v mbsync >/dev/null 2>&1 || need+=(isync)
# mandoc lints the man pages, notmuch checks mailboxes --format notmuch,
# zip packs the Windows release archive.
command -v mandoc >/dev/null 2>&1 || need+=(mandoc)
command -v notmuch >/dev/null 2>&1 || need+=(notmuch)
command -v zip >/dev/null 2>&1 || need+=(zip)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
# The race detector needs cgo, hence a C compiler.
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
	step "installing ${need[*]}"
	if [ "$(id -u)" = 0 ]; then
		sudo=()
	elif command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		echo "missing packages: ${need[*]}" >&2
		echo "install them as root: apt-get install ${need[*]}" >&2
		exit 1
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "missing: ${need[*]} (Debian package names); install Dovecot 2.3 with IMAP and POP3, and isync" >&2
		exit 1
	fi
	# Keep the packages from starting the system-wide Dovecot: the tests
	# start their own, and CI machines have no init system to run it.
	policy=/usr/sbin/policy-rc.d
	made_policy=
	if [ ! -e "$policy" ]; then
		"${sudo[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
		made_policy=1
	fi
	status=0
	"${sudo[@]}" apt-get update -q || status=$?
	if [ "$status" = 0 ]; then
		"${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}" || status=$?
	fi
	if [ -n "$made_policy" ]; then
		"${sudo[@]}" rm -f "$policy"
	fi
	if [ "$status" != 0 ]; then
		echo "installing ${need[*]} failed" >&2
		exit "$status"
	fi
fi

go version

# --- Formatting and static checks -------------------------------------------
step "gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt would change these files (run gofmt -w):" >&2
	echo "$unformatted" >&2
	exit 1
fi

step "go vet"
go vet ./...

# -trimpath as in scripts/dist.sh, so that the release archives below reuse
# these compiled packages and only link.
for target in windows/amd64 darwin/arm64 darwin/amd64 linux/arm64; do
	step "build and vet for $target"
	GOOS=${target%/*} GOARCH=${target#*/} go build -trimpath ./...
	GOOS=${target%/*} GOARCH=${target#*/} go vet ./...
done

# --- Windows under Wine (internal/wintest) -----------------------------------
# Makes a Wine prefix (scripts/wine-setup.sh: installs wine64 and mingw when
# missing, as root or through sudo) in which the tests below run the
# windows/amd64 build against Dovecot. Where Wine cannot be installed this
# says so and the Windows tests skip, except under CI, where they must run.
# MAILMIRROR_WINEPREFIX picks the prefix (default: in ~/.cache, reused);
# MAILMIRROR_WINE=0 skips the setup outside CI.
if [ "${MAILMIRROR_WINE:-1}" != 0 ] || [ "${CI:-}" = true ]; then
	step "Wine prefix for the Windows tests"
	wineprefix=${MAILMIRROR_WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/mailmirror/wine}
	wstatus=0
	bash scripts/wine-setup.sh "$wineprefix" || wstatus=$?
	if [ "$wstatus" = 0 ]; then
		export MAILMIRROR_WINEPREFIX=$wineprefix
	elif [ "${CI:-}" = true ]; then
		echo "the Windows tests need Wine in CI (scripts/wine-setup.sh failed: $wstatus)" >&2
		exit 1
	else
		echo "Wine is not available: the Windows tests (internal/wintest) skip" >&2
	fi
fi
if [ "${CI:-}" = true ]; then
	export MAILMIRROR_REQUIRE_WINE=1
fi
# --- end of Windows under Wine ------------------------------------------------
# --- Release archives ---------------------------------------------------------
# What `make dist` builds, into a temporary directory: each archive must hold
# the binary, the man pages, the completions, README.md and LICENSE, and the
# binary for this machine must print the stamped version and commit.
step "release archives (scripts/dist.sh; not uploaded)"
distdir=$(mktemp -d)
VERSION=v0.0.0-ci DIST_DIR="$distdir" bash scripts/dist.sh >/dev/null
for target in linux-amd64 linux-arm64 darwin-arm64 darwin-amd64 windows-amd64; do
	name=mailmirror-v0.0.0-ci-$target
	exe=mailmirror
	if [ "$target" = windows-amd64 ]; then
		exe=mailmirror.exe
		list=$(unzip -Z1 "$distdir/$name.zip")
	else
		list=$(tar -tzf "$distdir/$name.tar.gz")
	fi
	for f in "$exe" man/mailmirror.1 man/mailmirror.toml.5 completions/mailmirror.bash \
		completions/_mailmirror completions/mailmirror.fish README.md LICENSE; do
		if ! grep -qx "$name/$f" <<<"$list"; then
			echo "$name lacks $f" >&2
			exit 1
		fi
	done
done
tar -C "$distdir" -xzf "$distdir/mailmirror-v0.0.0-ci-linux-amd64.tar.gz"
if [ "$(uname -sm)" = "Linux x86_64" ]; then
	v=$("$distdir/mailmirror-v0.0.0-ci-linux-amd64/mailmirror" --version)
	echo "$v"
	case $v in "mailmirror v0.0.0-ci (commit "*) ;; *) echo "version not stamped: $v" >&2; exit 1 ;; esac
fi
rm -rf "$distdir"

# --- Tests ------------------------------------------------------------------
if [ "${CI:-}" = true ]; then
	export MAILMIRROR_REQUIRE_DOVECOT=1
fi
p=${MAILMIRROR_TEST_P:-$(nproc 2>/dev/null || echo 2)}
if [ "$p" -gt 8 ]; then
	p=8
fi
run=()
if [ -n "${MAILMIRROR_TEST_RUN:-}" ]; then
	run=(-run "$MAILMIRROR_TEST_RUN")
fi
step "go test -race -p $p"
go test -race -count=1 -timeout 20m -p "$p" "${run[@]}" ./...

# The fault-injection cases that cut a connection in the middle of a FETCH
# literal skip under the race detector while go-imap's race there is open
# (see syncer/hardening_helpers_test.go, raceMidLiteral): run them without.
step "go test (hardening cases that skip under -race)"
go test -count=1 -timeout 10m -run '^(TestFault|TestHostile|TestResume)' ./syncer

# --- Fuzzing ----------------------------------------------------------------
# Every fuzz target runs for a bounded number of executions, one at a time
# (Go runs one -fuzz target per invocation); their seed corpora
# (testdata/fuzz) ran with the tests above already. The bound is a count,
# not a duration: with a wall-clock -fuzztime, Go's fuzz coordinator can
# report its own deadline as a failure ("context deadline exceeded") when a
# worker is stopped mid-call, which made CI red without any finding.
# MAILMIRROR_FUZZTIME sets the executions per target (default 20000: a few
# seconds each; 0 skips fuzzing).
fuzzexecs=${MAILMIRROR_FUZZTIME:-20000}
fuzzexecs=${fuzzexecs%x}
if [ "$fuzzexecs" != 0 ]; then
	for target in \
		config:FuzzParse config:FuzzParseHidesPassword \
		maildir:FuzzFolderPath maildir:FuzzParseName \
		pop3pull:FuzzPOP3Responses pop3pull:FuzzDotReaderRoundTrip \
		syncer:FuzzHeaderIdentity syncer:FuzzCRLFRoundTrip syncer:FuzzHeadCapture; do
		pkg=${target%%:*}
		name=${target#*:}
		step "fuzz $pkg $name for $fuzzexecs executions"
		go test -run='^$' -fuzz="^${name}\$" -fuzztime="${fuzzexecs}x" -fuzzminimizetime=200x "./$pkg"
	done
fi
