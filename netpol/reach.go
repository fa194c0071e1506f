package netpol

import (
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/wardsec/ward/portset"
)

// Reach is the reachability of a cluster: the JSON contract of
// `ward reach -o json`, documented in docs/json.md.
type Reach struct {
	Workloads   []WorkloadInfo `json:"workloads"`
	Connections []Connection   `json:"connections"`
	// Notes carry caveats, such as pod IPs being unknown.
	Notes []string `json:"notes,omitempty"`
	// Display lists the same connections for people: one entry per
	// endpoint pair, external endpoints under their compact names.
	Display []Connection `json:"-"`
}

// WorkloadInfo describes one workload endpoint.
type WorkloadInfo struct {
	ID        string            `json:"id"`
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Kind      string            `json:"kind"`
	Labels    map[string]string `json:"labels"`
	IPs       []string          `json:"ips,omitempty"`
	// Isolation says which directions policies restrict.
	IngressIsolated bool `json:"ingressIsolated"`
	EgressIsolated  bool `json:"egressIsolated"`
}

// Connection is what src may open to dst: Src and Dst are workload IDs or,
// for addresses outside the cluster, CIDRs.
type Connection struct {
	Src     string      `json:"src"`
	Dst     string      `json:"dst"`
	Allowed portset.Set `json:"allowed"`
}

// Filter narrows Reach. Nil funcs accept everything; an empty Ports means
// any port.
type Filter struct {
	From, To func(*Endpoint) bool
	Ports    portset.Set
}

func (f *Filter) accept(s, d *Endpoint) bool {
	return (f.From == nil || f.From(s)) && (f.To == nil || f.To(d))
}

// PodIPNote is the note Reach carries when ipBlocks exist but no pod IP is
// known.
const PodIPNote = "no pod IPs in the input: ipBlock rules were matched against external addresses only"

// Reach computes every allowed connection between endpoints that f
// accepts. Connections to or from external endpoints are split into one
// entry per CIDR.
func (e *Engine) Reach(f Filter) *Reach {
	r := &Reach{Workloads: []WorkloadInfo{}, Connections: []Connection{}}
	for _, ep := range e.endpoints {
		if ep.IsExternal() {
			continue
		}
		w := ep.Workload
		info := WorkloadInfo{
			ID: ep.ID, Namespace: w.Namespace, Name: w.Name, Kind: w.Kind,
			Labels:          w.Labels,
			IngressIsolated: ep.class.iso[Ingress],
			EgressIsolated:  ep.class.iso[Egress],
		}
		if info.Labels == nil {
			info.Labels = map[string]string{}
		}
		for _, ip := range ep.IPs {
			info.IPs = append(info.IPs, ip.String())
		}
		r.Workloads = append(r.Workloads, info)
	}
	e.Connections(func(s, d *Endpoint, p portset.Set) bool {
		if !f.accept(s, d) {
			return true
		}
		if !f.Ports.Empty() {
			p = p.Intersect(f.Ports)
			if p.Empty() {
				return true
			}
		}
		for _, src := range names(s) {
			for _, dst := range names(d) {
				r.Connections = append(r.Connections, Connection{Src: src, Dst: dst, Allowed: p})
			}
		}
		r.Display = append(r.Display, Connection{Src: s.ID, Dst: d.ID, Allowed: p})
		return true
	})
	slices.SortStableFunc(r.Display, func(a, b Connection) int {
		if c := compareID(a.Src, b.Src); c != 0 {
			return c
		}
		return compareID(a.Dst, b.Dst)
	})
	slices.SortStableFunc(r.Connections, func(a, b Connection) int {
		if c := compareID(a.Src, b.Src); c != 0 {
			return c
		}
		return compareID(a.Dst, b.Dst)
	})
	if e.hasIPBlocks() && !e.set.PodIPsKnown {
		r.Notes = append(r.Notes, PodIPNote)
	}
	return r
}

// compareID orders workload IDs before external addresses, workload IDs
// by string and CIDRs by address.
func compareID(a, b string) int {
	pa, ea := netip.ParsePrefix(a)
	pb, eb := netip.ParsePrefix(b)
	switch {
	case ea == nil && eb == nil:
		if c := pa.Addr().Compare(pb.Addr()); c != 0 {
			return c
		}
		return pa.Bits() - pb.Bits()
	case ea == nil:
		return 1
	case eb == nil:
		return -1
	}
	// Compact external names ("0.0.0.0/0 except ...") after workloads:
	// a namespace never contains '.' or ':', an address always does.
	if xa, xb := isAddress(a), isAddress(b); xa != xb {
		if xa {
			return 1
		}
		return -1
	}
	return strings.Compare(a, b)
}

func isAddress(id string) bool {
	first, _, _ := strings.Cut(id, "/")
	return strings.ContainsAny(first, ".:")
}

// names returns the IDs an endpoint appears under in connection lists.
func names(ep *Endpoint) []string {
	if !ep.IsExternal() {
		return []string{ep.ID}
	}
	ps := ep.External.Prefixes()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func (e *Engine) hasIPBlocks() bool {
	for _, p := range e.peers {
		if p.kind == peerIPBlock {
			return true
		}
	}
	return false
}

// Summary is the compact view of a large cluster: classes of endpoints
// that the same policies treat alike, and the connections between classes.
// It is the JSON contract of `ward reach --summary -o json`.
type Summary struct {
	Classes     []ClassInfo  `json:"classes"`
	Connections []Connection `json:"connections"`
	Notes       []string     `json:"notes,omitempty"`
}

// ClassInfo describes a class. ID is "c<N>".
type ClassInfo struct {
	ID              string   `json:"id"`
	External        bool     `json:"external"`
	Size            int      `json:"size"`
	Members         []string `json:"members"`
	Namespaces      []string `json:"namespaces,omitempty"`
	IngressIsolated bool     `json:"ingressIsolated"`
	EgressIsolated  bool     `json:"egressIsolated"`
	Policies        []string `json:"policies,omitempty"`
}

// ClassID returns the ID of class c in summaries.
func ClassID(c *Class) string { return "c" + strconv.Itoa(c.ID+1) }

// Summarize computes the class view, restricted by f like Reach. A class
// is kept when f accepts at least one of its members on that side.
func (e *Engine) Summarize(f Filter) *Summary {
	s := &Summary{Classes: []ClassInfo{}, Connections: []Connection{}}
	anyMember := func(c *Class, fn func(*Endpoint) bool) bool {
		if fn == nil {
			return true
		}
		return slices.ContainsFunc(c.Members, fn)
	}
	used := map[int]bool{}
	e.ClassConnections(func(src, dst *Class, p portset.Set) bool {
		if !anyMember(src, f.From) || !anyMember(dst, f.To) {
			return true
		}
		if !f.Ports.Empty() {
			p = p.Intersect(f.Ports)
			if p.Empty() {
				return true
			}
		}
		used[src.ID], used[dst.ID] = true, true
		s.Connections = append(s.Connections, Connection{Src: ClassID(src), Dst: ClassID(dst), Allowed: p})
		return true
	})
	filtered := f.From != nil || f.To != nil || !f.Ports.Empty()
	for _, c := range e.classes {
		if filtered && !used[c.ID] {
			continue
		}
		info := ClassInfo{ID: ClassID(c), External: c.External, Size: len(c.Members),
			IngressIsolated: c.iso[Ingress], EgressIsolated: c.iso[Egress]}
		nss := map[string]bool{}
		for _, m := range c.Members {
			info.Members = append(info.Members, m.ID)
			if m.Workload != nil {
				nss[m.Workload.Namespace] = true
			}
		}
		info.Namespaces = slices.Sorted(maps.Keys(nss))
		seen := map[int32]bool{}
		for d := range 2 {
			for _, pid := range c.policies[d] {
				if !seen[pid] {
					seen[pid] = true
					pol := e.policies[pid]
					info.Policies = append(info.Policies, pol.ns+"/"+pol.src.Name)
				}
			}
		}
		s.Classes = append(s.Classes, info)
	}
	if e.hasIPBlocks() && !e.set.PodIPsKnown {
		s.Notes = append(s.Notes, PodIPNote)
	}
	return s
}

// MarshalJSON writes c without reflection: a cluster's answer can hold
// millions of connections.
func (c Connection) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 64+len(c.Src)+len(c.Dst))
	b = append(b, `{"src":`...)
	b = appendJSONString(b, c.Src)
	b = append(b, `,"dst":`...)
	b = appendJSONString(b, c.Dst)
	b = append(b, `,"allowed":`...)
	p, err := c.Allowed.MarshalJSON()
	if err != nil {
		return nil, err
	}
	b = append(b, p...)
	return append(b, '}'), nil
}

// appendJSONString appends s as a JSON string, escaping what JSON requires
// (and <, >, & as encoding/json does).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
