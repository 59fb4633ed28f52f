package tags

import (
	"context"
	"fmt"
	"strings"
)

// Dump returns the IDs and tags of the messages matching a query, read
// from the database alone (`notmuch dump --format=batch-tag`): unlike Show
// it opens no mail file, so a file renamed since notmuch last indexed it
// (a flag change) does not fail it. The messages have no Files.
func (n *Notmuch) Dump(ctx context.Context, query string) ([]Message, error) {
	out, err := n.run(ctx, nil, "dump", "--format=batch-tag", "--include=tags", "--", query)
	if err != nil {
		return nil, err
	}
	var msgs []Message
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		tagPart, id, ok := strings.Cut(line, "-- id:")
		if !ok {
			return nil, fmt.Errorf("tags: notmuch dump: unexpected line %q", line)
		}
		if len(id) >= 2 && id[0] == '"' && id[len(id)-1] == '"' {
			id = strings.ReplaceAll(id[1:len(id)-1], `""`, `"`)
		}
		m := Message{ID: id}
		for _, t := range strings.Fields(tagPart) {
			if t = strings.TrimPrefix(t, "+"); t != "" {
				m.Tags = append(m.Tags, decodeHex(t))
			}
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// decodeHex undoes the %XX encoding of dump's tags.
func decodeHex(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
