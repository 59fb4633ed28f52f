package syncer

import "github.com/emersion/go-imap/v2/imapclient"

type (
	imapclient_UID  = imapclient.FetchItemDataUID
	imapclient_Body = imapclient.FetchItemDataBodySection
)

// scope says how much of its folder a job knows. Only a full pass's detect
// reads every pair and every file; the targeted detects read what they need
// and leave the rest alone, so code that would walk "every pair" or "every
// file" of a job asks its scope first (allPairs, knowsUID, downloads)
// instead of assuming a mode.
//
// A job that may upload (every scope but scopeServer, and scopeLocal only
// with new files) knows the pairs at or above the folder's recorded UIDNEXT
// (a pass's own APPENDs and MOVEs), so that an APPENDUID or COPYUID is never
// taken for a UID already paired (appendOne, copyInstead).
type scope uint8

const (
	// scopeFull: every pair of the folder and every file in it (the
	// detect of a full pass).
	scopeFull scope = iota
	// scopeServer: the server's changes since the last pass and nothing
	// local: the new UIDs (from the recorded UIDNEXT), the pairs of the
	// messages changed or expunged, and the files of those pairs
	// (PullNew, and a full pass's detectServerOnly).
	scopeServer
	// scopeLocal: the files the watcher saw change and their pairs; on the
	// server, the flags of those pairs and the identities of the messages
	// new since the last pass. It downloads nothing (PushLocal).
	scopeLocal
)

// String names the scope (in test failures).
func (sc scope) String() string {
	switch sc {
	case scopeFull:
		return "full pass"
	case scopeServer:
		return "targeted pass"
	case scopeLocal:
		return "PushLocal"
	}
	return "scope?"
}

// allPairs reports whether the job knows every pair and every file of its
// folder.
func (j *job) allPairs() bool { return j.scope == scopeFull }

// knowsUID reports whether the job looked at the server side of uid: every
// UID in a full pass, the UIDs from the recorded UIDNEXT in a targeted
// pass, none in PushLocal.
func (j *job) knowsUID(uid uint32) bool {
	switch j.scope {
	case scopeFull:
		return true
	case scopeServer:
		return uid >= max(j.st.UIDNext, 1)
	}
	return false
}

// downloads reports whether the job may download messages (and so settle
// the folder's partial downloads).
func (j *job) downloads() bool { return j.scope != scopeLocal }
