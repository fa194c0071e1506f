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
	// Origin is the template the object was rendered from, when the input
	// says (helm template's "# Source:" comments), such as
	// "shop/templates/deployment.yaml".
	Origin string `json:"origin,omitempty"`
	// Environments, when set, are the environments the finding holds in,
	// when the input is checked as several (kustomize overlays or charts
	// that emit the same objects: each is checked as a cluster of its
	// own) and it does not hold in all of them: their directories.
	Environments []string `json:"environments,omitempty"`
	// Suppressed is set when a suppression silenced the finding: it is
	// then counted and listed on request, but never fails a run.
	Suppressed *Suppression `json:"suppressed,omitempty"`
}

// Suppression says what silenced a finding, and why.
type Suppression struct {
	// By is "annotation" (ignore.ward.dev/<rule> on a Kubernetes object),
	// "comment" (# ward:ignore in a Dockerfile or Compose file) or
	// "config" (an ignore entry in ward.yaml).
	By string `json:"by"`
	// Reason is the justification the suppression gives; it is required.
	Reason string `json:"reason"`
	// Line is where the suppression is written, when known.
	Line int `json:"line,omitempty"`
}

// Rule describes one check: the metadata that docs/rules.md and SARIF rule
// descriptors are built from. Severity is the rule's default; a finding
// may be more or less severe when the rule's text says so.
type Rule struct {
	ID        string
	Severity  Severity
	Summary   string
	Rationale string
	Fix       string
	// Equivalents are the ids of the same check in tools users know:
	// kube-linter, Trivy (KSV-, DS-), hadolint (DL), Polaris.
	Equivalents []string
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
	return slices.CompactFunc(fs, func(a, b Finding) bool {
		return Compare(a, b) == 0 && a.Severity == b.Severity && a.Fix == b.Fix &&
			(a.Suppressed == nil) == (b.Suppressed == nil)
	})
}

// Summary counts findings by severity. Suppressed findings are counted
// apart, in Suppressed only.
type Summary struct {
	Total      int            `json:"total"`
	BySeverity map[string]int `json:"bySeverity"`
	Suppressed int            `json:"suppressed"`
}

// Summarize counts fs.
func Summarize(fs []Finding) Summary {
	s := Summary{BySeverity: map[string]int{}}
	for _, n := range severityNames {
		s.BySeverity[n] = 0
	}
	for _, f := range fs {
		if f.Suppressed != nil {
			s.Suppressed++
			continue
		}
		s.Total++
		s.BySeverity[f.Severity.String()]++
	}
	return s
}

// AtLeast reports whether any finding that is not suppressed has severity
// min or above.
func AtLeast(fs []Finding, min Severity) bool {
	for _, f := range fs {
		if f.Severity >= min && f.Suppressed == nil {
			return true
		}
	}
	return false
}
