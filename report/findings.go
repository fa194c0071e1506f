package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/wardsec/ward/finding"
)

// CheckResult is the JSON contract of `ward check -o json`.
type CheckResult struct {
	Findings []finding.Finding `json:"findings"`
	Summary  CheckSummary      `json:"summary"`
}

// CheckSummary counts findings and says what the run covered.
type CheckSummary struct {
	finding.Summary
	FailOn  string `json:"failOn"`
	Failed  bool   `json:"failed"`
	Objects int    `json:"objects"`
	Skipped int    `json:"skipped"`
	// InputErrors counts unreadable or malformed inputs.
	InputErrors int `json:"inputErrors"`
}

// JSON writes v as indented JSON.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// FindingsText writes findings for people, most severe first within the
// deterministic order, then a summary line.
func FindingsText(w io.Writer, r *CheckResult) error {
	ew := &errWriter{w: w}
	for _, f := range r.Findings {
		loc := f.Location()
		if loc == "" {
			loc = "-"
		}
		ew.printf("%-8s %s  %s", strings.ToUpper(f.Severity.String()), loc, f.Rule)
		if f.Object != "" {
			ew.printf("  %s", f.Object)
		}
		ew.printf("\n")
		for _, line := range strings.Split(f.Message, "\n") {
			ew.printf("         %s\n", line)
		}
		if f.Fix != "" {
			ew.printf("         fix: %s\n", f.Fix)
		}
	}
	s := r.Summary
	if s.Total == 0 {
		ew.printf("no findings")
	} else {
		var parts []string
		for _, n := range []string{"critical", "high", "medium", "low", "info"} {
			if c := s.BySeverity[n]; c > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c, n))
			}
		}
		noun := "findings"
		if s.Total == 1 {
			noun = "finding"
		}
		ew.printf("%d %s (%s)", s.Total, noun, strings.Join(parts, ", "))
	}
	ew.printf(" in %d objects", s.Objects)
	if s.Skipped > 0 {
		ew.printf(", %d documents skipped", s.Skipped)
	}
	if s.InputErrors > 0 {
		ew.printf(", %d input errors", s.InputErrors)
	}
	if s.Failed {
		ew.printf("; failing at --fail-on=%s\n", s.FailOn)
	} else {
		ew.printf("\n")
	}
	return ew.err
}

// errWriter keeps the first write error so renderers can print freely.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}
