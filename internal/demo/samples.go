package demo

import (
	"fmt"
	"strings"
	"time"
)

var people = []string{
	"Ada Lovelace <ada@example.org>", "Grace Hopper <grace@example.net>",
	"Ken Thompson <ken@example.com>", "Barbara Liskov <barbara@example.edu>",
	"Linus <linus@example.org>", "golang-nuts <golang-nuts@example.com>",
	"Margaret Hamilton <margaret@example.net>", "Build bot <ci@example.com>",
}

var subjects = []string{
	"Lunch on Thursday?", "Re: release notes for 1.4", "Your build passed",
	"Minutes of the planning meeting", "Quick question about the API",
	"[golang-nuts] generics and method values", "Photos from the trip",
	"Re: Re: offsite agenda", "Invoice 2026-118", "Draft: quarterly report",
	"Welcome to the team!", "Reminder: dentist at 3pm", "Fwd: conference CFP",
	"Code review: maildir writer", "Weekly digest",
}

var paragraphs = []string{
	"Thanks for the quick turnaround on this. I had a look at the numbers and they line up with what we measured last week.",
	"Could you send me the latest version before Friday? I would like to go through it once more over the weekend.",
	"The build on main is green again; the flaky test was a race in the watcher, fixed in the last commit.",
	"Let me know if anything is unclear, happy to jump on a call.",
	"Attached are the notes from today. Action items are at the bottom, owners in brackets.",
	"I think we can ship this as it is and iterate on the edge cases in the next release.",
}

// sample returns a new realistic message dated date.
func (s *Servers) sample(date time.Time) []byte {
	r := s.rnd
	from := people[r.IntN(len(people))]
	to := "Demo User <demo@example.org>"
	subj := subjects[r.IntN(len(subjects))]
	var body strings.Builder
	fmt.Fprintf(&body, "Hi,\r\n\r\n")
	for i := 0; i < 1+r.IntN(4); i++ {
		body.WriteString(paragraphs[r.IntN(len(paragraphs))])
		body.WriteString("\r\n\r\n")
	}
	fmt.Fprintf(&body, "Cheers,\r\n%s\r\n", strings.SplitN(from, " <", 2)[0])
	id := fmt.Sprintf("<%d.%x@demo.mailmirror>", date.UnixNano(), r.Uint64())
	return []byte(fmt.Sprintf("Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s",
		date.Format(time.RFC1123Z), from, to, subj, id, body.String()))
}

func subjectOf(msg []byte) string {
	for _, line := range strings.Split(string(msg), "\r\n") {
		if strings.HasPrefix(line, "Subject: ") {
			return strings.TrimPrefix(line, "Subject: ")
		}
		if line == "" {
			break
		}
	}
	return ""
}
