#!/usr/bin/env bash
# Builds the release archives into dist/ (DIST_DIR): one per platform,
# tar.gz (zip for Windows), each holding the binary, the man pages
# (docs/man/), the shell completions, README.md and LICENSE, under a
# directory mailmirror-VERSION-OS-ARCH/. Binaries are built with -trimpath,
# without cgo, with the version and commit stamped in (mailmirror version).
#
# Environment: VERSION (default: git describe, else "dev"), COMMIT (default:
# the checkout's commit), DIST_DIR (default dist), DIST_TARGETS (default
# the five release platforms, e.g. "linux/amd64 windows/amd64").
# `make dist` runs it; so does CI (scripts/test.sh), without uploading.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=${COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
if [ -z "${COMMIT:-}" ] && [ -n "$(git status --porcelain 2>/dev/null)" ]; then
	commit="$commit-dirty"
fi
out=${DIST_DIR:-dist}
targets=${DIST_TARGETS:-linux/amd64 linux/arm64 darwin/arm64 darwin/amd64 windows/amd64}
pkg=github.com/mailmirror/mailmirror/internal/cli
ldflags="-s -w -X $pkg.Version=$version -X $pkg.Commit=$commit"

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The completion scripts are the same on every platform: make them once
# with a binary for this machine.
CGO_ENABLED=0 go build -trimpath -o "$work/host-mailmirror" .
mkdir -p "$work/completions"
"$work/host-mailmirror" completion bash >"$work/completions/mailmirror.bash"
"$work/host-mailmirror" completion zsh >"$work/completions/_mailmirror"
"$work/host-mailmirror" completion fish >"$work/completions/mailmirror.fish"

for target in $targets; do
	goos=${target%/*}
	goarch=${target#*/}
	name="mailmirror-$version-$goos-$goarch"
	dir="$work/$name"
	mkdir -p "$dir/man" "$dir/completions"
	exe=mailmirror
	[ "$goos" = windows ] && exe=mailmirror.exe
	echo "building $name"
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -ldflags "$ldflags" -o "$dir/$exe" .
	cp docs/man/mailmirror.1 docs/man/mailmirror.toml.5 "$dir/man/"
	cp "$work"/completions/* "$dir/completions/"
	cp README.md LICENSE "$dir/"
	if [ "$goos" = windows ]; then
		rm -f "$out/$name.zip"
		(cd "$work" && zip -qrX "$out/$name.zip" "$name")
	else
		tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner \
			--mtime="@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}" \
			-czf "$out/$name.tar.gz" "$name"
	fi
done
(cd "$out" && sha256sum mailmirror-"$version"-* >"SHA256SUMS-$version")
echo "archives in $out:"
ls -l "$out"
