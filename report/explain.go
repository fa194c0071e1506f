package report

import (
	"io"

	"github.com/wardsec/ward/assertion"
	"github.com/wardsec/ward/netpol"
)

// ExplainText writes the verdict and the trace behind it.
func ExplainText(w io.Writer, xs []*netpol.Explanation) error {
	ew := &errWriter{w: w}
	for i, x := range xs {
		if i > 0 {
			ew.printf("\n")
		}
		verdict := "DENIED"
		if x.Allowed {
			verdict = "ALLOWED"
		}
		port := "any port"
		if x.Port != "" {
			port = x.Port
		}
		ew.printf("%s: %s -> %s on %s\n", verdict, Printable(x.From), Printable(x.To), port)
		ew.printf("allowed between them: %s\n", x.AllowedPorts)
		// The trace names the policies' files: raw, a file named
		// "np\x1b[1A\x1b[2K\rPASS.yaml" rewrote the lines above it.
		for _, line := range assertion.Trace(x) {
			ew.printf("  %s\n", Printable(line))
		}
	}
	return ew.err
}

// DiffText writes one line per change.
func DiffText(w io.Writer, cs []netpol.Change) error {
	ew := &errWriter{w: w}
	if len(cs) == 0 {
		ew.printf("no reachability changes\n")
		return ew.err
	}
	for _, c := range cs {
		switch c.Change {
		case "added":
			ew.printf("+ %s -> %s: %s\n", Printable(c.Src), Printable(c.Dst), c.New)
		case "removed":
			ew.printf("- %s -> %s: %s\n", Printable(c.Src), Printable(c.Dst), c.Old)
		default:
			ew.printf("~ %s -> %s: %s => %s", Printable(c.Src), Printable(c.Dst), c.Old, c.New)
			if !c.Added.Empty() {
				ew.printf(" (added %s)", c.Added)
			}
			if !c.Removed.Empty() {
				ew.printf(" (removed %s)", c.Removed)
			}
			ew.printf("\n")
		}
	}
	ew.printf("\n%s\n", count(len(cs), "change", "changes"))
	return ew.err
}
