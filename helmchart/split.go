package helmchart

import (
	"cmp"
	"strings"
)

// helmDocuments returns text with its documents cut where helm cuts them.
// helm splits a template's output at every line that starts with "---"
// (releaseutil.SplitManifests, `(?m)^---[ \t]*`), also when more follows
// on the line, and installs what follows as the start of the next
// document; YAML sees a document marker there only when nothing but
// white space or a comment follows, so the Pod of "---apiVersion: v1\n
// kind: Pod ..." would be read as an object with a "---apiVersion" key,
// or a key of the document above. Each such line is written as a marker
// line followed by the rest of the line on a line of its own, so that a
// YAML reader finds the documents helm installs.
func helmDocuments(text string) string {
	if !strings.HasPrefix(text, "---") && !strings.Contains(text, "\n---") {
		return text
	}
	var b strings.Builder
	b.Grow(len(text) + 64)
	for l := range strings.SplitAfterSeq(text, "\n") {
		body := strings.TrimRight(l, "\r\n")
		rest := strings.TrimLeft(strings.TrimPrefix(body, "---"), " \t")
		if !strings.HasPrefix(body, "---") || rest == "" {
			b.WriteString(l)
			continue
		}
		eol := l[len(body):]
		b.WriteString("---")
		b.WriteString(cmp.Or(eol, "\n"))
		b.WriteString(rest)
		b.WriteString(eol)
	}
	return b.String()
}
