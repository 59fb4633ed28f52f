package config

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the key tables of ../docs/config-reference.md from KeyDocs")

// references are the documents holding the key tables, each with the
// headings of its tables mapped to KeyDoc.Table.
var references = []struct {
	path     string
	sections map[string]string
}{
	{"../docs/config-reference.md", map[string]string{
		"## Top-level keys":                   TableTop,
		"## `[[account]]` keys":               TableAccount,
		"## `[[account.folder_policy]]` keys": TableFolderPolicy,
	}},
}

// keyRow renders k as a row of the reference tables.
func keyRow(k KeyDoc) string {
	proto := k.Protocol
	switch {
	case k.Table == TableTop:
		proto = "—"
	case proto == "":
		proto = "all"
	}
	return fmt.Sprintf("| `%s` | %s | %s | %s |", k.Name, k.Default, proto, k.Doc)
}

// TestConfigReference checks that docs/config-reference.md lists every key
// KeyDocs holds, in the right section, with its default, protocol and
// meaning, and no key the package does not accept. Run with -update to
// rewrite the tables after changing KeyDocs.
func TestConfigReference(t *testing.T) {
	for _, ref := range references {
		t.Run(ref.path, func(t *testing.T) { checkReference(t, ref.path, ref.sections) })
	}
}

func checkReference(t *testing.T, referencePath string, referenceSections map[string]string) {
	data, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	want := map[string][]string{}
	for _, k := range KeyDocs() {
		want[k.Table] = append(want[k.Table], keyRow(k))
	}

	var out []string
	table, inSection := "", false
	seen := map[string][]string{}
	for _, l := range lines {
		if strings.HasPrefix(l, "#") {
			table, inSection = referenceSections[l]
		}
		if inSection && strings.HasPrefix(l, "| `") {
			seen[table] = append(seen[table], l)
			if *update {
				if len(seen[table]) == 1 {
					out = append(out, want[table]...)
				}
				continue
			}
		}
		out = append(out, l)
	}
	if *update {
		if err := os.WriteFile(referencePath, []byte(strings.Join(out, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, table := range referenceSections {
		got := map[string]string{}
		for _, row := range seen[table] {
			name := strings.SplitN(row, "`", 3)[1]
			got[name] = row
		}
		for _, k := range KeyDocs() {
			if k.Table != table {
				continue
			}
			row, ok := got[k.Name]
			switch {
			case !ok:
				t.Errorf("%s: key %q (table %q) missing", referencePath, k.Name, table)
			case row != keyRow(k):
				t.Errorf("%s: row of %q is\n%s\nwant (default %s)\n%s", referencePath, k.Name, row, k.Default, keyRow(k))
			}
			delete(got, k.Name)
		}
		for name := range got {
			t.Errorf("%s: documents key %q (table %q), which the config package does not accept", referencePath, name, table)
		}
	}
	for heading, table := range referenceSections {
		if len(seen[table]) == 0 {
			t.Errorf("%s: key table not found under %q", referencePath, heading)
		}
	}
}

// TestKeyDocsAccepted checks that every key in KeyDocs is accepted by the
// parser and every other key refused, so the table is the parser's list.
func TestKeyDocsAccepted(t *testing.T) {
	setHome(t)
	names := map[string]bool{}
	for _, k := range KeyDocs() {
		if k.Default == "" || k.Doc == "" {
			t.Errorf("key %q has no default or doc", k.Name)
		}
		if names[k.Table+"."+k.Name] {
			t.Errorf("key %q listed twice", k.Name)
		}
		names[k.Table+"."+k.Name] = true
		var text string
		switch k.Table {
		case TableTop:
			text = k.Name + " = 0\n"
		case TableFolderPolicy:
			text = "[[account]]\n[[account.folder_policy]]\n" + k.Name + " = 0\n"
		default:
			text = "[[account]]\n" + k.Name + " = 0\n"
		}
		_, err := Parse([]byte(text), "config.toml")
		if err != nil && strings.Contains(err.Error(), "unknown key") {
			t.Errorf("key %q: %v", k.Name, err)
		}
	}
}
