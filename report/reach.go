package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wardsec/ward/netpol"
)

// ReachTable writes one line per connection: FROM, TO, PORTS.
func ReachTable(w io.Writer, r *netpol.Reach) error {
	ew := &errWriter{w: w}
	rows := [][3]string{{"FROM", "TO", "PORTS"}}
	for _, c := range r.Display {
		rows = append(rows, [3]string{c.Src, c.Dst, c.Allowed.String()})
	}
	table(ew, rows)
	ew.printf("\n%s, %s\n", count(len(r.Workloads), "workload", "workloads"), count(len(r.Display), "connection", "connections"))
	for _, n := range r.Notes {
		ew.printf("note: %s\n", Printable(n))
	}
	return ew.err
}

func table(ew *errWriter, rows [][3]string) {
	var wd [2]int
	for _, r := range rows {
		for i := 0; i < 2; i++ {
			wd[i] = max(wd[i], len(r[i]))
		}
	}
	for _, r := range rows {
		ew.printf("%-*s  %-*s  %s\n", wd[0], r[0], wd[1], r[1], r[2])
	}
}

// ReachMatrix writes a compact matrix: workloads numbered down the side,
// destinations across; a cell is "#" when every port is allowed, "+" when
// some are, "." when none. External destinations are one column,
// "ext", marked when any external address is reachable.
func ReachMatrix(w io.Writer, r *netpol.Reach) error {
	ew := &errWriter{w: w}
	idx := map[string]int{}
	for i, wl := range r.Workloads {
		idx[wl.ID] = i
	}
	n := len(r.Workloads)
	cells := make([][]byte, n)
	ext := make([]byte, n)
	extIn := make([]byte, n)
	for i := range cells {
		cells[i] = []byte(strings.Repeat(".", n))
		ext[i], extIn[i] = '.', '.'
	}
	mark := func(b *byte, all bool) {
		if all {
			*b = '#'
		} else if *b != '#' {
			*b = '+'
		}
	}
	for _, c := range r.Display {
		si, sok := idx[c.Src]
		di, dok := idx[c.Dst]
		all := c.Allowed.IsAll()
		switch {
		case sok && dok:
			mark(&cells[si][di], all)
		case sok:
			mark(&ext[si], all)
		case dok:
			mark(&extIn[di], all)
		}
	}
	width := len(fmt.Sprint(n))
	ew.printf("%*s  %s  out in\n", width, "", colHeader(n))
	for i := range cells {
		ew.printf("%*d  %s  %c   %c   %s\n", width, i+1, cells[i], ext[i], extIn[i], r.Workloads[i].ID)
	}
	ew.printf("\n# all ports  + some ports  . nothing; columns are destinations in row order;\nout: to external addresses, in: from external addresses\n")
	for _, note := range r.Notes {
		ew.printf("note: %s\n", Printable(note))
	}
	return ew.err
}

// colHeader numbers columns by their last digit, like a ruler.
func colHeader(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteByte(byte('0' + i%10))
	}
	return b.String()
}

// ReachDOT writes a Graphviz digraph: workloads as boxes grouped by
// namespace, external CIDRs as ellipses, edges labelled with ports.
func ReachDOT(w io.Writer, r *netpol.Reach) error {
	ew := &errWriter{w: w}
	ew.printf("digraph ward {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n")
	byNS := map[string][]netpol.WorkloadInfo{}
	var order []string
	for _, wl := range r.Workloads {
		if _, ok := byNS[wl.Namespace]; !ok {
			order = append(order, wl.Namespace)
		}
		byNS[wl.Namespace] = append(byNS[wl.Namespace], wl)
	}
	for i, ns := range order {
		ew.printf("  subgraph cluster_%d {\n    label=%q;\n", i, ns)
		for _, wl := range byNS[ns] {
			ew.printf("    %q [label=%q];\n", wl.ID, wl.Kind+"/"+wl.Name)
		}
		ew.printf("  }\n")
	}
	known := map[string]bool{}
	for _, wl := range r.Workloads {
		known[wl.ID] = true
	}
	ext := map[string]bool{}
	for _, c := range r.Display {
		for _, id := range []string{c.Src, c.Dst} {
			if !known[id] && !ext[id] {
				ext[id] = true
				ew.printf("  %q [shape=ellipse];\n", id)
			}
		}
	}
	for _, c := range r.Display {
		ew.printf("  %q -> %q [label=%q];\n", c.Src, c.Dst, c.Allowed.String())
	}
	ew.printf("}\n")
	return ew.err
}

// SummaryText writes the class view: each class with its members and the
// grants of the rules that apply to it. Groups of up to inlineGroup
// classes are written in place; larger ones by ID, listed at the end.
func SummaryText(w io.Writer, s *netpol.Summary) error {
	const inlineGroup, maxShown = 6, 5
	ew := &errWriter{w: w}
	groups := make(map[string][]string, len(s.Groups))
	for _, g := range s.Groups {
		groups[g.ID] = g.Classes
	}
	var large []string
	listed := map[string]bool{}
	grants := func(label, dir string, isolated bool, gs []netpol.Grant) {
		switch {
		case gs == nil: // outside the --from/--to filter
		case !isolated && s.Ports.Empty():
			ew.printf("      %-8s open: all ports %s any class\n", label, dir)
			return
		case !isolated:
			ew.printf("      %-8s open: %s %s any class\n", label, s.Ports.String(), dir)
			return
		case len(gs) == 0:
			ew.printf("      %-8s nothing allowed\n", label)
			return
		}
		for i, g := range gs {
			cs := groups[g.Group]
			who := strings.Join(cs, ", ")
			if len(cs) > inlineGroup {
				who = fmt.Sprintf("%s (%d classes)", g.Group, len(cs))
				if !listed[g.Group] {
					listed[g.Group] = true
					large = append(large, g.Group)
				}
			}
			if i > 0 {
				label = ""
			}
			ew.printf("      %-8s %s %s: %s\n", label, dir, who, g.Allowed.String())
		}
	}
	ew.printf("%d classes of endpoints that policies treat alike\n", len(s.Classes))
	ew.printf("a connection needs the source's egress and the destination's ingress to allow it\n")
	if !s.Ports.Empty() {
		ew.printf("(ports limited to %s)\n", s.Ports.String())
	}
	for _, c := range s.Classes {
		ew.printf("\n")
		if c.External {
			ew.printf("%s  %d external, reached as the sources' egress allows\n", c.ID, c.Size)
		} else {
			ew.printf("%s  %s, isolation: %s\n", c.ID, plural(c.Size, "workload"), isolation(c.IngressIsolated, c.EgressIsolated))
		}
		for i, m := range c.Members {
			if i == maxShown {
				ew.printf("      ... and %d more\n", len(c.Members)-maxShown)
				break
			}
			ew.printf("      %s\n", m)
		}
		if c.External {
			continue
		}
		grants("ingress", "from", c.IngressIsolated, c.Ingress)
		grants("egress", "to", c.EgressIsolated, c.Egress)
	}
	if len(large) > 0 {
		ew.printf("\ngroups\n")
		for _, id := range large {
			ew.printf("%s  %s\n", id, strings.Join(groups[id], ", "))
		}
	}
	if len(s.Notes) > 0 {
		ew.printf("\n")
	}
	for _, n := range s.Notes {
		ew.printf("note: %s\n", Printable(n))
	}
	return ew.err
}

func isolation(in, eg bool) string {
	switch {
	case in && eg:
		return "ingress+egress"
	case in:
		return "ingress"
	case eg:
		return "egress"
	}
	return "none"
}

// plural writes n and noun, with an s unless n is 1: "1 workload",
// "3 workloads".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
