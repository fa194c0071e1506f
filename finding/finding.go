package finding

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Severity orders how much a finding matters.
type Severity int

// Severities from least to most severe.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity parses a severity name.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("finding: unknown severity %q (want one of %s)", s, strings.Join(severityNames[:], ", "))
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Finding is one result of a check. Its JSON form is a stable contract
// documented in docs/findings.md.
type Finding struct {
	// Rule is a namespaced id such as "netpol/no-default-deny-ingress".
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	// Object names what the finding is about: "namespace/Kind/name",
	// "Namespace/name" for namespace-wide findings, or an assertion name.
	Object  string `json:"object,omitempty"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// Location formats file and line as "file:line", or "" when unknown.
func (f Finding) Location() string {
	switch {
	case f.File == "":
		return ""
	case f.Line > 0:
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return f.File
}

// Compare orders findings by file, line, rule, object and message.
func Compare(a, b Finding) int {
	return cmp.Or(
		cmp.Compare(a.File, b.File),
		cmp.Compare(a.Line, b.Line),
		cmp.Compare(a.Rule, b.Rule),
		cmp.Compare(a.Object, b.Object),
		cmp.Compare(a.Message, b.Message),
	)
}

// Sort sorts fs in place into the deterministic output order and removes
// exact duplicates.
func Sort(fs []Finding) []Finding {
	slices.SortFunc(fs, Compare)
	return slices.Compact(fs)
}

// Summary counts findings by severity.
type Summary struct {
	Total      int            `json:"total"`
	BySeverity map[string]int `json:"bySeverity"`
}

// Summarize counts fs.
func Summarize(fs []Finding) Summary {
	s := Summary{Total: len(fs), BySeverity: map[string]int{}}
	for _, n := range severityNames {
		s.BySeverity[n] = 0
	}
	for _, f := range fs {
		s.BySeverity[f.Severity.String()]++
	}
	return s
}

// AtLeast reports whether any finding has severity min or above.
func AtLeast(fs []Finding, min Severity) bool {
	for _, f := range fs {
		if f.Severity >= min {
			return true
		}
	}
	return false
}
