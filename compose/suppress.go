package compose

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/finding"
)

// ignoreMarker starts a suppression comment: # ward:ignore <rule-id> <reason>.
const ignoreMarker = "ward:ignore"

// suppression is one valid # ward:ignore comment.
type suppression struct {
	line   int // of the comment
	rules  []string
	reason string
	// fileWide is set for comments before the services key.
	fileWide bool
	// target is the first line after the comment (and the comment lines
	// that follow it) that is not blank; service is the service whose
	// definition holds target, if any.
	target  int
	service string
}

func (s *suppression) covers(rule string) bool {
	for _, r := range s.rules {
		if r == rule {
			return true
		}
	}
	return false
}

// parseSuppressions finds the # ward:ignore comment lines of src. A comment
// names one rule id or several separated by commas, then the reason. Each
// malformed comment gives a compose/bad-suppression finding instead.
func parseSuppressions(src []byte, file string, pos *positions) ([]suppression, []finding.Finding) {
	lines := bytes.Split(src, []byte("\n"))
	isContent := func(l []byte) bool {
		t := bytes.TrimSpace(l)
		return len(t) > 0 && t[0] != '#'
	}
	var sups []suppression
	var bad []finding.Finding
	var marks []int
	for i, raw := range lines {
		if _, ok := markerRest(raw); ok {
			marks = append(marks, i)
		}
	}
	comments := commentLines(src, lines, marks)
	// The lines of the documents' top-level keys, and those of the nodes
	// inside their values.
	topKeys, nested := map[int]bool{}, map[int]bool{}
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if n == nil || depth > 10000 {
			return
		}
		nested[n.Line] = true
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	for _, root := range pos.docs {
		for k := 0; k+1 < len(root.Content); k += 2 {
			topKeys[root.Content[k].Line] = true
			walk(root.Content[k+1], 0)
		}
	}
	// A comment is file-wide before the services key; when no top-level
	// services key is written (the services come through a merge key,
	// <<: *project), before the file's first content line only: any
	// comment was file-wide there, so one above a service's key
	// silenced the rule for every service.
	wideBefore := pos.servicesLine
	if wideBefore == 0 {
		wideBefore = len(lines) + 1
		for j, l := range lines {
			if isContent(l) {
				wideBefore = j + 1
				break
			}
		}
	}
	for _, i := range marks {
		rest, _ := markerRest(lines[i])
		if kind := comments[i]; kind != markerComment {
			if inlineDockerfileComment(rest) {
				continue // the Dockerfile audit reads it
			}
			r, _ := Lookup(ruleBadSuppression)
			msg := ignoreMarker + " is not a YAML comment here (it lies inside a string, such as a block scalar's script), so it suppresses nothing"
			if kind == markerUnchecked {
				msg = fmt.Sprintf("%s is not checked: some %s lines of this file lie inside strings, and only the first %d are checked one by one, so it suppresses nothing", ignoreMarker, ignoreMarker, maxMarkerChecks)
			}
			bad = append(bad, finding.Finding{
				Rule: ruleBadSuppression, Severity: finding.Low, File: file, Line: i + 1,
				Message: msg,
				Fix:     r.Fix,
			})
			continue
		}
		s := suppression{line: i + 1}
		for j := i + 1; j < len(lines); j++ {
			if isContent(lines[j]) {
				s.target = j + 1
				break
			}
		}
		// Before the services key, a comment directly above a nested key
		// (privileged: true under an x-common anchor) is that key's,
		// silencing the findings that point at it; before, it was
		// file-wide, so it also silenced a service's own privileged: true.
		s.fileWide = s.line < wideBefore && (!nested[s.target] || topKeys[s.target])
		if !s.fileWide && s.target > 0 {
			s.service, _ = pos.serviceAt(s.target)
		}
		rest = strings.TrimSpace(rest)
		ids := rest
		if k := strings.IndexFunc(rest, unicode.IsSpace); k >= 0 {
			ids, s.reason = rest[:k], strings.TrimSpace(rest[k+1:])
		}
		var problems []string
		for _, id := range strings.Split(ids, ",") {
			switch _, known := Lookup(id); {
			case id == "":
				problems = append(problems, "names no rule")
			case !known:
				problems = append(problems, fmt.Sprintf("names unknown rule %q", id))
			case id == ruleBadSuppression:
				problems = append(problems, "cannot suppress "+ruleBadSuppression)
			default:
				s.rules = append(s.rules, id)
			}
		}
		if s.reason == "" {
			problems = append(problems, "gives no reason")
		}
		if len(problems) > 0 {
			r, _ := Lookup(ruleBadSuppression)
			f := finding.Finding{
				Rule:     ruleBadSuppression,
				Severity: finding.Low,
				File:     file,
				Line:     s.line,
				Message:  fmt.Sprintf("%s %s, so it suppresses nothing", ignoreMarker, strings.Join(problems, " and ")),
				Fix:      r.Fix,
			}
			if s.service != "" {
				f.Object = "service " + s.service
			}
			bad = append(bad, f)
			continue
		}
		sups = append(sups, s)
	}
	return sups, bad
}

// markerRest returns the text after the marker of a line that reads as
// a # ward:ignore comment.
func markerRest(raw []byte) (string, bool) {
	text := strings.TrimSpace(string(raw))
	body, ok := strings.CutPrefix(text, "#")
	if !ok {
		return "", false
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(body), ignoreMarker)
	if !ok || (rest != "" && !unicode.IsSpace(rune(rest[0]))) {
		return "", false
	}
	return rest, true
}

// applySuppressions marks the findings that a suppression silences: one
// written above a service's key or above any key of its definition
// silences the rule for that service, one written directly above the
// line a finding points at silences it there (a key shared through a
// YAML anchor or extends), and one before the services key silences the
// rule in the whole file. The most specific one is recorded.
func applySuppressions(fs []finding.Finding, sups []suppression, pos *positions) {
	for i := range fs {
		f := &fs[i]
		if f.Suppressed != nil {
			continue
		}
		service, _ := strings.CutPrefix(f.Object, "service ")
		var best *suppression
		for j := range sups {
			s := &sups[j]
			if !s.covers(f.Rule) {
				continue
			}
			specific := !s.fileWide && ((s.service != "" && s.service == service) || s.target == f.Line)
			if specific {
				best = s
				break
			}
			if s.fileWide && best == nil {
				best = s
			}
		}
		if best != nil {
			f.Suppressed = &finding.Suppression{By: "comment", Reason: best.reason, Line: best.line}
		}
	}
}

// commentLines tells which lines that read as a comment are ones to
// YAML: a "# ward:ignore" line inside a block scalar (a service's
// script), or a quoted string running over several lines, is the
// string's text, and counting it as a suppression let text that no YAML
// reader takes for a comment silence a finding. A line is a comment when
// changing its text changes no node of the file's documents.
//
// The file is decoded once as written and once with every marker
// changed: when no node changed, every marker line is a comment. Only
// when one did are the markers checked one by one, each a decoding of
// the whole file, up to maxMarkerChecks of them; the others are left
// unchecked (a bad suppression), so that a file of many markers inside
// strings costs a bounded number of decodings, not one per marker. A
// line missing from the result is string text.
func commentLines(src []byte, lines [][]byte, marks []int) map[int]markerKind {
	out := map[int]markerKind{}
	if len(marks) == 0 {
		return out
	}
	docs, err := decodeAll(src)
	if err != nil {
		return out
	}
	// offsets[i] is where the marker of line marks[i] starts in src.
	offsets := make([]int, 0, len(marks))
	off, next := 0, 0
	for i, l := range lines {
		if next < len(marks) && marks[next] == i {
			if k := bytes.Index(l, []byte(ignoreMarker)); k >= 0 {
				offsets = append(offsets, off+k)
			} else {
				offsets = append(offsets, -1)
			}
			next++
		}
		off += len(l) + 1
	}
	changed := slices.Clone(src)
	for _, o := range offsets {
		if o >= 0 {
			changed[o] = 'W' // "ward:ignore" becomes "Ward:ignore"
		}
	}
	if sameDocs(docs, changed) {
		for i, line := range marks {
			if offsets[i] >= 0 {
				out[line] = markerComment
			}
		}
		return out
	}
	copy(changed, src)
	for i, line := range marks {
		switch {
		case offsets[i] < 0:
		case i >= maxMarkerChecks:
			out[line] = markerUnchecked
		default:
			changed[offsets[i]] = 'W'
			if sameDocs(docs, changed) {
				out[line] = markerComment
			}
			changed[offsets[i]] = 'w'
		}
	}
	return out
}

// markerKind tells what a # ward:ignore line is to YAML.
type markerKind int

const (
	markerText      markerKind = iota // the text of a string
	markerComment                     // a comment
	markerUnchecked                   // not checked: past maxMarkerChecks
)

// maxMarkerChecks bounds the markers of a file checked one by one.
const maxMarkerChecks = 64

// sameDocs reports whether src decodes to the documents docs, comments
// aside.
func sameDocs(docs []*yaml.Node, src []byte) bool {
	got, err := decodeAll(src)
	if err != nil || len(got) != len(docs) {
		return false
	}
	for i := range got {
		if !sameNode(got[i], docs[i]) {
			return false
		}
	}
	return true
}

// decodeAll decodes every document of src.
func decodeAll(src []byte) ([]*yaml.Node, error) {
	decodings.Add(1)
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &n)
	}
}

// decodings counts the calls of decodeAll, for the tests.
var decodings atomic.Int64

// sameNode compares two node trees without their comments.
func sameNode(a, b *yaml.Node) bool {
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Value != b.Value || a.Anchor != b.Anchor || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if !sameNode(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

// inlineDockerfileComment reports whether the text after the marker
// names only dockerfile/ rules: a comment of a Dockerfile written into
// the file (build.dockerfile_inline), which the Dockerfile audit takes.
func inlineDockerfileComment(rest string) bool {
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return false
	}
	for _, id := range strings.Split(fields[0], ",") {
		if !strings.HasPrefix(id, "dockerfile/") {
			return false
		}
	}
	return true
}
