package netpol

import (
	"encoding/binary"
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
// that the same policies treat alike, each with the grants of the rules
// that select it. It is the JSON contract of `ward reach --summary -o
// json` (docs/json.md).
//
// Connections are kept factored, as the policies state them, instead of
// being listed per pair of classes: a cluster where most classes are open
// in one direction has a quadratic number of class pairs, while grants are
// linear in classes and rules. Allowed reconstructs any pair.
type Summary struct {
	Classes []ClassInfo `json:"classes"`
	Groups  []Group     `json:"groups"`
	// Ports is the --port filter, when one was given: every allowed set
	// is within it, and an open direction allows exactly these ports.
	Ports portset.Set `json:"ports,omitzero"`
	Notes []string    `json:"notes,omitempty"`

	byID map[string]int
}

// ClassInfo describes a class. ID is "c<N>". Ingress lists the grants of
// the ingress rules that apply to the class (who may connect to it, when
// IngressIsolated); Egress those of its egress rules (what it may connect
// to, when EgressIsolated). A filter leaves Egress nil for a class that is
// only a destination, and Ingress nil for one that is only a source.
type ClassInfo struct {
	ID              string   `json:"id"`
	External        bool     `json:"external"`
	Size            int      `json:"size"`
	Members         []string `json:"members"`
	Namespaces      []string `json:"namespaces,omitempty"`
	IngressIsolated bool     `json:"ingressIsolated"`
	EgressIsolated  bool     `json:"egressIsolated"`
	Policies        []string `json:"policies,omitempty"`
	Ingress         []Grant  `json:"ingress"`
	Egress          []Grant  `json:"egress"`
}

// Grant allows Allowed between a class and every class of Group: from
// them for an ingress grant, to them for an egress grant.
type Grant struct {
	Group   string      `json:"group"`
	Allowed portset.Set `json:"allowed"`
}

// Group is a set of classes that some rule's peers match, as IDs of
// classes. ID is "g<N>".
type Group struct {
	ID      string   `json:"id"`
	Classes []string `json:"classes"`
}

// ClassID returns the ID of class c in summaries.
func ClassID(c *Class) string { return "c" + strconv.Itoa(c.ID+1) }

// Allowed reconstructs the ports members of class src may open to members
// of class dst (IDs as in Classes) from the grants:
//
//	egress  = all ports if src is not egress-isolated, else the union of
//	          src's egress grants whose group holds dst
//	ingress = all ports if dst is not ingress-isolated, else the union of
//	          dst's ingress grants whose group holds src
//	allowed = egress ∩ ingress (nothing between two external classes)
//
// with "all ports" meaning Ports when a port filter was given. It is the
// reference for consumers of the JSON, and tests check it against the
// engine. ok is false for an unknown ID.
func (s *Summary) Allowed(src, dst string) (allowed portset.Set, ok bool) {
	if s.byID == nil {
		s.byID = make(map[string]int, len(s.Classes)+len(s.Groups))
		for i, c := range s.Classes {
			s.byID[c.ID] = i
		}
		for i, g := range s.Groups {
			s.byID[g.ID] = i
		}
	}
	si, ok1 := s.byID[src]
	di, ok2 := s.byID[dst]
	if !ok1 || !ok2 || !strings.HasPrefix(src, "c") || !strings.HasPrefix(dst, "c") {
		return portset.Set{}, false
	}
	sc, dc := &s.Classes[si], &s.Classes[di]
	if sc.External && dc.External {
		return portset.Set{}, true
	}
	all := portset.All
	if !s.Ports.Empty() {
		all = s.Ports
	}
	side := func(isolated bool, grants []Grant, other string) portset.Set {
		if !isolated {
			return all
		}
		var p portset.Set
		for _, g := range grants {
			if slices.Contains(s.Groups[s.byID[g.Group]].Classes, other) {
				p = p.Union(g.Allowed)
			}
		}
		return p
	}
	eg := side(sc.EgressIsolated, sc.Egress, dst)
	if eg.Empty() {
		return eg, true
	}
	return eg.Intersect(side(dc.IngressIsolated, dc.Ingress, src)), true
}

// summarizer interns groups of classes.
type summarizer struct {
	e        *Engine
	from, to []bool // classes with a member on that side of the filter
	ports    portset.Set
	groups   [][]int32
	groupOf  map[string]int
	byRule   map[string][]grant // ruleGrants by peers, direction and named ports
	key      []byte
}

type grant struct {
	group int
	ports portset.Set
}

// group returns the index of the group holding exactly classes.
func (z *summarizer) group(classes []int32) int {
	z.key = appendIDs(z.key[:0], 'g', classes)
	if g, ok := z.groupOf[string(z.key)]; ok {
		return g
	}
	g := len(z.groups)
	z.groupOf[string(z.key)] = g
	z.groups = append(z.groups, classes)
	return g
}

// ruleGrants returns the groups of classes r matches (restricted to the
// other side of the filter) with the ports r allows to them: one group
// for an ingress rule (its ports depend on the class it selects, so they
// are left empty) or an egress rule without named ports; for an egress
// rule with named ports, which resolve per destination, one group per
// distinct resolution. Rules with the same peers share the work: a peer
// such as 0.0.0.0/0 can match every class.
func (z *summarizer) ruleGrants(r *rule, d Direction) []grant {
	named := d == Egress && len(r.ports.named) > 0
	z.key = append(z.key[:0], byte(d))
	if r.all {
		z.key = append(z.key, '*')
	}
	for _, p := range r.peers {
		z.key = binary.AppendUvarint(z.key, uint64(p.id)) // #nosec G115 -- ids are non-negative
	}
	if named {
		z.key = append(z.key, r.ports.String()...)
	}
	key := string(z.key)
	if gs, ok := z.byRule[key]; ok {
		if d == Egress && !named && len(gs) > 0 {
			// Same peers, this rule's own numeric ports.
			return []grant{{gs[0].group, r.ports.resolve(nil)}}
		}
		return gs
	}
	var m []int32
	if r.all {
		for _, c := range z.e.classes {
			m = append(m, int32(c.ID)) // #nosec G115 -- ids count input objects, far below 2^31
		}
	} else {
		for _, p := range r.peers {
			m = append(m, z.e.peerClasses[p.id]...)
		}
		slices.Sort(m)
		m = slices.Compact(m)
	}
	side := z.to // egress rules match destinations
	if d == Ingress {
		side = z.from
	}
	if side != nil {
		m = slices.DeleteFunc(m, func(c int32) bool { return !side[c] })
	}
	var gs []grant
	switch {
	case len(m) == 0:
	case !named:
		gs = []grant{{z.group(m), r.ports.resolve(nil)}}
	default:
		var order []string
		parts := map[string][]int32{}
		sets := map[string]portset.Set{}
		for _, dc := range m {
			p := r.ports.resolve(z.e.classes[dc].ports)
			if p.Empty() {
				continue
			}
			k := p.Key()
			if _, ok := parts[k]; !ok {
				order = append(order, k)
				sets[k] = p
			}
			parts[k] = append(parts[k], dc)
		}
		for _, k := range order {
			gs = append(gs, grant{z.group(parts[k]), sets[k]})
		}
	}
	z.byRule[key] = gs
	return gs
}

// grants returns c's grants for direction d, merged by group.
func (z *summarizer) grants(c *Class, d Direction) []Grant {
	var gs []grant
	add := func(g int, p portset.Set) {
		if !z.ports.Empty() {
			p = p.Intersect(z.ports)
		}
		if p.Empty() {
			return
		}
		for i := range gs {
			if gs[i].group == g {
				gs[i].ports = gs[i].ports.Union(p)
				return
			}
		}
		gs = append(gs, grant{g, p})
	}
	for i, r := range c.rules[d] {
		for _, g := range z.ruleGrants(r, d) {
			if d == Ingress {
				add(g.group, c.inPorts[i])
			} else {
				add(g.group, g.ports)
			}
		}
	}
	out := make([]Grant, len(gs))
	for i, g := range gs {
		out[i] = Grant{Group: "g" + strconv.Itoa(g.group+1), Allowed: g.ports}
	}
	return out
}

// Summarize computes the class view. With a filter, the classes listed
// are those with a member that f accepts as a source or as a destination;
// egress grants are kept for source classes and hold only destination
// classes, ingress grants the reverse, so Summary.Allowed stays exact for
// every accepted pair. Work and size are linear in classes, rules and the
// classes each rule matches: no pair of classes is enumerated.
func (e *Engine) Summarize(f Filter) *Summary {
	z := &summarizer{e: e, ports: f.Ports, groupOf: map[string]int{}, byRule: map[string][]grant{}}
	side := func(fn func(*Endpoint) bool) []bool {
		if fn == nil {
			return nil
		}
		ok := make([]bool, len(e.classes))
		for _, c := range e.classes {
			ok[c.ID] = slices.ContainsFunc(c.Members, fn)
		}
		return ok
	}
	z.from, z.to = side(f.From), side(f.To)
	s := &Summary{Classes: []ClassInfo{}, Groups: []Group{}, Ports: f.Ports}
	for _, c := range e.classes {
		isFrom := z.from == nil || z.from[c.ID]
		isTo := z.to == nil || z.to[c.ID]
		if !isFrom && !isTo {
			continue
		}
		info := ClassInfo{ID: ClassID(c), External: c.External, Size: len(c.Members),
			IngressIsolated: c.iso[Ingress], EgressIsolated: c.iso[Egress]}
		if isFrom {
			info.Egress = []Grant{}
		}
		if isTo {
			info.Ingress = []Grant{}
		}
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
		if isFrom && c.iso[Egress] {
			info.Egress = z.grants(c, Egress)
		}
		if isTo && c.iso[Ingress] {
			info.Ingress = z.grants(c, Ingress)
		}
		s.Classes = append(s.Classes, info)
	}
	for i, g := range z.groups {
		ids := make([]string, len(g))
		for j, c := range g {
			ids[j] = ClassID(e.classes[c])
		}
		s.Groups = append(s.Groups, Group{ID: "g" + strconv.Itoa(i+1), Classes: ids})
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
