package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/netpol"
)

// TestFindingsTextColor: severities are coloured only when asked (on a
// terminal), and the text is otherwise the same.
func TestFindingsTextColor(t *testing.T) {
	fs := []finding.Finding{{Rule: "pod/writable-root-fs", Severity: finding.Medium, File: "a.yaml", Line: 3, Message: "m"}}
	res := &CheckResult{Findings: fs, Summary: CheckSummary{Summary: finding.Summarize(fs), Objects: 1}}
	var plain, color bytes.Buffer
	if err := FindingsText(&plain, res, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := FindingsText(&color, res, TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Errorf("plain output has escape codes: %q", plain.String())
	}
	if !strings.Contains(color.String(), "\x1b[33mMEDIUM") {
		t.Errorf("coloured output lacks the medium colour: %q", color.String())
	}
	stripped := strings.NewReplacer("\x1b[33m", "", "\x1b[0m", "").Replace(color.String())
	if stripped != plain.String() {
		t.Errorf("colour changed the text:\n%q\n%q", stripped, plain.String())
	}
}

func TestScore(t *testing.T) {
	for _, tt := range []struct {
		sev   map[string]int
		units int
		want  int
	}{
		{map[string]int{}, 10, 100},
		{map[string]int{"info": 50}, 10, 100},
		{map[string]int{"critical": 1}, 10, 50},
		{map[string]int{"high": 2, "low": 1}, 9, 45},
	} {
		s := CheckSummary{Summary: finding.Summary{BySeverity: tt.sev}, Objects: tt.units}
		if got := Score(s); got != tt.want {
			t.Errorf("Score(%v, %d units) = %d, want %d", tt.sev, tt.units, got, tt.want)
		}
	}
}

// TestSummaryLineCounts: counts of one are singular.
func TestSummaryLineCounts(t *testing.T) {
	tests := []struct {
		s    CheckSummary
		want string
	}{
		{CheckSummary{Objects: 1, Files: 1, Skipped: 1, InputErrors: 1, Score: 90}, "no findings in 1 object and 1 file, 1 document skipped, 1 input error; score 90/100\n"},
		{CheckSummary{Objects: 2, Files: 2, Skipped: 2, InputErrors: 2, Score: 80}, "no findings in 2 objects and 2 files, 2 documents skipped, 2 input errors; score 80/100\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := FindingsText(&b, &CheckResult{Summary: tt.s}, TextOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := b.String(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

// TestCountsOfOne: the other reports' counts are singular for one too.
func TestCountsOfOne(t *testing.T) {
	var b bytes.Buffer
	if err := DiffText(&b, []netpol.Change{{Change: "removed", Src: "a/Pod/x", Dst: "b/Pod/y"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "\n1 change\n") {
		t.Errorf("diff text ends %q, want \"1 change\"", b.String())
	}
}

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"shop/Deployment/web", "shop/Deployment/web"},
		{"a\tb é ü 日本", "a\tb é ü 日本"},
		{"sj\x1b[2K\rHIDDEN", `sj\x1b[2K\x0dHIDDEN`},
		{"a\nb", `a\x0ab`},
		{"x\u202eevil\u2066", `x\u202eevil\u2066`},
		{"del\x7f c1\u0085", `del\x7f c1\u0085`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"line\u2028sep", `line\u2028sep`},
	} {
		if got := Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got, want := PrintableLines("one\x1b\ntwo\r"), "one\\x1b\ntwo\\x0d"; got != want {
		t.Errorf("PrintableLines = %q, want %q", got, want)
	}
}
