package config

import "strings"

// aliases are key names other mail programs use (mbsync, OfflineIMAP,
// fetchmail) for one of ours.
var aliases = map[string]string{
	"user":       "username",
	"login":      "username",
	"remoteuser": "username",
	"pass":       "password",
	"remotepass": "password",
	"passcmd":    "password_command",
	"server":     "host",
	"remotehost": "host",
	"remoteport": "port",
	"path":       "maildir",
	"ssl":        "tls",
	"tlstype":    "tls",
	"ssltype":    "tls",
	"patterns":   "folders",
	"sync":       "direction",
}

// suggest returns the key of table closest to the unknown key name (a
// typo, another case, a name another program uses), or "" when none is
// close. It does no I/O.
func suggest(table, name string) string {
	low := strings.ToLower(strings.ReplaceAll(name, "-", "_"))
	if a, ok := aliases[low]; ok && keyDoc(table, a) != nil {
		return a
	}
	best, bestD := "", 3 // at most 2 edits
	if len(low) <= 4 {
		bestD = 2
	}
	for _, k := range keyDocs {
		if k.Table != table {
			continue
		}
		if k.Name == low {
			return k.Name
		}
		if d := editDistance(low, k.Name); d < bestD {
			best, bestD = k.Name, d
		}
	}
	return best
}

// didYouMean is "; did you mean NAME?" for the closest key, or "".
func didYouMean(table, name string) string {
	if k := suggest(table, name); k != "" {
		return "; did you mean " + k + "?"
	}
	return ""
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1)
			cur[j] = c
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
