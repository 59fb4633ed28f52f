#!/usr/bin/env bash
# Makes a Wine prefix in which the windows/amd64 build of mailmirror runs
# (internal/wintest, docs/testing.md). Debian's Wine 8.0 lacks
# bcryptprimitives.dll, whose ProcessPrng every Go 1.22+ Windows binary
# loads at start: this builds a stand-in (scripts/wine/bcryptprimitives.c,
# ProcessPrng on advapi32's RtlGenRandom) with mingw into the prefix's
# system32.
#
# usage: scripts/wine-setup.sh PREFIX
#   then: WINEPREFIX=PREFIX WINEDEBUG=-all /usr/lib/wine/wine64 mailmirror.exe ...
#   and:  MAILMIRROR_WINEPREFIX=PREFIX go test ./internal/wintest
# Installs wine64 and gcc-mingw-w64-x86-64 with apt-get when missing (as
# root, or through sudo). Exits 2 when they are missing and cannot be
# installed (not root, no sudo, no apt-get), saying so.
set -euo pipefail
prefix=${1:?usage: wine-setup.sh PREFIX}
here=$(cd "$(dirname "$0")" && pwd)
need=()
[ -x /usr/lib/wine/wine64 ] || need+=(wine64)
command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		sudo=()
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		echo "wine-setup: missing ${need[*]}, and not root (nor passwordless sudo) to install them" >&2
		exit 2
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "wine-setup: missing ${need[*]} (Debian package names), and no apt-get to install them" >&2
		exit 2
	fi
	if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; then
		"${sudo[@]}" apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
	fi
fi
export WINEPREFIX=$prefix WINEDEBUG=-all
if [ ! -d "$prefix/drive_c/windows/system32" ]; then
	mkdir -p "$prefix"
	# No Mono or Gecko (.NET, HTML): mailmirror needs neither, and looking
	# for them on the network makes wineboot wait.
	WINEDLLOVERRIDES="mscoree,mshtml=" /usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1 || true
	/usr/lib/wine/wineserver -w 2>/dev/null || true
fi
if [ ! -d "$prefix/drive_c/windows/system32" ]; then
	echo "wine-setup: wineboot did not create $prefix" >&2
	exit 1
fi
dll=$prefix/drive_c/windows/system32/bcryptprimitives.dll
if [ ! -f "$dll" ] || [ "$here/wine/bcryptprimitives.c" -nt "$dll" ]; then
	out=$(mktemp -d)
	x86_64-w64-mingw32-gcc -shared -O2 -o "$out/bcryptprimitives.dll" "$here/wine/bcryptprimitives.c" -ladvapi32
	cp "$out/bcryptprimitives.dll" "$dll"
	rm -rf "$out"
fi
echo "wine prefix ready: WINEPREFIX=$prefix WINEDEBUG=-all /usr/lib/wine/wine64 PROGRAM.exe"
