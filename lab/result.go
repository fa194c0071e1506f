package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/portset"
)

// Observation is what a probe saw.
type Observation uint8

// The observations.
const (
	// NotRun: the probe could not run (Outcome.Reason says why, such as
	// SCTP on a kernel without it). Never a mismatch.
	NotRun Observation = iota
	// Allowed: the destination's listener answered with its ID.
	Allowed
	// Blocked: no answer in time, what a dropped packet looks like.
	Blocked
	// Failed: anything else (refused, answered by another host, a socket
	// error); always a mismatch.
	Failed
)

func (o Observation) String() string {
	switch o {
	case Allowed:
		return "allowed"
	case Blocked:
		return "blocked"
	case Failed:
		return "failed"
	}
	return "not-run"
}

// Status is how an outcome compares with the engine.
type Status uint8

// The statuses.
const (
	Untested Status = iota // the probe did not run
	Match
	Mismatch
)

func (s Status) String() string {
	switch s {
	case Match:
		return "match"
	case Mismatch:
		return "mismatch"
	}
	return "not-run"
}

// Outcome is a probe and what it observed.
type Outcome struct {
	Probe
	Observed Observation
	// Reply is the ID the listener answered with.
	Reply string
	// Reason explains NotRun, Blocked and Failed.
	Reason string
	// Retried: the first attempt disagreed with the engine, and a second,
	// longer one decided the observation.
	Retried bool
}

// expected is the observation the engine's verdict predicts.
func (p *Probe) expected() Observation {
	if p.Expect {
		return Allowed
	}
	return Blocked
}

// Status compares the observation with the engine's verdict.
func (o *Outcome) Status() Status {
	switch o.Observed {
	case NotRun:
		return Untested
	case Allowed:
		if o.Expect {
			return Match
		}
	case Blocked:
		if !o.Expect {
			return Match
		}
	}
	return Mismatch
}

// Result is a lab run: the plan and the outcome of each of its probes,
// in the plan's order.
type Result struct {
	Plan *Plan
	// Run is the lab's run name (the prefix of its namespaces).
	Run      string
	Outcomes []Outcome
	// Attacks and Tightening are the adversarial suite's (Options.Attack);
	// nil without it.
	Attacks    []AttackOutcome
	Tightening *TightenResult
}

// Failed reports whether anything disagreed with the engine: a probe, an
// attack frame, or a live flow that outlived its verdict.
func (r *Result) Failed() bool {
	return r.Counts().Mismatched > 0 || CountAttacks(r.Attacks).Mismatched > 0 ||
		r.Tightening != nil && r.Tightening.Problems() > 0
}

// Counts summarises a result. Ran + NotRun = Total and Matched +
// Mismatched = Ran.
type Counts struct {
	Total      int `json:"total"`
	Ran        int `json:"ran"`
	Matched    int `json:"matched"`
	Mismatched int `json:"mismatched"`
	NotRun     int `json:"notRun"`
	// NotRunReasons counts the probes that could not run by reason.
	NotRunReasons map[string]int `json:"notRunReasons,omitempty"`
}

// Counts counts the outcomes.
func (r *Result) Counts() Counts {
	c := Counts{Total: len(r.Outcomes)}
	for i := range r.Outcomes {
		o := &r.Outcomes[i]
		switch o.Status() {
		case Untested:
			c.NotRun++
			if c.NotRunReasons == nil {
				c.NotRunReasons = map[string]int{}
			}
			c.NotRunReasons[o.Reason]++
		case Match:
			c.Ran++
			c.Matched++
		case Mismatch:
			c.Ran++
			c.Mismatched++
		}
	}
	return c
}

// Mismatches returns the outcomes that disagree with the engine.
func (r *Result) Mismatches() []Outcome {
	var out []Outcome
	for _, o := range r.Outcomes {
		if o.Status() == Mismatch {
			out = append(out, o)
		}
	}
	return out
}

// String is the one-line count: "N probes ran, M matched, K
// mismatched, U could not run (reason)".
func (c Counts) String() string {
	s := fmt.Sprintf("%d probes ran, %d matched, %d mismatched, %d could not run", c.Ran, c.Matched, c.Mismatched, c.NotRun)
	if len(c.NotRunReasons) > 0 {
		var rs []string
		for _, reason := range slices.Sorted(maps.Keys(c.NotRunReasons)) {
			rs = append(rs, fmt.Sprintf("%d: %s", c.NotRunReasons[reason], reason))
		}
		s += " (" + strings.Join(rs, "; ") + ")"
	}
	return s
}

// legend explains the cells of the tables WriteText prints.
const legend = `legend: rows are sources, columns destinations; "." allowed, "x" blocked,
"?" could not run, "-" same host; "!" after a cell marks a mismatch: the
packets did what the cell shows, the engine expected the opposite (an
"E!" probe failed otherwise: see the list)`

// WriteText prints the hosts, a table per port, protocol and family of
// what the probes observed, with mismatches marked, the list of
// mismatches, the skipped containers and the counts.
func (r *Result) WriteText(w io.Writer) error {
	b := &strings.Builder{}
	plan := r.Plan
	fmt.Fprintf(b, "ward lab %s: %d hosts, %d probes; expected verdicts from the engine, observed ones from packets through the compiled ruleset\n", r.Run, len(plan.Hosts), len(r.Outcomes))
	writeHosts(b, plan)
	fmt.Fprintf(b, "\n%s\n", legend)
	writeTables(b, plan, r.Outcomes, true)
	if ms := r.Mismatches(); len(ms) > 0 {
		fmt.Fprintf(b, "\nMISMATCHES (%d):\n", len(ms))
		for _, o := range ms {
			fmt.Fprintf(b, "  ! %s: expected %s, observed %s", &o.Probe, o.expected(), o.Observed)
			if o.Reason != "" {
				fmt.Fprintf(b, " (%s)", o.Reason)
			}
			if o.Retried {
				b.WriteString(", confirmed by a second attempt")
			}
			b.WriteString("\n")
		}
	}
	writeSkipped(b, plan)
	writeAdversarial(b, r)
	fmt.Fprintf(b, "\n%s\n", r.Counts())
	if r.Attacks != nil {
		c := CountAttacks(r.Attacks)
		fmt.Fprintf(b, "%d attack frames, %d as the engine says (%d delivered), %d mismatched\n", c.Total, c.Matched, c.Delivered, c.Mismatched)
	}
	if t := r.Tightening; t != nil {
		fmt.Fprintf(b, "%d live flows through %d tightenings, %d outlived their verdict\n", t.Flows, len(t.Stages), t.Problems())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeAdversarial prints the attack frames by kind and fate, their
// mismatches, and the tightening stages.
func writeAdversarial(b *strings.Builder, r *Result) {
	if r.Attacks != nil {
		type tally struct{ sent, delivered, mismatched int }
		byKind := map[string]*tally{}
		var kinds []string
		for _, o := range r.Attacks {
			t := byKind[o.Kind]
			if t == nil {
				t = &tally{}
				byKind[o.Kind] = t
				kinds = append(kinds, o.Kind)
			}
			t.sent++
			if o.Delivered {
				t.delivered++
			}
			if o.Status() == Mismatch {
				t.mismatched++
			}
		}
		b.WriteString("\nattack frames (raw Ethernet, bypassing the senders' stacks; expected fates from the engine):\n")
		for _, k := range kinds {
			t := byKind[k]
			fmt.Fprintf(b, "  %-10s %5d sent, %5d delivered, %d mismatched\n", k, t.sent, t.delivered, t.mismatched)
		}
		if ms := AttackMismatches(r.Attacks); len(ms) > 0 {
			fmt.Fprintf(b, "\nATTACK MISMATCHES (%d):\n", len(ms))
			for _, o := range ms {
				fmt.Fprintf(b, "  ! %s: engine says %s, %s", &o.Attack, deliveredWord(o.Expect), deliveredWord(o.Delivered))
				if o.Err != "" {
					fmt.Fprintf(b, " (%s)", o.Err)
				}
				b.WriteString("\n")
			}
		}
	}
	if t := r.Tightening; t != nil {
		fmt.Fprintf(b, "\ntightening (%d live flows, both ends sending: TCP, UDP, ICMP, IP protocol %d; allow-all first):\n", t.Flows, rawProto)
		for _, st := range t.Stages {
			fmt.Fprintf(b, "  %-9s %d connections ended; %d flows denied, %d allowed; the last packet of a denied flow to arrive was sent %s before the apply returned; %d outlived their verdict\n",
				st.Name, st.Ended, st.Denied, st.Allowed, (-st.LastDenied).Round(time.Millisecond), len(st.Problems))
			for _, p := range st.Problems {
				fmt.Fprintf(b, "  ! %s\n", p)
			}
		}
	}
}

func deliveredWord(d bool) string {
	if d {
		return "delivered"
	}
	return "dropped"
}

// WriteText prints the hosts and the expected truth table, as
// Result.WriteText prints the observed one.
func (p *Plan) WriteText(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "%d hosts, %d probes; expected verdicts from the engine\n", len(p.Hosts), len(p.Probes))
	writeHosts(b, p)
	b.WriteString("\nlegend: rows are sources, columns destinations; \".\" allowed, \"x\" blocked, \"-\" same host\n")
	outs := make([]Outcome, len(p.Probes))
	for i, pr := range p.Probes {
		outs[i] = Outcome{Probe: pr, Observed: pr.expected()}
	}
	writeTables(b, p, outs, false)
	writeSkipped(b, p)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeHosts(b *strings.Builder, p *Plan) {
	b.WriteString("hosts:\n")
	width := idWidth(p)
	for i, h := range p.Hosts {
		var addrs, ports []string
		for _, a := range h.Addrs {
			addrs = append(addrs, a.String())
		}
		for _, port := range h.Ports {
			ports = append(ports, strconv.Itoa(int(port)))
		}
		fmt.Fprintf(b, "  %3d %-*s  %s  ports %s\n", i+1, width, h.ID, strings.Join(addrs, ","), strings.Join(ports, ","))
	}
}

func writeSkipped(b *strings.Builder, p *Plan) {
	if len(p.Skipped) == 0 {
		return
	}
	b.WriteString("\nnot test hosts:\n")
	for _, s := range p.Skipped {
		fmt.Fprintf(b, "  %s: %s\n", s.ID, s.Reason)
	}
}

func idWidth(p *Plan) int {
	w := 0
	for _, h := range p.Hosts {
		w = max(w, len(h.ID))
	}
	return w
}

// gridKey groups outcomes into tables.
type gridKey struct {
	port   uint16
	proto  portset.Protocol
	family firewall.Family
}

// cellPoint is a row or column of a table: a host's address.
type cellPoint struct {
	host *Host
	addr netip.Addr
}

// writeTables writes a table per port, protocol and family, in the
// order of outs. With marks, mismatches are marked "!".
func writeTables(b *strings.Builder, p *Plan, outs []Outcome, marks bool) {
	index := map[*Host]int{}
	for i, h := range p.Hosts {
		index[h] = i + 1
	}
	var keys []gridKey
	groups := map[gridKey][]*Outcome{}
	for i := range outs {
		o := &outs[i]
		k := gridKey{o.Port, o.Protocol, family(o.SrcAddr)}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], o)
	}
	width := idWidth(p)
	for _, k := range keys {
		g := groups[k]
		var rows, cols []cellPoint
		cells := map[[2]cellPoint]*Outcome{}
		for _, o := range g {
			s, d := cellPoint{o.Src, o.SrcAddr}, cellPoint{o.Dst, o.DstAddr}
			if !slices.Contains(rows, s) {
				rows = append(rows, s)
			}
			if !slices.Contains(cols, d) {
				cols = append(cols, d)
			}
			cells[[2]cellPoint{s, d}] = o
		}
		// Rows and columns appear in host order; a host with several
		// probe addresses gets letters.
		order := func(ps []cellPoint) {
			slices.SortStableFunc(ps, func(a, b cellPoint) int {
				if c := index[a.host] - index[b.host]; c != 0 {
					return c
				}
				return a.addr.Compare(b.addr)
			})
		}
		order(rows)
		order(cols)
		labels := pointLabels(index, append(slices.Clone(rows), cols...))
		fmt.Fprintf(b, "\n%d/%s %s\n", k.port, k.proto, k.family)
		// Columns are four characters wide, a symbol in the third and a
		// mismatch mark in the fourth.
		line := &strings.Builder{}
		fmt.Fprintf(line, "  %*s", 4+width, "")
		for _, c := range cols {
			fmt.Fprintf(line, "%3s ", labels[c])
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
		for _, r := range rows {
			line.Reset()
			fmt.Fprintf(line, "  %3s %-*s", labels[r], width, r.host.ID)
			for _, c := range cols {
				fmt.Fprintf(line, "%4s", cell(cells[[2]cellPoint{r, c}], marks))
			}
			b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
		}
	}
}

func pointLabels(index map[*Host]int, ps []cellPoint) map[cellPoint]string {
	addrs := map[*Host][]netip.Addr{}
	for _, p := range ps {
		if !slices.Contains(addrs[p.host], p.addr) {
			addrs[p.host] = append(addrs[p.host], p.addr)
		}
	}
	out := map[cellPoint]string{}
	for _, p := range ps {
		label := strconv.Itoa(index[p.host])
		if as := addrs[p.host]; len(as) > 1 {
			slices.SortFunc(as, netip.Addr.Compare)
			label += string(rune('a' + slices.Index(as, p.addr)%26))
		}
		out[p] = label
	}
	return out
}

// cell is a table cell's symbol and mark ("!" or a space).
func cell(o *Outcome, marks bool) string {
	if o == nil {
		return "- "
	}
	var c string
	switch o.Observed {
	case Allowed:
		c = "."
	case Blocked:
		c = "x"
	case NotRun:
		return "? "
	default:
		c = "E"
	}
	if marks && o.Status() == Mismatch {
		return c + "!"
	}
	return c + " "
}

// jsonResult is the -o json form of a Result.
type jsonResult struct {
	Run        string         `json:"run"`
	Hosts      []jsonHost     `json:"hosts"`
	Skipped    []Skip         `json:"skipped"`
	Probes     []jsonProbe    `json:"probes"`
	Summary    Counts         `json:"summary"`
	Attacks    *jsonAttacks   `json:"attacks,omitempty"`
	Tightening *TightenResult `json:"tightening,omitempty"`
}

type jsonAttacks struct {
	Summary AttackCounts `json:"summary"`
	Frames  []jsonAttack `json:"frames"`
}

type jsonAttack struct {
	Kind     string `json:"kind"`
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	SrcAddr  string `json:"srcAddr"`
	DstAddr  string `json:"dstAddr"`
	Port     uint16 `json:"port"`
	Tagged   bool   `json:"tagged,omitempty"`
	VLAN     uint16 `json:"vlan,omitempty"`
	Expected string `json:"expected"`
	Observed string `json:"observed"`
	Status   string `json:"status"`
	Error    string `json:"error,omitempty"`
	Retried  bool   `json:"retried,omitempty"`
}

type jsonHost struct {
	ID        string   `json:"id"`
	Addresses []string `json:"addresses"`
	Ports     []uint16 `json:"ports"`
}

type jsonProbe struct {
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	SrcAddr  string `json:"srcAddr"`
	DstAddr  string `json:"dstAddr"`
	Port     uint16 `json:"port"`
	Protocol string `json:"protocol"`
	Expected string `json:"expected"`
	Observed string `json:"observed"`
	Status   string `json:"status"`
	Reply    string `json:"reply,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Retried  bool   `json:"retried,omitempty"`
}

// WriteJSON writes the result as one JSON object: run, hosts, skipped,
// probes (src, dst, srcAddr, dstAddr, port, protocol, expected "allowed"
// or "blocked", observed, status "match", "mismatch" or "not-run",
// reply, reason, retried) and summary (the Counts).
func (r *Result) WriteJSON(w io.Writer) error {
	out := jsonResult{Run: r.Run, Hosts: []jsonHost{}, Skipped: r.Plan.Skipped, Probes: []jsonProbe{}, Summary: r.Counts(), Tightening: r.Tightening}
	if r.Attacks != nil {
		out.Attacks = &jsonAttacks{Summary: CountAttacks(r.Attacks), Frames: []jsonAttack{}}
		for _, o := range r.Attacks {
			out.Attacks.Frames = append(out.Attacks.Frames, jsonAttack{Kind: o.Kind, Src: o.Frame.From.ID, Dst: o.Frame.To.ID,
				SrcAddr: o.Frame.Src.String(), DstAddr: o.Frame.Dst.String(), Port: o.Frame.Port, Tagged: o.Frame.Tagged, VLAN: o.Frame.VLAN,
				Expected: deliveredWord(o.Expect), Observed: deliveredWord(o.Delivered), Status: o.Status().String(), Error: o.Err, Retried: o.Retried})
		}
	}
	if out.Skipped == nil {
		out.Skipped = []Skip{}
	}
	for _, h := range r.Plan.Hosts {
		jh := jsonHost{ID: h.ID, Ports: h.Ports}
		for _, a := range h.Addrs {
			jh.Addresses = append(jh.Addresses, a.String())
		}
		out.Hosts = append(out.Hosts, jh)
	}
	for _, o := range r.Outcomes {
		expected := o.expected()
		out.Probes = append(out.Probes, jsonProbe{
			Src: o.Src.ID, Dst: o.Dst.ID, SrcAddr: o.SrcAddr.String(), DstAddr: o.DstAddr.String(),
			Port: o.Port, Protocol: o.Protocol.String(), Expected: expected.String(), Observed: o.Observed.String(),
			Status: o.Status().String(), Reply: o.Reply, Reason: o.Reason, Retried: o.Retried,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
