package dockerfile

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/wardsec/ward/finding"
)

// ignorePrefix starts a suppression comment, after "#" and spaces.
const ignorePrefix = "ward:ignore"

// suppression is a valid "# ward:ignore <rule> <reason>" comment.
type suppression struct {
	line   int
	rule   string
	reason string
	// target is the first line of the instruction it applies to, or 0
	// for the whole file.
	target int
}

// span is the lines an instruction occupies, continuation and heredoc
// lines included.
type span struct{ start, end int }

// readSuppressions finds the ward:ignore comments of src. BuildKit's
// parser drops comments, so they are read from the raw lines; lines
// inside an instruction (continuations, heredoc bodies, where "#" is not
// a Dockerfile comment) are skipped. instrs are the instructions' spans
// in file order. Malformed comments become bad-suppression findings.
func readSuppressions(file string, src []byte, instrs []span) ([]suppression, []finding.Finding) {
	lines := strings.Split(string(bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))), "\n")
	inside := map[int]bool{}
	starts := map[int]bool{}
	for _, s := range instrs {
		starts[s.start] = true
		for l := s.start; l <= s.end && l <= len(lines); l++ {
			inside[l] = true
		}
	}
	first := 0
	if len(instrs) > 0 {
		first = instrs[0].start
	}
	var sups []suppression
	var bad []finding.Finding
	report := func(line int, msg string) {
		bad = append(bad, finding.Finding{
			Rule: ruleBadSuppression, Severity: finding.Low, File: file, Line: line,
			Message: msg, Fix: fixOf(ruleBadSuppression),
		})
	}
	for i, raw := range lines {
		line := i + 1
		if inside[line] {
			continue
		}
		text, ok := commentText(raw)
		if !ok {
			continue
		}
		rest, ok := strings.CutPrefix(text, ignorePrefix)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		rule, reason := strings.TrimSpace(rest), ""
		if i := strings.IndexAny(rule, " \t"); i >= 0 {
			rule, reason = rule[:i], strings.TrimSpace(rule[i+1:])
		}
		switch {
		case rule == "":
			report(line, "ward:ignore names no rule; it suppresses nothing")
			continue
		case rule == ruleBadSuppression:
			report(line, "ward:ignore cannot suppress "+ruleBadSuppression)
			continue
		}
		if _, known := Lookup(rule); !known {
			report(line, fmt.Sprintf("ward:ignore names %q, which is not a Dockerfile rule; it suppresses nothing", rule))
			continue
		}
		if reason == "" {
			report(line, "ward:ignore "+rule+" gives no reason; it suppresses nothing")
			continue
		}
		s := suppression{line: line, rule: rule, reason: reason}
		if first == 0 || line < first {
			sups = append(sups, s) // whole file
			continue
		}
		s.target = nextInstruction(lines, line, inside, starts)
		if s.target == 0 {
			report(line, "ward:ignore "+rule+" is not directly above an instruction; it suppresses nothing")
			continue
		}
		sups = append(sups, s)
	}
	return sups, bad
}

// commentText returns the text of a comment line after "#" and leading
// blanks.
func commentText(line string) (string, bool) {
	t := strings.TrimSpace(line)
	if !strings.HasPrefix(t, "#") {
		return "", false
	}
	return strings.TrimSpace(t[1:]), true
}

// nextInstruction returns the first line of the instruction that
// follows line with only comment lines between, or 0.
func nextInstruction(lines []string, line int, inside, starts map[int]bool) int {
	for l := line + 1; l <= len(lines); l++ {
		if starts[l] {
			return l
		}
		if inside[l] {
			return 0
		}
		if _, ok := commentText(lines[l-1]); !ok {
			return 0 // a blank line, or text the parser did not keep
		}
	}
	return 0
}

// suppress marks the findings that a suppression silences. A suppression
// above an instruction wins over a file-level one.
func suppress(fs []finding.Finding, sups []suppression) {
	for i := range fs {
		f := &fs[i]
		if f.Rule == ruleBadSuppression {
			continue
		}
		var match *suppression
		for j := range sups {
			s := &sups[j]
			if s.rule != f.Rule {
				continue
			}
			if s.target != 0 && s.target == f.Line {
				match = s
				break
			}
			if s.target == 0 && match == nil {
				match = s
			}
		}
		if match != nil {
			f.Suppressed = &finding.Suppression{By: "comment", Reason: match.reason, Line: match.line}
		}
	}
}
