// Package wintest runs the windows/amd64 build of mailmirror under Wine
// against the Dovecot harness of internal/testenv, as black-box tests: a
// first sync compared message by message, the daemon, status, check,
// hostile folder names, a kill during a first sync, and the Windows
// service (install, start, status, stop, uninstall) in Wine's service
// manager.
//
// The tests need a Wine prefix made by scripts/wine-setup.sh, named by
// $MAILMIRROR_WINEPREFIX. Without it they skip, and fail when $CI or
// $MAILMIRROR_REQUIRE_WINE is true (scripts/test.sh sets the prefix up).
// The tests build on Linux only (they drive Wine); the package has test
// files only besides this one.
package wintest
