package live

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
)

// Bounds of what a View keeps, whatever the traffic.
const (
	MaxTalkers   = 4096 // conversations counted; beyond, counted as "others"
	MaxRules     = 256  // drop rules or reasons counted
	RecentAlerts = 8    // alert reports shown
	TopTalkers   = 10   // conversations shown
	TopRules     = 5    // drop rules shown
)

// Status is what the pipeline counted, shown in the header.
type Status struct {
	Events, Judged, Unjudged, Lost, BadRecords uint64
}

type talkKey struct {
	src, dst string
	proto    event.Proto
	port     uint16
}

type talk struct {
	conns, bytes uint64
}

type alertLine struct {
	at, severity, detector, state, summary string
}

// View aggregates what ward watch sees for people: the busiest
// conversations, drops by the rule that dropped them, and the latest alert
// reports. It is safe for concurrent use.
type View struct {
	mu      sync.Mutex
	start   time.Time
	talkers map[talkKey]*talk
	others  talk // conversations beyond MaxTalkers
	drops   map[string]uint64
	dropsX  uint64 // drops of rules beyond MaxRules
	alerts  []alertLine
	frames  int
}

// New returns an empty view started at start.
func New(start time.Time) *View {
	return &View{start: start, talkers: map[talkKey]*talk{}, drops: map[string]uint64{}}
}

// name is how the view names one end: its workload, else its address.
func name(w *identity.Workload, r identity.Resolution, e *event.Event, src bool) string {
	if r == identity.Resolved && w != nil {
		return w.ID()
	}
	if src {
		return e.Src.String()
	}
	return e.Dst.String()
}

// Observe counts a batch of resolved events (the pipeline's Observer).
func (v *View) Observe(obs []detect.Observation) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := range obs {
		o := &obs[i]
		e := o.E
		if e.Verdict == event.Dropped {
			r := e.Rule
			if r == "" {
				r = e.Reason
			}
			if r == "" {
				r = "dropped"
			}
			if _, ok := v.drops[r]; ok || len(v.drops) < MaxRules {
				v.drops[r]++
			} else {
				v.dropsX++
			}
			continue
		}
		if e.Reply || !e.Verdict.Passed() {
			continue
		}
		var conns uint64
		switch {
		case e.Kind == event.ConnNew:
			conns = 1
		case e.Kind == event.Flow && (e.Proto != event.TCP || e.Flags.IsSYN()):
			conns = 1
		}
		bytes := e.Bytes + e.ReplyBytes
		if conns == 0 && bytes == 0 {
			continue
		}
		port := e.DstPort
		if e.Proto.IsICMP() {
			port = 0
		}
		k := talkKey{name(o.Src, o.SrcRes, e, true), name(o.Dst, o.DstRes, e, false), e.Proto, port}
		t := v.talkers[k]
		if t == nil {
			if len(v.talkers) >= MaxTalkers {
				v.others.conns += conns
				v.others.bytes += bytes
				continue
			}
			t = &talk{}
			v.talkers[k] = t
		}
		t.conns += conns
		t.bytes += bytes
	}
}

// Alert records an alert report (the pipeline's OnAlert).
func (v *View) Alert(a *detect.Alert) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.alerts = append(v.alerts, alertLine{a.Last, a.Severity, a.Detector, a.State, detect.SafeLine(a.Summary)})
	if len(v.alerts) > RecentAlerts {
		v.alerts = slices.Delete(v.alerts, 0, len(v.alerts)-RecentAlerts)
	}
}

// clear moves the cursor home and clears the terminal.
const clear = "\x1b[H\x1b[2J"

// Render writes one frame at now.
func (v *View) Render(w io.Writer, now time.Time, st Status) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.frames++
	var b strings.Builder
	b.WriteString(clear)
	up := now.Sub(v.start).Round(time.Second)
	rate := 0.0
	if s := now.Sub(v.start).Seconds(); s > 0 {
		rate = float64(st.Events) / s
	}
	fmt.Fprintf(&b, "ward watch  %s  up %s  events %d (%.0f/s)  judged %d  not judged %d  lost %d  bad records %d\n\n",
		now.UTC().Format("15:04:05"), up, st.Events, rate, st.Judged, st.Unjudged, st.Lost, st.BadRecords)

	type row struct {
		k talkKey
		t talk
	}
	rows := make([]row, 0, len(v.talkers))
	for k, t := range v.talkers {
		rows = append(rows, row{k, *t})
	}
	slices.SortFunc(rows, func(a, b row) int {
		if c := cmp.Compare(b.t.conns, a.t.conns); c != 0 {
			return c
		}
		if c := cmp.Compare(b.t.bytes, a.t.bytes); c != 0 {
			return c
		}
		return cmp.Compare(a.k.src+a.k.dst, b.k.src+b.k.dst)
	})
	fmt.Fprintf(&b, "TOP TALKERS\n  %8s %10s  %s\n", "conns", "bytes", "conversation")
	for i, r := range rows {
		if i == TopTalkers {
			break
		}
		fmt.Fprintf(&b, "  %8d %10s  %s -> %s %s\n", r.t.conns, size(r.t.bytes), r.k.src, r.k.dst, portLabel(r.k))
	}
	if len(rows) == 0 {
		b.WriteString("  (none yet)\n")
	}
	if v.others.conns+v.others.bytes > 0 {
		fmt.Fprintf(&b, "  %8d %10s  (conversations beyond the %d counted)\n", v.others.conns, size(v.others.bytes), MaxTalkers)
	}

	type drop struct {
		rule string
		n    uint64
	}
	var drops []drop
	var total uint64
	for r, n := range v.drops {
		drops = append(drops, drop{r, n})
		total += n
	}
	slices.SortFunc(drops, func(a, b drop) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return strings.Compare(a.rule, b.rule)
	})
	fmt.Fprintf(&b, "\nDROPS %d\n", total+v.dropsX)
	for i, d := range drops {
		if i == TopRules {
			break
		}
		fmt.Fprintf(&b, "  %8d  %s\n", d.n, d.rule)
	}

	b.WriteString("\nRECENT ALERTS\n")
	for i := len(v.alerts) - 1; i >= 0; i-- {
		a := v.alerts[i]
		fmt.Fprintf(&b, "  %s %-8s %-18s %-6s %s\n", a.at, a.severity, a.detector, a.state, a.summary)
	}
	if len(v.alerts) == 0 {
		b.WriteString("  (none)\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func portLabel(k talkKey) string {
	if k.proto.IsICMP() || k.port == 0 {
		return k.proto.String()
	}
	return fmt.Sprintf("%d/%s", k.port, k.proto)
}

func size(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	f, u := float64(n), 0
	for f >= unit && u < 4 {
		f /= unit
		u++
	}
	return fmt.Sprintf("%.1f%ciB", f, "KMGT"[u-1])
}

// Run renders a frame every interval until ctx is done, then a last one.
func (v *View) Run(ctx context.Context, w io.Writer, every time.Duration, now func() time.Time, status func() Status) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return v.Render(w, now(), status())
		case <-t.C:
			if err := v.Render(w, now(), status()); err != nil {
				return err
			}
		}
	}
}
