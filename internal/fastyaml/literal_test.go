package fastyaml

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// literals are documents with literal block scalars that Parse must
// accept, and read as yaml.v3 does.
var literals = map[string]string{
	"kubectl annotation": "metadata:\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: |\n      {\"apiVersion\":\"v1\",\"kind\":\"Pod\"}\n  name: x\n",
	"last key":           "a: |\n  x\n",
	"no final break":     "a: |\n  x",
	"strip":              "a: |-\n  x\n  y\n\n\nb: 1\n",
	"keep":               "a: |+\n  x\n  y\n\n\nb: 1\n",
	"clip trailing":      "a: |\n  x\n  y\n\n\nb: 1\n",
	"keep at end":        "a: |+\n  x\n\n\n",
	"strip at end":       "a: |-\n  x\n\n",
	"empty":              "a: |\nb: 1\n",
	"empty keep":         "a: |+\n\n\nb: 1\n",
	"empty strip":        "a: |-\n\n  \nb: 1\n",
	"empty at end":       "a: |\n",
	"empty at eof":       "a: |",
	"leading blanks":     "a: |\n\n  \n  x\n",
	"inner blanks":       "a: |\n  x\n\n  \n  y\n",
	"deeper lines":       "a: |\n  x\n    y\n      z\n  w\n",
	"blank deeper":       "a: |\n  x\n      \n  y\n",
	"blank deeper end":   "a: |\n  x\n      \n",
	"blank deeper eof":   "a: |\n  x\n      ",
	"hash inside":        "a: |\n  # not a comment\n  x # nor this\nb: 2\n",
	"comment after":      "a: |\n  x\n# a comment\nb: 2\n",
	"comment indented":   "a: |\n  x\n # a comment\nb: 2\n",
	"header comment":     "a: | # c\n  x\n",
	"header blanks":      "a: |-   \n  x\n",
	"indicator":          "a: |2\n   x\n  y\n",
	"indicator chomp":    "a: |2-\n    x\n",
	"chomp indicator":    "a: |+1\n  x\n\n",
	"nested":             "a:\n  b:\n    c: |\n      x\n      y\n    d: e\n",
	"in sequence":        "- |\n  x\n- y\n",
	"compact":            "- a: |\n    x\n  b: c\n",
	"indentless":         "a:\n- |\n  x\n- |-\n  y\nb: c\n",
	"crlf":               "a: |\r\n  x\r\n\r\n  y\r\nb: 1\r\n",
	"unicode":            "é: |\n  ü x\n  — y\nb: ü\n",
	"quotes and colons":  "a: |\n  b: c\n  - d\n  \"e\" 'f' {g} [h] & * ! % @ `\n",
	"doc marker":         "---\na: |\n  x\n",
	"many keys":          "a: |\n  1\nb: |-\n  2\nc: |+\n  3\n\nd: 4\n",
	"dashes inside":      "a: |\n  ---\n  ...\n",
	"spaces in content":  "a: |\n  x  \n   y\n",
	"zero indent parent": "a: |\n x\n",
}

func TestLiteral(t *testing.T) {
	for name, doc := range literals {
		t.Run(name, func(t *testing.T) {
			if !differential(t, []byte(doc)) {
				t.Fatalf("Parse(%q) fell back to yaml.v3", doc)
			}
		})
	}
}

// TestLiteralFallback: block scalars outside the subset, valid or not, are
// refused or read as yaml.v3 does.
func TestLiteralFallback(t *testing.T) {
	for _, doc := range []string{
		"a: |\n\tx\n",      // a tab: refused by the scan
		"a: |\n  x\n\ty\n", // likewise
		"a: |0\n  x\n",     // not an indicator
		"a: |-+\n  x\n",    // two chomping indicators
		"a: |x\n  x\n",     // junk after the header
		"a: |\n  x\n y\n",  // a less indented line: the mapping has more
		"a:\n  b: |\n    x\n   y\n",
		"a: |1\n  x\n",           // the indicator leaves a space in the content
		"a: |\n  x\n---\nb: 1\n", // a document marker after it
		"a: |\n  x\n...\n",
		"a: >\n  x\n", // folded: refused
		"a: |\n\n\n",
		"a: |\n    x\n  y: 1\n", // an error
		"a: |\n\n     \n  x\n",  // a blank line deeper than the content: refused
		"a: |+",
	} {
		differential(t, []byte(doc))
	}
}

// randomLiteral builds a document with block scalars of random headers,
// indentation and content lines, among keys and entries.
func randomLiteral(r *rand.Rand) string {
	var b strings.Builder
	lineParts := []string{"x", "y z", "# h", "a: b", "- c", "{\"k\":1}", "'q'", "é", "", "  ", "x  ", "---", "|", ">"}
	n := 1 + r.IntN(4)
	for k := range n {
		ind := 0
		prefix := ""
		switch r.IntN(4) {
		case 0:
			b.WriteString("k" + string(rune('a'+k)) + ":\n")
			ind = 2 * r.IntN(2)
			prefix = strings.Repeat(" ", ind) + "- "
		case 1:
			b.WriteString("k" + string(rune('a'+k)) + ":\n")
			ind = 2 + r.IntN(2)
			prefix = strings.Repeat(" ", ind) + "v: "
		default:
			prefix = "k" + string(rune('a'+k)) + ": "
		}
		b.WriteString(prefix + "|")
		b.WriteString(pick(r, []string{"", "", "-", "+", "2", "1-", "+3", "4"}))
		b.WriteString(pick(r, []string{"", "", " # c", "  "}))
		b.WriteString(pick(r, []string{"\n", "\n", "\r\n"}))
		body := ind + 1 + r.IntN(4)
		for range r.IntN(6) {
			switch r.IntN(5) {
			case 0:
				b.WriteString(strings.Repeat(" ", r.IntN(body+3)))
			case 1:
				b.WriteString(strings.Repeat(" ", body+r.IntN(3)) + pick(r, lineParts))
			default:
				b.WriteString(strings.Repeat(" ", body) + pick(r, lineParts))
			}
			b.WriteString(pick(r, []string{"\n", "\n", "\n", "\r\n"}))
		}
		if r.IntN(6) == 0 {
			b.WriteString(strings.Repeat(" ", r.IntN(4)) + "# after\n")
		}
	}
	s := b.String()
	if r.IntN(8) == 0 {
		s = strings.TrimRight(s, "\r\n")
	}
	return s
}

// TestLiteralRandom: random documents with block scalars are read as
// yaml.v3 reads them or refused, and most are not refused.
func TestLiteralRandom(t *testing.T) {
	n := 30000
	if testing.Short() {
		n = 3000
	}
	r := rand.New(rand.NewPCG(randomSeed, 3))
	accepted := 0
	for range n {
		if differential(t, []byte(randomLiteral(r))) {
			accepted++
		}
	}
	t.Logf("%d of %d random documents with block scalars parsed without fallback", accepted, n)
	if accepted < n/3 {
		t.Errorf("only %d of %d random documents with block scalars parsed without fallback", accepted, n)
	}
}
