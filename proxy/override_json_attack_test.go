package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// jsonKeyOverride reports whether doc, read as encoding/json reads it, has
// an object key "_method" at any depth (every occurrence of a repeated key
// counts), and whether doc is valid JSON.
func jsonKeyOverride(doc []byte) (override, valid bool) {
	if !json.Valid(doc) {
		return false, false
	}
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	type frame struct{ object, key bool }
	var stack []frame
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return override, true
		}
		if err != nil {
			return false, false
		}
		top := len(stack) - 1
		isKey := top >= 0 && stack[top].object && stack[top].key
		if top >= 0 && stack[top].object {
			stack[top].key = !stack[top].key
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, key: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top] // the flip above was the popped frame's
		default:
			if s, ok := tok.(string); ok && isKey && s == "_method" {
				override = true
			}
		}
	}
}

// scanJSON reads doc through the scanner in reads of the sizes given
// (cycled) and reports whether it refused, checking it passed the body
// whole otherwise.
func scanJSON(t *testing.T, doc string, chunks []int) bool {
	t.Helper()
	got, err := scan(jsonForm, "", doc, chunks)
	if err != nil {
		if !errors.Is(err, errMethodOverrideBody) {
			t.Fatalf("%.80q: error %v", doc, err)
		}
		return true
	}
	if got != doc {
		t.Fatalf("%.80q: passed %d bytes of %d", doc, len(got), len(doc))
	}
	return false
}

// attackGen generates JSON documents aimed at the scanner's windows,
// seams and escape state.
type attackGen struct{ rng *rand.Rand }

func (g attackGen) ws() string {
	switch g.rng.IntN(8) {
	case 0:
		return strings.Repeat(" ", g.rng.IntN(1100))
	case 1:
		return []string{"\n", "\r\n", "\t", " \n\t\r "}[g.rng.IntN(4)]
	case 2:
		var b strings.Builder
		for range g.rng.IntN(20) {
			b.WriteByte(" \t\r\n"[g.rng.IntN(4)])
		}
		return b.String()
	}
	return ""
}

// enc writes s as a JSON string body (no quotes), each rune escaped at
// random.
func (g attackGen) enc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			if g.rng.IntN(3) == 0 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteString(`\` + string(r))
			}
		case r == '/' && g.rng.IntN(2) == 0:
			b.WriteString(`\/`)
		case r < 0x20:
			switch r {
			case '\n':
				b.WriteString(`\n`)
			case '\t':
				b.WriteString(`\t`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '\r':
				b.WriteString(`\r`)
			default:
				fmt.Fprintf(&b, `\u%04X`, r)
			}
		case r > 0xffff:
			r1, r2 := 0xd800+((r-0x10000)>>10), 0xdc00+((r-0x10000)&0x3ff)
			if g.rng.IntN(2) == 0 {
				fmt.Fprintf(&b, `\u%04x\u%04X`, r1, r2)
			} else {
				b.WriteRune(r)
			}
		case g.rng.IntN(4) == 0:
			if g.rng.IntN(2) == 0 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04X`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (g attackGen) text() string {
	parts := []string{"_method", "_metho", "method", "\"", "\\", `\"_method\":`, "\x00", "\x1f", "é", "😀", "/", ":",
		"\"_method\"", "_method\x00", "\\\\\"", " ", "x", "{", "}"}
	var b strings.Builder
	switch g.rng.IntN(4) {
	case 0:
		b.WriteString(strings.Repeat("x", g.rng.IntN(1300)))
	case 1:
		b.WriteString(strings.Repeat(`\`, g.rng.IntN(9)))
	}
	for range g.rng.IntN(6) {
		b.WriteString(parts[g.rng.IntN(len(parts))])
	}
	return b.String()
}

func (g attackGen) key() string {
	switch g.rng.IntN(10) {
	case 0, 1, 2:
		return "_method"
	case 3:
		return []string{"_metho", "_methodd", "\x00_method", "_method\x00", "_METHOD", "method", " _method", "_method "}[g.rng.IntN(8)]
	case 4:
		return strings.Repeat("k", g.rng.IntN(600))
	}
	return g.text()
}

func (g attackGen) value(depth int) string {
	n := g.rng.IntN(10)
	if depth > 5 {
		n = 0
	}
	switch n {
	case 0, 1:
		return []string{`1`, `-0.5e+3`, `true`, `false`, `null`, `"DELETE"`, `0`}[g.rng.IntN(7)]
	case 2, 3, 4:
		return `"` + g.enc(g.text()) + `"`
	case 5, 6:
		var els []string
		for range g.rng.IntN(5) {
			els = append(els, g.ws()+g.value(depth+1)+g.ws())
		}
		return "[" + strings.Join(els, ",") + "]"
	}
	var fields []string
	for range g.rng.IntN(6) {
		fields = append(fields, g.ws()+`"`+g.enc(g.key())+`"`+g.ws()+":"+g.ws()+g.value(depth+1)+g.ws())
	}
	return "{" + strings.Join(fields, ",") + "}"
}

func (g attackGen) chunks() []int {
	var c []int
	for range 1 + g.rng.IntN(4) {
		switch g.rng.IntN(6) {
		case 0:
			c = append(c, 1+g.rng.IntN(8))
		case 1:
			c = append(c, 1+g.rng.IntN(64))
		case 2:
			c = append(c, 505+g.rng.IntN(15))
		case 3:
			c = append(c, 1+g.rng.IntN(3000))
		case 4:
			c = append(c, 1024+g.rng.IntN(8)-4)
		default:
			c = append(c, 64<<10)
		}
	}
	return c
}

// TestOverrideScannerJSONAttack compares the scanner with encoding/json on
// random documents built to put keys, escapes and quotes at window and
// read seams, in reads of random sizes, small and over 512 bytes.
func TestOverrideScannerJSONAttack(t *testing.T) {
	g := attackGen{rand.New(rand.NewPCG(11, 12))}
	n := 10000
	if testing.Short() {
		n = 1000
	}
	overrides := 0
	for range n {
		doc := g.value(0)
		if g.rng.IntN(3) == 0 {
			doc = g.ws() + doc + g.ws()
		}
		want, valid := jsonKeyOverride([]byte(doc))
		if !valid {
			t.Fatalf("generated %q: not JSON", doc)
		}
		overrides += map[bool]int{true: 1}[want]
		chunks := g.chunks()
		if got := scanJSON(t, doc, chunks); got != want {
			t.Fatalf("%q in reads of %v: scanner refused %v, encoding/json finds an override %v", doc, chunks, got, want)
		}
	}
	if overrides < n/10 || overrides > n*9/10 {
		t.Errorf("%d documents of %d with an override: the generator is lopsided", overrides, n)
	}
	t.Logf("%d documents of %d with an override", overrides, n)
}

func FuzzOverrideScannerJSON(f *testing.F) {
	f.Add([]byte(`{"_method":"DELETE"}`), uint64(1))
	f.Add([]byte(`{"a":"\\\"","\u005fmethod" :1}`), uint64(7))
	f.Add([]byte(`[{"_metho":"\ud83d\ude00","x":"\u005f"},{"\u005Fmethod"`+strings.Repeat(" ", 600)+`:null}]`), uint64(3))
	f.Add([]byte(`{"p":"`+strings.Repeat("x", 500)+`","_method\u0000":1,"_met\/hod":2}`), uint64(5))
	f.Fuzz(func(t *testing.T, doc []byte, seed uint64) {
		want, valid := jsonKeyOverride(doc)
		if !valid {
			return
		}
		g := attackGen{rand.New(rand.NewPCG(seed, 1))}
		chunks := g.chunks()
		if got := scanJSON(t, string(doc), chunks); got != want {
			t.Fatalf("%q in reads of %v: scanner refused %v, encoding/json finds an override %v", doc, chunks, got, want)
		}
	})
}

// TestOverrideScannerJSONSeams moves keys, escapes and backslash runs
// across every offset of the first windows, read whole and in reads
// around the window size.
func TestOverrideScannerJSONSeams(t *testing.T) {
	keys := []string{`"_method"`, `"\u005fmethod"`, `"_metho\u0064"`, `"\u005F\u006d\u0065\u0074\u0068\u006f\u0064"`, `"_me\u0074hod"`,
		`"_method\u0000"`, `"\u0000_method"`, `"_methoD"`, `"_meth\/od"`}
	befores := []string{``, `"a":"\\\"",`, `"a":"\"_method\"",`, `"a":"` + strings.Repeat(`\\`, 5) + `",`, `"a":"\ud83d\ude00",`, `"a":"_method",`}
	seps := []string{":", "\n\r\t :", strings.Repeat(" ", 600) + ":"}
	for _, k := range keys {
		for _, before := range befores {
			for _, sep := range seps {
				for pad := 0; pad < 1100; pad++ {
					if pad%512 > 8 && pad%512 < 496 || pad%512 > 524 {
						continue // the key far from a window's end
					}
					for _, padIn := range []int{0, 1, 2} {
						var doc string
						switch padIn {
						case 0: // in a string before
							doc = `{"p":"` + strings.Repeat("x", pad) + `",` + before + k + sep + `"DELETE"}`
						case 1: // in whitespace
							doc = `{` + strings.Repeat(" ", pad) + before + k + sep + `"DELETE"}`
						case 2: // in a string with an escape at its start
							doc = `{"p":"\n` + strings.Repeat("y", pad) + `",` + before + k + sep + `"DELETE"}`
						}
						want, valid := jsonKeyOverride([]byte(doc))
						if !valid {
							t.Fatalf("%q: not JSON", doc)
						}
						for _, chunks := range [][]int{nil, {1}, {511}, {513}, {1000, 3}, {5, 517}} {
							if chunks != nil && chunks[0] == 1 && pad > 8 {
								continue // reads of 1 byte have no windows: a few suffice
							}
							if got := scanJSON(t, doc, chunks); got != want {
								t.Fatalf("%q in reads of %v: scanner refused %v, encoding/json finds an override %v", doc, chunks, got, want)
							}
						}
					}
				}
			}
		}
	}
}
