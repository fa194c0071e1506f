package netpol

import (
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/portset"
)

// Change is one difference in reachability between two versions.
type Change struct {
	// Change is "added", "removed" or "changed".
	Change string `json:"change"`
	Src    string `json:"src"`
	Dst    string `json:"dst"`
	// CIDRs lists the addresses of an external Src or Dst, which reads
	// compactly ("0.0.0.0/0 except 10.0.0.0/8").
	CIDRs []string `json:"cidrs,omitempty"`
	// Old and New are what was and is allowed; Added and Removed their
	// differences.
	Old     portset.Set `json:"old"`
	New     portset.Set `json:"new"`
	Added   portset.Set `json:"added"`
	Removed portset.Set `json:"removed"`
}

type extConn struct {
	r ipset.Range
	p portset.Set
}

// An epKey names a workload endpoint by its workload's ID and the index of
// the endpoint among the workload's (several when ipBlocks split its pods).
type epKey struct {
	workload string
	group    int
}

type flows struct {
	pairs map[[2]epKey]portset.Set
	out   map[epKey][]extConn // workload to external addresses
	in    map[epKey][]extConn // external addresses to workload
	// groups are the pod IPs of each workload's endpoints, by workload ID;
	// nil for an endpoint without known IPs.
	groups map[string][][]netip.Addr
}

func (e *Engine) flows() *flows {
	f := &flows{pairs: map[[2]epKey]portset.Set{}, out: map[epKey][]extConn{}, in: map[epKey][]extConn{}, groups: map[string][][]netip.Addr{}}
	keys := map[*Endpoint]epKey{}
	for _, ep := range e.endpoints {
		if ep.Workload != nil {
			id := ep.Workload.ID()
			keys[ep] = epKey{id, len(f.groups[id])}
			f.groups[id] = append(f.groups[id], ep.IPs)
		}
	}
	e.Connections(func(s, d *Endpoint, p portset.Set) bool {
		switch {
		case s.IsExternal():
			for _, r := range s.External.Ranges() {
				f.in[keys[d]] = append(f.in[keys[d]], extConn{r, p})
			}
		case d.IsExternal():
			for _, r := range d.External.Ranges() {
				f.out[keys[s]] = append(f.out[keys[s]], extConn{r, p})
			}
		default:
			f.pairs[[2]epKey{keys[s], keys[d]}] = p
		}
		return true
	})
	for _, m := range []map[epKey][]extConn{f.out, f.in} {
		for _, l := range m {
			slices.SortFunc(l, func(a, b extConn) int { return a.r.From.Compare(b.r.From) })
		}
	}
	return f
}

// A podGroup is a set of pods of one workload that both versions treat
// alike: it lies within one endpoint of each version (-1 where the
// version has none of them).
type podGroup struct {
	name     string // the workload's ID, with "@ip,..." when it is not all of it
	old, new int
}

// podGroups refines the endpoints of workload id in the two versions into
// the groups of pods that each version keeps together, so that a workload
// split by ipBlocks in one version only is compared pod by pod.
func podGroups(id string, old, new [][]netip.Addr) []podGroup {
	if len(old) <= 1 && len(new) <= 1 {
		g := podGroup{name: id, old: len(old) - 1, new: len(new) - 1}
		return []podGroup{g}
	}
	// find returns the group of v holding ip: the one endpoint without
	// known IPs stands for every pod.
	find := func(v [][]netip.Addr, ip netip.Addr) int {
		for i, ips := range v {
			if ips == nil || slices.Contains(ips, ip) {
				return i
			}
		}
		return -1
	}
	var all []netip.Addr
	for _, v := range [][][]netip.Addr{old, new} {
		for _, ips := range v {
			all = append(all, ips...)
		}
	}
	slices.SortFunc(all, netip.Addr.Compare)
	all = slices.Compact(all)
	type key struct{ old, new int }
	byKey := map[key]int{}
	var groups []podGroup
	var ips [][]string
	for _, ip := range all {
		k := key{find(old, ip), find(new, ip)}
		i, ok := byKey[k]
		if !ok {
			i = len(groups)
			byKey[k] = i
			groups = append(groups, podGroup{old: k.old, new: k.new})
			ips = append(ips, nil)
		}
		ips[i] = append(ips[i], ip.String())
	}
	for i := range groups {
		groups[i].name = id
		if len(groups) > 1 {
			groups[i].name += "@" + strings.Join(ips[i], ",")
		}
	}
	return groups
}

func change(src, dst string, o, n portset.Set) (Change, bool) {
	if o.Equal(n) {
		return Change{}, false
	}
	c := Change{Src: src, Dst: dst, Old: o, New: n, Added: n.Subtract(o), Removed: o.Subtract(n)}
	switch {
	case o.Empty():
		c.Change = "added"
	case n.Empty():
		c.Change = "removed"
	default:
		c.Change = "changed"
	}
	return c, true
}

// Diff returns the semantic difference in reachability from old to new:
// every ordered pair whose allowed ports differ, keyed by workload IDs and,
// for external addresses, by the CIDRs whose treatment changed. Pods are
// matched by workload and pod IP: where ipBlocks split a workload's pods
// in either version, the groups of pods both versions keep together are
// compared, named "ID@ip,...". Changes are sorted by source, then
// destination.
func Diff(old, new *Engine) []Change {
	of, nf := old.flows(), new.flows()
	groups := map[string][]podGroup{}
	for _, f := range []*flows{of, nf} {
		for id := range f.groups {
			if _, ok := groups[id]; !ok {
				groups[id] = podGroups(id, of.groups[id], nf.groups[id])
			}
		}
	}
	at := func(id string, g int) epKey { return epKey{id, g} }
	var out []Change
	pairs := map[[2]string]bool{}
	for _, f := range []*flows{of, nf} {
		for k := range f.pairs {
			pairs[[2]string{k[0].workload, k[1].workload}] = true
		}
	}
	for k := range pairs {
		for _, a := range groups[k[0]] {
			for _, b := range groups[k[1]] {
				var o, n portset.Set
				if a.old >= 0 && b.old >= 0 {
					o = of.pairs[[2]epKey{at(k[0], a.old), at(k[1], b.old)}]
				}
				if a.new >= 0 && b.new >= 0 {
					n = nf.pairs[[2]epKey{at(k[0], a.new), at(k[1], b.new)}]
				}
				if c, ok := change(a.name, b.name, o, n); ok {
					out = append(out, c)
				}
			}
		}
	}
	for dir, pick := range []func(*flows) map[epKey][]extConn{
		func(f *flows) map[epKey][]extConn { return f.out },
		func(f *flows) map[epKey][]extConn { return f.in },
	} {
		ids := map[string]bool{}
		for _, f := range []*flows{of, nf} {
			for k := range pick(f) {
				ids[k.workload] = true
			}
		}
		for id := range ids {
			for _, pg := range groups[id] {
				var o, n []extConn
				if pg.old >= 0 {
					o = pick(of)[at(id, pg.old)]
				}
				if pg.new >= 0 {
					n = pick(nf)[at(id, pg.new)]
				}
				out = append(out, extChanges(dir, pg.name, o, n)...)
			}
		}
	}
	slices.SortFunc(out, func(a, b Change) int {
		if c := compareID(a.Src, b.Src); c != 0 {
			return c
		}
		return compareID(a.Dst, b.Dst)
	})
	return out
}

// extChanges returns the changes between the pods named id and external
// addresses (to them for dir 0, from them for dir 1): ranges whose ports
// changed alike are one change.
func extChanges(dir int, id string, old, new []extConn) []Change {
	type group struct {
		old, new portset.Set
		rs       []ipset.Range
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, d := range diffRanges(old, new) {
		k := d.old.Key() + "\x00" + d.new.Key()
		g := byKey[k]
		if g == nil {
			g = &group{old: d.old, new: d.new}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.rs = append(g.rs, d.r)
	}
	var out []Change
	for _, g := range groups {
		set := ipset.Of(g.rs...)
		src, dst := id, set.Describe()
		if dir == 1 {
			src, dst = dst, id
		}
		c, _ := change(src, dst, g.old, g.new)
		for _, p := range set.Prefixes() {
			c.CIDRs = append(c.CIDRs, p.String())
		}
		out = append(out, c)
	}
	return out
}

type rangeDiff struct {
	r        ipset.Range
	old, new portset.Set
}

// diffRanges overlays two sorted lists of disjoint ranges and returns the
// maximal ranges where their ports differ.
func diffRanges(a, b []extConn) []rangeDiff {
	var cuts []netip.Addr
	for _, l := range [][]extConn{a, b} {
		for _, c := range l {
			cuts = append(cuts, c.r.From)
			if n := c.r.To.Next(); n.IsValid() {
				cuts = append(cuts, n)
			}
		}
	}
	slices.SortFunc(cuts, netip.Addr.Compare)
	cuts = slices.Compact(cuts)
	lookup := func(l []extConn, x netip.Addr) portset.Set {
		i := sort.Search(len(l), func(i int) bool { return x.Less(l[i].r.From) }) - 1
		if i >= 0 && l[i].r.Contains(x) {
			return l[i].p
		}
		return portset.Set{}
	}
	var out []rangeDiff
	for i, from := range cuts {
		var to netip.Addr
		if i+1 < len(cuts) && cuts[i+1].BitLen() == from.BitLen() {
			to = cuts[i+1].Prev()
		} else {
			to = lastAddr(from)
		}
		o, n := lookup(a, from), lookup(b, from)
		if o.Equal(n) {
			continue
		}
		if k := len(out); k > 0 && out[k-1].old.Equal(o) && out[k-1].new.Equal(n) && out[k-1].r.To.Next() == from {
			out[k-1].r.To = to
			continue
		}
		out = append(out, rangeDiff{ipset.Range{From: from, To: to}, o, n})
	}
	return out
}

func lastAddr(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.AddrFrom4([4]byte{255, 255, 255, 255})
	}
	var b [16]byte
	for i := range b {
		b[i] = 255
	}
	return netip.AddrFrom16(b)
}
