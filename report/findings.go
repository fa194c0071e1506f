package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
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
	// Files counts the Dockerfiles and Compose files audited.
	Files   int `json:"files"`
	Skipped int `json:"skipped"`
	// InputErrors counts unreadable or malformed inputs.
	InputErrors int `json:"inputErrors"`
	// Score is Score(the summary): 100 with no findings, lower as
	// findings weigh more relative to what was checked.
	Score int `json:"score"`
}

// Score rates a run from 0 to 100: 100 × units / (units + penalty), where
// units are the objects and files checked and penalty weighs the findings
// that are not suppressed (critical 10, high 5, medium 2, low 1, info 0).
// It is a trend to watch, not a gate: --fail-on is the gate.
func Score(s CheckSummary) int {
	penalty := 10*s.BySeverity["critical"] + 5*s.BySeverity["high"] + 2*s.BySeverity["medium"] + s.BySeverity["low"]
	units := s.Objects + s.Files
	if units == 0 {
		units = 1
	}
	return (100*units + (units+penalty)/2) / (units + penalty)
}

// JSON writes v as indented JSON.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// TextOptions adjust FindingsText.
type TextOptions struct {
	// Color marks severities with ANSI colours (for a terminal).
	Color bool
}

var severityColor = map[finding.Severity]string{
	finding.Critical: "\x1b[1;35m",
	finding.High:     "\x1b[1;31m",
	finding.Medium:   "\x1b[33m",
	finding.Low:      "\x1b[36m",
	finding.Info:     "\x1b[2m",
}

// FindingsText writes findings for people, grouped by file in the
// deterministic order, then a summary line with the counts and the score.
func FindingsText(w io.Writer, r *CheckResult, opts TextOptions) error {
	ew := &errWriter{w: w}
	file := "\x00"
	for _, f := range r.Findings {
		if f.File != file {
			if file != "\x00" {
				ew.printf("\n")
			}
			file = f.File
			name := Printable(f.File)
			if name == "" {
				name = "(no file)"
			}
			ew.printf("%s\n", name)
		}
		sev := fmt.Sprintf("%-8s", strings.ToUpper(f.Severity.String()))
		if opts.Color {
			sev = severityColor[f.Severity] + sev + "\x1b[0m"
		}
		line := "-"
		if f.Line > 0 {
			line = strconv.Itoa(f.Line)
		}
		ew.printf("  %s %5s  %s", sev, line, f.Rule)
		if f.Object != "" {
			ew.printf("  %s", Printable(f.Object))
		}
		if f.Origin != "" {
			ew.printf("  (from %s)", Printable(f.Origin))
		}
		if len(f.Environments) > 0 {
			ew.printf("  [in %s]", Printable(strings.Join(f.Environments, ", ")))
		}
		ew.printf("\n")
		for _, l := range strings.Split(f.Message, "\n") {
			ew.printf("                  %s\n", Printable(l))
		}
		if f.Fix != "" {
			ew.printf("                  fix: %s\n", Printable(f.Fix))
		}
		if s := f.Suppressed; s != nil {
			ew.printf("                  suppressed by %s: %s\n", s.By, Printable(s.Reason))
		}
	}
	if len(r.Findings) > 0 {
		ew.printf("\n")
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
	ew.printf(" in %s", count(s.Objects, "object", "objects"))
	if s.Files > 0 {
		ew.printf(" and %s", count(s.Files, "file", "files"))
	}
	if s.Suppressed > 0 {
		ew.printf(", %d suppressed", s.Suppressed)
	}
	if s.Skipped > 0 {
		ew.printf(", %s skipped", count(s.Skipped, "document", "documents"))
	}
	if s.InputErrors > 0 {
		ew.printf(", %s", count(s.InputErrors, "input error", "input errors"))
	}
	ew.printf("; score %d/100", s.Score)
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

// count writes n and the noun in the singular or plural.
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
