package netpol

import (
	"net/netip"
	"slices"
	"sort"

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

type flows struct {
	pairs map[[2]string]portset.Set
	out   map[string][]extConn // workload to external addresses
	in    map[string][]extConn // external addresses to workload
}

func (e *Engine) flows() *flows {
	f := &flows{pairs: map[[2]string]portset.Set{}, out: map[string][]extConn{}, in: map[string][]extConn{}}
	e.Connections(func(s, d *Endpoint, p portset.Set) bool {
		switch {
		case s.IsExternal():
			for _, r := range s.External.Ranges() {
				f.in[d.ID] = append(f.in[d.ID], extConn{r, p})
			}
		case d.IsExternal():
			for _, r := range d.External.Ranges() {
				f.out[s.ID] = append(f.out[s.ID], extConn{r, p})
			}
		default:
			f.pairs[[2]string{s.ID, d.ID}] = p
		}
		return true
	})
	for _, m := range []map[string][]extConn{f.out, f.in} {
		for _, l := range m {
			slices.SortFunc(l, func(a, b extConn) int { return a.r.From.Compare(b.r.From) })
		}
	}
	return f
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
// for external addresses, by the CIDRs whose treatment changed. Changes
// are sorted by source, then destination.
func Diff(old, new *Engine) []Change {
	of, nf := old.flows(), new.flows()
	var out []Change
	keys := map[[2]string]bool{}
	for k := range of.pairs {
		keys[k] = true
	}
	for k := range nf.pairs {
		keys[k] = true
	}
	for k := range keys {
		if c, ok := change(k[0], k[1], of.pairs[k], nf.pairs[k]); ok {
			out = append(out, c)
		}
	}
	for dir, pick := range []func(*flows) map[string][]extConn{
		func(f *flows) map[string][]extConn { return f.out },
		func(f *flows) map[string][]extConn { return f.in },
	} {
		ids := map[string]bool{}
		for id := range pick(of) {
			ids[id] = true
		}
		for id := range pick(nf) {
			ids[id] = true
		}
		for id := range ids {
			// Ranges whose ports changed alike are one change.
			type group struct {
				old, new portset.Set
				rs       []ipset.Range
			}
			var groups []*group
			byKey := map[string]*group{}
			for _, d := range diffRanges(pick(of)[id], pick(nf)[id]) {
				k := d.old.Key() + "\x00" + d.new.Key()
				g := byKey[k]
				if g == nil {
					g = &group{old: d.old, new: d.new}
					byKey[k] = g
					groups = append(groups, g)
				}
				g.rs = append(g.rs, d.r)
			}
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
