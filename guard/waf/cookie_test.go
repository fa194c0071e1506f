package waf

import (
	"fmt"
	"testing"
)

// TestQuotedCookies: quoted cookie values come back as Django and
// Werkzeug read them; plain ones are left to Coraza.
func TestQuotedCookies(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{`a=b; c=d`, `[]`},
		{`q="plain"`, `[]`},
		{`q="1\047 OR \0471\047=\0471"`, `[{q 1' OR '1'='1} {q 1' OR '1'='1}]`},
		{`a=b; q = "x\"y"; c=d`, `[{q x"y} {q x"y}]`},
		{`q="a;b\\"; c=d`, `[{q a;b\}]`},
		{`q="a; b"`, `[{q a; b}]`},
		{`q="\400\07\x\101"`, `[{q 40007xA} {q 40007xA}]`}, // as Python's \\([0-3][0-7]{2}|.)
		{`q="unclosed\047`, `[]`},
		{`q=a"b\047"`, `[]`},
		{`q="x\"; r="y"`, `[{q x"; r=} {q x\}]`},
	} {
		got := quotedCookies(tt.in)
		if s := fmt.Sprint(got); s != tt.want && !(len(got) == 0 && tt.want == "[]") {
			t.Errorf("quotedCookies(%q) = %q, want %q", tt.in, s, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { quotedCookies("session=abc; theme=dark; _ga=GA1.2.3") }); n != 0 {
		t.Errorf("quotedCookies allocates %v times for a header without quotes", n)
	}
}
