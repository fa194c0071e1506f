package compose

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"

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
	for i, raw := range lines {
		text := strings.TrimSpace(string(raw))
		body, ok := strings.CutPrefix(text, "#")
		if !ok {
			continue
		}
		rest, ok := strings.CutPrefix(strings.TrimSpace(body), ignoreMarker)
		if !ok || (rest != "" && !unicode.IsSpace(rune(rest[0]))) {
			continue
		}
		s := suppression{line: i + 1}
		for j := i + 1; j < len(lines); j++ {
			if isContent(lines[j]) {
				s.target = j + 1
				break
			}
		}
		s.fileWide = pos.servicesLine == 0 || s.line < pos.servicesLine
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
