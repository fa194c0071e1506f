package detect

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
)

// Detector names.
const (
	PortScanName  = "port-scan"
	SYNFloodName  = "syn-flood"
	ICMPFloodName = "icmp-flood"
	EgressName    = "unexpected-egress"
	ViolationName = "policy-violation"
	StaleRuleName = "policy-stale-drop"
	SaturatedName = "detector-saturated"
	AssertionName = "assertion-violated"
	ZoneXferName  = "dns-zone-transfer"
	TunnelName    = "dns-tunnel"
	SpoofName     = "spoofed-source"
)

// Severities.
const (
	Critical = "critical"
	High     = "high"
	Medium   = "medium"
	Low      = "low"
)

// Alert states: an incident is reported when it opens, again each time
// its evidence doubles, and once when it closes.
const (
	Opened  = "open"
	Updated = "update"
	Closed  = "closed"
)

// Peer is one side of an incident.
type Peer struct {
	Address  string `json:"address,omitempty"`
	Workload string `json:"workload,omitempty"` // namespace/Kind/name
	Pod      string `json:"pod,omitempty"`
	Identity string `json:"identity"` // resolved, unknown or external
	// Group names the destination group when the incident spans many
	// destinations ("port 22/TCP", "203.0.113.0/24").
	Group string `json:"group,omitempty"`
}

// Alert is an incident as reported. The same ID is reported again as the
// incident grows (State "update") and when it closes.
type Alert struct {
	ID       string `json:"id"`
	Detector string `json:"detector"`
	Severity string `json:"severity"`
	State    string `json:"state"`
	Summary  string `json:"summary"`
	Source   Peer   `json:"source"`
	Dest     Peer   `json:"destination"`
	First    string `json:"first"`
	Last     string `json:"last"`
	// Count is the evidence seen: events (or packets, for floods).
	Count uint64 `json:"count"`
	// Threshold and Observed name the detector's limits and what crossed
	// them ({"distinctPorts": 15, "window": "5m0s"}).
	Threshold map[string]any `json:"threshold,omitempty"`
	Observed  map[string]any `json:"observed,omitempty"`
	// Samples are the first few events of the incident.
	Samples []event.Event `json:"samples"`
	// Explanation is the policy engine's reasoning, for policy alerts.
	Explanation *netpol.Explanation `json:"explanation,omitempty"`

	first, last int64
	reported    uint64
	key         incKey
}

type incKey struct {
	detector string
	src, dst string
}

// incidentSet groups evidence into alerts and reports them.
type incidentSet struct {
	cfg  Incidents
	max  int
	emit func(*Alert)
	open map[incKey]*Alert
	now  int64
	// due is no later than the earliest time an open incident must close
	// (it may be earlier: incidents that grew close later).
	due int64
	// Dropped counts evidence refused because MaxIncidents were open.
	Dropped uint64
	// Evicted counts incidents closed early to make room for a more
	// severe one.
	Evicted uint64
	// bySev counts open incidents by severity rank; byAge queues them
	// (and some closed ones) by severity rank in the order they opened.
	bySev [4]int
	byAge [4][]*Alert
	// Reported counts alert reports by state.
	Reported map[string]uint64
}

func newIncidents(cfg Incidents, max int, emit func(*Alert)) *incidentSet {
	return &incidentSet{cfg: cfg, max: max, emit: emit, open: map[incKey]*Alert{}, Reported: map[string]uint64{}}
}

// evidence is what a detector hands over when a threshold is crossed or
// an incident grows.
type evidence struct {
	detector, severity string
	src, dst           Peer
	summary            string
	count              uint64 // added to the incident's count
	threshold          map[string]any
	observed           map[string]any
	sample             *event.Event
	explain            func() *netpol.Explanation
}

// add joins ev to its open incident or opens one.
func (in *incidentSet) add(t int64, ev *evidence) {
	k := incKey{ev.detector, groupOf(ev.src), groupOf(ev.dst)}
	a := in.open[k]
	if a != nil && (t-a.last >= int64(in.cfg.Idle) || t-a.first >= int64(in.cfg.MaxDuration)) {
		in.close(a)
		a = nil
	}
	if a == nil {
		// detector-saturated may go beyond max (by its two incidents):
		// the report that evidence is being lost must not be lost.
		if len(in.open) >= in.max && ev.detector != SaturatedName && !in.evict(rank(ev.severity)) {
			in.Dropped++
			return
		}
		a = &Alert{Detector: ev.detector, Severity: ev.severity, Source: ev.src, Dest: ev.dst, first: t, last: t, key: k}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(t)) // #nosec G115 -- the bit pattern is hashed; its sign does not matter
		h := xxhash.New()
		_, _ = h.WriteString(k.detector + "\x00" + k.src + "\x00" + k.dst + "\x00")
		_, _ = h.Write(b[:])
		a.ID = fmt.Sprintf("%016x", h.Sum64())
		if ev.explain != nil {
			a.Explanation = ev.explain()
		}
		in.open[k] = a
		in.bySev[rank(a.Severity)]++
		in.queue(a)
		if len(in.open) == 1 {
			in.due = in.deadline(a)
		} else {
			in.due = min(in.due, in.deadline(a))
		}
	}
	if t > a.last {
		a.last = t
	}
	if t < a.first {
		a.first = t
	}
	a.Count += ev.count
	a.Summary = ev.summary
	a.Threshold, a.Observed = ev.threshold, ev.observed
	if ev.sample != nil && len(a.Samples) < in.cfg.Samples {
		a.Samples = append(a.Samples, *ev.sample)
	}
	switch {
	case a.reported == 0:
		in.report(a, Opened)
	case a.Count >= 2*a.reported:
		in.report(a, Updated)
	}
}

func (in *incidentSet) report(a *Alert, state string) {
	a.State = state
	a.First = time.Unix(0, a.first).UTC().Format(time.RFC3339Nano)
	a.Last = time.Unix(0, a.last).UTC().Format(time.RFC3339Nano)
	a.reported = max(a.Count, 1)
	in.Reported[state]++
	in.emit(a)
}

func (in *incidentSet) close(a *Alert) {
	delete(in.open, a.key)
	in.bySev[rank(a.Severity)]--
	in.report(a, Closed)
}

// rank orders severities, low first.
func rank(sev string) int {
	switch sev {
	case Critical:
		return 3
	case High:
		return 2
	case Medium:
		return 1
	}
	return 0
}

// evict makes room, at MaxIncidents, for an incident of severity rank r:
// it closes (and reports) the oldest open incident of the lowest
// severity below r. A flood of cheap low-severity incidents (new peers,
// egress to many /24s) then cannot keep a critical one from opening; it
// reports whether it made room.
func (in *incidentSet) evict(r int) bool {
	low := -1
	for i := range r {
		if in.bySev[i] > 0 {
			low = i
			break
		}
	}
	if low < 0 {
		return false
	}
	q := in.byAge[low]
	for len(q) > 0 {
		a := q[0]
		q = q[1:]
		if in.open[a.key] == a {
			in.byAge[low] = q
			in.close(a)
			in.Evicted++
			return true
		}
	}
	in.byAge[low] = q
	return false
}

// queue adds a newly opened incident to its severity's queue, in the
// order incidents open. Closed incidents stay queued until evict passes
// them or the queue holds twice the open ones (then it is compacted): a
// queue is bounded by the open incidents, and eviction costs O(1)
// amortized, however an attacker mixes severities.
func (in *incidentSet) queue(a *Alert) {
	r := rank(a.Severity)
	q := in.byAge[r]
	if len(q) > 2*in.bySev[r]+64 {
		live := make([]*Alert, 0, 2*in.bySev[r]+1)
		for _, x := range q {
			if in.open[x.key] == x {
				live = append(live, x)
			}
		}
		q = live
	}
	in.byAge[r] = append(q, a)
}

// advance closes incidents idle or too long at time now.
func (in *incidentSet) advance(now int64) {
	if now <= in.now {
		return
	}
	in.now = now
	if len(in.open) == 0 || now < in.due {
		return
	}
	in.due = math.MaxInt64
	for _, a := range in.sortedOpen() {
		if d := in.deadline(a); now >= d {
			in.close(a)
		} else {
			in.due = min(in.due, d)
		}
	}
}

// deadline is when a closes unless new evidence comes.
func (in *incidentSet) deadline(a *Alert) int64 {
	return min(a.last+int64(in.cfg.Idle), a.first+int64(in.cfg.MaxDuration))
}

// closeAll closes every open incident (end of input).
func (in *incidentSet) closeAll() {
	for _, a := range in.sortedOpen() {
		in.close(a)
	}
}

// sortedOpen lists open incidents by first time, then ID: reports come
// out in a stable order.
func (in *incidentSet) sortedOpen() []*Alert {
	out := make([]*Alert, 0, len(in.open))
	for _, a := range in.open {
		out = append(out, a)
	}
	sortAlerts(out)
	return out
}

// Open is the number of open incidents.
func (in *incidentSet) Open() int { return len(in.open) }

// groupOf is what incidents group a peer by: its group, else its
// workload (all pods of a Deployment are one source), else its address.
func groupOf(p Peer) string {
	switch {
	case p.Group != "":
		return "g:" + p.Group
	case p.Workload != "":
		return "w:" + p.Workload
	}
	return "a:" + p.Address
}

func sortAlerts(as []*Alert) {
	slices.SortFunc(as, func(a, b *Alert) int {
		if c := cmp.Compare(a.first, b.first); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// peer describes one end of an observed event.
func peer(a netip.Addr, w *identity.Workload, r identity.Resolution) Peer {
	p := Peer{Address: a.String(), Identity: r.String()}
	if w != nil {
		p.Workload, p.Pod = w.ID(), w.Pod
	}
	return p
}
