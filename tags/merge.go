package tags

// Merge is the three-way merge of one message's synced tags: base is the
// set both sides agreed on last time, local and remote the sets now. A tag
// changed on one side only takes that side's value; a tag changed on both
// sides changed the same way (a tag is there or not), so it takes it too.
// Hence adds from both sides are kept, and a removal wins only where the
// other side did not touch the tag. A side whose tags did not change since
// the base (a stale device) changes nothing.
//
// With hasBase false (a message never merged before) the result is the
// union: nothing is removed without a base that shows a removal.
func Merge(base []string, hasBase bool, local, remote []string) []string {
	if !hasBase {
		return Normalize(append(append([]string(nil), local...), remote...))
	}
	b, l, r := set(base), set(local), set(remote)
	var out []string
	for t := range union(b, l, r) {
		in := r[t]
		if l[t] != b[t] {
			in = l[t]
		}
		if in {
			out = append(out, t)
		}
	}
	return Normalize(out)
}

// Diff returns what to add to and remove from from to make it to.
func Diff(from, to []string) (add, remove []string) {
	f, t := set(from), set(to)
	for x := range t {
		if !f[x] {
			add = append(add, x)
		}
	}
	for x := range f {
		if !t[x] {
			remove = append(remove, x)
		}
	}
	return Normalize(add), Normalize(remove)
}

// Equal reports whether two tag sets hold the same tags.
func Equal(a, b []string) bool {
	add, rm := Diff(a, b)
	return len(add) == 0 && len(rm) == 0
}

func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, x := range list {
		m[x] = true
	}
	return m
}

func union(sets ...map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, s := range sets {
		for x := range s {
			out[x] = true
		}
	}
	return out
}
