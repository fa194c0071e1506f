package fastyaml

import (
	"strings"
	"sync"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// supported lists documents fastyaml must parse itself, to the tree
// yaml.v3 builds.
var supported = map[string]string{
	"simple map":           "a: b\nc: d\n",
	"no final newline":     "a: b",
	"nested map":           "a:\n  b:\n    c: d\n  e: f\ng: h\n",
	"quoted number":        "port: \"80\"\nnum: 80\nsq: '80'\n",
	"double escapes":       `a: "x\"y\\z\n\t\u00e9\x41\U0001F600\0\a\b\v\f\r\e\ \'\N\_\L\P"` + "\n",
	"double escape only":   `a: "\\"` + "\n",
	"single escape":        "a: 'it''s'\nb: ''\nc: ''''\nd: 'x''''y'\n",
	"empty quoted":         "a: \"\"\nb: ''\n",
	"colon in quotes":      "a: \"b: c\"\nd: 'e: f'\n",
	"hash in quotes":       "a: \"b # c\"\nd: 'e #f'\n",
	"url":                  "a: http://x\nb: https://example.com:8080/path?q=1#frag\n",
	"image":                "image: nginx:1.25\nimage2: registry.k8s.io/coredns/coredns:v1.11.3\n",
	"colon key":            "a:b: c\n",
	"hash inside plain":    "a: b#c\nd#e: f\n",
	"compact seq":          "env:\n- name: x\n  value: y\n- name: z\n  valueFrom:\n    fieldRef:\n      fieldPath: metadata.name\n",
	"indented seq":         "env:\n  - name: x\n    value: y\n  - name: z\n",
	"seq at parent indent": "a:\n- b\n- c\nd: e\n",
	"nested seqs":          "- - a\n  - b\n- - - c\n",
	"empty seq items":      "- \n-\n- # c\n- a\n",
	"empty values":         "a:\nb: \nc: # comment\nd:\n  e:\n",
	"empty at end":         "a: 1\nb:",
	"trailing comments":    "a: b # c\nd: \"e\" # f\ng: [h] # i\nj: {k: l}   # m\n",
	"full line comments":   "# head\na: b\n  # indented\n# c\nd:\n  # inside\n  e: f\n# foot\n",
	"flow maps":            "a: {app: web}\nb: {}\nc: []\nd: [a, b]\ne: {\"x\": 'y', z: [1, {w: v}]}\nf: [ a , b ]\ng: { a: b }\n",
	"flow quoted keys":     "a: {\"app.kubernetes.io/name\": web, 'x': y}\n",
	"flow spaces":          "a: [a b, c d]\n",
	"dotted keys":          "app.kubernetes.io/name: web\nprometheus.io/port: \"9153\"\n",
	"unicode":              "a: é\nbé: ü\nc: 日本語 # コメント\nd: [é, ü]\n\"日本\": 'ü'\n",
	"unicode columns":      "ключ: значение\nk: {é: ü, ö: [ä]}\n",
	"crlf":                 "a: b\r\nc:\r\n  - d\r\n  - 'e'\r\n",
	"trailing spaces":      "a: b   \nc:   \nd:\n  - e  \n  -   \n",
	"doc start":            "---\na: b\n",
	"doc start comment":    "# leading\n--- # start\n\na: b\n",
	"bare doc start":       "---\n",
	"doc start then blank": "---\n\n  \n",
	"empty":                "",
	"only comments":        "# a\n\n  # b\n",
	"blank lines":          "\n\na: b\n\n\nc: d\n\n",
	"root seq":             "- a\n- b: c\n  d: e\n",
	"root flow":            "{a: b}\n",
	"root flow seq":        "[a, b]\n",
	"indented root":        "  a: b\n  c: d\n",
	"resolve":              "a: true\nb: False\nc: yes\nd: on\ne: ~\nf: null\ng: 0x1F\nh: 1_000\nl: 089\nm: 0o17\nnn: 2025-01-01\no: 1e3\np: -1\nq: +1\nr: 0b101\ns: 100m\nt: 1.5\nu: 10.0.0.0/8\nv: 9223372036854775808\nw: 2025-06-01T00:00:00Z\nx: 1.2.3\nyy: .5\nz: 0b+11\n",
	"quoted keys":          "\"1\": a\n'true': b\n\"on\": c\ng: {\"~\": d, 'y': e}\n",
	"dash plain":           "args:\n- --port=8080\n- -v\na: -1\n",
	"spaces before colon":  "a  : b\n\"c\" : d\n",
	"key after compact":    "- a: 1\n  b:\n- c\n",
	"compact seq in seq":   "- a:\n  - x\n  b: y\n",
	"deep compact":         "-   a: 1\n    b: 2\n",
	"null then seq":        "- a:\n- b\n",
	"flow under key":       "a:\n  [x, y]\nb:\n  {c: d}\n",
	"seq item nested":      "-\n  a: b\n-\n  - c\n",
	"duplicate keys":       "a: 1\na: 2\n",
	"unindented comments":  "list:\n  - item1\n#  - item2\n  - item3\n  # - item4\n      # deeper\n  - item5\n",
	"comment before value": "key:\n   # comment\n   - 1\n",
	"comment after dash":   "- # c\n  a: b\n- # d\n- e\n",
	"comment after key":    "a: # c\n  b: c\n",
	"plain with quotes":    "a: it's\nb: say \"hi\"\n",
	"special plain chars":  "a: x&y*z!|>%@`\nb: a, b, c\nc: x]y[z{}\n",
	"many spaces":          "a:      b   c\n",
	"long value":           "a: " + strings.Repeat("x", 5000) + "\n",
}

func TestSupported(t *testing.T) {
	for name, doc := range supported {
		t.Run(name, func(t *testing.T) {
			if !differential(t, []byte(doc)) {
				t.Fatalf("Parse(%q) = ErrUnsupported, want a tree", doc)
			}
		})
	}
}

// refused lists documents fastyaml must refuse: constructs outside its
// subset, and YAML errors.
var refused = map[string]string{
	"anchor":      "a: &x b\nc: *x\n",
	"alias":       "a: *x\n",
	"merge":       "a: {b: c}\n<<: {d: e}\n",
	"merge value": "a: <<\n",
	// Infinities and NaNs, which kubectl cannot write as JSON (it fails
	// on the file): the caller looks for them on yaml.v3's tree, in
	// managedFields too.
	"infinity":             "i: .inf\n",
	"negative infinity":    "j: [-.Inf]\n",
	"nan":                  "k: {x: .nan}\n",
	"nan in managedFields": "metadata:\n  managedFields:\n  - x: .NaN\n",
	// Keys that are not strings, or that YAML 1.1 reads as booleans,
	// are resolved by the caller on yaml.v3's tree as its reader does.
	"resolve keys":        "1: a\ntrue: b\n~: c\n\"1\": d\n",
	"yaml 1.1 keys":       "a: b\non: c\n",
	"flow bool key":       "a: {No: b}\n",
	"number key":          "a:\n  0x1: b\n",
	"float flow key":      "a: [{1.5: b}]\n",
	"tag":                 "a: !!str 1\n",
	"local tag":           "a: !foo b\n",
	"literal no blank":    "a: |#c\n  x\n",
	"literal deep blank":  "a: |\n\n     \n  x\n",
	"folded":              "a: >\n  x\n",
	"multi-line plain":    "a: b\n  c\n",
	"multi-line in seq":   "- a\n  b\n",
	"multi-line double":   "a: \"b\n  c\"\n",
	"multi-line single":   "a: 'b\n  c'\n",
	"escaped newline":     "a: \"b\\\n  c\"\n",
	"complex key":         "? a\n: b\n",
	"directive":           "%YAML 1.2\n---\na: b\n",
	"tab indent":          "a:\n\tb: c\n",
	"tab value":           "a: b\tc\n",
	"multi-line flow":     "a: [b,\n  c]\n",
	"multi-line flow map": "a: {b: c,\n  d: e}\n",
	"bare scalar":         "hello\n",
	"bare quoted":         "\"hello\"\n",
	"two documents":       "a: b\n---\nc: d\n",
	"document end":        "a: b\n...\n",
	"content after start": "--- a: b\n",
	"mapping in value":    "a: b: c\n",
	"seq in value":        "a: - b\n",
	"bad escape":          `a: "\/"` + "\n",
	"bad escape 2":        `a: "\q"` + "\n",
	"bad hex":             `a: "\x4"` + "\n",
	"surrogate escape":    `a: "\ud800"` + "\n",
	"unclosed double":     "a: \"b\n",
	"unclosed single":     "a: 'b\n",
	"unclosed flow":       "a: [b\n",
	"flow comment":        "a: [b # c\n  ]\n",
	"flow empty value":    "a: {b: }\n",
	"flow null key":       "a: {b}\n",
	"flow pair in seq":    "a: [b: c]\n",
	"flow colon plain":    "a: {b:c}\n",
	"flow trailing comma": "a: [b, ]\n",
	"flow key":            "{a: b}: c\n",
	"seq key":             "[a]: b\n",
	"bad indent":          "a:\n  b: c\n d: e\n",
	"bad seq indent":      "a:\n  - b\n - c\n",
	"over-indented":       "a: b\n  c: d\n",
	"key missing colon":   "a: b\nc\n",
	"seq after map":       "a: b\n- c\n",
	"map after seq":       "- a\nb: c\n",
	"dedented root":       "  a: b\nc: d\n",
	"bom":                 "\ufeffa: b\n",
	"nel":                 "a: b\u0085c\n",
	"line separator":      "a: b\u2028c\n",
	"control":             "a: b\x01c\n",
	"lone cr":             "a: b\rc: d\n",
	"invalid utf8":        "a: \xff\n",
	"comment after quote": "a: \"b\"#c\n",
	"junk after quote":    "a: \"b\"c\n",
	"quoted key no space": "\"a\":b\n",
	"question plain":      "a: ?b\n",
	"colon plain":         "a: :b\n",
	"backtick":            "a: `b`\n",
	"at":                  "a: @b\n",
	"empty key":           ": b\n",
	"long key":            strings.Repeat("k", 600) + ": v\n",
	"dash alone value":    "a: -\n",
	"scalar on next line": "a:\n  b\n",
	"junk after flow":     "a: [x]y\n",
	"deep":                strings.Repeat("[", 600) + strings.Repeat("]", 600) + "\n",
}

func TestUnsupported(t *testing.T) {
	for name, doc := range refused {
		t.Run(name, func(t *testing.T) {
			n, err := Parse([]byte(doc))
			if err != ErrUnsupported {
				t.Fatalf("Parse(%q) = %v, %v; want ErrUnsupported\n%s", doc, n, err, dumpNode(n))
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	for _, doc := range []string{"", "\n", "# only\n", "  \n# a\n  # b"} {
		n, err := Parse([]byte(doc))
		if err != nil || n == nil || n.Kind != 0 || len(n.Content) != 0 {
			t.Errorf("Parse(%q) = %+v, %v; want the zero Node", doc, n, err)
		}
	}
}

// TestContentCapacity checks that appending to one node's Content cannot
// overwrite another's: the slices are carved from one array.
func TestContentCapacity(t *testing.T) {
	doc, err := Parse([]byte("a: [1, 2]\nb: [3, 4]\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := doc.Content[0]
	a := m.Content[1]
	a.Content = append(a.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "x"})
	if got := m.Content[3].Content[0].Value; got != "3" {
		t.Fatalf("appending to a's Content changed b: %q", got)
	}
	if got := m.Content[2].Value; got != "b" {
		t.Fatalf("appending to a's Content changed the mapping: %q", got)
	}
}

// TestConcurrent parses from several goroutines at once, for the race
// detector and to check that pooled state does not leak between parses.
func TestConcurrent(t *testing.T) {
	docs := handWritten(10)
	docs = append(docs, []byte("a: [b\n"), []byte("a: {b: c}\n"))
	want := make([]*yaml.Node, len(docs))
	for i, d := range docs {
		want[i], _ = Parse(d)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				for i, d := range docs {
					got, err := Parse(d)
					if (err == nil) != (want[i] != nil) {
						t.Errorf("document %d: error %v", i, err)
						return
					}
					if err == nil {
						if err := diffNodes(got, want[i]); err != nil {
							t.Errorf("document %d: %v", i, err)
							return
						}
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestScan checks the character filter, whose fast path looks at eight
// bytes at a time, against a byte-by-byte reading of its rules.
func TestScan(t *testing.T) {
	for c := range 256 {
		for _, pos := range []int{0, 3, 7, 8, 12, 15, 16} {
			b := []byte(strings.Repeat("a", 17))
			b[pos] = byte(c)
			_, _, ok := scan(b)
			want := c >= 0x20 && c < 0x7f || c == '\n'
			if ok != want {
				t.Errorf("scan with byte %#x at %d: ok = %v, want %v", c, pos, ok, want)
			}
		}
	}
	for _, s := range []string{"é", "日本", "😀", "\u00a0"} {
		if lines, ascii, ok := scan([]byte("aaaaaaaaa\n" + s + "\naaaaaaaa")); !ok || ascii || lines != 3 {
			t.Errorf("scan(%q) = %d, %v, %v", s, lines, ascii, ok)
		}
	}
	for _, s := range []string{"\u0085", "\u2028", "\u2029", "\ufeff", "\ufffe", "\x80", "\xc3", "\xed\xa0\x80", "a\r", "\rb", "\t"} {
		if _, _, ok := scan([]byte("aaaaaaaaa" + s + "aaaaaaaa")); ok {
			t.Errorf("scan accepts %q", s)
		}
	}
	if lines, ascii, ok := scan([]byte("a\r\nb\nc")); !ok || !ascii || lines != 3 {
		t.Errorf("scan CRLF = %d, %v, %v", lines, ascii, ok)
	}
}
