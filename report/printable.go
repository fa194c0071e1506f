package report

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s with the characters a terminal or a CI log viewer
// acts on escaped (as \x1b, \x0d, \u202e): C0 and C1
// control characters but the tab, DEL, invalid UTF-8, line and paragraph
// separators, and the bidirectional formatting characters. Text output
// prints names and values taken from the input (an object's name, a
// custom resource's, a file's): raw, a name holding "\x1b[1A\x1b[2K" or
// "\r" erased the findings printed before it from the reader's screen,
// and a bidi override showed them reordered.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if escaped(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && escaped(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case escaped(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// escaped reports whether Printable escapes r.
func escaped(r rune) bool {
	switch {
	case r == '\t':
		return false
	case r == utf8.RuneError, unicode.IsControl(r):
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r == 0x2028, r == 0x2029,
		r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// PrintableLines is Printable for text of several lines: each line is
// made printable, the line breaks kept.
func PrintableLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Printable(l)
	}
	return strings.Join(lines, "\n")
}
